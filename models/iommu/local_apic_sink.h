// Where interrupts end up: a recorder standing in for the CPUs' local APICs. Interrupt remapping
// (and compatibility pass-through) hands it the interrupt it would put on the system bus; tests
// and scenarios query what arrived. Plain C++, no SystemC.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace pciesim::vtd {

// Intel SDM vol. 3 10.11.2: MSI data delivery mode encodings (the IRTE DLM field uses the same).
enum class ApicDeliveryMode : uint8_t {
  Fixed = 0,
  LowestPriority = 1,
  Smi = 2,
  Nmi = 4,
  Init = 5,
  ExtInt = 7,
};

// An interrupt as the APIC bus carries it, whichever path produced it.
struct ApicInterrupt {
  uint8_t vector = 0;
  uint32_t destination = 0;     // 8-bit xAPIC id, or 32-bit x2APIC id when the unit runs with EIME
  bool logical = false;         // destination mode: 0 physical, 1 logical
  uint8_t delivery_mode = 0;    // ApicDeliveryMode value
  bool level = false;           // trigger mode: 0 edge, 1 level
  bool redirection_hint = false;
  bool operator==(const ApicInterrupt& o) const {
    return vector == o.vector && destination == o.destination && logical == o.logical &&
           delivery_mode == o.delivery_mode && level == o.level && redirection_hint == o.redirection_hint;
  }
};

// How the interrupt got through the remapping unit.
enum class InterruptPath : uint8_t {
  Unremapped,          // interrupt remapping disabled: the MSI went through as written
  Compatibility,       // compatibility-format MSI passed through (CFIS = 1)
  Remapped,            // remappable-format MSI translated through a remapped-format IRTE
  PostedNotification,  // the notification event of a posted interrupt (VT-d 5.2.3)
};
const char* to_string(InterruptPath p);

struct DeliveredInterrupt {
  ApicInterrupt irq;
  uint16_t source_id = 0;       // requester id of the MSI write
  InterruptPath path = InterruptPath::Remapped;
  uint16_t index = 0;           // IRTE index (remapped / posted)
  uint64_t time_ps = 0;         // simulated time if the caller has one
};

class LocalApicSink {
 public:
  using Listener = std::function<void(const DeliveredInterrupt&)>;

  void deliver(const DeliveredInterrupt& d);
  // Called on every delivery (after recording), e.g. to wake a cosim interrupt handler.
  void set_listener(Listener l) { m_listener = std::move(l); }

  const std::vector<DeliveredInterrupt>& delivered() const { return m_delivered; }
  size_t count() const { return m_delivered.size(); }
  // Deliveries of `vector`, optionally only those to `destination`.
  size_t count_vector(uint8_t vector, std::optional<uint32_t> destination = std::nullopt) const;
  // Deliveries to one destination APIC id.
  size_t count_destination(uint32_t destination) const;
  const DeliveredInterrupt* last() const { return m_delivered.empty() ? nullptr : &m_delivered.back(); }
  // Returns everything recorded so far and forgets it.
  std::vector<DeliveredInterrupt> take();
  void clear() { m_delivered.clear(); }

 private:
  std::vector<DeliveredInterrupt> m_delivered;
  Listener m_listener;
};

}  // namespace pciesim::vtd
