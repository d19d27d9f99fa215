#include "report_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace pciesim::scenario {

namespace {

// Layout of the machine drawing, in SVG user units (pixels at 100 % zoom).
constexpr double kNodeW = 164, kNodeH = 58;  // a function's box: three lines of 11-12 px text
constexpr double kHGap = 14, kVGap = 62;     // between sibling subtrees; between levels (room for link labels)
constexpr double kMargin = 16;
constexpr size_t kNameChars = 23;  // what fits in kNodeW at 12 px bold (about 7 px a character)
constexpr size_t kLineChars = 26;  // at 11 px

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  std::string s = b;
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s;
}

std::string fit(const std::string& s, size_t chars) {
  return s.size() <= chars ? s : s.substr(0, chars - 1) + "\u2026";
}

std::string role_text(const std::string& role) {
  static const std::map<std::string, std::string> names = {
      {"root-port", "root port"}, {"switch-upstream", "upstream port"},
      {"switch-downstream", "downstream port"}, {"pcie-to-pci-bridge", "PCIe-to-PCI bridge"},
      {"endpoint", "endpoint"}, {"rc-integrated-endpoint", "RCiEP"},
      {"conventional-pci", "PCI device"}, {"pci-to-pci-bridge", "PCI-to-PCI bridge"}};
  auto it = names.find(role);
  return it == names.end() ? role : it->second;
}

std::string short_bdf(const std::string& bdf) { return bdf.size() > 5 && bdf.compare(0, 5, "0000:") == 0 ? bdf.substr(5) : bdf; }

struct TreeNode {
  const MachineNode* fn = nullptr;     // null: a root complex
  const MachineRootComplex* rc = nullptr;
  std::vector<size_t> kids;
  double width = 0, x = 0, y = 0;      // subtree width; box top-left
  int depth = 0;
};

class TopologyDrawing {
 public:
  explicit TopologyDrawing(const ScenarioMachine& m) : m_m(m) {
    std::map<int, size_t> rc_of_segment;
    for (const MachineRootComplex& rc : m.root_complexes) {
      rc_of_segment.emplace(rc.segment, m_nodes.size());
      m_nodes.push_back({nullptr, &rc, {}, 0, 0, 0, 0});
    }
    std::map<std::string, size_t> by_bdf;
    for (const MachineNode& n : m.nodes) {
      by_bdf[n.bdf] = m_nodes.size();
      m_nodes.push_back({&n, nullptr, {}, 0, 0, 0, 0});
    }
    for (size_t i = 0; i < m_nodes.size(); ++i) {
      const MachineNode* n = m_nodes[i].fn;
      if (!n) continue;
      auto p = n->parent.empty() ? by_bdf.end() : by_bdf.find(n->parent);
      if (p != by_bdf.end()) {
        m_nodes[p->second].kids.push_back(i);
      } else if (auto r = rc_of_segment.find(n->segment); r != rc_of_segment.end()) {
        m_nodes[r->second].kids.push_back(i);
      } else {
        m_roots.push_back(i);  // a root bus no root complex claims: drawn on its own
      }
    }
    for (size_t i = 0; i < m.root_complexes.size(); ++i) m_roots.insert(m_roots.begin() + static_cast<long>(i), i);
    double left = kMargin;
    for (size_t r : m_roots) {
      measure(r);
      place(r, left, 0);
      left += m_nodes[r].width + kHGap * 2;
    }
    m_width = std::max(left - kHGap * 2 + kMargin, 200.0);
  }

  std::string svg() const {
    std::ostringstream o;
    o << "<svg class=\"topology\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(m_width) << "\" height=\""
      << num(m_height) << "\" viewBox=\"0 0 " << num(m_width) << " " << num(m_height)
      << "\" role=\"img\" aria-label=\"topology of " << html_escape(m_m.topology) << "\">\n";
    enclosures(o);
    for (size_t i = 0; i < m_nodes.size(); ++i)
      for (size_t k : m_nodes[i].kids) edge(o, m_nodes[i], m_nodes[k], k == m_nodes[i].kids.front());
    for (const TreeNode& n : m_nodes) box(o, n);
    o << "</svg>\n";
    return o.str();
  }

