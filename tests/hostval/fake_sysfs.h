// A fake sysfs tree for hostfacts and collect.sh (tools/hostval/): PCI functions with their id
// attributes, a binary config file, driver and iommu_group links, and /sys/kernel/iommu_groups, laid
// out as Linux lays them out, under a temporary directory that the tools read with --root.
#pragma once

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace pciesim::hostval_test {

namespace fs = std::filesystem;

// Configuration space bytes, written little-endian as the config file holds them.
struct Config {
  std::vector<uint8_t> bytes;
  explicit Config(size_t size = 256) : bytes(size, 0) {}
  Config& u8(size_t off, uint8_t v) { bytes.at(off) = v; return *this; }
  Config& u16(size_t off, uint16_t v) { u8(off, v & 0xff); return u8(off + 1, v >> 8); }
  Config& u32(size_t off, uint32_t v) { u16(off, v & 0xffff); return u16(off + 2, v >> 16); }
  // A capability at `off` (id, next) in the list that config 0x34 starts; sets Status.CapList.
  Config& cap(size_t off, uint8_t id, uint8_t next) {
    u16(0x06, 0x0010);
    u8(off, id);
    return u8(off + 1, next);
  }
  // An extended capability header (PCIe 7.6.3): id, version 1, next.
  Config& ext_cap(size_t off, uint16_t id, uint16_t next) { return u32(off, id | 1u << 16 | uint32_t(next) << 20); }
};

class FakeSysfs {
 public:
  FakeSysfs() {
    char tmpl[] = "/tmp/hostval-sysfs.XXXXXX";
    m_root = mkdtemp(tmpl);
    fs::create_directories(pci() / "devices");
    fs::create_directories(pci() / "drivers");
  }
  ~FakeSysfs() {
    std::error_code ec;
    fs::remove_all(m_root, ec);
  }
  FakeSysfs(const FakeSysfs&) = delete;
  FakeSysfs& operator=(const FakeSysfs&) = delete;

  const fs::path& root() const { return m_root; }
  fs::path pci() const { return m_root / "sys/bus/pci"; }
  fs::path device_dir(const std::string& bdf) const { return m_root / "sys/devices/pci0000:00" / bdf; }

  // A function as Linux shows it: /sys/devices/.../BDF, linked from /sys/bus/pci/devices/BDF.
  void add_device(const std::string& bdf, uint16_t vendor, uint16_t device, uint32_t class_code, const Config& cfg,
                  const std::string& driver = "", int group = -1) {
    const fs::path d = device_dir(bdf);
    fs::create_directories(d);
    write(d / "vendor", hex(vendor, 4) + "\n");
    write(d / "device", hex(device, 4) + "\n");
    write(d / "class", hex(class_code, 6) + "\n");
    write(d / "driver_override", "(null)\n");
    std::ofstream(d / "config", std::ios::binary).write(reinterpret_cast<const char*>(cfg.bytes.data()),
                                                       static_cast<std::streamsize>(cfg.bytes.size()));
    fs::create_directory_symlink("../../../devices/pci0000:00/" + bdf, pci() / "devices" / bdf);
    if (!driver.empty()) bind(bdf, driver);
    if (group >= 0) {
      const fs::path g = m_root / "sys/kernel/iommu_groups" / std::to_string(group) / "devices";
      fs::create_directories(g);
      fs::create_directory_symlink("../../../../devices/pci0000:00/" + bdf, g / bdf);
      fs::create_directory_symlink("../../../kernel/iommu_groups/" + std::to_string(group), d / "iommu_group");
    }
  }

  // BDF/driver -> ../../bus/pci/drivers/NAME, and the driver's directory.
  void bind(const std::string& bdf, const std::string& driver) {
    fs::create_directories(pci() / "drivers" / driver);
    const fs::path link = device_dir(bdf) / "driver";
    std::error_code ec;
    fs::remove(link, ec);
    fs::create_directory_symlink("../../../bus/pci/drivers/" + driver, link);
  }

  static std::string hex(uint32_t v, int digits) {
    char b[16];
    std::snprintf(b, sizeof b, "0x%0*x", digits, v);
    return b;
  }
  static void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }
  static std::string read(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }

 private:
  fs::path m_root;
};

struct CmdResult {
  int code = -1;
  std::string out, err;
};

// Runs a shell command line; its standard output and error apart.
inline CmdResult run(const std::string& cmd) {
  CmdResult r;
  char tmpl[] = "/tmp/hostval-stderr.XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) return r;
  close(fd);
  FILE* p = popen(("{ " + cmd + "\n} 2>" + tmpl).c_str(), "r");  // the braces end a here-document
  if (p) {
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
    const int status = pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  r.err = FakeSysfs::read(tmpl);
  unlink(tmpl);
  return r;
}

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace pciesim::hostval_test
