// Parsing of the interrupt steps and expectation (scenario_irq_parse.h; docs/scenarios-steps.md,
// "Interrupts"). The helpers mirror scenario_parser.cpp's: unknown keys are named with the allowed
// list, numbers take 0x.. or decimal, every error carries file:line:col and the field.
#include "scenario_irq_parse.h"

#include <yaml-cpp/yaml.h>

#include <map>

#include "cli_common.h"

namespace pciesim::scenario {

namespace {

class Fields {
 public:
  explicit Fields(const std::string& file) : m_file(file) {}

  SourceLoc loc(const YAML::Node& n) const {
    const YAML::Mark mk = n.Mark();
    return mk.is_null() ? SourceLoc{m_file, 0, 0} : SourceLoc{m_file, mk.line + 1, mk.column + 1};
  }
  [[noreturn]] void fail(const YAML::Node& n, const std::string& field, const std::string& msg) const {
    throw ScenarioError(loc(n), field, msg);
  }
  void allowed(const YAML::Node& n, const std::string& what, const std::set<std::string>& keys) const {
    if (!n.IsMap()) fail(n, what, "expected a mapping");
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (keys.count(key)) continue;
      std::string list;
      for (const auto& a : keys) list += (list.empty() ? "" : ", ") + a;
      fail(it->first, what + "." + key, "unknown key (allowed: " + list + ")");
    }
  }
  YAML::Node require(const YAML::Node& n, const std::string& key, const std::string& what) const {
    if (!n[key]) fail(n, what + "." + key, "required key is missing");
    return n[key];
  }
  std::string text(const YAML::Node& n, const std::string& field) const {
    if (!n.IsScalar() || n.Scalar().empty()) fail(n, field, "expected a non-empty string");
    return n.Scalar();
  }
  uint64_t number(const YAML::Node& n, const std::string& field, uint64_t max) const {
    if (!n.IsScalar()) fail(n, field, "expected a number");
    const std::string& t = n.Scalar();
    try {
      size_t used = 0;
      if (t.empty() || t[0] == '-') throw std::invalid_argument(t);
      const uint64_t v = std::stoull(t, &used, 0);
      if (used != t.size()) throw std::invalid_argument(t);
      if (v > max) fail(n, field, "'" + t + "' is larger than " + std::to_string(max));
      return v;
    } catch (const std::logic_error&) {
      fail(n, field, "'" + t + "' is not a number (0x41 or 65)");
    }
  }
  bool boolean(const YAML::Node& n, const std::string& field) const {
    bool b = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, b)) fail(n, field, "expected true or false");
    return b;
  }
  void bdf(const YAML::Node& n, const std::string& field) const {
    try {
      cli::parse_bdf(text(n, field));
    } catch (const std::exception& e) {
      fail(n, field, e.what());
    }
  }

 private:
  const std::string& m_file;
};

// PCI 3.0 6.8.1.3: MSI has at most 32 vectors; PCI 3.0 6.8.2.3: MSI-X at most 2048.
constexpr uint64_t kMaxMsiVectors = 32, kMaxMsixVectors = 2048;

}  // namespace

void parse_irq_setup(const YAML::Node& body, const std::string& file, Step& st, std::ostringstream& label) {
  const Fields p(file);
  const std::string f = "irq_setup";
  p.allowed(body, f, {"device", "vectors", "type"});
  st.from = p.text(p.require(body, "device", f), f + ".device");
  if (body["type"]) {
    st.irq.type = p.text(body["type"], f + ".type");
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
  p.allowed(body, f, {"device", "vector", "set", "invalidate"});
  st.from = p.text(p.require(body, "device", f), f + ".device");
  st.irq.vector = static_cast<unsigned>(p.number(p.require(body, "vector", f), f + ".vector", kMaxMsixVectors - 1));
  const YAML::Node set = p.require(body, "set", f);
  p.allowed(set, f + ".set", {"present", "sid", "svt", "vector", "dest"});
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
    q.svt = p.text(set["svt"], f + ".set.svt");
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
  p.allowed(body, f, {"from", "address", "data", "spoof", "vector", "copy"});
  st.from = p.text(p.require(body, "from", f), f + ".from");
  if (body["spoof"]) {
    p.bdf(body["spoof"], f + ".spoof");
    st.spoof = body["spoof"].Scalar();
  }
  if (body["vector"] || body["copy"]) {
    if (body["address"] || body["data"])
      p.fail(body["address"] ? body["address"] : body["data"], f, "give vector (the device's own MSI, or copy's) or address and data, not both");
    st.irq.vector = static_cast<unsigned>(p.number(p.require(body, "vector", f), f + ".vector", kMaxMsixVectors - 1));
    if (body["copy"]) st.irq.copy = p.text(body["copy"], f + ".copy");
    if (st.irq.copy.empty() && st.spoof)
      p.fail(body["spoof"], f + ".spoof", "a device's own MSI carries its own requester id: spoof needs address/data or copy");
    if (st.irq.copy.empty()) {
      label << " " << st.from << " vector " << *st.irq.vector;
    } else {
      label << " " << st.from << " forges " << st.irq.copy << "'s vector " << *st.irq.vector;
    }
  } else {
    st.to = p.text(p.require(body, "address", f), f + ".address");
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
    const std::string v = p.text(n["interrupt"], "expect.interrupt");
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