 private:
  double measure(size_t i) {
    TreeNode& n = m_nodes[i];
    double w = 0;
    for (size_t k : n.kids) w += measure(k);
    if (!n.kids.empty()) w += kHGap * static_cast<double>(n.kids.size() - 1);
    n.width = std::max(kNodeW, w);
    return n.width;
  }
  void place(size_t i, double left, int depth) {
    TreeNode& n = m_nodes[i];
    n.depth = depth;
    n.x = left + (n.width - kNodeW) / 2;
    n.y = kMargin + 6 + depth * (kNodeH + kVGap);
    m_height = std::max(m_height, n.y + kNodeH + kMargin + 10);
    double kids_w = 0;
    for (size_t k : n.kids) kids_w += m_nodes[k].width;
    if (!n.kids.empty()) kids_w += kHGap * static_cast<double>(n.kids.size() - 1);
    double x = left + (n.width - kids_w) / 2;
    for (size_t k : n.kids) {
      place(k, x, depth + 1);
      x += m_nodes[k].width + kHGap;
    }
  }

  // A link's label on the edge into `child`: the link above an endpoint, upstream port or bridge,
  // which is also the link below the port above it. Edges inside a root complex or a switch
  // (to root ports, to downstream ports) cross no link.
  static std::string link_label(const TreeNode& parent, const TreeNode& child) {
    if (!child.fn || child.fn->role == "root-port" || child.fn->role == "switch-downstream") return "";
    if (child.fn->role == "conventional-pci" || child.fn->role == "pci-to-pci-bridge") return "PCI bus";
    int gen = child.fn->link_gen, width = child.fn->link_width;
    if (!gen && parent.fn && parent.fn->port()) gen = parent.fn->link_gen, width = parent.fn->link_width;
    if (!gen) return "";
    return "Gen" + std::to_string(gen) + " x" + std::to_string(width);
  }

  void edge(std::ostringstream& o, const TreeNode& p, const TreeNode& c, bool first) const {
    const double px = p.x + kNodeW / 2, py = p.y + kNodeH, cx = c.x + kNodeW / 2, cy = c.y;
    const double mid = py + kVGap * 0.35;
    const bool pci = c.fn && (c.fn->role == "conventional-pci" || c.fn->role == "pci-to-pci-bridge");
    o << "<path class=\"edge\" d=\"M" << num(px) << " " << num(py) << " V" << num(mid) << " H" << num(cx) << " V"
      << num(cy) << "\" fill=\"none\" stroke=\"#56606b\" stroke-width=\"1.4\"" << (pci ? " stroke-dasharray=\"5 3\"" : "")
      << "/>\n";
    const std::string label = link_label(p, c);
    // Functions of one device share their link: label it once.
    const bool same_link_as_sibling = !first && c.fn && c.fn->role != "switch-upstream" &&
                                      std::any_of(p.kids.begin(), p.kids.end(), [&](size_t k) {
                                        return m_nodes[k].fn && m_nodes[k].fn != c.fn &&
                                               m_nodes[k].fn->component == c.fn->component &&
                                               m_nodes[k].x < c.x;
                                      });
    if (!label.empty() && !same_link_as_sibling)
      o << "<text class=\"link\" x=\"" << num(cx + 5) << "\" y=\"" << num(cy - 21) << "\">" << html_escape(label)
        << "</text>\n";
  }

