// The kernel C built as real Linux modules (host_kmod/), checked as the kernel's loader would see
// them: each .ko is an x86-64 relocatable ELF with the sections a module needs, modinfo says it is
// GPL, named after its module and built for the kernel whose headers were fetched (vermagic), and
// every symbol it imports carries that kernel's CRC (modversions). edu_dmatest also announces the
// PCI id it binds and its parameter, as the simulator's copy of the same source does.
#include <gtest/gtest.h>

#include <elf.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <vector>

namespace {

const std::string kModuleDir = PCIESIM_KMOD_DIR;  // <build>/host_kmod: <name>/<name>.ko
const std::string kKdir = PCIESIM_KMOD_KDIR;      // the fetched headers (make -C here)

std::string ko_path(const std::string& name) { return kModuleDir + "/" + name + "/" + name + ".ko"; }

std::vector<std::string> built_modules() {
  std::vector<std::string> names;
  std::stringstream list(PCIESIM_KMODS);  // "a,b,c", from host_kmod/CMakeLists.txt
  for (std::string n; std::getline(list, n, ',');)
    if (!n.empty()) names.push_back(n);
  return names;
}

struct Output {
  int code;
  std::string out;
};

Output run(const std::string& cmd) {
  Output r{-1, ""};
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// kmod's tools are in /usr/sbin, which a user's PATH may not have.
std::string kmod_tool(const std::string& name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    const std::string path = dir + name;
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return name;
}

std::string rtrim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.pop_back();
  return s;
}

// modinfo's "field:   value" lines; alias and parm repeat.
std::multimap<std::string, std::string> modinfo(const std::string& ko) {
  const Output r = run(kmod_tool("modinfo") + " " + ko);
  EXPECT_EQ(r.code, 0) << "modinfo " << ko << ":\n" << r.out << "(kmod installs modinfo: scripts/setup.sh)";
  std::multimap<std::string, std::string> fields;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto value = line.find_first_not_of(" \t", colon + 1);
    fields.emplace(line.substr(0, colon), value == std::string::npos ? "" : rtrim(line.substr(value)));
  }
  return fields;
}

std::vector<std::string> all(const std::multimap<std::string, std::string>& m, const std::string& key) {
  std::vector<std::string> values;
  for (auto [it, end] = m.equal_range(key); it != end; ++it) values.push_back(it->second);
  return values;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// UTS_RELEASE of the fetched headers: what a module built against them says it is for.
std::string headers_release() {
  const std::string h = read_file(kKdir + "/include/generated/utsrelease.h");
  const std::string key = "#define UTS_RELEASE \"";
  const auto at = h.find(key);
  if (at == std::string::npos) return "";
  const auto end = h.find('"', at + key.size());
  return h.substr(at + key.size(), end - at - key.size());
}

// Section names of a 64-bit little-endian ELF, or empty when it is not one.
std::set<std::string> elf_sections(const std::string& image) {
  std::set<std::string> names;
  if (image.size() < sizeof(Elf64_Ehdr)) return names;
  Elf64_Ehdr eh;
  std::copy_n(image.data(), sizeof eh, reinterpret_cast<char*>(&eh));
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shstrndx >= eh.e_shnum ||
      eh.e_shoff + uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr) > image.size())
    return names;
  std::vector<Elf64_Shdr> sh(eh.e_shnum);
  std::copy_n(image.data() + eh.e_shoff, sh.size() * sizeof(Elf64_Shdr), reinterpret_cast<char*>(sh.data()));
  const Elf64_Shdr& strtab = sh[eh.e_shstrndx];
  if (strtab.sh_offset + strtab.sh_size > image.size()) return names;
  for (const auto& s : sh)
    if (s.sh_name < strtab.sh_size) names.insert(image.c_str() + strtab.sh_offset + s.sh_name);
  return names;
}

class HostKmod : public ::testing::TestWithParam<std::string> {
 protected:
  std::string ko() const { return ko_path(GetParam()); }
  void SetUp() override {
    ASSERT_EQ(access(ko().c_str(), R_OK), 0) << ko() << " was not built (target pciesim_kmods)";
  }
};

