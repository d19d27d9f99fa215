// `pciesim run --trace FILE` (tools/scenario/scenario_trace.*): the Chrome / Perfetto trace JSON.
// The CLI tests run library scenarios with an IOMMU fault, an ACS block and an ACS redirect, with
// -j 1 and -j 2 (the parent merges the children's records); the writer test checks the slice
// layout on a hand-made record.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "scenario/scenario.h"
#include "scenario/scenario_trace.h"
#include "tools/cli_run.h"
#include "tools/scenario_test_util.h"

namespace {

using nlohmann::json;
using scenario_test::library;

json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return json::parse(s.str(), nullptr, false);
}

const char* kScenarios[] = {"acs-sv-spoof", "iotlb-strict-unmap", "root-port-p2p-unsupported", "switch-p2p-acs-rr"};

std::string args(const std::string& trace, unsigned jobs) {
  std::string a = "run --trace " + trace + " -j " + std::to_string(jobs);
  for (const char* s : kScenarios) a += " " + library(s);
  return a;
}

std::string pid_name(const json& doc, int pid) {
  for (const json& e : doc["traceEvents"])
    if (e["ph"] == "M" && e["name"] == "process_name" && e["pid"] == pid) return e["args"]["name"];
  return "";
}

// The events of one kind named in scenario `name`'s process.
std::vector<json> events(const json& doc, const std::string& name, const std::string& ph) {
  std::vector<json> out;
  for (const json& e : doc["traceEvents"])
    if (e["ph"] == ph && e.contains("pid") && pid_name(doc, e["pid"]) == name) out.push_back(e);
  return out;
}

// Every check the trace format promises, on a run's document.
void check_document(const json& doc) {
  ASSERT_FALSE(doc.is_discarded()) << "the trace is not JSON";
  ASSERT_TRUE(doc.contains("traceEvents") && doc["traceEvents"].is_array());
  ASSERT_FALSE(doc["traceEvents"].empty());
  std::map<std::pair<int, int>, double> last;  // (pid, tid) -> ts of the previous timed event
  size_t slices = 0;
  for (const json& e : doc["traceEvents"]) {
    ASSERT_TRUE(e.contains("ph") && e.contains("pid") && e.contains("tid") && e.contains("name")) << e.dump();
    if (e["ph"] == "M") continue;
    if (e["ph"] == "X") {
      ++slices;
      ASSERT_TRUE(e["ts"].is_number() && e["dur"].is_number() && e["pid"].is_number_integer() &&
                  e["tid"].is_number_integer() && e["name"].is_string() && !e["name"].get<std::string>().empty())
          << e.dump();
      EXPECT_GE(e["dur"].get<double>(), 0) << e.dump();
    } else {
      ASSERT_EQ(e["ph"], "i") << e.dump();
      ASSERT_TRUE(e["ts"].is_number()) << e.dump();
    }
    const auto key = std::make_pair(e["pid"].get<int>(), e["tid"].get<int>());
    const double ts = e["ts"].get<double>();
    if (last.count(key)) {
      EXPECT_GE(ts, last[key]) << "out of simulated-time order on its tid: " << e.dump();
    }
    last[key] = ts;
  }
  EXPECT_GT(slices, 0u);
  for (int pid = 1; pid <= 4; ++pid) EXPECT_EQ(pid_name(doc, pid), kScenarios[pid - 1]);
}

