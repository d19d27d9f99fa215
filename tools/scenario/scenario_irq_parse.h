// Parsing of the interrupt steps (irq_setup, irte, msi in all its forms) and of the `interrupt`
// expectation keys; scenario_parser.cpp calls these from its step and expect switches. Errors are
// ScenarioError with file:line:col and the field, as everywhere else in the parser.
#pragma once

#include <set>
#include <sstream>
#include <string>

#include "scenario.h"

namespace YAML {
class Node;
}

namespace pciesim::scenario {

// The body of `irq_setup: {device, vectors, type}`.
void parse_irq_setup(const YAML::Node& body, const std::string& file, Step& st, std::ostringstream& label);
// The body of `irte: {device, vector, set: {...}, invalidate}`.
void parse_irte(const YAML::Node& body, const std::string& file, Step& st, std::ostringstream& label);
// The body of `msi`: {from, vector} (own), {from, copy, vector[, spoof]} or {from, address, data[, spoof]}.
void parse_msi(const YAML::Node& body, const std::string& file, Step& st, std::ostringstream& label);

// The expectation keys an msi step adds: interrupt, vector, destination, eventfd.
const std::set<std::string>& interrupt_expect_keys();
// Reads them from an msi step's expect mapping into e.interrupt, and checks they agree with the
// step and with e's other outcomes (interrupt: delivered with iommu_fault, ...).
void parse_interrupt_expect(const YAML::Node& n, const std::string& file, const Step& st, Expect& e);

}  // namespace pciesim::scenario
