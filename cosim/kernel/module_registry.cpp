#include "kernel/module_registry.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "kernel/kapi.h"

namespace pciesim::cosim {

ModuleRegistry& ModuleRegistry::instance() {
  static ModuleRegistry r;  // filled by constructors before main(): must not depend on init order
  return r;
}

ModuleEntry& ModuleRegistry::entry(const std::string& name) {
  ModuleEntry& m = m_modules[name];
  m.name = name;
  return m;
}

ModuleEntry* ModuleRegistry::find(const std::string& name) {
  auto it = m_modules.find(name);
  return it == m_modules.end() ? nullptr : &it->second;
}

std::vector<std::string> ModuleRegistry::names() const {
  std::vector<std::string> v;
  for (const auto& [n, m] : m_modules) v.push_back(n);
  return v;
}

namespace {
bool parse_integer(const std::string& s, bool is_signed, long long& out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  if (is_signed) out = std::strtoll(s.c_str(), &end, 0);
  else {
    if (s[0] == '-') return false;
    out = static_cast<long long>(std::strtoull(s.c_str(), &end, 0));
  }
  return errno == 0 && end && *end == '\0';
}
}  // namespace

std::string ModuleRegistry::set_params(ModuleEntry& m, const std::string& params) {
  std::istringstream in(params);
  std::string item;
  while (in >> item) {
    const size_t eq = item.find('=');
    const std::string name = item.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    const ModuleParam* p = nullptr;
    for (const ModuleParam& q : m.params)
      if (q.name == name) p = &q;
    if (!p) return m.name + ": unknown parameter '" + name + "' ignored";
    long long v = 0;
    if (p->type == "bool") {
      if (eq == std::string::npos || value == "1" || value == "Y" || value == "y") *static_cast<bool*>(p->arg) = true;
      else if (value == "0" || value == "N" || value == "n") *static_cast<bool*>(p->arg) = false;
      else return m.name + ": '" + value + "' invalid for parameter '" + name + "'";
    } else if (p->type == "charp") {
      m.charp_storage.push_back(value);
      *static_cast<const char**>(p->arg) = m.charp_storage.back().c_str();
    } else if (p->type == "int" || p->type == "long") {
      if (!parse_integer(value, true, v)) return m.name + ": '" + value + "' invalid for parameter '" + name + "'";
      if (p->type == "int") *static_cast<int*>(p->arg) = static_cast<int>(v);
      else *static_cast<long*>(p->arg) = static_cast<long>(v);
    } else if (p->type == "uint" || p->type == "ulong") {
      if (!parse_integer(value, false, v)) return m.name + ": '" + value + "' invalid for parameter '" + name + "'";
      if (p->type == "uint") *static_cast<unsigned*>(p->arg) = static_cast<unsigned>(v);
      else *static_cast<unsigned long*>(p->arg) = static_cast<unsigned long>(v);
    } else {
      return m.name + ": parameter '" + name + "' has unsupported type " + p->type;
    }
  }
  return "";
}

}  // namespace pciesim::cosim

// ---- the C side (linux/module.h) ----
using pciesim::cosim::ModuleRegistry;

extern "C" void cosim_register_module_init(const char* module, int (*init)(void)) {
  ModuleRegistry::instance().entry(module).init = init;
}
extern "C" void cosim_register_module_exit(const char* module, void (*exit)(void)) {
  ModuleRegistry::instance().entry(module).exit = exit;
}
extern "C" void cosim_register_module_info(const char* module, const char* tag, const char* value) {
  ModuleRegistry::instance().entry(module).info.emplace(tag, value);
}
extern "C" void cosim_register_module_param(const char* module, const char* name, const char* type, void* arg,
                                            unsigned int perm) {
  ModuleRegistry::instance().entry(module).params.push_back({name, type, arg, perm});
}
extern "C" bool try_module_get(struct module* module) {
  if (!module) return true;
  ++ModuleRegistry::instance().entry(module->name).refs;
  return true;
}
extern "C" void module_put(struct module* module) {
  if (!module) return;
  auto& m = ModuleRegistry::instance().entry(module->name);
  if (m.refs > 0) --m.refs;
}