// The Trace Event Format as chrome://tracing and Perfetto's JSON importer read it: what each phase
// must carry, and the rule Perfetto's importer enforces on complete events ("X"): on one thread,
// two slices either nest or do not overlap (a partial overlap is an import error and the slice is
// dropped). Returns the problems found, one line each.
std::vector<std::string> trace_event_format_problems(const json& doc) {
  std::vector<std::string> out;
  if (!doc.is_object() || !doc.contains("traceEvents") || !doc["traceEvents"].is_array())
    return {"not a JSON object with a traceEvents array"};
  if (doc.contains("displayTimeUnit") && doc["displayTimeUnit"] != "ms" && doc["displayTimeUnit"] != "ns")
    out.push_back("displayTimeUnit must be \"ms\" or \"ns\"");
  struct Slice {
    double b, e;
    std::string name;
  };
  std::map<std::pair<int64_t, int64_t>, std::vector<Slice>> slices;
  std::set<std::pair<int64_t, int64_t>> named_threads, used_threads;
  std::set<int64_t> named_processes;
  for (const json& e : doc["traceEvents"]) {
    const std::string d = e.dump();
    if (!e.is_object() || !e.contains("ph") || !e["ph"].is_string() || !e.contains("name") || !e["name"].is_string() ||
        !e.contains("pid") || !e["pid"].is_number_integer() || !e.contains("tid") || !e["tid"].is_number_integer()) {
      out.push_back("event without ph/name/pid/tid of the right types: " + d);
      continue;
    }
    if (e.contains("args") && !e["args"].is_object()) out.push_back("args is not an object: " + d);
    const std::string ph = e["ph"];
    const auto thread = std::make_pair(e["pid"].get<int64_t>(), e["tid"].get<int64_t>());
    if (ph == "M") {
      const std::string n = e["name"];
      if (n == "process_name" || n == "thread_name") {
        if (!e.contains("args") || !e["args"].contains("name") || !e["args"]["name"].is_string())
          out.push_back("metadata without args.name: " + d);
        if (n == "process_name") named_processes.insert(thread.first);
        else named_threads.insert(thread);
      } else if (n == "process_sort_index" || n == "thread_sort_index") {
        if (!e.contains("args") || !e["args"].contains("sort_index") || !e["args"]["sort_index"].is_number_integer())
          out.push_back("sort index without an integer args.sort_index: " + d);
      } else {
        out.push_back("unknown metadata event: " + d);
      }
      continue;
    }
    used_threads.insert(thread);
    if (!e.contains("ts") || !e["ts"].is_number() || e["ts"].get<double>() < 0) {
      out.push_back("timed event without a non-negative ts: " + d);
      continue;
    }
    if (ph == "X") {
      if (!e.contains("dur") || !e["dur"].is_number() || e["dur"].get<double>() < 0)
        out.push_back("complete event without a non-negative dur: " + d);
      else
        slices[thread].push_back({e["ts"].get<double>(), e["ts"].get<double>() + e["dur"].get<double>(), e["name"]});
    } else if (ph == "i" || ph == "I") {
      if (e.contains("s") && e["s"] != "g" && e["s"] != "p" && e["s"] != "t") out.push_back("instant scope not g/p/t: " + d);
    } else {
      out.push_back("phase " + ph + " is not one this trace uses (X, i, M): " + d);
    }
  }
  constexpr double kEps = 1e-9;  // ts and dur are microseconds with nanosecond digits
  for (auto& [thread, v] : slices) {
    std::stable_sort(v.begin(), v.end(), [](const Slice& a, const Slice& b) { return a.b < b.b || (a.b == b.b && a.e > b.e); });
    std::vector<const Slice*> open;  // the enclosing slices, innermost last
    for (const Slice& s : v) {
      while (!open.empty() && open.back()->e <= s.b + kEps) open.pop_back();
      if (!open.empty() && s.e > open.back()->e + kEps)
        out.push_back("slices overlap without nesting on pid " + std::to_string(thread.first) + " tid " +
                      std::to_string(thread.second) + ": " + open.back()->name + " and " + s.name);
      open.push_back(&s);
    }
  }
  for (const auto& t : used_threads) {
    if (!named_processes.count(t.first)) out.push_back("pid " + std::to_string(t.first) + " has no process_name");
    if (!named_threads.count(t)) out.push_back("pid/tid " + std::to_string(t.first) + "/" + std::to_string(t.second) + " has no thread_name");
  }
  return out;
}

}  // namespace

// The whole library's trace passes the format checks (what makes it load in Perfetto and
// chrome://tracing without import errors), and the checker itself catches the faults it names.
TEST(ScenarioTrace, LibraryTraceLoadsAsChromeTraceEventFormat) {
  const std::string path = scenario_test::write_file("library-trace.json", "");
  const cli_test::CliRun r = cli_test::pciesim("run --trace " + path + " -j 2");
  ASSERT_EQ(r.code, 0) << r.out;
  const json doc = read_json(path);
  const std::vector<std::string> problems = trace_event_format_problems(doc);
  for (const std::string& p : problems) ADD_FAILURE() << p;
  EXPECT_GT(doc["traceEvents"].size(), 100u);

  json bad = doc;  // a later hop slice that sticks out of the end of its transaction's slice
  double tx_ts = -1;
  for (json& e : bad["traceEvents"]) {
    if (e["ph"] == "X" && e["cat"] == "transaction") tx_ts = e["ts"].get<double>();
    if (e["ph"] == "X" && e["cat"] == "hop" && tx_ts >= 0 && e["ts"].get<double>() > tx_ts) {
      e["dur"] = e["dur"].get<double>() + 1000.0;
      break;
    }
  }
  EXPECT_FALSE(trace_event_format_problems(bad).empty());
  json no_ts = doc;
  for (json& e : no_ts["traceEvents"])
    if (e["ph"] == "i") {
      e.erase("ts");
      break;
    }
  EXPECT_FALSE(trace_event_format_problems(no_ts).empty());
}

