// vfio_pci_core config-space virtualisation (cosim/vfio/vfio_pci_config.h) against Linux 6.1
// vfio_pci_config.c semantics, over fake config spaces: QEMU's edu (conventional, MSI 64-bit
// 1 vector) and a PCIe function with PM, MSI-X, a hidden capability, PCIe, vendor-specific, AER,
// a hidden extended capability, ACS and DSN. No SystemC needed.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>
#include <ostream>
#include <cstdint>
#include <string>
#include <vector>

#include "vfio/vfio_pci_config.h"

using namespace pciesim::cosim;

namespace {

// A device's real config space: bytes, writable bits and write-1-to-clear bits, plus a log of
// every access the virtualisation makes.
class FakeConfig : public VfioConfigDevice {
 public:
  struct Bar {
    uint64_t size = 0;
    bool io = false, is64 = false, pref = false;
  };
  struct Access {
    bool write;
    int off;
    unsigned size;
    uint32_t value;
  };

  explicit FakeConfig(int size) : cfg(size_t(size)), wmask(size_t(size)), w1c(size_t(size)) {}

  uint32_t cfg_read(int off, unsigned size) override {
    uint32_t v = get(off, size);
    log.push_back({false, off, size, v});
    return v;
  }
  void cfg_write(int off, unsigned size, uint32_t value) override {
    log.push_back({true, off, size, value});
    for (unsigned i = 0; i < size; ++i) {
      size_t at = size_t(off) + i;
      uint8_t v = uint8_t(value >> (8 * i));
      uint8_t b = uint8_t((cfg[at] & ~wmask[at]) | (v & wmask[at]));
      cfg[at] = uint8_t(b & ~(v & w1c[at]));
    }
  }
  int cfg_size() const override { return int(cfg.size()); }
  uint64_t bar_size(int i) const override { return bars[size_t(i)].size; }
  bool bar_is_io(int i) const override { return bars[size_t(i)].io; }
  bool bar_is_64(int i) const override { return bars[size_t(i)].is64; }
  bool bar_is_prefetch(int i) const override { return bars[size_t(i)].pref; }
  bool intx_connected() const override { return intx; }

  // building and inspecting
  uint32_t get(int off, unsigned size) const {
    uint32_t v = 0;
    for (unsigned i = 0; i < size; ++i) v |= uint32_t(cfg[size_t(off) + i]) << (8 * i);
    return v;
  }
  void set(int off, unsigned size, uint32_t value, uint32_t wm = 0, uint32_t rw1c = 0) {
    for (unsigned i = 0; i < size; ++i) {
      cfg[size_t(off) + i] = uint8_t(value >> (8 * i));
      wmask[size_t(off) + i] = uint8_t(wm >> (8 * i));
      w1c[size_t(off) + i] = uint8_t(rw1c >> (8 * i));
    }
  }
  bool wrote_in(int lo, int hi) const {  // any write touching [lo, hi)
    for (const auto& a : log)
      if (a.write && a.off < hi && a.off + int(a.size) > lo) return true;
    return false;
  }

