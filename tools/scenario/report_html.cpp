#include "report_html.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

#include "report_svg.h"
#include "scenario_trace.h"

namespace pciesim::scenario {

namespace {

using nlohmann::json;

std::string e(const std::string& s) { return html_escape(s); }

std::string fixed(double v, int digits) {
  char b[48];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

std::string ns_text(double ns) {
  if (ns < 1e3) return fixed(ns, 1) + " ns";
  if (ns < 1e6) return fixed(ns / 1e3, 3) + " \u00b5s";
  return fixed(ns / 1e6, 3) + " ms";
}

const char* kStyle = R"CSS(
:root { --pass:#2e7d32; --fail:#c62828; --ink:#1d232b; --muted:#5b6672; --line:#d5dae0; --bg:#ffffff; --panel:#f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: var(--bg); }
main { max-width: 1320px; margin: 0 auto; padding: 20px 28px 60px; }
h1 { font-size: 24px; margin: 4px 0 12px; }
h2 { font-size: 19px; margin: 0 0 6px; display: flex; align-items: center; gap: 10px; }
h3 { font-size: 15px; margin: 18px 0 6px; color: #30363d; }
code, .mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
a { color: #0b5cad; text-decoration: none; } a:hover { text-decoration: underline; }
.summary { display: grid; grid-template-columns: repeat(4, minmax(150px, 1fr)); gap: 12px; margin: 10px 0 14px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card .big { font-size: 24px; font-weight: 650; } .card .lbl { color: var(--muted); font-size: 12.5px; }
.big.fail { color: var(--fail); } .big.pass { color: var(--pass); }
.cmd { background: #1f2428; color: #e6edf3; padding: 8px 12px; border-radius: 6px; overflow-x: auto; white-space: pre; }
.badge { display: inline-block; min-width: 44px; text-align: center; font-size: 12px; font-weight: 700; padding: 2px 7px; border-radius: 10px; color: #fff; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); }
nav.toc { columns: 2; column-gap: 28px; margin: 8px 0 4px; padding: 10px 14px; border: 1px solid var(--line); border-radius: 8px; }
nav.toc div { break-inside: avoid; padding: 2px 0; }
nav.toc .n { color: var(--muted); font-size: 12px; }
section.scenario { border: 1px solid var(--line); border-left: 6px solid var(--pass); border-radius: 8px; padding: 14px 18px 16px; margin: 22px 0; }
section.scenario.fail { border-left-color: var(--fail); background: #fffafa; }
.desc { margin: 2px 0 4px; } .meta { color: var(--muted); font-size: 12.5px; margin: 0 0 6px; }
.error { background: #fdecea; border: 1px solid #f5c2c0; color: #7f1d1d; padding: 8px 12px; border-radius: 6px; }
table { border-collapse: collapse; }
table.verdict { width: 100%; font-size: 13px; }
table.verdict th, table.verdict td { border-bottom: 1px solid var(--line); padding: 5px 7px; text-align: left; vertical-align: top; }
table.verdict th { background: var(--panel); font-weight: 600; }
table.verdict tr.fail td { background: #fdecea; }
table.verdict tr.hl td { outline: 2px solid #f0b400; outline-offset: -2px; }
table.verdict td.res { font-weight: 700; } tr.pass td.res { color: var(--pass); } tr.fail td.res { color: var(--fail); }
table.verdict td.num, table.verdict td.t { white-space: nowrap; }
.scroll { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; fill: #1d232b; }
svg .n1 { font-size: 12px; font-weight: 650; } svg .n2, svg .n3 { font-size: 11px; }
svg .link { font-size: 10.5px; fill: #3d4651; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
svg .component-label { font-size: 11px; font-style: italic; fill: #56606b; }
svg .steplabel { font-size: 11px; } svg .tick { font-size: 10px; fill: #5b6672; }
svg g.step:target rect, svg g.step.hl rect { stroke: #f0b400; stroke-width: 3; }
svg g.tx:hover rect { stroke: #000; stroke-width: 1; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 8px 0 0; padding: 0; list-style: none; font-size: 12.5px; }
.legend li { display: flex; align-items: center; gap: 6px; }
.sw { display: inline-block; width: 14px; height: 14px; border: 1px solid #56606b; border-radius: 3px; flex: none; }
.sw.none { border-style: dashed; background: #fff; }
table.matrix { font-size: 12px; margin-top: 4px; }
table.matrix th { font-weight: 500; padding: 2px 4px; white-space: nowrap; }
table.matrix th.col { vertical-align: bottom; height: 1px; }
table.matrix th.col span { writing-mode: vertical-rl; transform: rotate(180deg); display: inline-block; max-height: 150px; overflow: hidden; text-overflow: ellipsis; }
table.matrix th.row { text-align: right; }
table.matrix th.hx { background: #fff3c4; }
table.matrix td { width: 24px; min-width: 24px; height: 22px; text-align: center; border: 1px solid #fff; font-weight: 600; font-size: 11px; cursor: default; }
td.m-open { background: #f08a7e; } td.m-via-iommu { background: #a8d8a0; } td.m-blocked { background: #a9c4e8; }
td.m-none { background: #eceff2; color: #8a94a0; } td.m-self { background: #fff; color: #b0b8c0; }
td.m-disagree { outline: 3px solid #6a1b9a; outline-offset: -3px; }
.disagreements li { margin: 4px 0; } .kind { font-weight: 700; }
.kind.unsafe { color: var(--fail); } .kind.over { color: #8a6d00; }
.note { color: var(--muted); font-size: 12.5px; }
.toolbar { margin: 6px 0 0; font-size: 13px; }
body.only-failed section.scenario.pass { display: none; }
.help { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; font-size: 13px; }
.help p { margin: 4px 0; }
)CSS";

// Runs first: every script error and unhandled rejection goes into <html data-errors>.
const char* kErrorScript = R"JS(
(function () {
  var root = document.documentElement;
  function record(message) {
    var before = root.getAttribute('data-errors');
    root.setAttribute('data-errors', (before ? before + ' | ' : '') + message);
  }
  window.__reportError = record;
  window.onerror = function (message, source, line) { record('error: ' + message + ' (line ' + line + ')'); };
  window.addEventListener('unhandledrejection', function (ev) { record('unhandled rejection: ' + String(ev.reason)); });
})();
)JS";

// Runs last: checks every link into the page has its target, highlights the step a link points
// at, the failed-only switch, matrix row/column highlighting; then <body data-render="ok">.
const char* kMainScript = R"JS(
(function () {
  var missing = [];
  document.querySelectorAll('a[href^="#"]').forEach(function (a) {
    var id = decodeURIComponent(a.getAttribute('href').slice(1));
    if (id && !document.getElementById(id)) missing.push(id);
  });
  if (missing.length) window.__reportError('links without a target: ' + missing.join(', '));
  function highlight() {
    document.querySelectorAll('.hl').forEach(function (el) { el.classList.remove('hl'); });
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    if (!el) return;
    el.classList.add('hl');
    var row = document.querySelector('tr[data-step="' + id + '"]');
    if (row) row.classList.add('hl');
    if (el.closest && el.closest('svg.timeline')) el.scrollIntoView({block: 'center', inline: 'center'});
  }
  window.addEventListener('hashchange', highlight);
  highlight();
  var only = document.getElementById('only-failed');
  if (only) only.addEventListener('change', function () { document.body.classList.toggle('only-failed', only.checked); });
  document.querySelectorAll('table.matrix').forEach(function (t) {
    t.addEventListener('mouseover', function (ev) {
      var td = ev.target.closest('td');
      t.querySelectorAll('.hx').forEach(function (el) { el.classList.remove('hx'); });
      if (!td) return;
      var tr = td.parentNode, col = Array.prototype.indexOf.call(tr.children, td);
      tr.children[0].classList.add('hx');
      var head = t.tHead.rows[0].children[col];
      if (head) head.classList.add('hx');
    });
  });
  document.body.setAttribute('data-sections', String(document.querySelectorAll('section.scenario').length));
  document.body.setAttribute('data-render', 'ok');
})();
)JS";

std::string short_bdf(const std::string& bdf) { return bdf.size() > 5 && bdf.compare(0, 5, "0000:") == 0 ? bdf.substr(5) : bdf; }

std::string verdict_table(const ScenarioResult& r, size_t k) {
  std::map<int, double> start;
  for (const TraceStep& s : r.trace.steps) start[s.index] = s.start_ns;
  std::ostringstream o;
  o << "<table class=\"verdict\"><thead><tr><th>#</th><th>step</th><th>expected</th><th>observed</th><th>result</th>"
       "<th>simulated start</th><th>source</th></tr></thead><tbody>\n";
  for (const StepResult& s : r.steps) {
    const std::string anchor = step_anchor(k, s.index);
    const bool traced = start.count(s.index) > 0;
    o << "<tr class=\"" << (s.pass ? "pass" : "fail") << "\" data-step=\"" << anchor << "\"><td class=\"num\">";
    if (traced) o << "<a href=\"#" << anchor << "\" title=\"this step in the timeline\">" << s.index << "</a>";
    else o << s.index;
    o << "</td><td>" << e(s.label) << "</td><td>" << e(s.expected) << "</td><td>" << e(s.observed) << "</td><td class=\"res\">"
      << (s.pass ? "PASS" : "FAIL") << "</td><td class=\"t\">";
    if (traced) o << "<a href=\"#" << anchor << "\">" << e(ns_text(start[s.index])) << "</a>";
    o << "</td><td class=\"mono\">" << e(r.file.substr(r.file.rfind('/') + 1)) << ":" << s.line << "</td></tr>\n";
  }
  if (!r.error.empty())
    o << "<tr class=\"fail\"><td class=\"num\"></td><td>(run stopped)</td><td></td><td>" << e(r.error)
      << "</td><td class=\"res\">FAIL</td><td></td><td></td></tr>\n";
  o << "</tbody></table>\n";
  return o.str();
}

}  // namespace

std::string scenario_anchor(size_t scenario) { return "scenario-" + std::to_string(scenario); }

std::string matrix_cell_class(char c) {
  switch (c) {
    case 'o': return "m-open";
    case 'i': return "m-via-iommu";
    case 'b': return "m-blocked";
    case 'x': return "m-self";
    default: return "m-none";
  }
}

std::string group_legend_html(const ScenarioMachine& m) {
  std::map<int, std::vector<std::string>> members;
  for (const MachineNode& n : m.nodes)
    if (n.endpoint_function()) members[n.group].push_back(n.name);
  std::ostringstream o;
  o << "<ul class=\"legend groups\">";
  for (const auto& [g, names] : members) {
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
    o << "<li data-group=\"" << g << "\"><span class=\"sw" << (g < 0 ? " none" : "") << "\" style=\"background:"
      << group_colour(g) << "\"></span>" << (g >= 0 ? "group " + std::to_string(g) : std::string("no group")) << ": "
      << e(list) << "</li>";
  }
  o << "</ul>\n<ul class=\"legend acs\"><li>ports' ACS:</li>";
  for (const char* s : {"isolated", "partial", "off", "none"})
    o << "<li><span class=\"sw\" style=\"background:" << acs_colour(s) << "\"></span>" << s
      << (std::string(s) == "isolated" ? " (SV RR CR UF on, what Linux requires)" : std::string(s) == "none" ? " (no ACS capability)" : "")
      << "</li>";
  o << "</ul>\n";
  return o.str();
}

std::string isolation_html(const json& doc) {
  std::ostringstream o;
  const json& eps = doc.at("endpoints");
  const json& rows = doc.at("matrix").at("rows");
  const size_t n = eps.size();
  const std::string mode = doc.value("mode", "");
  std::map<std::pair<std::string, std::string>, std::string> detail;
  for (const json& p : doc.value("pairs", json::array()))
    detail[{p.at("from").get<std::string>(), p.at("to").get<std::string>()}] =
        p.contains("detail") ? p["detail"].get<std::string>() : p.at("class").get<std::string>();
  std::set<std::pair<std::string, std::string>> disagree;
  for (const json& d : doc.value("disagreements", json::array())) {
    const std::string a = d.at("a").get<std::string>(), b = d.at("b").get<std::string>();
    disagree.insert({a, b});
    if (d.at("kind") == "grouped-but-isolated") disagree.insert({b, a});
  }
  const json& counts = doc.at("counts");
  o << "<p class=\"note\">" << n << " endpoint functions, " << e(mode) << " mode";
  if (mode == "analytic")
    o << ": more than 64 endpoint functions, so the matrix comes from an analytic walk along the fabric's ports "
         "with its own ACS decisions, and a random sample of "
      << doc.at("sample").at("sent").get<unsigned>() << " requests was confirmed with real TLPs ("
      << doc.at("sample").at("mismatches").size() << " mismatches); tooltips name the decisive request only for pairs that reach each other across groups";
  else
    o << ": every ordered pair, a MemWrite and a MemRead to each memory BAR, as real TLPs through the fabric";
  o << ". Pairs: " << counts.value("open", 0) << " open, " << counts.value("via_iommu", 0) << " via-iommu, "
    << counts.value("blocked", 0) << " blocked.";
  if (!doc.value("has_iommu", true))
    o << " No remapping unit in this topology: via-iommu means the request reached the root complex's host side.";
  const std::string ov = doc.value("acs_override", "");
  if (!ov.empty())
    o << " Groups as a kernel booted with <code>pcie_acs_override=" << e(ov)
      << "</code> computes them (the scenario's boot options; the override changes no register, so the fabric's paths stay).";
  o << "</p>\n";
  constexpr size_t kMaxDrawn = 128;  // a larger matrix is too big to read as a table
  if (n > kMaxDrawn) {
    o << "<p class=\"note\">The matrix (" << n << " \u00d7 " << n << ") is too large to draw; the counts and the "
         "disagreements are above and below.</p>\n";
  } else {
    o << "<div class=\"scroll\"><table class=\"matrix\"><thead><tr><th class=\"corner\">from \u2193 / to \u2192</th>";
    for (const json& ep : eps)
      o << "<th class=\"col\" title=\"" << e(ep.at("bdf").get<std::string>() + " " + ep.at("name").get<std::string>())
        << "\"><span>" << e(ep.at("name").get<std::string>()) << "</span></th>";
    o << "</tr></thead><tbody>\n";
    for (size_t i = 0; i < n; ++i) {
      const std::string from = eps[i].at("bdf").get<std::string>(), fname = eps[i].at("name").get<std::string>();
      const int g = eps[i].at("group").is_null() ? -1 : eps[i].at("group").get<int>();
      const std::string row = rows.at(i).get<std::string>();
      o << "<tr><th class=\"row\" title=\"" << e(from + (g >= 0 ? ", IOMMU group " + std::to_string(g) : ", no IOMMU group"))
        << "\">" << e(fname) << " <span class=\"mono\">" << e(short_bdf(from)) << "</span> <span class=\"sw"
        << (g < 0 ? " none" : "") << "\" style=\"background:" << group_colour(g) << "\"></span></th>";
      for (size_t j = 0; j < n; ++j) {
        const char c = j < row.size() ? row[j] : '-';
        const std::string to = eps[j].at("bdf").get<std::string>();
        std::string cls = matrix_cell_class(c), tip;
        if (c == 'x') {
          tip = fname + " itself";
        } else {
          auto it = detail.find({from, to});
          tip = fname + " \u2192 " + eps[j].at("name").get<std::string>() + ": " +
                (it != detail.end() ? it->second
                                    : c == '-' ? std::string("the target has no memory BAR")
                                               : std::string(c == 'o' ? "open" : c == 'i' ? "via-iommu" : "blocked") +
                                                     " (analytic walk)");
        }
        if (disagree.count({from, to})) {
          cls += " m-disagree";
          tip += " \u2014 Linux's groups disagree with the fabric here";
        }
        o << "<td class=\"" << cls << "\" title=\"" << e(tip) << "\">"
          << (c == 'x' ? "\u00b7" : c == '-' ? "\u2013" : std::string(1, static_cast<char>(c - 'a' + 'A'))) << "</td>";
      }
      o << "</tr>\n";
    }
    o << "</tbody></table></div>\n";
    o << "<ul class=\"legend\"><li><span class=\"sw\" style=\"background:#f08a7e\"></span>O open: reaches the peer "
         "without passing the IOMMU</li><li><span class=\"sw\" style=\"background:#a8d8a0\"></span>I via-iommu: goes up "
         "to the root complex, where the IOMMU decides</li><li><span class=\"sw\" style=\"background:#a9c4e8\"></span>B "
         "blocked: ACS or an unsupported request stops it below</li><li><span class=\"sw\" style=\"background:#eceff2\">"
         "</span>\u2013 no memory BAR</li><li><span class=\"sw\" style=\"background:#fff;outline:3px solid #6a1b9a;"
         "outline-offset:-3px\"></span>Linux's groups disagree</li></ul>\n";
  }
  const json& dis = doc.value("disagreements", json::array());
  if (dis.empty()) {
    o << "<p class=\"agree\">Linux's groups and the fabric agree: no request passes between different groups without "
         "the IOMMU, and no group joins functions the fabric keeps apart.</p>\n";
  } else {
    o << "<p>" << dis.size() << " disagreement(s) between Linux's groups and the fabric:</p><ul class=\"disagreements\">\n";
    for (const json& d : dis) {
      const bool unsafe = d.at("kind") == "split-but-open";
      o << "<li><span class=\"kind " << (unsafe ? "unsafe\">UNSAFE" : "over\">over-grouped") << "</span> "
        << e(d.at("meaning").get<std::string>()) << "</li>\n";
    }
    o << "</ul>\n";
  }
  for (const json& m : doc.at("sample").at("mismatches"))
    o << "<p class=\"error\">analytic walk and fabric disagree: " << e(m.get<std::string>()) << "</p>\n";
  if (!doc.value("groups_decidable", true)) {
    o << "<p class=\"error\">Linux's groups cannot be decided:";
    for (const json& s : doc.value("undecidable_because", json::array())) o << " " << e(s.get<std::string>());
    o << "</p>\n";
  }
  return o.str();
}

std::string report_html(const ReportInput& in) {
  size_t passed = 0, failed = 0, steps_pass = 0, steps_fail = 0;
  double wall = 0, sim = 0;
  for (const ReportScenario& s : in.scenarios) {
    const ScenarioResult& r = *s.result;
    (r.passed() ? passed : failed)++;
    for (const StepResult& st : r.steps) (st.pass ? steps_pass : steps_fail)++;
    wall += r.wall_ms;
    sim += r.sim_ns;
  }
  // Failed scenarios first, then the rest, each in run order.
  std::vector<size_t> order;
  for (int want_pass = 0; want_pass < 2; ++want_pass)
    for (size_t k = 0; k < in.scenarios.size(); ++k)
      if (in.scenarios[k].result->passed() == (want_pass == 1)) order.push_back(k);

  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>pciesim run: "
    << passed << " passed, " << failed << " failed</title>\n<script>" << kErrorScript << "</script>\n<style>" << kStyle
    << "</style>\n</head>\n<body>\n<main>\n";
  o << "<h1>pciesim run</h1>\n<div class=\"summary\">"
    << "<div class=\"card\"><div class=\"big " << (failed ? "fail" : "pass") << "\">" << passed << " / " << in.scenarios.size()
    << "</div><div class=\"lbl\">scenarios passed (" << failed << " failed)</div></div>"
    << "<div class=\"card\"><div class=\"big " << (steps_fail ? "fail" : "pass") << "\">" << steps_pass << " / "
    << steps_pass + steps_fail << "</div><div class=\"lbl\">steps passed (" << steps_fail << " failed)</div></div>"
    << "<div class=\"card\"><div class=\"big\">" << fixed(wall, 1) << " ms</div><div class=\"lbl\">total time to verdict "
    << "(wall clock, summed)</div></div>"
    << "<div class=\"card\"><div class=\"big\">" << e(ns_text(sim)) << "</div><div class=\"lbl\">simulated time, summed</div></div>"
    << "</div>\n";
  o << "<div class=\"cmd\" title=\"the command line\">" << e(in.command_line) << "</div>\n";
  o << "<div class=\"help\"><p><b>Reading this page.</b> Each scenario below (failed ones first) has its verdict table; "
       "a step's number links to its bar in the scenario's timeline. The machine is drawn with every endpoint function "
       "filled with the colour of its Linux IOMMU group; ports show their ACS state after boot. The isolation matrix "
       "says where a peer-to-peer request from each row's function to each column's function goes.</p>"
       "<p><b>The trace.</b> <code>" << e(in.trace_file) << "</code> next to this page holds every transaction: open "
       "<a href=\"https://ui.perfetto.dev\">ui.perfetto.dev</a> and drop the file on it (\u201cOpen trace file\u201d), "
       "or load it in <code>chrome://tracing</code>. Scenario k of this run is process k (pid); its \u201csteps\u201d "
       "track has one slice per step, and trace time is simulated time, so a step's \u201csimulated start\u201d in "
       "the table is its timestamp there (the trace's <code>ts</code> is in \u00b5s).</p></div>\n";
  o << "<p class=\"toolbar\"><label><input type=\"checkbox\" id=\"only-failed\"> show only failed scenarios</label></p>\n";
  o << "<nav class=\"toc\">\n";
  for (size_t k : order) {
    const ScenarioResult& r = *in.scenarios[k].result;
    o << "<div><span class=\"badge " << (r.passed() ? "pass\">PASS" : "fail\">FAIL") << "</span> <a href=\"#"
      << scenario_anchor(k) << "\">" << e(r.name) << "</a> <span class=\"n\">" << r.steps.size() << " steps</span></div>\n";
  }
  o << "</nav>\n";

  std::set<std::string> large_drawn;  // matrices above 64 endpoint functions are shown once
  std::map<std::string, size_t> first_with_topology;
  for (size_t k : order) first_with_topology.emplace(in.scenarios[k].topology_key, k);
  for (size_t k : order) {
    const ReportScenario& s = in.scenarios[k];
    const ScenarioResult& r = *s.result;
    o << "<section class=\"scenario " << (r.passed() ? "pass" : "fail") << "\" id=\"" << scenario_anchor(k)
      << "\" data-name=\"" << e(r.name) << "\">\n<h2><span class=\"badge " << (r.passed() ? "pass\">PASS" : "fail\">FAIL")
      << "</span> " << e(r.name) << "</h2>\n";
    if (!s.description.empty()) o << "<p class=\"desc\">" << e(s.description) << "</p>\n";
    o << "<p class=\"meta\"><span class=\"mono\">" << e(r.file) << "</span> \u00b7 time to verdict " << fixed(r.wall_ms, 1)
      << " ms \u00b7 simulated " << e(ns_text(r.sim_ns)) << " \u00b7 in " << e(in.trace_file) << ": process " << k + 1
      << " \u201c" << e(r.name) << "\u201d</p>\n";
    if (!r.error.empty()) o << "<p class=\"error\">The run stopped: " << e(r.error) << "</p>\n";
    o << "<h3>Verdict</h3>\n" << verdict_table(r, k);
    o << "<h3>Timeline</h3>\n<div class=\"scroll\">" << timeline_svg(r.trace, k) << "</div>\n"
      << "<p class=\"note\">Green and red bars are the steps (PASS, FAIL), labelled with their simulated start; below "
         "them each transaction the step issued, coloured by outcome (blue delivered, red IOMMU fault, orange ACS "
         "block, purple UR/CA), split into its hops; \u25c6 marks where a fault or block happened. Each column is one "
         "step scaled to its own span. Hover for details.</p>\n";
    o << "<h3>Topology</h3>\n";
    if (r.machine.empty()) {
      o << "<p class=\"note\">The machine was not built (the run stopped before the kernel booted).</p>\n";
    } else {
      o << "<div class=\"scroll\">" << topology_svg(r.machine) << "</div>\n" << group_legend_html(r.machine);
    }
    o << "<h3>Isolation matrix</h3>\n";
    auto it = in.isolation.find(s.topology_key);
    if (it == in.isolation.end()) {
      o << "<p class=\"note\">Not computed.</p>\n";
    } else if (!it->second.error.empty()) {
      o << "<p class=\"error\">The isolation matrix could not be computed: " << e(it->second.error) << "</p>\n";
    } else {
      const size_t n = it->second.doc.at("endpoints").size();
      const size_t first = first_with_topology.at(s.topology_key);
      if (n > 64 && first != k) {
        o << "<p class=\"note\">Same topology as <a href=\"#" << scenario_anchor(first) << "\">"
          << e(in.scenarios[first].result->name) << "</a>: its isolation matrix is shown there.</p>\n";
      } else {
        o << isolation_html(it->second.doc);
      }
    }
    o << "</section>\n";
  }
  o << "</main>\n<script>" << kMainScript << "</script>\n</body></html>\n";
  return o.str();
}

std::string command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string out, arg;
  auto flush = [&] {
    const bool plain = !arg.empty() && arg.find_first_not_of(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == std::string::npos;
    std::string q = plain ? arg : "'";
    if (!plain) {
      for (char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      q += "'";
    }
    out += (out.empty() ? "" : " ") + q;
    arg.clear();
  };
  for (char c : raw) {
    if (c == '\0') flush();
    else arg += c;
  }
  if (!arg.empty()) flush();
  return out;
}

void write_report(const std::string& dir, const std::vector<Scenario>& scenarios, const std::vector<ScenarioResult>& results,
                  unsigned jobs) {
  ReportInput in;
  in.command_line = command_line();
  std::vector<IsolationRequest> requests;
  for (size_t k = 0; k < scenarios.size() && k < results.size(); ++k) {
    const groups::AcsOverride& ov = scenarios[k].boot.acs_override;
    in.scenarios.push_back({&results[k], scenarios[k].description, topology_key(scenarios[k].topology, ov)});
    requests.push_back({&scenarios[k].topology, ov});
  }
  in.isolation = isolation_for(requests, jobs);
  {
    std::ofstream t(dir + "/trace.json");
    if (!t) throw std::runtime_error("cannot write " + dir + "/trace.json");
    t << chrome_trace(results).dump() << "\n";
  }
  std::ofstream h(dir + "/index.html");
  if (!h) throw std::runtime_error("cannot write " + dir + "/index.html");
  h << report_html(in);
}

}  // namespace pciesim::scenario
