// vfio_pci_core config-space virtualisation: Linux 6.1 drivers/vfio/pci/vfio_pci_config.c,
// function by function (names in the comments): the access path (vfio_pci_config_rw), the
// read/write functions and the side effects. vfio_config_init and the capability walks are in
// vfio_pci_config_caps.cpp, the permission tables in vfio_pci_config_perms.cpp.
#include "vfio/vfio_pci_config.h"

#include <algorithm>
#include <cerrno>

namespace pciesim::cosim {

using namespace vfio_config;

namespace {

constexpr uint64_t kOffsetMask = (uint64_t(1) << 40) - 1;  // VFIO_PCI_OFFSET_MASK

bool is_bar(int offset) {
  return (offset >= PCI_BASE_ADDRESS_0 && offset < PCI_BASE_ADDRESS_5 + 4) ||
         (offset >= PCI_ROM_ADDRESS && offset < PCI_ROM_ADDRESS + 4);
}

uint32_t bytes_mask(int count) { return count >= 4 ? ~0u : (1u << (8 * count)) - 1; }

// fls(): 1-based index of the most significant set bit, 0 for 0
int fls(unsigned x) {
  int r = 0;
  while (x) {
    ++r;
    x >>= 1;
  }
  return r;
}

}  // namespace

VfioPciConfig::VfioPciConfig(VfioConfigDevice& dev, VfioConfigHooks hooks)
    : m_dev(dev), m_hooks(std::move(hooks)) {
  init();
}

// ---------------------------------------------------------------------------------------------
// Accessors

uint32_t VfioPciConfig::hw_read(int pos, int count) const {
  return m_dev.cfg_read(pos, unsigned(count)) & bytes_mask(count);
}

void VfioPciConfig::hw_write(int pos, int count, uint32_t val) {
  m_dev.cfg_write(pos, unsigned(count), val & bytes_mask(count));
}

uint32_t VfioPciConfig::vget(int pos, int count) const {
  uint32_t v = 0;
  for (int i = 0; i < count; ++i) v |= uint32_t(m_vconfig.at(size_t(pos + i))) << (8 * i);
  return v;
}

void VfioPciConfig::vset(int pos, int count, uint32_t val) {
  for (int i = 0; i < count; ++i) m_vconfig.at(size_t(pos + i)) = uint8_t(val >> (8 * i));
}

// ---------------------------------------------------------------------------------------------
// vfio_config_do_rw / vfio_pci_config_rw

// vfio_find_cap_start
int VfioPciConfig::find_cap_start(int pos) const {
  uint8_t cap = m_map[size_t(pos)];
  int base = pos >= kCfgSpaceSize ? kCfgSpaceSize : kStdHeaderSize;
  if (cap == kCapIdBasic) return 0;
  // (Linux: "Can we have two abutting capabilities of the same type?" They merge.)
  while (pos - 1 >= base && m_map[size_t(pos - 1)] == cap) --pos;
  return pos;
}

// vfio_pci_cap_remaining_dword
size_t VfioPciConfig::cap_remaining_dword(int pos) const {
  uint8_t cap = m_map[size_t(pos)];
  size_t i = 1;
  while ((pos + int(i)) % 4 && m_map[size_t(pos) + i] == cap) ++i;
  return i;
}

long VfioPciConfig::do_rw(uint8_t* rbuf, const uint8_t* wbuf, size_t count, int pos) {
  const int cfg_size = int(m_vconfig.size());
  if (pos < 0 || pos >= cfg_size || uint64_t(pos) + count > uint64_t(cfg_size)) return -EFAULT;

  // Chop accesses into aligned chunks containing no more than a single capability
  count = std::min(count, cap_remaining_dword(pos));
  int n = (count >= 4 && !(pos % 4)) ? 4 : (count >= 2 && !(pos % 2)) ? 2 : 1;

  const PermTables& tables = perm_tables();
  const PermBits* perm = nullptr;
  int cap_start = 0;
  uint8_t cap_id = m_map[size_t(pos)];
  if (cap_id == kCapIdInvalid) {
    perm = &tables.unassigned;
    cap_start = pos;
  } else if (cap_id == kCapIdInvalidVirt) {
    perm = &tables.virt;
    cap_start = pos;
  } else if (pos >= kCfgSpaceSize) {
    // An id past PCI_EXT_CAP_ID_MAX only anchors a hidden first ecap: direct read-only
    perm = cap_id > kExtCapIdMax ? &tables.direct_ro : &tables.ecap[cap_id];
    cap_start = find_cap_start(pos);
  } else {
    perm = cap_id <= kCapIdMax ? &tables.cap[cap_id] : &tables.direct_ro;
    if (cap_id == PCI_CAP_ID_MSI && m_msi_perm) perm = &*m_msi_perm;
    if (cap_id > kCapIdBasic) cap_start = find_cap_start(pos);
  }
  const int offset = pos - cap_start;

  if (wbuf) {
    uint32_t val = 0;
    for (int i = 0; i < n; ++i) val |= uint32_t(wbuf[i]) << (8 * i);
    switch (perm->write_op) {
      case WriteOp::None: break;  // dropped
      case WriteOp::Default:
      case WriteOp::Vpd:  // the VPD transfer (pci_read_vpd/pci_write_vpd) is not modelled
        default_write(pos, n, *perm, offset, val);
        break;
      case WriteOp::Raw: hw_write(pos, n, val); break;
      case WriteOp::Virt: vset(pos, n, val); break;
      case WriteOp::Basic: basic_write(pos, n, *perm, offset, val); break;
      case WriteOp::Pm: pm_write(pos, n, *perm, offset, val); break;
      case WriteOp::Exp: exp_write(pos, n, *perm, offset, val); break;
      case WriteOp::Af: af_write(pos, n, *perm, offset, val); break;
      case WriteOp::Msi: msi_write(pos, n, *perm, offset, val); break;
    }
  } else {
    uint32_t val = 0;
    switch (perm->read) {
      case ReadOp::None: break;
      case ReadOp::Default: val = default_read(pos, n, *perm, offset); break;
      case ReadOp::Direct: val = direct_read(pos, n, offset); break;
      case ReadOp::Raw: val = hw_read(pos, n); break;
      case ReadOp::Virt: val = vget(pos, n); break;
      case ReadOp::Basic: val = basic_read(pos, n, *perm, offset); break;
      case ReadOp::Msi: val = msi_read(pos, n, *perm, offset); break;
    }
    for (int i = 0; i < n; ++i) rbuf[i] = uint8_t(val >> (8 * i));
  }
  return n;
}

long VfioPciConfig::read(uint8_t* buf, size_t count, uint64_t pos) {
  if (count && !buf) return -EFAULT;  // copy_to_user
  pos &= kOffsetMask;
  if (pos > uint64_t(m_vconfig.size())) return count ? -EFAULT : 0;
  size_t done = 0;
  while (count) {
    long ret = do_rw(buf + done, nullptr, count, int(pos));
    if (ret < 0) return ret;
    count -= size_t(ret);
    done += size_t(ret);
    pos += uint64_t(ret);
  }
  return long(done);
}

long VfioPciConfig::write(const uint8_t* buf, size_t count, uint64_t pos) {
  if (count && !buf) return -EFAULT;  // copy_from_user
  pos &= kOffsetMask;
  if (pos > uint64_t(m_vconfig.size())) return count ? -EFAULT : 0;
  size_t done = 0;
  while (count) {
    long ret = do_rw(nullptr, buf + done, count, int(pos));
    if (ret < 0) return ret;
    count -= size_t(ret);
    done += size_t(ret);
    pos += uint64_t(ret);
  }
  return long(done);
}

// ---------------------------------------------------------------------------------------------
// Generic read/write functions

// vfio_default_config_read
uint32_t VfioPciConfig::default_read(int pos, int count, const PermBits& perm, int offset) {
  uint32_t val = vget(pos, count);
  uint32_t virt = perm.virt_mask(offset, count);
  if (virt != bytes_mask(count)) {  // any non-virtualized bits?
    uint32_t phys = hw_read(pos, count);
    val = (phys & ~virt) | (val & virt);
  }
  return val;
}

// vfio_default_config_write
void VfioPciConfig::default_write(int pos, int count, const PermBits& perm, int offset,
                                  uint32_t val) {
  uint32_t write = perm.write_mask(offset, count);
  if (!write) return;  // drop, no writable bits
  uint32_t virt = perm.virt_mask(offset, count);
  // Virtualized and writable bits go to vconfig
  if (write & virt) vset(pos, count, (vget(pos, count) & ~(write & virt)) | (val & write & virt));
  // Non-virtualized and writable bits go to hardware
  if (write & ~virt) {
    uint32_t phys = hw_read(pos, count);
    phys = (phys & ~(write & ~virt)) | (val & (write & ~virt));
    hw_write(pos, count, phys);
  }
}

// vfio_direct_config_read: hardware, except the capability id/next (extended: header) bytes
uint32_t VfioPciConfig::direct_read(int pos, int count, int offset) {
  uint32_t val = hw_read(pos, count);
  auto low_from_vconfig = [&](int n) {  // memcpy(val, vconfig + pos, n)
    uint32_t m = bytes_mask(n);
    val = (val & ~m) | (vget(pos, n) & m);
  };
  if (pos >= kCfgSpaceSize) {  // extended cap header mangling
    if (offset < 4) low_from_vconfig(count);
  } else if (pos >= kStdHeaderSize) {  // std cap mangling
    if (offset == PCI_CAP_LIST_ID && count > 1)
      low_from_vconfig(std::min(PCI_CAP_FLAGS, count));
    else if (offset == PCI_CAP_LIST_NEXT)
      low_from_vconfig(1);
  }
  return val;
}

// ---------------------------------------------------------------------------------------------
// The standard header: vfio_basic_config_read / _write, BAR virtualisation

// vfio_generate_bar_flags
static uint32_t bar_flags(const VfioConfigDevice& dev, int bar) {
  if (dev.bar_is_io(bar)) return PCI_BASE_ADDRESS_SPACE_IO;
  uint32_t val = 0;  // PCI_BASE_ADDRESS_SPACE_MEMORY
  if (dev.bar_is_prefetch(bar)) val |= PCI_BASE_ADDRESS_MEM_PREFETCH;
  if (dev.bar_is_64(bar)) val |= PCI_BASE_ADDRESS_MEM_TYPE_64;
  return val;
}

// vfio_bar_fixup: pretend we're hardware; implements BAR sizing on the virtual BARs
void VfioPciConfig::bar_fixup() {
  if (!m_bardirty) return;
  for (int i = 0; i < 6; ++i) {
    const int off = PCI_BASE_ADDRESS_0 + 4 * i;
    const uint64_t len = m_dev.bar_size(i);
    if (!len) {  // unmapped by host = unimplemented to user (pci_resource_start == 0)
      vset(off, 4, 0);
      continue;
    }
    const uint64_t mask = ~(len - 1);
    uint32_t vbar = (vget(off, 4) & uint32_t(mask)) | bar_flags(m_dev, i);
    vset(off, 4, vbar);
    // As Linux tests it: the type bit of the fixed-up value (for an I/O BAR of 4 bytes a user
    // address with bit 2 set also matches); i < 5 keeps the upper half inside the BARs.
    if ((vbar & PCI_BASE_ADDRESS_MEM_TYPE_64) && i < 5) {
      ++i;
      vset(off + 4, 4, vget(off + 4, 4) & uint32_t(mask >> 32));
    }
  }
  // ROM: the real size (there is no shadow ROM in the simulator), enable bit kept
  const uint64_t rom = m_dev.bar_size(6);
  if (rom)
    vset(PCI_ROM_ADDRESS, 4, vget(PCI_ROM_ADDRESS, 4) & (uint32_t(~(rom - 1)) | PCI_ROM_ADDRESS_ENABLE));
  else
    vset(PCI_ROM_ADDRESS, 4, 0);
  m_bardirty = false;
}

uint32_t VfioPciConfig::basic_read(int pos, int count, const PermBits& perm, int offset) {
  if (is_bar(offset)) bar_fixup();  // pos == offset for basic config
  uint32_t v = default_read(pos, count, perm, offset);
  // Mask in virtual memory enable: a no_command_memory device (a VF) shows the user's own bit.
  if (offset == PCI_COMMAND && m_dev.no_command_memory()) v |= vget(PCI_COMMAND, 2) & PCI_COMMAND_MEMORY;
  return v;
}

// vfio_need_bar_restore: do the real BARs still hold what they held at init?
bool VfioPciConfig::need_bar_restore() const {
  for (int i = 0; i < 6; ++i)
    if (m_rbar[size_t(i)] && hw_read(PCI_BASE_ADDRESS_0 + 4 * i, 4) != m_rbar[size_t(i)]) return true;
  return false;
}

// vfio_bar_restore: after an FLR or backdoor reset
void VfioPciConfig::bar_restore() {
  if (m_dev.is_virtfn()) return;  // 6.1: a VF's BAR registers are not its decode (VF BARs in the PF)
  ++m_bar_restores;  // pci_info "reset recovery - restoring BARs"
  for (int i = 0; i < 6; ++i) hw_write(PCI_BASE_ADDRESS_0 + 4 * i, 4, m_rbar[size_t(i)]);
  hw_write(PCI_ROM_ADDRESS, 4, m_rbar[6]);
}

void VfioPciConfig::basic_write(int pos, int count, const PermBits& perm, int offset,
                                uint32_t val) {
  uint16_t new_cmd = 0;
  if (offset == PCI_COMMAND) {
    const uint16_t phys_cmd = uint16_t(hw_read(PCI_COMMAND, 2));
    const uint16_t virt_cmd = uint16_t(vget(PCI_COMMAND, 2));
    new_cmd = uint16_t(val);
    const bool phys_io = phys_cmd & PCI_COMMAND_IO, virt_io = virt_cmd & PCI_COMMAND_IO,
               new_io = new_cmd & PCI_COMMAND_IO;
    const bool phys_mem = phys_cmd & PCI_COMMAND_MEMORY, virt_mem = virt_cmd & PCI_COMMAND_MEMORY,
               new_mem = new_cmd & PCI_COMMAND_MEMORY;
    // Enabling what we think is enabled but the hardware shows disabled: a backdoor reset
    if ((new_mem && virt_mem && !phys_mem && !m_dev.no_command_memory()) || (new_io && virt_io && !phys_io) ||
        need_bar_restore())
      bar_restore();
  }

  default_write(pos, count, perm, offset, val);

  // Save the memory/io enable bits in vconfig for the test above next time
  if (offset == PCI_COMMAND) {
    const uint16_t mask = PCI_COMMAND_MEMORY | PCI_COMMAND_IO;
    vset(PCI_COMMAND, 2, (vget(PCI_COMMAND, 2) & ~uint32_t(mask)) | (new_cmd & mask));
  }

  // Emulate INTx disable
  if (offset >= PCI_COMMAND && offset <= PCI_COMMAND + 1) {
    const bool virt_intx_disable = vget(PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE;
    if (virt_intx_disable != m_virq_disabled) {
      m_virq_disabled = virt_intx_disable;
      if (m_hooks.intx_mask) m_hooks.intx_mask(virt_intx_disable);
    }
  }

  if (is_bar(offset)) m_bardirty = true;
}

// ---------------------------------------------------------------------------------------------
// Capability side effects

void VfioPciConfig::set_power_state(int state) {
  m_power_state = state;
  if (m_hooks.set_power_state) {
    m_hooks.set_power_state(state);
    return;
  }
  // pci_set_power_state on the real PM capability (PME_Status is RW1C: not written back)
  const auto it = std::find(m_map.begin() + kStdHeaderSize, m_map.begin() + kCfgSpaceSize,
                            uint8_t(PCI_CAP_ID_PM));
  if (it == m_map.begin() + kCfgSpaceSize) return;
  const int pm = int(it - m_map.begin());
  uint32_t pmcsr = hw_read(pm + PCI_PM_CTRL, 2);
  pmcsr = (pmcsr & ~(PCI_PM_CTRL_STATE_MASK | PCI_PM_CTRL_PME_STATUS)) | uint32_t(state);
  hw_write(pm + PCI_PM_CTRL, 2, pmcsr);
}

// vfio_pm_config_write
void VfioPciConfig::pm_write(int pos, int count, const PermBits& perm, int offset, uint32_t val) {
  default_write(pos, count, perm, offset, val);
  if (offset == PCI_PM_CTRL) set_power_state(int(val & PCI_PM_CTRL_STATE_MASK));
}

void VfioPciConfig::request_reset() {
  ++m_resets_issued;
  if (m_hooks.reset_function) m_hooks.reset_function();  // pci_try_reset_function
}

// vfio_exp_config_write
void VfioPciConfig::exp_write(int pos, int count, const PermBits& perm, int offset, uint32_t val) {
  const int start = pos - offset;
  const int ctrl = start + PCI_EXP_DEVCTL;
  const uint32_t readrq = vget(ctrl, 2) & PCI_EXP_DEVCTL_READRQ;

  default_write(pos, count, perm, offset, val);

  // The FLR bit is virtual: if set and the device supports FLR, reset the function. Either way
  // it reads back as zero, as the spec requires.
  if (vget(ctrl, 2) & PCI_EXP_DEVCTL_BCR_FLR) {
    vset(ctrl, 2, vget(ctrl, 2) & ~uint32_t(PCI_EXP_DEVCTL_BCR_FLR));
    ++m_flr_requests;
    if (hw_read(start + PCI_EXP_DEVCAP, 4) & PCI_EXP_DEVCAP_FLR) request_reset();
  }

  // MRRS: the user's value goes to hardware, floored at the physical MPS (pcie_set_readrq)
  const uint32_t vctl = vget(ctrl, 2);
  if (readrq != (vctl & PCI_EXP_DEVCTL_READRQ)) {
    int rq = 128 << ((vctl & PCI_EXP_DEVCTL_READRQ) >> 12);
    const uint32_t phys = hw_read(ctrl, 2);
    const int mps = 128 << ((phys & PCI_EXP_DEVCTL_PAYLOAD) >> 5);  // pcie_get_mps
    rq = std::max(rq, mps);
    if (rq >= 128 && rq <= 4096) {  // pcie_set_readrq rejects the rest with -EINVAL
      const uint32_t v = uint32_t(fls(unsigned(rq)) - 8) << 12;
      hw_write(ctrl, 2, (phys & ~uint32_t(PCI_EXP_DEVCTL_READRQ)) | v);
    }
  }
}

// vfio_af_config_write
void VfioPciConfig::af_write(int pos, int count, const PermBits& perm, int offset, uint32_t val) {
  const int start = pos - offset;
  default_write(pos, count, perm, offset, val);
  const int ctrl = start + PCI_AF_CTRL;
  if (vget(ctrl, 1) & PCI_AF_CTRL_FLR) {
    vset(ctrl, 1, vget(ctrl, 1) & ~uint32_t(PCI_AF_CTRL_FLR));
    ++m_flr_requests;
    const uint8_t cap = uint8_t(hw_read(start + PCI_AF_CAP, 1));
    if ((cap & PCI_AF_CAP_FLR) && (cap & PCI_AF_CAP_TP)) request_reset();
  }
}

// vfio_msi_config_read. Linux means to report msi_qmax as Multiple Message Capable, but it
// updates the word at the capability's start (id/next), not the flags: bits 3:1 of the id byte
// in vconfig, which the user never sees (the id reads through from the device). So the user
// reads the device's own MMC from vconfig. Reproduced as written.
uint32_t VfioPciConfig::msi_read(int pos, int count, const PermBits& perm, int offset) {
  if (offset <= PCI_MSI_FLAGS && offset + count >= PCI_MSI_FLAGS) {
    const int start = find_cap_start(pos);
    vset(start, 2, (vget(start, 2) & ~uint32_t(PCI_MSI_FLAGS_QMASK)) | (uint32_t(m_msi_qmax) << 1));
  }
  return default_read(pos, count, perm, offset);
}

// vfio_msi_config_write: the enable bit only while MSI is the SET_IRQS index; QSIZE clamped to
// msi_qmax; the flags word is written back to vconfig and to the device.
void VfioPciConfig::msi_write(int pos, int count, const PermBits& perm, int offset, uint32_t val) {
  default_write(pos, count, perm, offset, val);
  if (offset <= PCI_MSI_FLAGS && offset + count >= PCI_MSI_FLAGS) {
    const int start = find_cap_start(pos);
    const int pflags = start + PCI_MSI_FLAGS;
    uint16_t flags = uint16_t(vget(pflags, 2));
    if (m_irq_type != IrqType::Msi) flags &= uint16_t(~PCI_MSI_FLAGS_ENABLE);  // via ioctl only
    if (((flags & PCI_MSI_FLAGS_QSIZE) >> 4) > m_msi_qmax) {
      flags &= uint16_t(~PCI_MSI_FLAGS_QSIZE);
      flags |= uint16_t(m_msi_qmax << 4);
    }
    vset(pflags, 2, flags);
    hw_write(pflags, 2, flags);
  }
}

// ---------------------------------------------------------------------------------------------
// What the core asks and tells

bool VfioPciConfig::bus_master_enabled() const {
  return hw_read(PCI_COMMAND, 2) & PCI_COMMAND_MASTER;
}

bool VfioPciConfig::memory_enabled() const {
  // A VF's memory decode is the PF's VF MSE: the virtual bit does not gate it (6.1).
  return m_power_state < 3 && (m_dev.no_command_memory() || (vget(PCI_COMMAND, 2) & PCI_COMMAND_MEMORY));
}

bool VfioPciConfig::io_enabled() const { return vget(PCI_COMMAND, 2) & PCI_COMMAND_IO; }

void VfioPciConfig::set_msi_enabled(bool on, unsigned vectors) {
  if (on) {
    m_irq_type = IrqType::Msi;
    // vfio_msi_enable: the virtual max-vectors field is log2 of the vectors enabled
    m_msi_qmax = uint8_t(fls(std::max(vectors, 1u) * 2 - 1) - 1);
  } else if (m_irq_type == IrqType::Msi) {
    m_irq_type = IrqType::None;  // vfio_msi_disable: irq_type = VFIO_PCI_NUM_IRQS
  }
}

void VfioPciConfig::set_msix_enabled(bool on) {
  if (on)
    m_irq_type = IrqType::Msix;
  else if (m_irq_type == IrqType::Msix)
    m_irq_type = IrqType::None;
}

void VfioPciConfig::reset() {
  m_bardirty = true;
  m_power_state = 0;
}

}  // namespace pciesim::cosim
