// hostval_check_report: checks a host report (docs/hostval.md) that the QEMU guest sent back against
// what the trial observed on Linux 6.1 with QEMU 7.2's VT-d, one line per check. It checks
// that the guest run itself worked; the field-by-field comparison with the simulator is
// `pciesim hostval`'s.
//
//   hostval_check_report REPORT.json [--kernel-prefix P] [--dmar-cap HEX --dmar-ecap HEX]
//       [--acs BDF=CAP/CTL]... [--device BDF[@REQUESTER]]... [--alone BDF]... [--driver NAME=REGIONS]...
//
//   --device BDF[@RID]   a device that every --driver probed: exit 0, no error, completed, device
//                        flags 0x3, REGIONS regions, 5 IRQ indexes, one write fault (reason 0x5)
//                        and one read fault (0x6), both from RID (default: BDF's bus:dev.fn)
//   --alone BDF          BDF's IOMMU group holds only BDF
//   --acs BDF=CAP/CTL    BDF's ACS capability and control registers
// Exit status 0 when every check passes, 1 otherwise, 2 for bad usage or an unreadable report.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using nlohmann::json;

int g_failed = 0;

void check(bool ok, const std::string& what, const std::string& got = "") {
  std::cout << (ok ? "ok:   " : "FAIL: ") << what;
  if (!ok && !got.empty()) std::cout << " (got " << got << ")";
  std::cout << "\n";
  if (!ok) ++g_failed;
}

std::string str(const json& j) { return j.is_discarded() ? "nothing" : j.dump(); }

json at(const json& j, const json::json_pointer& p) { return j.contains(p) ? j.at(p) : json(); }

// The report's list `key` (a reference into the report), or an empty list.
const json& list(const json& report, const char* key) {
  static const json empty = json::array();
  return report.contains(key) && report[key].is_array() ? report[key] : empty;
}

const json* device_of(const json& report, const std::string& bdf) {
  for (const json& d : list(report, "devices"))
    if (d.is_object() && d.value("bdf", "") == bdf) return &d;
  return nullptr;
}

const json* probe_of(const json& report, const std::string& bdf, const std::string& driver) {
  for (const json& p : list(report, "probes"))
    if (p.is_object() && p.value("device", "") == bdf && p.value("driver", "") == driver) return &p;
  return nullptr;
}

void check_probe(const json& report, const std::string& bdf, const std::string& rid, const std::string& driver,
                 int regions) {
  const std::string who = bdf + " under " + driver + ": ";
  const json* p = probe_of(report, bdf, driver);
  check(p != nullptr, who + "probed");
  if (!p) return;
  check(p->value("exit", json()) == 0, who + "vfio_probe exit 0", str(p->value("exit", json())));
  check(!p->contains("error"), who + "no error", str(p->value("error", json())));
  const json r = p->value("result", json());
  check(r.value("completed", false) == true, who + "completed", str(r.value("stopped", json())));
  check(at(r, "/device_info/flags"_json_pointer) == "0x3", who + "device flags 0x3 (PCI, RESET)",
        str(at(r, "/device_info/flags"_json_pointer)));
  check(at(r, "/device_info/num_regions"_json_pointer) == regions, who + std::to_string(regions) + " regions",
        str(at(r, "/device_info/num_regions"_json_pointer)));
  check(at(r, "/device_info/num_irqs"_json_pointer) == 5, who + "5 IRQ indexes",
        str(at(r, "/device_info/num_irqs"_json_pointer)));
  const json lines = at(r, "/faults/lines"_json_pointer);
  check(lines.is_array() && lines.size() == 2, who + "2 DMAR fault lines", str(lines));
  for (const auto& [access, reason] : {std::pair<std::string, std::string>{"write", "0x5"}, {"read", "0x6"}}) {
    bool found = false;
    for (const json& l : lines.is_array() ? lines : json::array())
      found |= l.value("access", "") == access && l.value("reason", "") == reason && l.value("source", "") == rid;
    check(found, who + access + " fault, reason " + reason + ", from " + rid, str(lines));
  }
}