// Hop slices carry the simulated time the request reached each hop: the link crossings and the
// components' latencies make them unequal (an even split of the latency would not).
TEST(ScenarioTrace, HopSlicesFollowSimulatedArrivalTimes) {
  const std::string path = scenario_test::write_file("hops-trace.json", "");
  const cli_test::CliRun r = cli_test::pciesim("run --trace " + path + " " + library("switch-p2p-acs-rr"));
  ASSERT_EQ(r.code, 0) << r.out;
  const json doc = read_json(path);
  const std::vector<json> xs = events(doc, "switch-p2p-acs-rr", "X");
  size_t checked = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (xs[i]["cat"] != "transaction") continue;
    EXPECT_EQ(xs[i]["args"]["hop_timing"], "simulated arrival at each hop") << xs[i].dump();
    const size_t n = xs[i]["args"]["hops"];
    if (n < 3) continue;
    std::set<double> durations;
    for (size_t h = 1; h <= n; ++h) durations.insert(xs[i + h]["dur"].get<double>());
    EXPECT_GT(durations.size(), 1u) << "hop slices of equal length: " << xs[i].dump();
    ++checked;
  }
  EXPECT_GT(checked, 0u);
}

TEST(ScenarioTrace, CliTraceHasSlicesPerHopAndFaultsAsInstants) {
  const std::string path = scenario_test::write_file("trace.json", "");
  const cli_test::CliRun r = cli_test::pciesim(args(path, 1));
  ASSERT_EQ(r.code, 0) << r.out;
  const json doc = read_json(path);
  check_document(doc);

  // iotlb-strict-unmap: the write after dma_unmap faults with reason 0x05 (no write permission,
  // VT-d 7.1.3 fault reasons) at the remapping unit, a hop of the transaction.
  bool fault = false;
  for (const json& e : events(doc, "iotlb-strict-unmap", "i")) {
    if (e["name"] != "IOMMU fault 0x5") continue;
    fault = true;
    EXPECT_EQ(e["args"]["reason"], 5) << e.dump();
    EXPECT_FALSE(e["args"]["port"].get<std::string>().empty()) << e.dump();
  }
  EXPECT_TRUE(fault) << "no IOMMU fault instant in iotlb-strict-unmap";

  // acs-sv-spoof: the spoofed request is blocked by ACS Source Validation.
  bool blocked = false;
  for (const json& e : events(doc, "acs-sv-spoof", "i"))
    if (e["name"] == "ACS block SV") blocked = e["args"]["reason"] == "ACS SV" && !e["args"]["port"].get<std::string>().empty();
  EXPECT_TRUE(blocked);

  // root-port-p2p-unsupported: peer-to-peer through a root port without P2P support ends as UR.
  bool ur = false;
  for (const json& e : events(doc, "root-port-p2p-unsupported", "i")) ur |= e["name"] == "UR" && e["args"]["reason"] == "UR";
  EXPECT_TRUE(ur);

  // switch-p2p-acs-rr: a redirect instant, then the fault.
  std::set<std::string> rr;
  for (const json& e : events(doc, "switch-p2p-acs-rr", "i")) rr.insert(e["name"]);
  EXPECT_TRUE(rr.count("ACS redirect RR"));
  EXPECT_TRUE(rr.count("IOMMU fault 0x5"));

  // Hop slices are named after the hops and tile their transaction's slice.
  const std::vector<json> xs = events(doc, "iotlb-strict-unmap", "X");
  size_t transactions = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (xs[i]["cat"] != "transaction") continue;
    ++transactions;
    const size_t n = xs[i]["args"]["hops"];
    ASSERT_GT(n, 0u);
    ASSERT_LE(i + n, xs.size() - 1);
    double end = xs[i]["ts"].get<double>();
    for (size_t h = 1; h <= n; ++h) {
      EXPECT_EQ(xs[i + h]["cat"], "hop");
      EXPECT_NEAR(xs[i + h]["ts"].get<double>(), end, 1e-9);
      end = xs[i + h]["ts"].get<double>() + xs[i + h]["dur"].get<double>();
    }
    EXPECT_NEAR(end, xs[i]["ts"].get<double>() + xs[i]["dur"].get<double>(), 1e-6);
  }
  EXPECT_EQ(transactions, 2u);  // the two dma steps
}

