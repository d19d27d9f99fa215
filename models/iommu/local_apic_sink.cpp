#include "iommu/local_apic_sink.h"

#include <utility>

namespace pciesim::vtd {

const char* to_string(InterruptPath p) {
  switch (p) {
    case InterruptPath::Unremapped: return "unremapped";
    case InterruptPath::Compatibility: return "compatibility";
    case InterruptPath::Remapped: return "remapped";
    case InterruptPath::PostedNotification: return "posted-notification";
  }
  return "?";
}

void LocalApicSink::deliver(const DeliveredInterrupt& d) {
  m_delivered.push_back(d);
  if (m_listener) m_listener(d);
}

size_t LocalApicSink::count_vector(uint8_t vector, std::optional<uint32_t> destination) const {
  size_t n = 0;
  for (const auto& d : m_delivered) {
    if (d.irq.vector == vector && (!destination || d.irq.destination == *destination)) ++n;
  }
  return n;
}

size_t LocalApicSink::count_destination(uint32_t destination) const {
  size_t n = 0;
  for (const auto& d : m_delivered) n += (d.irq.destination == destination);
  return n;
}

std::vector<DeliveredInterrupt> LocalApicSink::take() {
  std::vector<DeliveredInterrupt> out;
  out.swap(m_delivered);
  return out;
}

}  // namespace pciesim::vtd