  std::vector<uint8_t> cfg, wmask, w1c;
  std::array<Bar, 7> bars{};
  bool intx = true;
  std::vector<Access> log;
};

// QEMU edu (hardware-facts.md §5): 1234:11e8 rev 0x10 class 0x00ff00, BAR0 1 MiB 32-bit memory,
// MSI at 0x40 (64-bit, one vector), INTA.
void build_edu(FakeConfig& f) {
  f.set(0x00, 4, 0x11e81234);
  f.set(0x04, 2, 0x0000, 0x0547);                  // Command
  f.set(0x06, 2, 0x2010, 0, 0xf900);               // Status: cap list, received master abort
  f.set(0x08, 4, 0x00ff0010);                      // rev 0x10, class 0x00ff00
  f.set(0x0c, 1, 0x00, 0xff);                      // cache line size
  f.set(0x10, 4, 0xfea00000, 0xfff00000);          // BAR0
  f.bars[0] = {1 << 20, false, false, false};
  f.set(0x34, 1, 0x40);
  f.set(0x3c, 1, 0x0b, 0xff);
  f.set(0x3d, 1, 0x01);
  f.set(0x40, 2, 0x0005);                          // MSI, end of chain
  f.set(0x42, 2, 0x0080, 0x0071);                  // 64-bit, 1 vector
  f.set(0x44, 4, 0, 0xfffffffc);
  f.set(0x48, 4, 0, 0xffffffff);
  f.set(0x4c, 2, 0, 0xffff);
  f.set(0x80, 1, 0xa5, 0xff);                      // a register in a gap
}

// A PCIe endpoint. first_ecap_hidden: the extended chain starts with a capability vfio hides;
// flr: DEVCAP advertises Function Level Reset.
void build_pcie(FakeConfig& f, bool first_ecap_hidden = false, bool flr = true) {
  f.set(0x00, 4, 0x15728086);
  f.set(0x04, 2, 0x0000, 0x0547);
  f.set(0x06, 2, 0x0010, 0, 0xf900);
  f.set(0x08, 4, 0x02000001);
  // BAR0/1: 64-bit prefetchable 8 MiB at 0x38_0000_0000; BAR2 unimplemented; BAR3 32 KiB;
  // BAR4 I/O 32 bytes; BAR5 unimplemented; ROM 512 KiB (disabled)
  f.set(0x10, 4, 0x0000000c, 0xff800000);
  f.set(0x14, 4, 0x00000038, 0xffffffff);
  f.bars[0] = {8 << 20, false, true, true};
  f.set(0x1c, 4, 0xfe900000, 0xffff8000);
  f.bars[3] = {0x8000, false, false, false};
  f.set(0x20, 4, 0x0000e001, 0xffffffe0);
  f.bars[4] = {32, true, false, false};
  f.set(0x30, 4, 0xfe800000, 0xfff80001);
  f.bars[6] = {0x80000, false, false, false};
  f.set(0x34, 1, 0x40);
  f.set(0x3c, 1, 0xff, 0xff);
  // 0x40 PM: PME from D3hot/D3cold, PMCSR No_Soft_Reset with PME_Status set
  f.set(0x40, 2, 0x5001);
  f.set(0x42, 2, 0xc803);
  f.set(0x44, 2, 0x8008, 0x0103, 0x8000);
  // 0x50 MSI-X: 64 vectors, table BAR3 + 0, PBA BAR3 + 0x2000
  f.set(0x50, 2, 0x6011);
  f.set(0x52, 2, 0x003f, 0xc000);
  f.set(0x54, 4, 0x00000003);
  f.set(0x58, 4, 0x00002003);
  // 0x60 Secure Device (0x0f): vfio hides it; its bytes become raw gap
  f.set(0x60, 2, 0x700f);
  f.set(0x64, 4, 0xdeadbeef, 0xffffffff);
  f.set(0x68, 4, 0x01020304, 0xffffffff);
  f.set(0x6c, 4, 0x05060708, 0xffffffff);
  // 0x70 PCI Express v2 endpoint
  f.set(0x70, 2, 0xb010);
  f.set(0x72, 2, 0x0002);
  f.set(0x74, 4, flr ? 0x10000002 : 0x00000002);   // DEVCAP: FLR, MPS 512 supported
  f.set(0x78, 2, 0x2020, 0x7eff);                  // DEVCTL: MRRS 512, MPS 256
  f.set(0x7a, 2, 0x0001, 0, 0x000f);               // DEVSTA: correctable error detected
  f.set(0x80, 2, 0x0040, 0x0ffb);                  // LNKCTL: common clock
  f.set(0x98, 2, 0x0000, 0x04ff);                  // DEVCTL2
  // 0xb0 vendor-specific, 12 bytes
  f.set(0xb0, 4, 0x000c0009);
  f.set(0xb4, 4, 0x11111111, 0xffffffff);
  // Extended capabilities
  if (!first_ecap_hidden) {
    f.set(0x100, 4, 0x14820001);                   // AER v2, next 0x148
    f.set(0x104, 4, 0x00001000, 0, 0x03fff031);    // uncorrectable status: poisoned TLP
    f.set(0x108, 4, 0x00000000, 0xffffffff);       // uncorrectable mask
    f.set(0x118, 4, 0x000000a0, 0x00000140);       // ECRC capable, not enabled
    f.set(0x148, 4, 0x1501001e);                   // L1 PM substates: hidden, next 0x150
    f.set(0x150, 4, 0x1601000d);                   // ACS, next 0x160
    f.set(0x154, 2, 0x005f);
    f.set(0x156, 2, 0x0000, 0x007f);
    f.set(0x160, 4, 0x00010003);                   // DSN, end
    f.set(0x164, 4, 0x89abcdef);
  } else {
    f.set(0x100, 4, 0x1401001e);                   // L1 PM substates first: placeholder
    f.set(0x140, 4, 0x0001000d);                   // ACS, end
    f.set(0x144, 2, 0x001f);
  }
}

// A conventional function with the Advanced Features capability (FLR for conventional PCI)
// after edu's MSI, and no INTx routed.
void build_conventional_af(FakeConfig& f) {
  build_edu(f);
  f.set(0x40, 2, 0x5005);                          // MSI, next 0x50
  f.set(0x50, 4, 0x03060013);                      // AF: length 6, TP | FLR
  f.set(0x54, 2, 0x0000, 0x0000);                  // AF control, status
}

enum class Dev { Edu, Pcie, PcieHiddenEcap, PcieNoFlr, ConventionalAf };

struct Rig {
  explicit Rig(Dev d) : fake(d == Dev::Edu || d == Dev::ConventionalAf ? 256 : 4096) {
    fake.intx = d != Dev::ConventionalAf;
    if (d == Dev::Edu)
      build_edu(fake);
    else if (d == Dev::ConventionalAf)
      build_conventional_af(fake);
    else
      build_pcie(fake, d == Dev::PcieHiddenEcap, d != Dev::PcieNoFlr);
    cfg = std::make_unique<VfioPciConfig>(fake);
    fake.log.clear();
  }
  long rd(int pos, unsigned size, uint32_t& v) {
    uint8_t b[4] = {};
    long r = cfg->read(b, size, uint64_t(pos));
    v = uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
    return r;
  }
  uint32_t rd(int pos, unsigned size) {
    uint32_t v = 0;
    EXPECT_EQ(rd(pos, size, v), long(size)) << "read at " << pos;
    return v;
  }
  void wr(int pos, unsigned size, uint32_t v) {
    uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
    EXPECT_EQ(cfg->write(b, size, uint64_t(pos)), long(size)) << "write at " << pos;
  }
  FakeConfig fake;
  std::unique_ptr<VfioPciConfig> cfg;
};

// ---- what the user reads (vfio_config_init, the chains, the direct/default readfns) ----------

struct ReadCase {
  const char* name;
  Dev dev;
  int pos;
  unsigned size;
  long ret;         // bytes, or -errno
  uint32_t value;   // when ret > 0
};

const ReadCase kReads[] = {
    {"edu_ids_from_device", Dev::Edu, 0x00, 4, 4, 0x11e81234},
    {"edu_class_rev", Dev::Edu, 0x08, 4, 4, 0x00ff0010},
    {"edu_status_cap_list_and_errors", Dev::Edu, 0x06, 2, 2, 0x2010},
    {"edu_cap_pointer", Dev::Edu, 0x34, 1, 1, 0x40},
    {"edu_int_line_pin", Dev::Edu, 0x3c, 2, 2, 0x010b},
    {"edu_msi_id_next", Dev::Edu, 0x40, 2, 2, 0x0005},
    {"edu_msi_flags_64bit_one_vector", Dev::Edu, 0x42, 2, 2, 0x0080},
    {"edu_bar0", Dev::Edu, 0x10, 4, 4, 0xfea00000},
    {"edu_bar1_unimplemented", Dev::Edu, 0x14, 4, 4, 0},
    {"edu_rom_absent", Dev::Edu, 0x30, 4, 4, 0},
    {"edu_gap_is_raw", Dev::Edu, 0x80, 1, 1, 0xa5},
    {"edu_past_256_efault", Dev::Edu, 0x100, 4, -EFAULT, 0},
    {"edu_across_end_efault", Dev::Edu, 0xfe, 4, -EFAULT, 0},
    {"edu_last_dword", Dev::Edu, 0xfc, 4, 4, 0},
    {"pcie_pm_next_skips_nothing", Dev::Pcie, 0x41, 1, 1, 0x50},
    {"pcie_msix_next_skips_hidden_cap", Dev::Pcie, 0x51, 1, 1, 0x70},
    {"pcie_pm_pme_support_hidden", Dev::Pcie, 0x42, 2, 2, 0x0003},
    {"pcie_pmcsr_pme_status_virtual", Dev::Pcie, 0x44, 2, 2, 0x0008},
    {"pcie_msix_control", Dev::Pcie, 0x52, 2, 2, 0x003f},
    {"pcie_msix_table", Dev::Pcie, 0x54, 4, 4, 0x00000003},
    {"pcie_msix_pba", Dev::Pcie, 0x58, 4, 4, 0x00002003},
    {"pcie_hidden_cap_bytes_raw", Dev::Pcie, 0x64, 4, 4, 0xdeadbeef},
    {"pcie_exp_header", Dev::Pcie, 0x70, 4, 4, 0x0002b010},
    {"pcie_vendor_specific_header", Dev::Pcie, 0xb0, 4, 4, 0x000c0009},
    {"pcie_bar0_64_prefetch", Dev::Pcie, 0x10, 4, 4, 0x0000000c},
    {"pcie_bar1_upper", Dev::Pcie, 0x14, 4, 4, 0x00000038},
    {"pcie_bar2_unimplemented", Dev::Pcie, 0x18, 4, 4, 0},
    {"pcie_bar3_32", Dev::Pcie, 0x1c, 4, 4, 0xfe900000},
    {"pcie_bar4_io", Dev::Pcie, 0x20, 4, 4, 0x0000e001},
    {"pcie_rom", Dev::Pcie, 0x30, 4, 4, 0xfe800000},
    {"pcie_aer_next_skips_hidden_ecap", Dev::Pcie, 0x100, 4, 4, 0x15020001},
    {"pcie_aer_uncor_status", Dev::Pcie, 0x104, 4, 4, 0x00001000},
    {"pcie_acs_cap", Dev::Pcie, 0x154, 4, 4, 0x0000005f},
    {"pcie_dsn", Dev::Pcie, 0x160, 8, 8, 0x00010003},
    {"pcie_last_dword", Dev::Pcie, 0xffc, 4, 4, 0},
    {"pcie_across_end_efault", Dev::Pcie, 0xffe, 4, -EFAULT, 0},
    {"pcie_past_end_efault", Dev::Pcie, 0x1000, 1, -EFAULT, 0},
    {"af_header_length_caps", Dev::ConventionalAf, 0x50, 4, 4, 0x03060013},
    {"no_intx_pin_zero", Dev::ConventionalAf, 0x3d, 1, 1, 0},
    {"hidden_first_ecap_placeholder", Dev::PcieHiddenEcap, 0x100, 4, 4, 0x14000000},
    {"hidden_first_ecap_then_acs", Dev::PcieHiddenEcap, 0x140, 4, 4, 0x0001000d},
};

void PrintTo(const ReadCase& c, std::ostream* os) { *os << c.name; }

class ConfigRead : public ::testing::TestWithParam<ReadCase> {};

TEST_P(ConfigRead, UserSees) {
  const ReadCase& c = GetParam();
  Rig rig(c.dev);
  std::vector<uint8_t> buf(c.size);
  long r = rig.cfg->read(buf.data(), c.size, uint64_t(c.pos));
  ASSERT_EQ(r, c.ret);
  if (r > 0) {
    uint32_t v = 0;
    for (unsigned i = 0; i < std::min(c.size, 4u); ++i) v |= uint32_t(buf[i]) << (8 * i);
    EXPECT_EQ(v, c.value) << std::hex << "0x" << v << " at 0x" << c.pos;
  }
}

INSTANTIATE_TEST_SUITE_P(Linux61, ConfigRead, ::testing::ValuesIn(kReads),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- what a user write does (perm_bits: virtual -> vconfig, writable -> device) --------------

struct WriteCase {
  const char* name;
  Dev dev;
  int pos;
  unsigned size;
  uint32_t value;
  uint32_t user_reads;  // at pos/size after the write
  uint32_t hw_holds;    // at pos/size in the device after the write
};

const WriteCase kWrites[] = {
    // standard header (init_pci_cap_basic_perm)
    {"command_mem_master_to_device", Dev::Edu, 0x04, 2, 0x0006, 0x0006, 0x0006},
    {"command_intx_disable_virtual", Dev::Edu, 0x04, 2, 0x0400, 0x0400, 0x0000},
    {"status_not_writable_no_rw1c", Dev::Edu, 0x06, 2, 0xffff, 0x2010, 0x2010},
    {"cache_line_to_device", Dev::Edu, 0x0c, 1, 0x10, 0x10, 0x10},
    {"int_line_virtual", Dev::Edu, 0x3c, 1, 0x55, 0x55, 0x0b},
    {"int_pin_read_only", Dev::Edu, 0x3d, 1, 0x04, 0x01, 0x01},
    {"vendor_read_only", Dev::Edu, 0x00, 2, 0xffff, 0x1234, 0x1234},
    {"class_read_only", Dev::Edu, 0x08, 4, 0xffffffff, 0x00ff0010, 0x00ff0010},
    {"cap_pointer_read_only", Dev::Edu, 0x34, 1, 0x80, 0x40, 0x40},
    {"gap_raw_write", Dev::Edu, 0x80, 1, 0x5a, 0x5a, 0x5a},
    // MSI (init_pci_cap_msi_perm): address/data virtual, enable only via SET_IRQS
    {"msi_address_virtual", Dev::Edu, 0x44, 4, 0xfee00000, 0xfee00000, 0},
    {"msi_address_hi_virtual", Dev::Edu, 0x48, 4, 0x1, 0x1, 0},
    {"msi_data_virtual", Dev::Edu, 0x4c, 2, 0x4041, 0x4041, 0},
    {"msi_enable_needs_set_irqs", Dev::Edu, 0x42, 2, 0x0081, 0x0080, 0x0080},
    {"msi_mme_clamped_to_qmax", Dev::Edu, 0x42, 2, 0x00f0, 0x0080, 0x0080},
    // the whole low byte of the flags is the user's (virtual, writable), 64-bit flag included;
    // the device keeps its read-only bits
    {"msi_flags_low_byte_users_own", Dev::Edu, 0x42, 2, 0x0000, 0x0000, 0x0080},
    {"msi_next_read_only", Dev::Edu, 0x41, 1, 0x80, 0x00, 0x00},
    // PM (init_pci_cap_pm_perm): state via vfio_pm_config_write; PME bits virtual, not writable.
    // The read-modify-write of PMCSR writes PME_Status back as read, clearing it in the device
    // (vfio_default_config_write does the same on real hardware).
    {"pm_d3hot_and_pme_bits", Dev::Pcie, 0x44, 2, 0x8103, 0x000b, 0x000b},
    // MSI-X: default cap perms, read-only
    {"msix_control_read_only", Dev::Pcie, 0x52, 2, 0xc03f, 0x003f, 0x003f},
    {"msix_table_read_only", Dev::Pcie, 0x54, 4, 0x00001000, 0x00000003, 0x00000003},
    // a capability vfio hides: its bytes are gap, raw
    {"hidden_cap_raw", Dev::Pcie, 0x64, 4, 0x12345678, 0x12345678, 0x12345678},
    // vendor-specific: cap_perms[PCI_CAP_ID_VNDR].writefn = vfio_raw_config_write
    {"vendor_specific_raw_write", Dev::Pcie, 0xb4, 4, 0xcafef00d, 0xcafef00d, 0xcafef00d},
    // PCI Express (init_pci_cap_exp_perm, vfio_exp_config_write)
    {"devctl_cere_to_device_mrrs_floored_at_mps", Dev::Pcie, 0x78, 2, 0x0001, 0x0001, 0x1021},
    {"devctl_mps_virtual", Dev::Pcie, 0x78, 2, 0x20a0, 0x20a0, 0x2020},
    {"devctl_phantom_dropped", Dev::Pcie, 0x78, 2, 0x2220, 0x2020, 0x2020},
    {"devsta_not_writable", Dev::Pcie, 0x7a, 2, 0x000f, 0x0001, 0x0001},
    {"lnkctl_not_writable", Dev::Pcie, 0x80, 2, 0x0003, 0x0040, 0x0040},
    {"devctl2_ari_dropped", Dev::Pcie, 0x98, 2, 0x0025, 0x0005, 0x0005},
    // AER (init_pci_ext_cap_err_perm)
    {"aer_header_virtual_read_only", Dev::Pcie, 0x100, 4, 0xffffffff, 0x15020001, 0x14820001},
    {"aer_uncor_status_rw1c_passes", Dev::Pcie, 0x104, 4, 0x00001000, 0, 0},
    {"aer_uncor_mask_writable_bits", Dev::Pcie, 0x108, 4, 0xffffffff, 0x03fff031, 0x03fff031},
    {"aer_ecrc_enables", Dev::Pcie, 0x118, 4, 0xffffffff, 0x000001e0, 0x000001e0},
    // ACS and DSN: default ecap perms, read-only
    {"acs_control_read_only", Dev::Pcie, 0x156, 2, 0x001d, 0x0000, 0x0000},
    {"dsn_read_only", Dev::Pcie, 0x164, 4, 0, 0x89abcdef, 0x89abcdef},
};

void PrintTo(const WriteCase& c, std::ostream* os) { *os << c.name; }

class ConfigWrite : public ::testing::TestWithParam<WriteCase> {};

TEST_P(ConfigWrite, UserAndDeviceSee) {
  const WriteCase& c = GetParam();
  Rig rig(c.dev);
  rig.wr(c.pos, c.size, c.value);
  EXPECT_EQ(rig.rd(c.pos, c.size), c.user_reads) << std::hex << "user view at 0x" << c.pos;
  EXPECT_EQ(rig.fake.get(c.pos, c.size), c.hw_holds) << std::hex << "device at 0x" << c.pos;
}

INSTANTIATE_TEST_SUITE_P(Linux61, ConfigWrite, ::testing::ValuesIn(kWrites),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- BAR sizing (vfio_bar_fixup): virtual BARs answer the sizing protocol ---------------------

struct BarCase {
  const char* name;
  Dev dev;
  int pos;
  uint32_t write;
  uint32_t reads;
};

const BarCase kBars[] = {
    {"edu_bar0_1mib", Dev::Edu, 0x10, 0xffffffff, 0xfff00000},
    {"edu_bar1_unimplemented", Dev::Edu, 0x14, 0xffffffff, 0},
    {"edu_no_rom", Dev::Edu, 0x30, 0xffffffff, 0},
    {"bar0_64_prefetch_low", Dev::Pcie, 0x10, 0xffffffff, 0xff80000c},
    {"bar1_64_upper", Dev::Pcie, 0x14, 0xffffffff, 0xffffffff},
    {"bar2_unimplemented", Dev::Pcie, 0x18, 0xffffffff, 0},
    {"bar3_32k", Dev::Pcie, 0x1c, 0xffffffff, 0xffff8000},
    {"bar4_io_32", Dev::Pcie, 0x20, 0xffffffff, 0xffffffe1},
    {"bar5_unimplemented", Dev::Pcie, 0x24, 0xffffffff, 0},
    {"rom_512k_with_enable", Dev::Pcie, 0x30, 0xffffffff, 0xfff80001},
    {"rom_512k", Dev::Pcie, 0x30, 0xfffff800, 0xfff80000},
    {"bar0_address_aligned", Dev::Pcie, 0x10, 0x12345678, 0x1200000c},
    {"bar3_address_kept", Dev::Pcie, 0x1c, 0xfe904321, 0xfe900000},
};

void PrintTo(const BarCase& c, std::ostream* os) { *os << c.name; }

class BarSizing : public ::testing::TestWithParam<BarCase> {};

TEST_P(BarSizing, VirtualBarAnswersAndDeviceUntouched) {
  const BarCase& c = GetParam();
  Rig rig(c.dev);
  const uint32_t before = rig.fake.get(c.pos, 4);
  const uint32_t original = rig.rd(c.pos, 4);
  rig.wr(c.pos, 4, c.write);
  EXPECT_EQ(rig.rd(c.pos, 4), c.reads) << std::hex << "BAR at 0x" << c.pos;
  rig.wr(c.pos, 4, original);  // the sizing protocol's restore
  EXPECT_EQ(rig.rd(c.pos, 4), original);
  EXPECT_FALSE(rig.fake.wrote_in(0x10, 0x28)) << "a BAR write reached the device";
  EXPECT_FALSE(rig.fake.wrote_in(0x30, 0x34)) << "a ROM write reached the device";
  EXPECT_EQ(rig.fake.get(c.pos, 4), before);
}

INSTANTIATE_TEST_SUITE_P(Linux61, BarSizing, ::testing::ValuesIn(kBars),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- splitting (vfio_config_do_rw: aligned chunks within one capability) ----------------------

struct SplitCase {
  const char* name;
  Dev dev;
  int pos;
  unsigned len;
  std::vector<std::pair<int, unsigned>> device_reads;  // empty: not checked
};

const SplitCase kSplits[] = {
    {"raw_gap_1_2_4_4", Dev::Pcie, 0x61, 11, {{0x61, 1}, {0x62, 2}, {0x64, 4}, {0x68, 4}}},
    {"across_gap_into_msix", Dev::Pcie, 0x4e, 4, {}},
    {"header_unaligned_7", Dev::Edu, 0x01, 7, {}},
    {"bar_bytes", Dev::Pcie, 0x0f, 9, {}},
    {"msi_whole_cap_odd", Dev::Edu, 0x3f, 15, {}},
    {"pcie_cap_tail", Dev::Pcie, 0x9e, 9, {}},
    {"ecap_header_unaligned", Dev::Pcie, 0x0fe + 0x51, 6, {}},
    {"aer_to_hidden_ecap", Dev::Pcie, 0x12a, 40, {}},
};

void PrintTo(const SplitCase& c, std::ostream* os) { *os << c.name; }

class Split : public ::testing::TestWithParam<SplitCase> {};

TEST_P(Split, MultiByteEqualsBytes) {
  const SplitCase& c = GetParam();
  Rig whole(c.dev), bytes(c.dev);
  std::vector<uint8_t> a(c.len), b(c.len);
  ASSERT_EQ(whole.cfg->read(a.data(), c.len, uint64_t(c.pos)), long(c.len));
  for (unsigned i = 0; i < c.len; ++i)
    ASSERT_EQ(bytes.cfg->read(&b[i], 1, uint64_t(c.pos) + i), 1);
  EXPECT_EQ(a, b);
  if (!c.device_reads.empty()) {
    std::vector<std::pair<int, unsigned>> seen;
    for (const auto& x : whole.fake.log) seen.emplace_back(x.off, x.size);
    EXPECT_EQ(seen, c.device_reads);
  }
}

INSTANTIATE_TEST_SUITE_P(Linux61, Split, ::testing::ValuesIn(kSplits),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(VfioPciConfigSplit, UnalignedWriteChunks) {
  Rig rig(Dev::Pcie);
  const uint8_t data[7] = {1, 2, 3, 4, 5, 6, 7};
  ASSERT_EQ(rig.cfg->write(data, 7, 0x63), 7);
  std::vector<std::pair<int, unsigned>> writes;
  for (const auto& a : rig.fake.log)
    if (a.write) writes.emplace_back(a.off, a.size);
  EXPECT_EQ(writes, (std::vector<std::pair<int, unsigned>>{{0x63, 1}, {0x64, 4}, {0x68, 2}}));
  EXPECT_EQ(rig.fake.get(0x64, 4), 0x05040302u);
}

TEST(VfioPciConfigSplit, FileOffsetOfConfigRegion) {
  Rig rig(Dev::Edu);
  uint8_t b[2];
  ASSERT_EQ(rig.cfg->read(b, 2, (uint64_t(7) << 40) | 0x02), 2);  // VFIO_PCI_CONFIG_REGION_INDEX
  EXPECT_EQ(b[0] | b[1] << 8, 0x11e8);
  EXPECT_EQ(rig.cfg->read(nullptr, 2, 0), -EFAULT);
  EXPECT_EQ(rig.cfg->read(b, 0, 0x100), 0);
}

// ---- the core's view ------------------------------------------------------------------------

TEST(VfioPciConfigCommand, BusMasterAndMemoryFollowCommand) {
  Rig rig(Dev::Edu);
  EXPECT_FALSE(rig.cfg->bus_master_enabled());
  EXPECT_FALSE(rig.cfg->memory_enabled());
  rig.wr(0x04, 2, 0x0006);
  EXPECT_TRUE(rig.cfg->bus_master_enabled());
  EXPECT_TRUE(rig.cfg->memory_enabled());
  EXPECT_EQ(rig.fake.get(0x04, 2), 0x0006u);
  rig.wr(0x04, 1, 0x02);  // byte write: MEM stays, MASTER cleared
  EXPECT_FALSE(rig.cfg->bus_master_enabled());
  EXPECT_TRUE(rig.cfg->memory_enabled());
  rig.wr(0x04, 2, 0x0000);
  EXPECT_FALSE(rig.cfg->memory_enabled());
}

TEST(VfioPciConfigCommand, D3hotDisablesMemory) {
  Rig rig(Dev::Pcie);
  std::vector<int> states;
  rig.cfg->set_hooks({nullptr, nullptr, [&](int s) { states.push_back(s); }});
  rig.wr(0x04, 2, 0x0002);
  EXPECT_TRUE(rig.cfg->memory_enabled());
  rig.wr(0x44, 2, 0x0003);
  EXPECT_EQ(rig.cfg->power_state(), 3);
  EXPECT_FALSE(rig.cfg->memory_enabled());
  rig.wr(0x44, 2, 0x0000);
  EXPECT_TRUE(rig.cfg->memory_enabled());
  EXPECT_EQ(states, (std::vector<int>{3, 0}));
}

TEST(VfioPciConfigCommand, IntxDisableMasksThroughTheCore) {
  Rig rig(Dev::Edu);
  std::vector<bool> masks;
  rig.cfg->set_hooks({nullptr, [&](bool m) { masks.push_back(m); }, nullptr});
  rig.wr(0x04, 2, 0x0400);
  rig.wr(0x05, 1, 0x04);  // unchanged: no second call
  rig.wr(0x04, 2, 0x0000);
  EXPECT_EQ(masks, (std::vector<bool>{true, false}));
  EXPECT_FALSE(rig.fake.get(0x04, 2) & 0x400);
}

TEST(VfioPciConfigMsi, EnableFollowsSetIrqs) {
  Rig rig(Dev::Edu);
  EXPECT_EQ(rig.cfg->msi_cap(), 0x40);
  EXPECT_EQ(rig.cfg->msix_cap(), 0);
  rig.wr(0x42, 2, 0x0081);
  EXPECT_EQ(rig.rd(0x42, 2), 0x0080u);  // not while SET_IRQS has no MSI
  rig.cfg->set_msi_enabled(true, 1);
  rig.wr(0x42, 2, 0x0081);
  EXPECT_EQ(rig.rd(0x42, 2), 0x0081u);
  EXPECT_EQ(rig.fake.get(0x42, 2), 0x0081u);  // vfio_msi_config_write writes flags through
  rig.cfg->set_msi_enabled(false, 0);
  rig.wr(0x42, 2, 0x0081);
  EXPECT_EQ(rig.rd(0x42, 2), 0x0080u);
}

TEST(VfioPciConfigMsi, MultipleMessageEnableClampedToVectorsEnabled) {
  Rig rig(Dev::Edu);
  rig.cfg->set_msi_enabled(true, 4);  // msi_qmax = 2
  rig.wr(0x42, 1, 0xf1);
  EXPECT_EQ(rig.rd(0x42, 2), 0x00a1u);
  rig.wr(0x42, 1, 0x91);
  EXPECT_EQ(rig.rd(0x42, 2), 0x0091u);
}

TEST(VfioPciConfigMsi, MessageNeverReachesDevice) {
  Rig rig(Dev::Edu);
  rig.cfg->set_msi_enabled(true, 1);
  const uint8_t msg[10] = {0x00, 0x00, 0xe0, 0xfe, 0, 0, 0, 0, 0x41, 0x40};
  ASSERT_EQ(rig.cfg->write(msg, 10, 0x44), 10);
  EXPECT_FALSE(rig.fake.wrote_in(0x44, 0x4e));
  uint8_t back[10];
  ASSERT_EQ(rig.cfg->read(back, 10, 0x44), 10);
  EXPECT_EQ(std::vector<uint8_t>(back, back + 10), std::vector<uint8_t>(msg, msg + 10));
}

TEST(VfioPciConfigMsix, EnableIsTheDevicesNotTheUsers) {
  Rig rig(Dev::Pcie);
  EXPECT_EQ(rig.cfg->msix_cap(), 0x50);
  EXPECT_EQ(rig.cfg->msi_cap(), 0);
  rig.wr(0x52, 2, 0x8000);
  EXPECT_EQ(rig.rd(0x52, 2), 0x003fu);
  rig.cfg->set_msix_enabled(true);
  rig.fake.set(0x52, 2, 0x803f, 0xc000);  // the host's pci_alloc_irq_vectors enabled it
  EXPECT_EQ(rig.rd(0x52, 2), 0x803fu);
  rig.wr(0x52, 2, 0x0000);  // the user cannot turn it off
  EXPECT_EQ(rig.fake.get(0x52, 2), 0x803fu);
  EXPECT_TRUE(rig.cfg->msix_active());
}

TEST(VfioPciConfigFlr, DevctlInitiateFlrReachesCore) {
  Rig rig(Dev::Pcie);
  int resets = 0;
  rig.cfg->set_hooks({[&] { ++resets; }, nullptr, nullptr});
  rig.wr(0x78, 2, 0xa020);
  EXPECT_EQ(resets, 1);
  EXPECT_EQ(rig.cfg->flr_requests(), 1u);
  EXPECT_EQ(rig.rd(0x78, 2), 0x2020u);  // Initiate FLR reads as zero
  EXPECT_FALSE(rig.fake.get(0x78, 2) & 0x8000);
}

TEST(VfioPciConfigFlr, NoFlrCapabilityNoReset) {
  Rig rig(Dev::PcieNoFlr);
  int resets = 0;
  rig.cfg->set_hooks({[&] { ++resets; }, nullptr, nullptr});
  rig.wr(0x78, 2, 0xa020);
  EXPECT_EQ(resets, 0);
  EXPECT_EQ(rig.cfg->flr_requests(), 1u);
  EXPECT_EQ(rig.cfg->resets_issued(), 0u);
  EXPECT_EQ(rig.rd(0x78, 2), 0x2020u);
}

TEST(VfioPciConfigFlr, AdvancedFeaturesFlrReachesCore) {
  Rig rig(Dev::ConventionalAf);
  int resets = 0;
  rig.cfg->set_hooks({[&] { ++resets; }, nullptr, nullptr});
  rig.wr(0x54, 1, 0x01);
  EXPECT_EQ(resets, 1);
  EXPECT_EQ(rig.rd(0x54, 1), 0u);  // reads as zero
  EXPECT_FALSE(rig.fake.wrote_in(0x54, 0x55));
}

TEST(VfioPciConfigReset, BarsRestoredOnNextCommandWrite) {
  Rig rig(Dev::Pcie);
  rig.wr(0x1c, 4, 0xffffffff);  // the user's virtual BAR value survives the reset
  // The device loses its BARs (a reset nobody restored)
  rig.fake.set(0x10, 4, 0x0000000c, 0xff800000);
  rig.fake.set(0x14, 4, 0, 0xffffffff);
  rig.fake.set(0x1c, 4, 0, 0xffff8000);
  rig.cfg->reset();
  EXPECT_EQ(rig.rd(0x1c, 4), 0xffff8000u);
  rig.wr(0x04, 2, 0x0002);
  EXPECT_EQ(rig.cfg->bar_restores(), 1u);
  EXPECT_EQ(rig.fake.get(0x14, 4), 0x38u);
  EXPECT_EQ(rig.fake.get(0x1c, 4), 0xfe900000u);
  rig.wr(0x04, 2, 0x0002);  // BARs match again: no second restore
  EXPECT_EQ(rig.cfg->bar_restores(), 1u);
}

TEST(VfioPciConfigInit, CapabilityMap) {
  Rig rig(Dev::Pcie);
  EXPECT_EQ(rig.cfg->size(), 4096);
  EXPECT_TRUE(rig.cfg->extended_caps());
  EXPECT_EQ(rig.cfg->map_at(0x3f), 0);     // header
  EXPECT_EQ(rig.cfg->map_at(0x47), 0x01);  // PM, 8 bytes
  EXPECT_EQ(rig.cfg->map_at(0x48), 0xff);  // gap
  EXPECT_EQ(rig.cfg->map_at(0x5b), 0x11);  // MSI-X, 12 bytes
  EXPECT_EQ(rig.cfg->map_at(0x60), 0xff);  // hidden capability
  EXPECT_EQ(rig.cfg->map_at(0xa3), 0x10);  // PCIe v2 endpoint, 52 bytes
  EXPECT_EQ(rig.cfg->map_at(0xa4), 0xff);
  EXPECT_EQ(rig.cfg->map_at(0xbb), 0x09);  // vendor-specific, 12 bytes
  EXPECT_EQ(rig.cfg->map_at(0x12b), 0x01);  // AER up to the root registers
  EXPECT_EQ(rig.cfg->map_at(0x12c), 0xff);
  EXPECT_EQ(rig.cfg->map_at(0x148), 0xff);  // hidden L1SS
  EXPECT_EQ(rig.cfg->map_at(0x157), 0x0d);  // ACS without egress control: 8 bytes
  EXPECT_EQ(rig.cfg->map_at(0x16b), 0x03);  // DSN 12 bytes
  Rig edu(Dev::Edu);
  EXPECT_FALSE(edu.cfg->extended_caps());
  EXPECT_EQ(edu.cfg->map_at(0x4d), 0x05);  // MSI 64-bit without masking: 14 bytes
  EXPECT_EQ(edu.cfg->map_at(0x4e), 0xff);
}

}  // namespace