// -j 2: the children's traces merge into the same document as a serial run.
TEST(ScenarioTrace, ParallelRunMergesTheSameTrace) {
  const std::string one = scenario_test::write_file("j1.json", ""), two = scenario_test::write_file("j2.json", "");
  ASSERT_EQ(cli_test::pciesim(args(one, 1)).code, 0);
  const cli_test::CliRun r = cli_test::pciesim(args(two, 2));
  ASSERT_EQ(r.code, 0) << r.out;
  const json a = read_json(one), b = read_json(two);
  check_document(b);
  EXPECT_EQ(a, b);
}

// The writer on a hand-made record: three hops split 90 ns evenly, the fault at its hop.
TEST(ScenarioTrace, WriterSplitsLatencyOverHops) {
  using namespace pciesim::scenario;
  ScenarioResult r;
  r.name = "hand";
  r.trace.steps.push_back({1, "dma", "dma a -> 0x1000", 1000, 1090, true});
  TraceTx x;
  x.step = 1;
  x.initiator = "a";
  x.name = "MemWrite 64 B 0x1000";
  x.start_ns = 1000;
  x.dur_ns = 90;
  x.hops = {"a.up", "rp0", "dmar0"};
  x.outcome = "iommu-fault";
  x.port = "dmar0";
  x.fault_reason = 6;
  r.trace.txs.push_back(x);
  const json doc = chrome_trace({r});
  std::vector<json> hop, inst;
  for (const json& e : doc["traceEvents"]) {
    if (e["ph"] == "X" && e["cat"] == "hop") hop.push_back(e);
    if (e["ph"] == "i") inst.push_back(e);
  }
  ASSERT_EQ(hop.size(), 3u);
  EXPECT_EQ(hop[0]["name"], "a.up");
  EXPECT_EQ(hop[2]["name"], "dmar0");
  for (int i = 0; i < 3; ++i) {
    EXPECT_DOUBLE_EQ(hop[static_cast<size_t>(i)]["ts"].get<double>(), 1.0 + 0.03 * i);
    EXPECT_DOUBLE_EQ(hop[static_cast<size_t>(i)]["dur"].get<double>(), 0.03);
    EXPECT_EQ(hop[static_cast<size_t>(i)]["tid"], 2);
  }
  ASSERT_EQ(inst.size(), 1u);
  EXPECT_EQ(inst[0]["args"]["reason"], 6);
  EXPECT_DOUBLE_EQ(inst[0]["ts"].get<double>(), 1.06);  // where dmar0's slice starts
  // Round trip through the worker handoff.
  const ScenarioTrace back = trace_from_json(trace_to_json(r.trace));
  ASSERT_EQ(back.txs.size(), 1u);
  EXPECT_EQ(back.txs[0].hops, x.hops);
  EXPECT_EQ(back.txs[0].fault_reason, 6);
}

// With per-hop times: each hop's slice starts when the request reached it; the last runs to the
// transaction's end; times outside the transaction are clamped into it.
TEST(ScenarioTrace, WriterUsesHopArrivalTimes) {
  using namespace pciesim::scenario;
  ScenarioResult r;
  r.name = "hand";
  r.trace.steps.push_back({1, "dma", "dma a -> 0x1000", 1000, 1100, true});
  TraceTx x;
  x.step = 1;
  x.initiator = "a";
  x.name = "MemRead 64 B 0x1000";
  x.start_ns = 1000;
  x.dur_ns = 100;
  x.hops = {"a.f0", "rp0", "dmar0", "dram"};
  x.hop_ns = {1000, 1010, 1040, 1200};  // the last beyond the end: clamped
  x.outcome = "delivered";
  x.port = "dram";
  r.trace.txs.push_back(x);
  std::vector<json> hop;
  const json doc = chrome_trace({r});
  for (const json& e : doc["traceEvents"])
    if (e["ph"] == "X" && e["cat"] == "hop") hop.push_back(e);
  ASSERT_EQ(hop.size(), 4u);
  const double ts[] = {1.0, 1.01, 1.04, 1.1}, dur[] = {0.01, 0.03, 0.06, 0.0};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_DOUBLE_EQ(hop[i]["ts"].get<double>(), ts[i]) << i;
    EXPECT_DOUBLE_EQ(hop[i]["dur"].get<double>(), dur[i]) << i;
  }
  EXPECT_EQ(trace_from_json(trace_to_json(r.trace)).txs[0].hop_ns, x.hop_ns);
}
