// The inline SVG of the HTML report (report_html.h): the machine drawn as a tree, each endpoint
// function filled with the colour of its Linux IOMMU group; and a scenario's timeline (its steps
// and their transactions over simulated time, hop slices, faults marked).
#pragma once

#include <string>

#include "report_machine.h"
#include "scenario_trace.h"

namespace pciesim::scenario {

// Text for HTML and SVG: & < > " ' escaped, control characters (but tab and newline) replaced.
std::string html_escape(const std::string& s);

// A group's fill colour ("#rrggbb"); -1 (no group): white. Distinct for the first 12 groups, then
// spread around the colour wheel.
std::string group_colour(int group);
// A port's ACS state as a colour: isolated green, partial yellow, off salmon, none grey.
std::string acs_colour(const std::string& summary);

// The machine, top-down: root complexes, root ports, switches (upstream port and downstream ports
// in a dashed box), bridges, endpoint functions; links labelled with gen/width. Ends with the
// legend: one entry per group ("group N: members") and the ACS colours.
std::string topology_svg(const ScenarioMachine& m);

// Element ids the verdict table links to: "s<scenario>-step<step>" (scenario 0-based as in the
// run, step 1-based as in the table).
std::string step_anchor(size_t scenario, int step);

// The timeline of one scenario. The time axis is piecewise: each step gets a column scaled to its
// own span (so a 10 ms wait and a 300 ns DMA are both readable), labelled with its start time.
// Each step's bar carries the id step_anchor(scenario, index).
std::string timeline_svg(const ScenarioTrace& t, size_t scenario);

}  // namespace pciesim::scenario