  // Dashed boxes around the functions of one component (a switch's ports, a device's functions).
  void enclosures(std::ostringstream& o) const {
    std::map<std::string, std::vector<const TreeNode*>> by_component;
    std::set<std::string> rc_names;
    for (const MachineRootComplex& rc : m_m.root_complexes) rc_names.insert(rc.name);
    for (const TreeNode& n : m_nodes)
      if (n.fn && !rc_names.count(n.fn->component)) by_component[n.fn->component].push_back(&n);
    for (const auto& [component, nodes] : by_component) {
      if (nodes.size() < 2) continue;
      double x0 = 1e18, y0 = 1e18, x1 = -1e18, y1 = -1e18;
      for (const TreeNode* n : nodes) {
        x0 = std::min(x0, n->x), y0 = std::min(y0, n->y);
        x1 = std::max(x1, n->x + kNodeW), y1 = std::max(y1, n->y + kNodeH);
      }
      constexpr double kPad = 8, kLabel = 15;
      o << "<rect class=\"component\" x=\"" << num(x0 - kPad) << "\" y=\"" << num(y0 - kLabel) << "\" width=\""
        << num(x1 - x0 + 2 * kPad) << "\" height=\"" << num(y1 - y0 + kLabel + kPad)
        << "\" rx=\"8\" fill=\"#f7f8fa\" stroke=\"#8a94a0\" stroke-dasharray=\"6 4\"/>\n";
      o << "<text class=\"component-label\" x=\"" << num(x0 - kPad + 6) << "\" y=\"" << num(y0 - 4) << "\">"
        << html_escape(fit(component, 28)) << "</text>\n";
    }
  }

  void box(std::ostringstream& o, const TreeNode& n) const {
    std::string fill = "#eef1f5", stroke = "#56606b", line1, line2, line3, title, cls = "node";
    std::string band;  // a port's ACS state, as a coloured band at the bottom of its box
    if (n.rc) {
      fill = "#cfe0f3";
      line1 = n.rc->name;
      line2 = "root complex";
      line3 = "segment " + std::to_string(n.rc->segment);
      title = "root complex " + n.rc->name + ", segment " + std::to_string(n.rc->segment);
      cls += " rc";
    } else {
      const MachineNode& f = *n.fn;
      line1 = f.name;
      line2 = short_bdf(f.bdf) + " \u00b7 " + role_text(f.role);
      title = f.bdf + " " + f.name + " (" + role_text(f.role) + ", " + f.component + ")";
      if (f.endpoint_function()) {
        fill = group_colour(f.group);
        line3 = f.group >= 0 ? "IOMMU group " + std::to_string(f.group) : "no IOMMU group";
        title += f.group >= 0 ? "; IOMMU group " + std::to_string(f.group) : "; no IOMMU group";
        cls += " endpoint";
      } else if (f.port()) {
        fill = "#ffffff";
        band = acs_colour(f.acs);
        line3 = "ACS " + f.acs + (f.acs_control.empty() || f.acs == "none" ? "" : " (" + f.acs_control + ")");
        title += "; ACS " + f.acs + (f.acs == "none" ? " (no ACS capability)" : ", control: " + (f.acs_control.empty() ? std::string("none") : f.acs_control));
        cls += " port";
      } else if (f.acs != "none") {
        line3 = "ACS " + f.acs;
        title += "; ACS " + f.acs + ", control: " + (f.acs_control.empty() ? std::string("none") : f.acs_control);
      }
      if (f.endpoint_function() && f.acs != "none") title += "; ACS " + f.acs + " (" + f.acs_control + ")";
    }
    o << "<g class=\"" << cls << "\"";
    if (n.fn) o << " data-bdf=\"" << html_escape(n.fn->bdf) << "\" data-group=\"" << n.fn->group << "\"";
    o << "><title>" << html_escape(title) << "</title>\n";
    o << "<rect x=\"" << num(n.x) << "\" y=\"" << num(n.y) << "\" width=\"" << num(kNodeW) << "\" height=\""
      << num(kNodeH) << "\" rx=\"6\" fill=\"" << fill << "\" stroke=\"" << stroke << "\""
      << (n.fn && n.fn->endpoint_function() && n.fn->group < 0 ? " stroke-dasharray=\"4 3\"" : "") << "/>\n";
    if (!band.empty())
      o << "<path d=\"M" << num(n.x + 0.5) << " " << num(n.y + kNodeH - 17) << " H" << num(n.x + kNodeW - 0.5) << " V"
        << num(n.y + kNodeH - 6) << " a5.5 5.5 0 0 1 -5.5 5.5 H" << num(n.x + 6) << " a5.5 5.5 0 0 1 -5.5 -5.5 Z\" fill=\""
        << band << "\"/>\n";
    const double tx = n.x + 8;
    o << "<text class=\"n1\" x=\"" << num(tx) << "\" y=\"" << num(n.y + 16) << "\">" << html_escape(fit(line1, kNameChars)) << "</text>\n";
    o << "<text class=\"n2\" x=\"" << num(tx) << "\" y=\"" << num(n.y + 31) << "\">" << html_escape(fit(line2, kLineChars)) << "</text>\n";
    if (!line3.empty())
      o << "<text class=\"n3\" x=\"" << num(tx) << "\" y=\"" << num(n.y + 49) << "\">" << html_escape(fit(line3, kLineChars)) << "</text>\n";
    o << "</g>\n";
  }

