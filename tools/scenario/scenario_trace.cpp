// The Chrome trace event format ("Trace Event Format", the JSON Object Format that chrome://tracing
// and ui.perfetto.dev load): "X" complete events (ts, dur in microseconds), "i" instant events
// (scope "t": on the thread's track), "M" metadata events (process_name, thread_name,
// process_sort_index). Simulated time maps to trace time one to one.
#include "scenario_trace.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "scenario.h"

namespace pciesim::scenario {

using nlohmann::json;

json trace_to_json(const ScenarioTrace& t) {
  json steps = json::array(), txs = json::array();
  for (const TraceStep& s : t.steps)
    steps.push_back({{"index", s.index}, {"kind", s.kind}, {"label", s.label}, {"start_ns", s.start_ns},
                     {"end_ns", s.end_ns}, {"pass", s.pass}});
  for (const TraceTx& x : t.txs)
    txs.push_back({{"step", x.step}, {"initiator", x.initiator}, {"name", x.name}, {"start_ns", x.start_ns},
                   {"dur_ns", x.dur_ns}, {"hops", x.hops}, {"hop_ns", x.hop_ns}, {"hops_truncated", x.hops_truncated},
                   {"outcome", x.outcome}, {"port", x.port}, {"acs_bit", x.acs_bit},
                   {"fault_reason", x.fault_reason}, {"fault_text", x.fault_text},
                   {"redirect_bit", x.redirect_bit}, {"redirect_port", x.redirect_port},
                   {"requester", x.requester}, {"iommu_checked", x.iommu_checked},
                   {"iommu_input", x.iommu_input}, {"iommu_output", x.iommu_output},
                   {"iommu_domain", x.iommu_domain}, {"gmmu_faults", x.gmmu_faults}});
  return {{"steps", steps}, {"txs", txs}};
}

ScenarioTrace trace_from_json(const json& j) {
  ScenarioTrace t;
  if (!j.is_object()) return t;
  for (const json& s : j.value("steps", json::array())) {
    TraceStep r;
    r.index = s.at("index").get<int>();
    r.kind = s.at("kind").get<std::string>();
    r.label = s.at("label").get<std::string>();
    r.start_ns = s.at("start_ns").get<double>();
    r.end_ns = s.at("end_ns").get<double>();
    r.pass = s.at("pass").get<bool>();
    t.steps.push_back(r);
  }
  for (const json& x : j.value("txs", json::array())) {
    TraceTx r;
    r.step = x.at("step").get<int>();
    r.initiator = x.at("initiator").get<std::string>();
    r.name = x.at("name").get<std::string>();
    r.start_ns = x.at("start_ns").get<double>();
    r.dur_ns = x.at("dur_ns").get<double>();
    r.hops = x.at("hops").get<std::vector<std::string>>();
    r.hop_ns = x.value("hop_ns", std::vector<double>{});
    r.hops_truncated = x.at("hops_truncated").get<bool>();
    r.outcome = x.at("outcome").get<std::string>();
    r.port = x.at("port").get<std::string>();
    r.acs_bit = x.at("acs_bit").get<std::string>();
    r.fault_reason = x.at("fault_reason").get<int>();
    r.fault_text = x.at("fault_text").get<std::string>();
    r.redirect_bit = x.at("redirect_bit").get<std::string>();
    r.redirect_port = x.at("redirect_port").get<std::string>();
    r.requester = x.at("requester").get<std::string>();
    r.iommu_checked = x.at("iommu_checked").get<bool>();
    r.iommu_input = x.at("iommu_input").get<uint64_t>();
    r.iommu_output = x.at("iommu_output").get<uint64_t>();
    r.iommu_domain = x.at("iommu_domain").get<int>();
    r.gmmu_faults = x.at("gmmu_faults").get<std::vector<std::string>>();
    t.txs.push_back(r);
  }
  return t;
}

namespace {

// Whole nanoseconds (the trace's resolution), so the hop slices tile their transaction's slice
// exactly and nest inside it.
int64_t ns(double v) { return static_cast<int64_t>(std::llround(v)); }
double us(int64_t v) { return static_cast<double>(v) / 1000.0; }

std::string hex(uint64_t v) {
  std::ostringstream o;
  o << "0x" << std::hex << v;
  return o.str();
}

struct Event {
  int pid, tid;
  int64_t ts, dur;  // ns; dur < 0: not a complete event
  int order;        // metadata first, then by time, then as written
  json body;
};

class Builder {
 public:
  void scenario(int pid, const ScenarioResult& r) {
    meta(pid, 0, "process_name", {{"name", r.name}});
    meta(pid, 0, "process_sort_index", {{"sort_index", pid}});
    meta(pid, 1, "thread_name", {{"name", "steps"}});
    // The runner issues requests loosely timed (it does not wait for a completion before the
    // next step), so a device's transactions can overlap in simulated time; an overlapping one
    // goes on the device's next lane (a thread of its own), so slices on one thread never overlap.
    struct Lane {
      int tid;
      int64_t end;
    };
    std::map<std::string, std::vector<Lane>> lanes;
    int next_tid = 2;
    auto tid_of = [&](const TraceTx& x) {
      std::vector<Lane>& l = lanes[x.initiator];
      const int64_t t0 = ns(x.start_ns), t1 = t0 + std::max<int64_t>(0, ns(x.dur_ns));
      for (Lane& lane : l)
        if (lane.end <= t0) {
          lane.end = t1;
          return lane.tid;
        }
      l.push_back({next_tid++, t1});
      meta(pid, l.back().tid, "thread_name",
           {{"name", l.size() == 1 ? x.initiator : x.initiator + " [" + std::to_string(l.size()) + "]"}});
      return l.back().tid;
    };
    for (const TraceStep& s : r.trace.steps) {
      const int64_t t0 = ns(s.start_ns), t1 = std::max(t0, ns(s.end_ns));
      complete(pid, 1, t0, t1 - t0, std::to_string(s.index) + ". " + s.label, "step",
               {{"kind", s.kind}, {"result", s.pass ? "PASS" : "FAIL"}});
    }
    std::vector<const TraceTx*> txs;
    for (const TraceTx& x : r.trace.txs) txs.push_back(&x);
    std::stable_sort(txs.begin(), txs.end(), [](const TraceTx* a, const TraceTx* b) { return a->start_ns < b->start_ns; });
    for (const TraceTx* x : txs) transaction(pid, tid_of(*x), *x);
  }

