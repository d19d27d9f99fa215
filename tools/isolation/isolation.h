// The isolation oracle behind `pciesim isolation` (docs/isolation.md): for every ordered pair of
// endpoint functions and every memory BAR of the target, where does a P2P write or read go?
//
//   open       the request reached the peer and never passed a root complex's host side, so no
//              IOMMU saw it;
//   via-iommu  the request reached the root complex's host side, where the remapping unit sits
//              (whatever happened next: translated, faulted, or routed back down);
//   blocked    it ended below the host side: an ACS violation (which bit, which port) or an
//              unsupported request at a named component.
//
// The ground truth is the fabric itself: real TLPs through Endpoint::dma(). For large machines an
// analytic walk along the same ports with the fabric's own ACS decision functions
// (models/pcie/acs.h) computes the matrix, and a random sample is confirmed with real TLPs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "groups/iommu_groups.h"
#include "pcie/fabric.h"
#include "pciesim/tlp.h"

namespace pciesim::isolation {

enum class PathClass : uint8_t { None, Blocked, ViaIommu, Open };  // ordered: the worst is the largest
const char* to_string(PathClass c);

// What one request did (from a real TLP's record, or from the analytic walk).
struct TlpResult {
  PathClass cls = PathClass::None;
  Outcome outcome = Outcome::Pending;  // terminal outcome
  AcsBit bit = AcsBit::None;           // BlockedByAcs: the bit
  HopId port = kNoHop;                 // where it ended (blocked / UR) or was delivered
  AcsBit redirect_bit = AcsBit::None;  // an ACS redirect on the way, if any
  HopId redirect_port = kNoHop;
  uint64_t addr = 0;                   // the request's address (a BAR base of the target)
  bool same_decision(const TlpResult& o) const;  // class, and for ACS blocks bit and port
};
std::string describe(const TlpResult& r);  // "open: delivered at nic1.f0", "blocked by ACS RR at sw0-dp1", ...

// One ordered pair: the worst of its requests (open > via-iommu > blocked) and the one that decided it.
struct PairCell {
  PathClass cls = PathClass::None;  // None: the target has no memory BAR (or source == target)
  TlpResult decisive;
  uint16_t requests = 0;            // TLPs (or walks) that make up the cell
  bool analytic = false;            // computed by the analytic walk
  bool confirmed = false;           // a real TLP of this pair was sent and agreed
};

// The matrix a report renders: rows are sources, columns targets, both `endpoints`.
struct IsolationMatrix {
  std::vector<const FunctionInfo*> endpoints;
  std::vector<PairCell> cells;  // row-major, endpoints.size()^2
  bool has_iommu = false;       // the topology has a remapping unit
  size_t size() const { return endpoints.size(); }
  PairCell& at(size_t from, size_t to) { return cells[from * endpoints.size() + to]; }
  const PairCell& at(size_t from, size_t to) const { return cells[from * endpoints.size() + to]; }
  size_t count(PathClass c) const;
};

// Endpoint functions (endpoints, RCiEPs, conventional devices), in BDF order.
std::vector<const FunctionInfo*> endpoint_functions(const Fabric& fabric);
// What a driver does before DMA (pci_set_master): Bus Master Enable on every endpoint function.
void enable_bus_masters(Fabric& fabric);
// The addresses one pair's requests go to: the base of every memory BAR of `target`.
std::vector<uint64_t> target_addresses(const FunctionInfo& target);

// The hops of one real request, "nvme0.f0 [0000:03:00.0] -> sw0-dp0 [...] -> ...".
std::string path_text(Fabric& fabric, const FunctionInfo& src, uint64_t addr, TlpKind kind);
// One real TLP: a 4-byte MemWrite or MemRead from `src` to `addr`, classified from its record.
TlpResult send_real(Fabric& fabric, const FunctionInfo& src, uint64_t addr, TlpKind kind);
// Every pair, every memory BAR, MemWrite and MemRead, as real TLPs.
IsolationMatrix exhaustive_matrix(Fabric& fabric);

struct SampleReport {
  unsigned sent = 0;       // requests sent as real TLPs
  std::vector<std::string> mismatches;  // analytic said X, the fabric did Y
};
// Confirms `n` random (pair, BAR, kind) requests of an analytic matrix with real TLPs. A
// mismatch is reported and the cell takes the fabric's answer.
SampleReport confirm_sample(Fabric& fabric, IsolationMatrix& m, unsigned n, uint64_t seed);

// Linux's groups against the fabric.
struct Disagreement {
  enum Kind : uint8_t {
    SplitButOpen,        // different groups (or one not grouped), yet a request passes without the IOMMU
    GroupedButIsolated,  // one group, yet no request passes either way without the IOMMU
  } kind;
  size_t a = 0, b = 0;   // matrix indices (for SplitButOpen: a -> b is open)
  int group_a = -1, group_b = -1;
};
struct Comparison {
  std::vector<int> group;  // per matrix index; -1 when Linux does not group it (or undecided)
  std::vector<Disagreement> disagreements;
  size_t split_but_open = 0, grouped_but_isolated = 0;
  bool agree() const { return disagreements.empty(); }
};
Comparison compare_with_groups(const IsolationMatrix& m, const groups::GroupResult& g);

// "0000:03:00.0 nic0.f0"
std::string label(const FunctionInfo& f);

}  // namespace pciesim::isolation