TEST_P(HostKmod, IsAnX86_64RelocatableElfWithTheSectionsOfAModule) {
  const std::string image = read_file(ko());
  ASSERT_GE(image.size(), sizeof(Elf64_Ehdr));
  Elf64_Ehdr eh;
  std::copy_n(image.data(), sizeof eh, reinterpret_cast<char*>(&eh));
  ASSERT_EQ(std::string(reinterpret_cast<const char*>(eh.e_ident), SELFMAG), ELFMAG);
  EXPECT_EQ(eh.e_ident[EI_CLASS], ELFCLASS64);
  EXPECT_EQ(eh.e_ident[EI_DATA], ELFDATA2LSB);
  EXPECT_EQ(eh.e_type, ET_REL);
  EXPECT_EQ(eh.e_machine, EM_X86_64);
  const auto sections = elf_sections(image);
  // struct module (what insmod hands the kernel), the modinfo strings, the imported symbols' CRCs
  for (const char* s : {".gnu.linkonce.this_module", ".modinfo", "__versions", ".text"})
    EXPECT_TRUE(sections.count(s)) << ko() << " has no " << s << " section";
}

TEST_P(HostKmod, VermagicIsTheFetchedDebianKernels) {
  const std::string release = headers_release();
  ASSERT_FALSE(release.empty()) << "no UTS_RELEASE under " << kKdir;
  EXPECT_TRUE(release.rfind("6.1.0-", 0) == 0 && release.size() > 12 &&
              release.compare(release.size() - 6, 6, "-amd64") == 0)
      << "headers are for " << release << ", not Debian's 6.1.0-N-amd64";
  const auto info = modinfo(ko());
  EXPECT_EQ(all(info, "vermagic"),
            std::vector<std::string>{release + " SMP preempt mod_unload modversions"});
  EXPECT_EQ(all(info, "retpoline"), std::vector<std::string>{"Y"});  // as Debian's kernel is built
}

TEST_P(HostKmod, IsGplAndNamedAfterItsModule) {
  const auto info = modinfo(ko());
  EXPECT_EQ(all(info, "name"), std::vector<std::string>{GetParam()});
  EXPECT_EQ(all(info, "license"), std::vector<std::string>{"GPL"});
  EXPECT_EQ(all(info, "description").size(), 1u) << "MODULE_DESCRIPTION missing";
}

TEST_P(HostKmod, ImportsEverySymbolWithTheKernelsCrc) {
  // Module.symvers: "0xcrc <tab> symbol <tab> vmlinux|module <tab> EXPORT_SYMBOL[_GPL] ..."
  std::map<std::string, std::string> kernel_crcs;
  std::istringstream symvers(read_file(kKdir + "/Module.symvers"));
  for (std::string line; std::getline(symvers, line);) {
    std::istringstream fields(line);
    std::string crc, symbol;
    if (fields >> crc >> symbol) kernel_crcs[symbol] = crc;
  }
  ASSERT_GT(kernel_crcs.size(), 1000u) << "no Module.symvers under " << kKdir;

  const Output r = run(kmod_tool("modprobe") + " --dump-modversions " + ko());
  ASSERT_EQ(r.code, 0) << r.out;
  std::istringstream lines(r.out);
  int imported = 0;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string crc, symbol;
    if (!(fields >> crc >> symbol)) continue;
    ++imported;
    const auto it = kernel_crcs.find(symbol);
    ASSERT_NE(it, kernel_crcs.end()) << symbol << " is not exported by the kernel";
    EXPECT_EQ(std::stoul(crc, nullptr, 16), std::stoul(it->second, nullptr, 16)) << symbol;
  }
  EXPECT_GT(imported, 0) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Built, HostKmod, ::testing::ValuesIn(built_modules()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(EduDmatestKo, BindsTheEduPciIdAndTakesTheFaultParameter) {
  const auto info = modinfo(ko_path("edu_dmatest"));
  EXPECT_EQ(all(info, "alias"), std::vector<std::string>{"pci:v00001234d000011E8sv*sd*bc*sc*i*"});
  EXPECT_EQ(all(info, "parm"),
            std::vector<std::string>{
                "fault_after_unmap:after the round trip, DMA once more to the unmapped buffer (int)"});
  EXPECT_EQ(all(info, "depends"), std::vector<std::string>{""});  // nothing but the kernel itself
}

}  // namespace