int usage() {
  std::cerr << "usage: hostval_check_report REPORT.json [--kernel-prefix P] [--dmar-cap HEX --dmar-ecap HEX]\n"
               "         [--acs BDF=CAP/CTL]... [--device BDF[@RID]]... [--alone BDF]... [--driver NAME=REGIONS]...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string kernel_prefix, dmar_cap, dmar_ecap;
  std::vector<std::pair<std::string, std::string>> devices;  // BDF, requester id
  std::vector<std::string> alone;
  std::vector<std::pair<std::string, int>> drivers;
  std::map<std::string, std::pair<std::string, std::string>> acs;
  for (int i = 2; i < argc; ++i) {
    const std::string opt = argv[i];
    if (i + 1 >= argc) return usage();
    const std::string v = argv[++i];
    if (opt == "--kernel-prefix") {
      kernel_prefix = v;
    } else if (opt == "--dmar-cap") {
      dmar_cap = v;
    } else if (opt == "--dmar-ecap") {
      dmar_ecap = v;
    } else if (opt == "--device") {
      const size_t at_sign = v.find('@');
      const std::string bdf = v.substr(0, at_sign);
      devices.emplace_back(bdf, at_sign == std::string::npos ? bdf.substr(bdf.size() >= 7 ? bdf.size() - 7 : 0)
                                                             : v.substr(at_sign + 1));
    } else if (opt == "--alone") {
      alone.push_back(v);
    } else if (opt == "--driver") {
      const size_t eq = v.find('=');
      if (eq == std::string::npos) return usage();
      drivers.emplace_back(v.substr(0, eq), std::stoi(v.substr(eq + 1)));
    } else if (opt == "--acs") {
      const size_t eq = v.find('='), slash = v.find('/');
      if (eq == std::string::npos || slash == std::string::npos || slash < eq) return usage();
      acs[v.substr(0, eq)] = {v.substr(eq + 1, slash - eq - 1), v.substr(slash + 1)};
    } else {
      return usage();
    }
  }

  std::ifstream in(argv[1]);
  const json report = json::parse(in, nullptr, false);
  if (!in || report.is_discarded() || !report.is_object()) {
    std::cerr << "hostval_check_report: " << argv[1] << " is not a JSON object\n";
    return 2;
  }

  check(report.value("schema", 0) == 1, "schema 1", str(report.value("schema", json())));
  check(report.value("source", "") == "host", "source host", str(report.value("source", json())));
  check(!report.contains("errors"), "no collection errors", str(report.value("errors", json())));
  if (!kernel_prefix.empty())
    check(report.value("kernel", "").rfind(kernel_prefix, 0) == 0, "kernel " + kernel_prefix + "*",
          str(report.value("kernel", json())));
  if (!dmar_cap.empty()) {
    const std::string want = "cap " + dmar_cap + " ecap " + dmar_ecap;
    bool found = false;
    for (const json& l : list(report, "dmar"))
      found |= l.is_string() && l.get<std::string>().find("dmar0:") != std::string::npos &&
               l.get<std::string>().find(want) != std::string::npos;
    check(found, "dmar0 reports " + want);
  }
  for (const auto& [bdf, regs] : acs) {
    const json* d = device_of(report, bdf);
    const json want = {{"cap", regs.first}, {"ctl", regs.second}};
    check(d && d->value("acs", json()) == want, bdf + " ACS " + want.dump(), d ? str(d->value("acs", json())) : "no such device");
  }
  for (const std::string& bdf : alone) {
    const json* d = device_of(report, bdf);
    const json group = d ? d->value("iommu_group", json()) : json();
    const json members = group.is_number() ? at(report, json::json_pointer("/groups/" + group.dump())) : json();
    check(members == json::array({bdf}), bdf + " alone in its IOMMU group", str(members));
  }
  for (const auto& [bdf, rid] : devices)
    for (const auto& [driver, regions] : drivers) check_probe(report, bdf, rid, driver, regions);

  std::cout << (g_failed ? std::to_string(g_failed) + " checks failed\n" : "every check passed\n");
  return g_failed ? 1 : 0;
}
