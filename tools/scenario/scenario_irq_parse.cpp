// Parsing of the interrupt steps and expectation (scenario_irq_parse.h; docs/scenarios-steps.md,
// "Interrupts"), with the scenario parsers' YAML helpers (scenario_yaml.h).
#include "scenario_irq_parse.h"

#include <yaml-cpp/yaml.h>

#include <map>

#include "scenario_yaml.h"

namespace pciesim::scenario {

namespace {

// The shared scenario helpers; numbers here are vectors and APIC ids, so the error's example is one.
class Fields : public ScenarioFields {
 public:
  using ScenarioFields::ScenarioFields;
  uint64_t number(const YAML::Node& n, const std::string& field, uint64_t max) const {
    return ScenarioFields::number(n, field, max, "0x41 or 65");
  }
};

// PCI 3.0 6.8.1.3: MSI has at most 32 vectors; PCI 3.0 6.8.2.3: MSI-X at most 2048.
constexpr uint64_t kMaxMsiVectors = 32, kMaxMsixVectors = 2048;

}  // namespace

void parse_irq_setup(const YAML::Node& body, const std::string& file, Step& st, std::ostringstream& label) {
  const Fields p(file);
  const std::string f = "irq_setup";
  p.fields(body, f, {"device", "vectors", "type"});
  st.from = p.text_of(p.require(body, "device", f), f + ".device");
  if (body["type"]) {
    st.irq.type = p.text_of(body["type"], f + ".type");
    if (st.irq.type != "msi" && st.irq.type != "msix") p.fail(body["type"], f + ".type", "msi or msix");
  }
  const uint64_t max = st.irq.type == "msi" ? kMaxMsiVectors : kMaxMsixVectors;
  if (body["vectors"]) st.irq.vectors = static_cast<unsigned>(p.number(body["vectors"], f + ".vectors", max));
  if (st.irq.vectors == 0) p.fail(body["vectors"], f + ".vectors", "at least 1");
  if (st.irq.type == "msi" && (st.irq.vectors & (st.irq.vectors - 1)))
    p.fail(body["vectors"], f + ".vectors", "MSI allocates a power of two vectors (PCI 3.0 6.8.1.3): 1, 2, 4 .. 32");
  label << " " << st.from << " " << st.irq.vectors << " vector" << (st.irq.vectors == 1 ? "" : "s");
  if (!st.irq.type.empty()) label << " (" << st.irq.type << ")";
}

void parse_irte(const YAML::Node& body, const std::string& file, Step& st, std::ostringstream& label) {
  const Fields p(file);
  const std::string f = "irte";
  p.fields(body, f, {"device", "vector", "set", "invalidate"});
  st.from = p.text_of(p.require(body, "device", f), f + ".device");
  st.irq.vector = static_cast<unsigned>(p.number(p.require(body, "vector", f), f + ".vector", kMaxMsixVectors - 1));
  const YAML::Node set = p.require(body, "set", f);
  p.fields(set, f + ".set", {"present", "sid", "svt", "vector", "dest"});
  if (set.size() == 0) p.fail(set, f + ".set", "change at least one field: present, sid, svt, vector, dest");
  IrqStepSpec& q = st.irq;
  label << " " << st.from << " vector " << *q.vector << ":";
  if (set["present"]) {
    q.present = p.boolean(set["present"], f + ".set.present");
    label << " present " << (*q.present ? "1" : "0");
  }
  if (set["sid"]) {
    p.bdf(set["sid"], f + ".set.sid");
    q.sid = set["sid"].Scalar();
    label << " sid " << *q.sid;
  }
  if (set["svt"]) {
    q.svt = p.text_of(set["svt"], f + ".set.svt");
    // VT-d 9.10 SVT: 00 no check, 01 requester id (SID/SQ), 10 bus range
    if (*q.svt != "none" && *q.svt != "requester" && *q.svt != "bus")
      p.fail(set["svt"], f + ".set.svt", "none, requester or bus (VT-d 9.10 SVT 00, 01, 10)");
    label << " svt " << *q.svt;
  }
  if (set["vector"]) {
    // Intel SDM vol. 3 10.5.2: vectors 0-15 are reserved, 16-31 the exceptions'; any 8-bit value
    // can be written into an IRTE, so only the width is checked.
    q.new_vector = static_cast<uint8_t>(p.number(set["vector"], f + ".set.vector", 0xff));
    label << " vector 0x" << std::hex << unsigned{*q.new_vector} << std::dec;
  }
  if (set["dest"]) {
    q.dest = static_cast<uint32_t>(p.number(set["dest"], f + ".set.dest", 0xffffffffull));
    label << " dest " << *q.dest;
  }
  if (body["invalidate"]) q.invalidate = p.boolean(body["invalidate"], f + ".invalidate");
  label << (q.invalidate ? ", IEC invalidated" : ", no IEC invalidation");
}

void parse_msi(const YAML::Node& body, const std::string& file, Step& st, std::ostringstream& label) {
  const Fields p(file);
  const std::string f = "msi";
  p.fields(body, f, {"from", "address", "data", "spoof", "vector", "copy"});
  st.from = p.text_of(p.require(body, "from", f), f + ".from");
  if (body["spoof"]) {
    p.bdf(body["spoof"], f + ".spoof");
    st.spoof = body["spoof"].Scalar();
  }
  if (body["vector"] || body["copy"]) {
    if (body["address"] || body["data"])
      p.fail(body["address"] ? body["address"] : body["data"], f, "give vector (the device's own MSI, or copy's) or address and data, not both");
    st.irq.vector = static_cast<unsigned>(p.number(p.require(body, "vector", f), f + ".vector", kMaxMsixVectors - 1));
    if (body["copy"]) st.irq.copy = p.text_of(body["copy"], f + ".copy");
    if (st.irq.copy.empty() && st.spoof)
      p.fail(body["spoof"], f + ".spoof", "a device's own MSI carries its own requester id: spoof needs address/data or copy");
    if (st.irq.copy.empty()) {
      label << " " << st.from << " vector " << *st.irq.vector;
    } else {
      label << " " << st.from << " forges " << st.irq.copy << "'s vector " << *st.irq.vector;
    }
  } else {
    st.to = p.text_of(p.require(body, "address", f), f + ".address");
    p.number(body["address"], f + ".address", 0xffffffffull);
    st.msi_data = static_cast<uint32_t>(p.number(p.require(body, "data", f), f + ".data", 0xffffffffull));
    label << " " << st.from << " -> " << st.to << " data 0x" << std::hex << st.msi_data << std::dec;
  }
  if (st.spoof) label << " as " << *st.spoof;
}

const std::set<std::string>& interrupt_expect_keys() {
  static const std::set<std::string> keys = {"interrupt", "vector", "destination", "eventfd"};
  return keys;
}

void parse_interrupt_expect(const YAML::Node& n, const std::string& file, const Step& st, Expect& e) {
  const Fields p(file);
  InterruptExpect& x = e.interrupt;
  if (n["interrupt"]) {
    const std::string v = p.text_of(n["interrupt"], "expect.interrupt");
    if (v != "delivered" && v != "blocked") p.fail(n["interrupt"], "expect.interrupt", "delivered or blocked");
    x.delivered = v == "delivered";
  }
  if (n["vector"]) {
    const YAML::Node& v = n["vector"];
    if (v.IsScalar() && v.Scalar() == "assigned") {
      if (!st.irq.vector)
        p.fail(v, "expect.vector", "'assigned' is the kernel's vector for a device's MSI vector: the msi step needs vector:");
      x.vector = InterruptExpect::kAssigned;
    } else {
      x.vector = static_cast<unsigned>(p.number(v, "expect.vector", 0xff));
    }
  }
  if (n["destination"]) x.destination = static_cast<uint32_t>(p.number(n["destination"], "expect.destination", 0xffffffffull));
  if (n["eventfd"]) {
    if (!st.irq.vector)
      p.fail(n["eventfd"], "expect.eventfd", "a forged address/data names no device vector: the msi step needs vector:");
    x.eventfd = p.boolean(n["eventfd"], "expect.eventfd");
  }
  const std::string f = "expect";
  if (x.delivered && !*x.delivered && (x.vector || x.destination))
    p.fail(n, f, "vector and destination describe a delivered interrupt, not a blocked one");
  if (x.delivered && *x.delivered && (e.iommu_fault || e.blocked || (e.delivered && !*e.delivered)))
    p.fail(n, f, "interrupt: delivered contradicts iommu_fault, blocked and delivered: false");
  if (x.delivered && !*x.delivered && e.delivered && *e.delivered)
    p.fail(n, f, "interrupt: blocked contradicts delivered: true");
}

}  // namespace pciesim::scenario
