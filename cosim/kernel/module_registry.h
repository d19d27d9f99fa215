// Kernel modules linked into the program: what module_init, module_exit, MODULE_* and
// module_param (cosim/include/linux/module.h) registered before main(), by KBUILD_MODNAME.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace pciesim::cosim {

struct ModuleParam {
  std::string name, type;  // type: bool, int, uint, long, ulong, charp
  void* arg = nullptr;
  unsigned perm = 0;
};

struct ModuleEntry {
  std::string name;
  int (*init)() = nullptr;
  void (*exit)() = nullptr;
  std::multimap<std::string, std::string> info;  // license, author, description, ...
  std::vector<ModuleParam> params;
  int refs = 0;  // try_module_get / module_put
  std::vector<std::string> charp_storage;  // strings given to charp parameters
};

class ModuleRegistry {
 public:
  static ModuleRegistry& instance();
  ModuleEntry& entry(const std::string& name);  // created on first use
  ModuleEntry* find(const std::string& name);
  std::vector<std::string> names() const;
  // Applies "name=value name2=value2" to the module's parameters; "" on success, else the error.
  std::string set_params(ModuleEntry& m, const std::string& params);

 private:
  std::map<std::string, ModuleEntry> m_modules;
};

}  // namespace pciesim::cosim