  json document() {
    std::stable_sort(m_events.begin(), m_events.end(), [](const Event& a, const Event& b) {
      if (a.pid != b.pid) return a.pid < b.pid;
      if (a.tid != b.tid) return a.tid < b.tid;
      if ((a.order == 0) != (b.order == 0)) return a.order == 0;
      if (a.ts != b.ts) return a.ts < b.ts;
      return a.order < b.order;  // as written: a transaction before its hops, steps in order
    });
    json events = json::array();
    for (Event& e : m_events) events.push_back(std::move(e.body));
    return {{"traceEvents", std::move(events)}, {"displayTimeUnit", "ns"}};
  }

 private:
  void meta(int pid, int tid, const std::string& name, json args) {
    m_events.push_back({pid, tid, 0, -1, 0,
                        {{"name", name}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", std::move(args)}}});
  }
  void complete(int pid, int tid, int64_t ts, int64_t dur, const std::string& name, const std::string& cat, json args) {
    m_events.push_back({pid, tid, ts, dur, ++m_seq,
                        {{"name", name}, {"cat", cat}, {"ph", "X"}, {"ts", us(ts)}, {"dur", us(dur)}, {"pid", pid},
                         {"tid", tid}, {"args", std::move(args)}}});
  }
  void instant(int pid, int tid, int64_t ts, const std::string& name, json args) {
    m_events.push_back({pid, tid, ts, 0, ++m_seq,
                        {{"name", name}, {"cat", "verdict"}, {"ph", "i"}, {"s", "t"}, {"ts", us(ts)}, {"pid", pid},
                         {"tid", tid}, {"args", std::move(args)}}});
  }

  // The transaction's slice, one slice per hop inside it, and an instant event for a fault, an
  // ACS block or redirect, UR/CA, and each GMMU fault. Hop i's slice runs from when the request
  // reached hop i to when it reached hop i + 1; the last hop's to the transaction's end (the
  // completer's access and, for a read, the completions' way back). Without per-hop times (a GPU
  // copy's many requests summed into one slice) hop i of n covers [i/n, (i+1)/n) of the latency.
  void transaction(int pid, int tid, const TraceTx& x) {
    const int64_t t0 = ns(x.start_ns), dur = std::max<int64_t>(0, ns(x.dur_ns));
    const int64_t n = static_cast<int64_t>(x.hops.size());
    const bool timed = x.hop_ns.size() == x.hops.size();
    // Hop i starts at begin[i]; begin[n] is the end. Clamped into the transaction and kept
    // monotonic, so the hop slices tile the transaction's slice and nest inside it.
    std::vector<int64_t> begin(static_cast<size_t>(n) + 1, t0 + dur);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t even = t0 + dur * i / n;
      const int64_t at = timed ? std::clamp<int64_t>(ns(x.hop_ns[static_cast<size_t>(i)]), t0, t0 + dur) : even;
      begin[static_cast<size_t>(i)] = i == 0 ? t0 : std::max(at, begin[static_cast<size_t>(i) - 1]);
    }
    json args = {{"step", x.step}, {"outcome", x.outcome}, {"requester", x.requester}, {"hops", x.hops.size()},
                 {"hop_timing", timed ? "simulated arrival at each hop"
                                      : "even split of the latency (no per-hop times: many requests in one slice)"}};
    if (!x.port.empty()) args["port"] = x.port;
    if (x.hops_truncated) args["hops_truncated"] = true;
    if (x.iommu_checked)
      args["iommu"] = {{"input", hex(x.iommu_input)}, {"output", hex(x.iommu_output)}, {"domain", x.iommu_domain}};
    complete(pid, tid, t0, dur, x.name, "transaction", std::move(args));
    int64_t verdict_ts = t0 + dur;  // when the requester learns it, unless the verdict port is a hop
    for (int64_t i = 0; i < n; ++i) {
      const int64_t b = begin[static_cast<size_t>(i)], e = begin[static_cast<size_t>(i) + 1];
      complete(pid, tid, b, e - b, x.hops[static_cast<size_t>(i)], "hop",
               {{"hop", i + 1}, {"of", n}});
      if (!x.port.empty() && x.hops[static_cast<size_t>(i)] == x.port && x.outcome != "delivered" &&
          x.outcome != "redirected")
        verdict_ts = b;
    }
    json where = {{"port", x.port}, {"step", x.step}, {"transaction", x.name}};
    if (x.outcome == "iommu-fault") {
      json a = where;
      a["reason"] = x.fault_reason;
      a["reason_hex"] = hex(static_cast<uint64_t>(x.fault_reason));
      a["description"] = x.fault_text;
      instant(pid, tid, verdict_ts, "IOMMU fault " + hex(static_cast<uint64_t>(x.fault_reason)), std::move(a));
    } else if (x.outcome == "blocked-by-acs") {
      json a = where;
      a["reason"] = "ACS " + x.acs_bit;
      instant(pid, tid, verdict_ts, "ACS block " + x.acs_bit, std::move(a));
    } else if (x.outcome == "unsupported-request" || x.outcome == "completer-abort") {
      const std::string code = x.outcome == "unsupported-request" ? "UR" : "CA";
      json a = where;
      a["reason"] = code;
      instant(pid, tid, verdict_ts, code, std::move(a));
    }
    if (!x.redirect_bit.empty()) {
      int64_t ts = t0;
      for (int64_t i = 0; i < n; ++i)
        if (x.hops[static_cast<size_t>(i)] == x.redirect_port) {
          ts = t0 + dur * i / n;
          break;
        }
      instant(pid, tid, ts, "ACS redirect " + x.redirect_bit,
              {{"reason", "ACS " + x.redirect_bit}, {"port", x.redirect_port}, {"step", x.step}});
    }
    for (const std::string& g : x.gmmu_faults)
      instant(pid, tid, t0 + dur, "GMMU fault " + g, {{"reason", g}, {"port", x.initiator}, {"step", x.step}});
  }

  std::vector<Event> m_events;
  int m_seq = 0;
};

}  // namespace

json chrome_trace(const std::vector<ScenarioResult>& results) {
  Builder b;
  for (size_t k = 0; k < results.size(); ++k) b.scenario(static_cast<int>(k) + 1, results[k]);
  return b.document();
}

}  // namespace pciesim::scenario
