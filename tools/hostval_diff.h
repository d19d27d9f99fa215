// The comparison engine of `pciesim hostval`: two host reports (docs/hostval.md), one from the
// simulator and one from a real host, compared field by field, and an allow-list that explains
// each deliberate difference. Plain C++, no SystemC.
//
// What is compared, and how:
// - "devices": matched by "bdf"; every other field compared recursively
//   (`devices[0000:01:00.0].acs.ctl`). A device on one side only is ONE difference at
//   `devices[BDF]` (kind only_simulator / only_host, the whole device as the value).
// - "groups": compared as partitions, never by number (Linux numbers groups in discovery order,
//   which differs between hosts): for every device in a group, the sorted BDFs of its group must be
//   equal (`groups[BDF]`, values the member lists, null where the device has no group). A device
//   that exists on one side only is skipped here: `devices[BDF]` already reports it.
// - "probes": matched by (device, driver) as `probes[BDF/driver]`; every field but those two
//   compared recursively (`probes[0000:01:00.0/vfio-pci].result.regions[0].flags`).
// - "dmar": only the first remapping unit's capability registers, from the line
//   "dmar0: reg_base_addr ... ver ... cap X ecap Y" (`dmar.cap`, `dmar.ecap`, values "0x..."). The
//   other lines are boot chatter whose wording and order follow the kernel version (and faults are
//   compared through the probes). Further units (dmar1...) are not compared yet.
// - Not compared: "schema" (the caller checks it before comparing), "source" (differs by
//   definition), "kernel" and "cmdline" (the simulator has no kernel build or boot command line of
//   its own), "lspci" (free text; what matters in it -- IDs, class, header type, ACS -- is compared
//   through devices[]).
// - Any other top-level key is compared recursively, so nothing new goes unseen.
//
// Recursive comparison: objects key by key; arrays whose elements are all objects with a unique
// "index" key (vfio_probe's regions[] and irqs[]) matched by that index (`regions[2]` is the element
// whose "index" is 2), other arrays by position; numbers, strings, booleans and null exactly (a
// string is never equal to a number: "0x3" != 3). A key or element on one side only is one difference
// (only_simulator / only_host; the missing side's value is null).
//
// Normalised fields -- values that are per-run by nature, so they are not compared as they are
// (kNormalisations in hostval_diff.cpp; keep this list minimal, everything else must show up):
// - devices[*].iommu_group and probes[*].result.group: group numbers; only "has a group or not".
// - probes[*].result.faults.lines[*].line: the text is compared from "DMAR:" on; what precedes it
//   is the kernel log's record prefix (timestamp, sequence number, level), different every run.
//
// Paths and allow-list globs: a path is split into segments at '.' and at each [...] (the brackets
// belong to their segment; a '.' inside brackets does not split). In a glob, '*' matches any run of
// characters within one segment (`[*]` any index, `devices[0000:00:1f.*]` the ICH9 functions), and a
// segment that is exactly '**' matches any number of segments, none included
// (`devices[0000:00:1f.*].**` is that device and every field of it). Object keys appear as they are;
// keys holding '.', '[' or ']' are ambiguous in a path and do not occur in the reports.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pciesim::hostval {

// One field whose values differ, or a field present on one side only.
struct Difference {
  std::string path;             // e.g. "devices[0000:01:00.0].acs.ctl"
  nlohmann::json simulator;     // null when kind is only_host
  nlohmann::json host;          // null when kind is only_simulator
  std::string kind;             // "differs", "only_simulator", "only_host"
  std::string allowed_by;       // the allow-list entry's id; empty if no entry explains it
  std::string reason;           // that entry's reason
};

// One entry of the allow-list file (tests/hostval/allow.yaml documents the format).
struct AllowEntry {
  std::string id;                            // unique in the file
  std::string path;                          // a glob over difference paths (see above)
  std::string topology;                      // only for this topology name; empty = every topology
  std::string reason;                        // required, non-empty: why the difference is deliberate
  std::optional<nlohmann::json> simulator;   // when given: applies only when the simulator's value
  std::optional<nlohmann::json> host;        //   (the host's value) is exactly this; null = absent
  int line = 0;                              // where the entry starts in its file (1-based)
};

// Every problem with an allow-list file; what() is "file:line:col: problem" as for topology files.
class AllowListError : public std::runtime_error {
 public:
  AllowListError(const std::string& file, int line, int column, const std::string& problem);
  const std::string& file() const { return m_file; }
  int line() const { return m_line; }

 private:
  std::string m_file;
  int m_line = 0;
};

// Reads an allow-list: a YAML list of mappings with keys id, path, reason (required), topology,
// simulator, host (optional); nothing else. An empty file (or one with only comments) is an empty
// list. Values under simulator/host: a plain scalar is null (~, null), a boolean (true, false) or a
// number when it is a decimal integer or real, else a string -- so an unquoted 0x001d is the string
// "0x001d", as the reports write hex values; quoted scalars are always strings; lists and mappings
// become JSON arrays and objects. Throws AllowListError (not a list, an item that is not a mapping,
// an unknown or repeated key, a missing or empty id/path/reason, a duplicate id, a bad glob, YAML
// syntax).
std::vector<AllowEntry> load_allow_list(const std::string& file);
// The same for text in memory; errors name `pretend_filename`.
std::vector<AllowEntry> load_allow_list_string(const std::string& yaml,
                                               const std::string& pretend_filename = "<string>");

// Empty when `glob` is well formed, else the problem (empty glob or segment, unbalanced or nested
// brackets, '**' that is not a whole segment or inside brackets).
std::string glob_problem(const std::string& glob);
// Whether `path` matches `glob` (a well-formed glob; see above).
bool path_matches(const std::string& glob, const std::string& path);

// The result of compare(): the differences in report order (dmar, devices by BDF, groups by BDF,
// probes by device/driver, other keys), and how many fields were compared -- every leaf compared
// equal, every difference (a one-sided subtree counts once), every group membership.
struct Comparison {
  std::vector<Difference> differences;
  size_t compared = 0;
  size_t allowed() const;      // differences an allow-list entry explains
  size_t unexplained() const;  // the others: a hostval run passes when this is 0
};

// Compares two host reports field by field and marks each difference with the first allow entry
// (in file order) whose path glob matches, whose topology is empty or equal to `topology`, and whose
// simulator/host values, when given, equal the difference's. Throws std::invalid_argument naming the
// report and the problem when a report is malformed (devices/probes not lists, a device without
// "bdf", a duplicate BDF or probe, a device in two groups...).
Comparison compare(const nlohmann::json& simulator, const nlohmann::json& host, const std::vector<AllowEntry>& allow,
                   const std::string& topology);

// A plain-text table, one difference a line: path, simulator value, host value (compact JSON cut to
// about 40 characters -- from shortly before the first differing character when two long values share
// a long prefix; "(absent)" for a side that has no such field), verdict ("allowed (<id>)" or
// "DIFFERS"); then "N fields compared, D differences, A allowed, U unexplained". Without
// differences, only that line.
std::string format_table(const Comparison& comparison);

}  // namespace pciesim::hostval