  const ScenarioMachine& m_m;
  std::vector<TreeNode> m_nodes;
  std::vector<size_t> m_roots;
  double m_width = 0, m_height = 0;
};

// --- timeline ---

constexpr double kStepRowY = 22, kStepRowH = 24;  // the step bars
constexpr double kLaneY = 56, kLaneH = 16, kLaneGap = 5;  // transaction lanes below them
constexpr double kColGap = 6;

std::string time_text(double ns) {
  char b[48];
  if (std::fabs(ns) < 1e3) std::snprintf(b, sizeof b, "%.1f ns", ns);
  else if (std::fabs(ns) < 1e6) std::snprintf(b, sizeof b, "%.3f \u00b5s", ns / 1e3);
  else std::snprintf(b, sizeof b, "%.3f ms", ns / 1e6);
  return b;
}

std::string outcome_colour(const std::string& outcome) {
  if (outcome == "delivered" || outcome == "redirected") return "#4e79a7";
  if (outcome == "iommu-fault") return "#d62728";
  if (outcome == "blocked-by-acs") return "#f28e2b";
  if (outcome == "unsupported-request" || outcome == "completer-abort") return "#9467bd";
  return "#9c9c9c";
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') o += ' ';
        else o += c;
    }
  }
  return o;
}

std::string group_colour(int group) {
  // Light tints (dark text stays readable on them), far apart in hue for the first twelve.
  static const char* palette[] = {"#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462",
                                  "#b3de69", "#fccde5", "#d9d9d9", "#bc80bd", "#ccebc5", "#ffed6f"};
  if (group < 0) return "#ffffff";
  if (group < 12) return palette[group];
  // Beyond: the golden angle around the hue circle, at the palette's lightness.
  const double h = std::fmod(group * 137.508, 360.0), s = 0.55, l = 0.78;
  const double c = (1 - std::fabs(2 * l - 1)) * s, x = c * (1 - std::fabs(std::fmod(h / 60.0, 2) - 1)), m = l - c / 2;
  double r = 0, g = 0, b = 0;
  if (h < 60) r = c, g = x;
  else if (h < 120) r = x, g = c;
  else if (h < 180) g = c, b = x;
  else if (h < 240) g = x, b = c;
  else if (h < 300) r = x, b = c;
  else r = c, b = x;
  char out[8];
  std::snprintf(out, sizeof out, "#%02x%02x%02x", static_cast<int>(std::lround((r + m) * 255)),
                static_cast<int>(std::lround((g + m) * 255)), static_cast<int>(std::lround((b + m) * 255)));
  return out;
}

std::string acs_colour(const std::string& summary) {
  if (summary == "isolated") return "#a6dba0";
  if (summary == "partial") return "#f6e27f";
  if (summary == "off") return "#f4a582";
  return "#d0d4d9";
}

std::string topology_svg(const ScenarioMachine& m) { return TopologyDrawing(m).svg(); }

std::string step_anchor(size_t scenario, int step) { return "s" + std::to_string(scenario) + "-step" + std::to_string(step); }

