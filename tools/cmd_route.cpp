// pciesim route FILE --from BDF --to ADDR|BDF:BARn[+OFFSET] [--read] [--at translated]
// Sends one TLP from an endpoint function through the simulated fabric and prints its path and
// verdict. Like a driver would, it first enables bus mastering on the source function.
#include <CLI/CLI.hpp>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "pcie/endpoint.h"
#include "pcie/port_registry.h"
#include "verdict_format.h"

namespace pciesim::cli {

namespace {

struct RouteArgs {
  std::string file, from, to, at = "untranslated";
  bool read = false, json = false, no_bus_master = false;
  unsigned size = 64;
  uint32_t pasid = 0;
  bool has_pasid = false;
};

// "ADDR" or "BDF:BARn[+OFFSET]" / "name:BARn[+OFFSET]"
uint64_t resolve_target(const Fabric& fabric, const std::string& text, std::string& label) {
  auto bar_pos = text.rfind(":BAR");
  if (bar_pos == std::string::npos) bar_pos = text.rfind(":bar");
  if (bar_pos == std::string::npos) {
    label = text;
    return parse_number(text, "address");
  }
  const FunctionInfo& f = resolve_function(fabric, text.substr(0, bar_pos));
  std::string rest = text.substr(bar_pos + 4);
  uint64_t offset = 0;
  auto plus = rest.find('+');
  if (plus != std::string::npos) {
    offset = parse_number(rest.substr(plus + 1), "offset");
    rest = rest.substr(0, plus);
  }
  unsigned bar = static_cast<unsigned>(parse_number(rest, "BAR index"));
  if (bar > 5) throw UsageError("BAR index must be 0..5, got " + rest);
  const DecodedBar& b = f.fn->bars()[bar];
  if (f.fn->is_bridge() || b.index < 0)
    throw UsageError(describe(f) + " has no BAR" + std::to_string(bar));
  if (offset >= b.size) throw UsageError("offset beyond the " + std::to_string(b.size) + "-byte BAR");
  std::ostringstream o;
  o << describe(f) << " BAR" << bar << "+0x" << std::hex << offset;
  label = o.str();
  return b.base + offset;
}

AddressType parse_at(const std::string& s) {
  if (s == "untranslated") return AddressType::Untranslated;
  if (s == "translated") return AddressType::Translated;
  if (s == "translation-request") return AddressType::TranslationRequest;
  throw UsageError("--at takes untranslated, translated or translation-request, not '" + s + "'");
}

int run_route(const RouteArgs& a) {
  Machine m = load_machine(a.file);
  Fabric& fabric = *m.fabric;
  const FunctionInfo& src = resolve_function(fabric, a.from);
  if (!src.endpoint)
    throw UsageError(describe(src) + " is a " + to_string(src.role) + "; only endpoint functions issue DMA here");
  std::string target_label;
  const uint64_t addr = resolve_target(fabric, a.to, target_label);
  if (a.size == 0 || a.size > 4096) throw UsageError("--size must be 1..4096 bytes");

  if (!a.no_bus_master) {  // what pci_set_master() does
    uint16_t cmd = static_cast<uint16_t>(fabric.config_read(src.segment, src.bdf(), 0x04, 2));
    fabric.config_write(src.segment, src.bdf(), 0x04, 2, cmd | 0x4);
  }
  fabric.settle();  // the TLP below starts on idle links, so its latency is its own
  DmaOptions opt;
  opt.at = parse_at(a.at);
  opt.has_pasid = a.has_pasid;
  opt.pasid = a.pasid;
  std::vector<uint8_t> data(a.size);
  for (unsigned i = 0; i < a.size; ++i) data[i] = static_cast<uint8_t>(0xa5 ^ i);
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  const TlpKind kind = a.read ? TlpKind::MemRead : TlpKind::MemWrite;
  const PcieExtension& ext = src.endpoint->dma(src.function_number, kind, addr, data.data(), a.size, delay, opt);
  const Verdict v = ext.final_verdict();
  const bool ok = v.outcome == Outcome::Delivered || v.outcome == Outcome::Redirected;

  if (a.json) {
    nlohmann::json j;
    j["tlp"] = {{"kind", to_string(kind)}, {"bytes", a.size}, {"from", src.bdf_string()},
                {"from_name", src.fn->name()}, {"address", addr}, {"target", target_label},
                {"at", to_string(opt.at)}, {"requester_on_wire", ext.requester.to_string()}};
    j["hops"] = hops_json(ext);
    j["verdict"] = verdict_json(ext);
    j["latency_ns"] = delay.to_seconds() * 1e9;
    print_json(j);
    return kExitOk;
  }
  std::cout << to_string(kind) << " " << a.size << " B from " << describe(src) << " to 0x" << std::hex << addr
            << std::dec << " (" << target_label << ")";
  if (opt.at != AddressType::Untranslated) std::cout << ", AT=" << to_string(opt.at);
  std::cout << "\n";
  if (ext.requester != ext.original_requester)
    std::cout << "requester id on the wire: " << ext.requester.to_string() << " (aliased from "
              << ext.original_requester.to_string() << ")\n";
  std::cout << "path:\n";
  for (unsigned i = 0; i < ext.hop_count; ++i)
    std::cout << "  " << std::setw(2) << i + 1 << "  " << hops().describe(ext.hops[i]) << "\n";
  if (ext.iommu_checked && ext.verdict.outcome != Outcome::IommuFault) {
    if (ext.iommu_output == ext.iommu_input)
      std::cout << hops().name(ext.iommu_unit) << ": not translated (DMA remapping off or pass-through)\n";
    else
      std::cout << hops().name(ext.iommu_unit) << ": translated 0x" << std::hex << ext.iommu_input << " -> 0x"
                << ext.iommu_output << std::dec << " (domain " << ext.iommu_domain << ")\n";
  }
  std::cout << "verdict: " << verdict_text(ext) << "\n";
  if (v.outcome == Outcome::UnsupportedRequest && ext.hop_count == 1 && !src.fn->bus_master())
    std::cout << "(Bus Master Enable is clear on " << describe(src)
              << ": a function may not issue memory requests, PCIe 7.5.1.1.3)\n";
  if (ok) {
    std::cout << "latency: " << std::fixed << std::setprecision(1) << delay.to_seconds() * 1e9 << " ns";
    if (ext.hop_count == 1) std::cout << " (routed inside the device: no link crossed; device-internal time is not modelled)";
    std::cout << "\n";
  }
  return kExitOk;
}

}  // namespace

void add_route_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RouteArgs>();
  CLI::App* sub = app.add_subcommand("route", "Send one TLP through the simulated fabric; print its hops and verdict");
  sub->add_option("FILE", args->file, "Topology file (YAML)")->required();
  sub->add_option("--from", args->from, "Source endpoint function: BDF (0000:03:00.0) or name")->required();
  sub->add_option("--to", args->to, "Target: an address (0xc0000000) or BDF:BARn[+OFFSET]")->required();
  sub->add_flag("--read", args->read, "Send a memory read instead of a write");
  sub->add_option("--size", args->size, "Bytes to transfer (1..4096, default 64)");
  sub->add_option("--at", args->at, "Address type: untranslated (default), translated, translation-request");
  sub->add_option("--pasid", args->pasid, "Attach a PASID TLP prefix")->each([args](const std::string&) { args->has_pasid = true; });
  sub->add_flag("--no-bus-master", args->no_bus_master, "Do not enable bus mastering on the source first");
  sub->add_flag("--json", args->json, "Print the record as JSON");
  sub->callback([args, &exit_code] { exit_code = guarded([args] { return run_route(*args); }); });
}

}  // namespace pciesim::cli
