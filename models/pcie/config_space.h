// PCI configuration space of one function: bytes plus per-byte writable and write-1-to-clear
// masks, declared as tables (the pattern of QEMU's PCIDevice config/wmask/w1cmask and Linux's
// vfio perm_bits). Storage grows only to the highest declared byte, so a 10,000-function
// topology does not pay 4 KiB x 4 per function.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace pciesim {

// PCI 3.0 6.1, PCIe 7.5.1: standard header offsets used across the models.
namespace cfg {
constexpr uint16_t kVendorId = 0x00, kDeviceId = 0x02, kCommand = 0x04, kStatus = 0x06;
constexpr uint16_t kRevision = 0x08, kClassProgIf = 0x09, kCacheLine = 0x0c, kLatency = 0x0d;
constexpr uint16_t kHeaderType = 0x0e, kBist = 0x0f, kBar0 = 0x10, kCapPtr = 0x34;
constexpr uint16_t kIntLine = 0x3c, kIntPin = 0x3d;
// type 0
constexpr uint16_t kSubsysVendor = 0x2c, kSubsysId = 0x2e, kRomBase = 0x30;
// type 1
constexpr uint16_t kPrimaryBus = 0x18, kSecondaryBus = 0x19, kSubordinateBus = 0x1a, kSecLatency = 0x1b;
constexpr uint16_t kIoBase = 0x1c, kIoLimit = 0x1d, kSecStatus = 0x1e, kMemBase = 0x20, kMemLimit = 0x22;
constexpr uint16_t kPrefBase = 0x24, kPrefLimit = 0x26, kPrefBaseUpper = 0x28, kPrefLimitUpper = 0x2c;
constexpr uint16_t kIoBaseUpper = 0x30, kIoLimitUpper = 0x32, kBridgeRom = 0x38, kBridgeControl = 0x3e;

constexpr uint16_t kCmdIo = 1u << 0, kCmdMemory = 1u << 1, kCmdBusMaster = 1u << 2;
constexpr uint16_t kCmdSerr = 1u << 8, kCmdIntxDisable = 1u << 10;
constexpr uint16_t kStatusIntx = 1u << 3, kStatusCapList = 1u << 4;
constexpr uint16_t kBctlVgaEnable = 1u << 3, kBctlSecondaryBusReset = 1u << 6;

constexpr uint16_t kConventionalSize = 256, kExtendedSize = 4096, kExtCapStart = 0x100;
}  // namespace cfg

class ConfigSpace {
 public:
  // `extended` selects a 4 KiB PCIe space; otherwise 256 B conventional.
  explicit ConfigSpace(bool extended = true);

  uint16_t size() const { return m_logical_size; }
  bool extended() const { return m_logical_size == cfg::kExtendedSize; }

  // Declares a register: value after reset, writable bits, write-1-to-clear bits.
  // Re-declaring an offset replaces it. Everything not declared reads 0 and ignores writes.
  void define(uint16_t offset, unsigned size, uint64_t reset, uint64_t wmask = 0, uint64_t w1c = 0);
  // Changes the current value without touching reset value or masks (hardware-side updates:
  // status bits set by the device, link status, captured bus numbers).
  void set(uint16_t offset, unsigned size, uint64_t value);
  // Changes the reset value as well as the current value (component construction).
  void set_reset(uint16_t offset, unsigned size, uint64_t value);

  // Accesses as a config TLP sees them: masks apply, out-of-range reads 0 (PCIe 7.2.2.2), an
  // access crossing the end of space is cut. `size` is 1, 2 or 4.
  uint32_t read(uint16_t offset, unsigned size) const;
  void write(uint16_t offset, unsigned size, uint32_t value);

  // Raw accessors for models and tests (no masks).
  uint8_t byte(uint16_t offset) const { return offset < m_data.size() ? m_data[offset] : 0; }
  uint8_t wmask_byte(uint16_t offset) const { return offset < m_wmask.size() ? m_wmask[offset] : 0; }
  uint8_t w1c_byte(uint16_t offset) const { return offset < m_w1c.size() ? m_w1c[offset] : 0; }
  uint16_t read16(uint16_t offset) const { return static_cast<uint16_t>(read(offset, 2)); }
  uint32_t read32(uint16_t offset) const { return read(offset, 4); }

  // Back to the declared reset values (conventional reset / FLR).
  void reset();

  // Capability lists (PCI 3.0 6.7, PCIe 7.6). Adding appends to the list and returns the offset
  // of the new capability; classic capabilities are placed from 0x40, extended from 0x100.
  uint16_t add_capability(uint8_t id, unsigned length);
  uint16_t add_ext_capability(uint16_t id, uint8_t version, unsigned length);
  // 0 when absent. The walk is bounded, so a corrupted list can never loop.
  uint16_t find_capability(uint8_t id) const;
  uint16_t find_ext_capability(uint16_t id) const;

  // Called after every write that reached at least one writable or W1C bit: models decode
  // BARs, windows, ACS control and so on from the bytes here.
  using WriteHook = std::function<void(uint16_t offset, unsigned size)>;
  void on_write(WriteHook hook) { m_hook = std::move(hook); }

 private:
  void ensure(size_t end);
  std::vector<uint8_t> m_data, m_wmask, m_w1c, m_reset;
  uint16_t m_logical_size;
  uint16_t m_next_cap = 0x40;
  uint16_t m_last_cap = 0;
  uint16_t m_next_ext = cfg::kExtCapStart;
  uint16_t m_last_ext = 0;
  WriteHook m_hook;
};

}  // namespace pciesim
