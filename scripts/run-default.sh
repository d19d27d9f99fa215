#!/usr/bin/env bash
# The main job: the default scenario suite (`pciesim run`: scenarios/library/, a verdict table,
# exit 0 only when every expectation holds; docs/scenarios.md), the isolation oracle on the case
# that matters most (docs/isolation.md), then a walk through the other commands: topologies drawn
# as `lspci -tv` does, TLPs routed one behaviour each, the co-simulated kernel booting, vfio_probe
# through VFIO. Exits non-zero if a scenario fails or any command fails.
set -euo pipefail
cd "$(dirname "$0")/.."
sim=./build/pciesim
topos=scenarios/topologies

section() { printf '\n==== %s\n' "$*"; }
run() { printf '\n$ pciesim %s\n' "$*"; "$sim" "$@"; }

section "The default scenario suite (and its HTML report: build/report/index.html, trace: build/report/trace.json)"
run run --report build/report

section "The isolation oracle: Linux's groups against the fabric's P2P paths (exit 1 = they disagree, as here)"
printf '\n$ pciesim isolation %s\n' "$topos/switch-no-acs-p2p.yaml"
status=0
"$sim" isolation "$topos/switch-no-acs-p2p.yaml" || status=$?
[ "$status" -eq 1 ] || { echo "pciesim isolation: expected exit 1 (groups and fabric disagree), got $status" >&2; exit 1; }

section "Topologies (firmware enumeration, then the tree)"
for t in two-level-switch pci-bridge multifunction-no-acs pci-chain; do
  run topo "$topos/$t.yaml"
done
printf '\n$ pciesim topo %s --json  (10,000+ functions; summary)\n' "$topos/generated-10k.yaml"
"$sim" topo "$topos/generated-10k.yaml" --json | grep -c '"bdf"' | sed 's/^/functions enumerated: /'

section "Routing: DMA, peer-to-peer and ACS"
t=$topos/two-level-switch.yaml
run route "$t" --from nvme0 --to 0x1000                      # DMA up two switch levels to DRAM
run route "$t" --from nvme0 --to nvme1:BAR0+0x100 --read     # P2P turns at sw1: ports without ACS
run route "$t" --from gpu0 --to nvme0:BAR0                   # sw1-dp2 has ACS RR: redirected up
run route "$t" --from qat0 --to gpu0:BAR1                    # egress vector at sw0-dp2 names port 1
run route "$t" --from nic0.f0 --to nic0.f1:BAR0             # between functions of one device
run route "$t" --from nic1 --to 0x2000 --at translated       # rp1 without TB: translated passes
run route "$t" --from nvme0 --to 0x2000 --no-bus-master      # Bus Master Enable clear: not issued
t=$topos/pci-bridge.yaml
run route "$t" --from edu0 --to 0x3000                       # requester id becomes the bridge's
run route "$t" --from edu0 --to e1000:BAR0                   # P2P on the conventional bus
t=$topos/multifunction-no-acs.yaml
run route "$t" --from mf0.f0 --to mf0.f1:BAR0                # inside the device, never on the link

section "The co-simulated kernel: PCI scan, intel-iommu bring-up, Linux's IOMMU groups"
run boot "$topos/edu.yaml"
run groups "$topos/two-level-switch.yaml"

section "VFIO: vfio_probe (the same C client a real host runs) against edu through Linux's vfio-pci and our variant driver"
run probe "$topos/edu.yaml" edu0 --driver vfio-pci
run probe "$topos/edu.yaml" edu1                              # behind the bridge: faults as 03:00.0

section "The GPU through VFIO: page tables in VRAM, the copy engine through the IOMMU, an IOMMU fault and a GMMU fault"
run probe "$topos/gpu.yaml" gpu0                              # our variant driver's GPU personality