std::string timeline_svg(const ScenarioTrace& t, size_t scenario) {
  struct Column {
    const TraceStep* step;
    double t0, t1, x, w;
    std::vector<const TraceTx*> txs;
  };
  std::vector<Column> cols;
  std::map<int, size_t> col_of;
  for (const TraceStep& s : t.steps) {
    col_of[s.index] = cols.size();
    cols.push_back({&s, s.start_ns, std::max(s.start_ns, s.end_ns), 0, 0, {}});
  }
  for (const TraceTx& x : t.txs) {
    auto it = col_of.find(x.step);
    if (it == col_of.end()) continue;
    Column& c = cols[it->second];
    c.txs.push_back(&x);
    c.t0 = std::min(c.t0, x.start_ns);
    c.t1 = std::max(c.t1, x.start_ns + std::max(0.0, x.dur_ns));
  }
  double longest = 0;
  for (const Column& c : cols) longest = std::max(longest, c.t1 - c.t0);
  double x = kMargin;
  for (Column& c : cols) {
    // A column is wide enough for its label; one with transactions for its slices; and grows
    // with its span relative to the longest step's, at most 240 px more.
    c.w = (c.txs.empty() ? 78.0 : 150.0) + (longest > 0 ? 240.0 * (c.t1 - c.t0) / longest : 0);
    c.x = x;
    x += c.w + kColGap;
  }
  const double width = std::max(x + kMargin, 300.0);
  std::ostringstream body;
  size_t lanes_used = 0;
  for (const Column& c : cols) {
    const TraceStep& s = *c.step;
    const double span = c.t1 - c.t0;
    auto px = [&](double ns) { return span > 0 ? c.x + (ns - c.t0) / span * c.w : c.x; };
    body << "<g class=\"step " << (s.pass ? "pass" : "fail") << "\" id=\"" << step_anchor(scenario, s.index)
         << "\" data-start-ns=\"" << num(s.start_ns) << "\"><title>" << html_escape(std::to_string(s.index) + ". " + s.label)
         << " (" << (s.pass ? "PASS" : "FAIL") << "), simulated " << html_escape(time_text(s.start_ns)) << " to "
         << html_escape(time_text(s.end_ns)) << "</title>";
    body << "<rect x=\"" << num(c.x) << "\" y=\"" << num(kStepRowY) << "\" width=\"" << num(c.w) << "\" height=\""
         << num(kStepRowH) << "\" rx=\"3\" fill=\"" << (s.pass ? "#cdebc8" : "#f7c1bd") << "\" stroke=\""
         << (s.pass ? "#4a9a46" : "#c0392b") << "\"/>";
    const size_t chars = static_cast<size_t>(std::max(4.0, (c.w - 8) / 6.3));
    body << "<text class=\"steplabel\" x=\"" << num(c.x + 4) << "\" y=\"" << num(kStepRowY + 16) << "\">"
         << html_escape(fit(std::to_string(s.index) + ". " + (s.label.empty() ? s.kind : s.label), chars))
         << "</text></g>\n";
    body << "<text class=\"tick\" x=\"" << num(c.x + 2) << "\" y=\"" << num(kStepRowY - 6) << "\">"
         << html_escape(time_text(s.start_ns)) << "</text>\n";
    // Transactions in lanes: each goes on the first lane free at its left edge (in pixels, so
    // slices never cover each other on screen).
    std::vector<const TraceTx*> txs = c.txs;
    std::stable_sort(txs.begin(), txs.end(), [](const TraceTx* a, const TraceTx* b) { return a->start_ns < b->start_ns; });
    std::vector<double> lane_end;
    for (const TraceTx* tx : txs) {
      const double x0 = px(tx->start_ns), x1 = std::max(px(tx->start_ns + std::max(0.0, tx->dur_ns)), x0 + 4);
      size_t lane = 0;
      while (lane < lane_end.size() && lane_end[lane] > x0) ++lane;
      if (lane == lane_end.size()) lane_end.push_back(0);
      lane_end[lane] = x1 + 2;
      lanes_used = std::max(lanes_used, lane_end.size());
      const double y = kLaneY + static_cast<double>(lane) * (kLaneH + kLaneGap);
      std::string path;
      for (const std::string& h : tx->hops) path += (path.empty() ? "" : " \u2192 ") + h;
      std::string tip = tx->name + " from " + tx->initiator + ": " + tx->outcome +
                        (tx->port.empty() ? "" : " at " + tx->port) + "; issued at " + time_text(tx->start_ns) +
                        ", latency " + time_text(tx->dur_ns);
      if (tx->fault_reason >= 0) {
        char r[16];
        std::snprintf(r, sizeof r, "0x%x", static_cast<unsigned>(tx->fault_reason));
        tip += "; IOMMU fault " + std::string(r) + " (" + tx->fault_text + ")";
      }
      if (!tx->acs_bit.empty()) tip += "; ACS " + tx->acs_bit;
      if (!tx->redirect_bit.empty()) tip += "; redirected by ACS " + tx->redirect_bit + " at " + tx->redirect_port;
      if (!path.empty()) tip += "; path " + path + (tx->hops_truncated ? " \u2026" : "");
      body << "<g class=\"tx\" data-outcome=\"" << html_escape(tx->outcome) << "\"><title>" << html_escape(tip) << "</title>";
      body << "<rect x=\"" << num(x0) << "\" y=\"" << num(y) << "\" width=\"" << num(x1 - x0) << "\" height=\""
           << num(kLaneH) << "\" fill=\"" << outcome_colour(tx->outcome) << "\"/>";
      // Hop slices: from the recorded arrival times when there are, else an even split (as the
      // Chrome trace does); drawn only when each gets at least 3 px.
      const size_t n = tx->hops.size();
      double verdict_x = x1;
      if (n > 1 && (x1 - x0) / static_cast<double>(n) >= 3) {
        const bool timed = tx->hop_ns.size() == n;
        for (size_t i = 0; i < n; ++i) {
          const double b = timed ? px(tx->hop_ns[i]) : x0 + (x1 - x0) * static_cast<double>(i) / static_cast<double>(n);
          const double e = timed ? (i + 1 < n ? px(tx->hop_ns[i + 1]) : x1)
                                 : x0 + (x1 - x0) * static_cast<double>(i + 1) / static_cast<double>(n);
          if (tx->hops[i] == tx->port && tx->outcome != "delivered" && tx->outcome != "redirected") verdict_x = b;
          body << "<rect class=\"hop\" x=\"" << num(b) << "\" y=\"" << num(y + 2) << "\" width=\""
               << num(std::max(0.5, e - b - 1)) << "\" height=\"" << num(kLaneH - 4) << "\" fill=\"#ffffff\" fill-opacity=\""
               << (i % 2 ? "0.30" : "0.12") << "\"><title>" << html_escape("hop " + std::to_string(i + 1) + "/" + std::to_string(n) + ": " + tx->hops[i] + (timed ? " at " + time_text(tx->hop_ns[i]) : "")) << "</title></rect>";
        }
      }
      const bool faulted = tx->outcome == "iommu-fault" || tx->outcome == "blocked-by-acs" ||
                           tx->outcome == "unsupported-request" || tx->outcome == "completer-abort" ||
                           !tx->gmmu_faults.empty();
      if (faulted)
        body << "<path class=\"fault\" d=\"M" << num(verdict_x) << " " << num(y - 3) << " l5 5 l-5 5 l-5 -5 Z\" fill=\"#7f0000\" stroke=\"#ffffff\" stroke-width=\"1\"/>";
      body << "</g>\n";
    }
  }
  const double height = kLaneY + static_cast<double>(std::max<size_t>(lanes_used, 1)) * (kLaneH + kLaneGap) + 8;
  std::ostringstream o;
  o << "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(width) << "\" height=\"" << num(height)
    << "\" viewBox=\"0 0 " << num(width) << " " << num(height) << "\">\n";
  if (cols.empty()) o << "<text class=\"tick\" x=\"" << num(kMargin) << "\" y=\"30\">no steps ran</text>\n";
  o << body.str() << "</svg>\n";
  return o.str();
}

}  // namespace pciesim::scenario
