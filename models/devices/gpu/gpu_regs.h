// The pciesim GPU's programming interface (docs/gpu.md, "Registers"): BAR0 register offsets and
// fields, the copy engine's command format, the fault buffer entry and the MSI-X vectors. This is
// the contract between the device model (gpu_device.*), the variant driver's GPU personality
// (vfio_driver/variant_main.c, which defines the few registers it needs itself, as a real driver
// would) and the VFIO client (tools/vfio_probe). Change it only together with docs/gpu.md.
//
// The GMMU's page tables are NVIDIA's (gmmu_format.h, hardware-facts 4) and so are the instance
// block's PDB words (Volta dev_ram dwords 128/129) and the fault buffer entry's layout (Volta
// dev_fault.h NV_MMU_FAULT_BUF_ENTRY, 32 bytes). The register map and the copy-engine command
// format are the model's own: NVIDIA's are method streams on channels (pushbuffers, GPFIFO),
// which a bring-up driver does not need to exercise isolation; ours keep the parts that matter
// to it: per-context page-directory bases, a ring in GPU virtual memory with a doorbell,
// semaphores, interrupts, invalidation by all / context / VA, and a fault buffer with GET/PUT.
#pragma once

#include <cstdint>

namespace pciesim::gpu::regs {

// ---- identity --------------------------------------------------------------------------------
// QEMU's test vendor id, as edu's 1234:11e8; 0x9e10 is used by no QEMU device (1234:1111 is the
// bochs display, 1234:11e8 edu). Class 0x030200 (3D controller), or 0x030000 with the VGA option.
constexpr uint16_t kVendorId = 0x1234, kDeviceId = 0x9e10;
constexpr uint32_t kClass3d = 0x030200, kClassVga = 0x030000;

// BAR0: registers, 32-bit non-prefetchable, 16 MiB as NVIDIA GPUs' BAR0 (lspci of any GeForce /
// Tesla: "Memory at ... (32-bit, non-prefetchable) [size=16M]"). The MSI-X table and PBA sit in
// its last 4 KiB page (models/pcie/capabilities.cpp default_msix_layout).
constexpr uint64_t kBar0Size = uint64_t{16} << 20;
// BAR1: the VRAM aperture, 64-bit prefetchable; 256 MiB unless the topology says otherwise
// (the classic non-resizable BAR1 of GeForce parts; data-centre parts expose all of VRAM).
constexpr uint64_t kBar1DefaultSize = uint64_t{256} << 20;

// ---- BAR0 register offsets (all 32-bit, little-endian) -----------------------------------------
constexpr uint32_t kBoot0 = 0x000000;          // RO  kBoot0Value
constexpr uint32_t kVersion = 0x000004;        // RO  interface version (kVersionValue)
constexpr uint32_t kVramSizeLo = 0x000008;     // RO  VRAM bytes, low word
constexpr uint32_t kVramSizeHi = 0x00000c;     // RO  VRAM bytes, high word
constexpr uint32_t kMmuFormat = 0x000010;      // RO  kMmuFormat* : page-table format of every context
constexpr uint32_t kCaps = 0x000014;           // RO  [7:0] contexts, [15:8] peer slots, [23:16] copy engines
constexpr uint32_t kScratch = 0x000018;        // RW  plain storage, 0 after reset (liveness checks)
constexpr uint32_t kBar1SizeLo = 0x00001c;     // RO  BAR1 bytes (low word; high word at +4)
constexpr uint32_t kBar1SizeHi = 0x000020;

constexpr uint32_t kBoot0Value = 0x9e10c0de;
constexpr uint32_t kVersionValue = 0x00010000;  // 1.0
constexpr uint32_t kMmuFormatV2Pascal = 2, kMmuFormatV2Ampere = 0x12, kMmuFormatV3Hopper = 3;

// Interrupts. STATUS is write-1-to-clear; a bit raises its MSI-X vector (below) on its 0 -> 1
// transition while ENABLE has it. INTx (INTA) follows (STATUS & ENABLE) != 0 when MSI-X is off.
constexpr uint32_t kIntrStatus = 0x000100;
constexpr uint32_t kIntrEnable = 0x000104;
constexpr uint32_t kIntrCeDone = 1u << 0;       // a command with kCeFlagInterrupt completed
constexpr uint32_t kIntrCeError = 1u << 1;      // the copy engine stopped on an error (CE_STATUS)
constexpr uint32_t kIntrMmuFault = 1u << 2;     // an entry was written to the fault buffer
constexpr uint32_t kIntrFaultOverflow = 1u << 3;  // a fault found the buffer full (dropped, counted)

// Contexts: context i's instance block pointer at kCtxInstBase + i * kCtxInstStride.
//   +0 INST_LO: [1:0] target (kTarget*), [2] VALID, [31:12] instance block address [31:12]
//   +4 INST_HI: instance block address [63:32]
// The instance block (4 KiB aligned, in VRAM or system memory) holds the PDB in dwords 128/129
// (gmmu_format.h decode_instance_pdb). A context without VALID faults UNBOUND_INST_BLOCK.
constexpr uint32_t kCtxInstBase = 0x001000, kCtxInstStride = 8;
constexpr unsigned kMaxContexts = 64;
constexpr uint32_t kInstValid = 1u << 2;
constexpr uint32_t kTargetVideo = 0, kTargetSysCoherent = 2, kTargetSysNonCoherent = 3;  // dev_ram TARGET

// BAR1 context: CPU accesses to BAR1 are translated by it.
//   BAR1_BLOCK: [31] VIRTUAL, [5:0] context id. VIRTUAL clear (reset): BAR1 offset = VRAM address.
constexpr uint32_t kBar1Block = 0x001800;
constexpr uint32_t kBar1Virtual = 1u << 31;

// Peer apertures: the bus address of peer id p's BAR1 (p = 0..7), as the driver programs it for
// PTEs with aperture PEER and PEER_ID p. A peer access becomes a memory request to that address
// plus the page's address: P2P through the fabric, subject to ACS and, where redirected, the IOMMU.
constexpr uint32_t kPeerBar1Base = 0x001900, kPeerStride = 8;  // +0 LO, +4 HI
constexpr unsigned kMaxPeers = 8;

// GMMU TLB invalidation (the window the variant driver traps, docs/gpu.md):
//   INVAL_CTX: context id for a by-context or by-VA invalidation
//   INVAL_VA_LO/HI: the VA (4 KiB aligned) for a by-VA invalidation
//   INVALIDATE: write [1:0] scope (kInvalAll, kInvalContext, kInvalVa) with [31] TRIGGER; reads
//               [31] PENDING (always 0: the model completes an invalidation before the write does)
//   INVAL_COUNT: RO invalidations done since reset
constexpr uint32_t kInvalWindowBase = 0x002000, kInvalWindowSize = 0x1000;
constexpr uint32_t kInvalCtx = 0x002000;
constexpr uint32_t kInvalVaLo = 0x002004, kInvalVaHi = 0x002008;
constexpr uint32_t kInvalidate = 0x00200c;
constexpr uint32_t kInvalCount = 0x002010;
constexpr uint32_t kInvalAll = 0, kInvalContext = 1, kInvalVa = 2, kInvalTrigger = 1u << 31;

// Fault buffer (replayable-fault-buffer style ring of kFaultEntrySize-byte entries):
//   FAULT_BUF_LO: [1:0] target, [31:12] address [31:12]; FAULT_BUF_HI: address [63:32]
//   FAULT_BUF_SIZE: entries (power of two, 0 = disabled); GET: RW, software's next entry;
//   PUT: RO, the model's next entry; FAULT_CTRL: [0] ENABLE, [1] OVERFLOW (W1C)
//   FAULT_COUNT: RO faults seen since reset, FAULT_DROPPED: RO faults not written (full/disabled)
// The buffer address is a physical address in its target (system: an IOVA under the IOMMU).
constexpr uint32_t kFaultBufLo = 0x003000, kFaultBufHi = 0x003004, kFaultBufSize = 0x003008;
constexpr uint32_t kFaultGet = 0x00300c, kFaultPut = 0x003010, kFaultCtrl = 0x003014;
constexpr uint32_t kFaultCount = 0x003018, kFaultDropped = 0x00301c;
constexpr uint32_t kFaultEnable = 1u << 0, kFaultOverflow = 1u << 1;

// Copy engine 0:
//   CE_CTX: context id the engine translates through
//   CE_RING_LO/HI: address of the ring (64-byte aligned); CE_RING_SIZE: entries (power of two).
//     RING_LO [2] PHYSICAL: the ring is at a physical address in target [1:0] (kTarget*), not a
//     GPU VA (a driver uses this to scrub VRAM without building page tables)
//   CE_PUT: doorbell, software writes the index after its last command; CE_GET: RO, next to run
//   CE_STATUS: RO [0] BUSY, [1] HALTED (stopped on an error), [15:8] error (kCeErr*),
//              [31:16] the index of the failing command (GET stays on it while HALTED);
//   CE_CTRL: write [0] RESUME after an error: clears HALTED and the error, skips the failed
//              command (GET moves past it, no semaphore, no interrupt) and goes on with the next
//   A failed READ (an IOMMU fault or UR/CA completion for a system or peer read) halts the engine
//   with kCeErrBusError; a failed posted WRITE cannot be seen by the engine (no completion,
//   PCIe 2.4.1): the data is lost, the IOMMU records its fault, and the engine goes on.
//   CE_COMPLETED: RO commands completed since reset; CE_BYTES_LO/HI: RO bytes copied
constexpr uint32_t kCeBase = 0x004000;
constexpr uint32_t kCeCtx = 0x004000, kCeRingLo = 0x004004, kCeRingHi = 0x004008, kCeRingSize = 0x00400c;
constexpr uint32_t kCePut = 0x004010, kCeGet = 0x004014, kCeStatus = 0x004018, kCeCtrl = 0x00401c;
constexpr uint32_t kCeCompleted = 0x004020, kCeBytesLo = 0x004024, kCeBytesHi = 0x004028;
constexpr uint32_t kCeBusy = 1u << 0, kCeHalted = 1u << 1, kCeResume = 1u << 0;
constexpr uint32_t kCeRingPhysical = 1u << 2, kCeRingTargetMask = 3u;
enum CeError : uint8_t {
  kCeErrNone = 0,
  kCeErrRingFault = 1,     // reading the command faulted in the GMMU (see the fault buffer)
  kCeErrSrcFault = 2,      // the source faulted in the GMMU
  kCeErrDstFault = 3,      // the destination faulted in the GMMU
  kCeErrSemFault = 4,      // the semaphore write faulted in the GMMU
  kCeErrBadCommand = 5,    // unknown opcode, zero or over-long length, misaligned ring
  kCeErrBusError = 6,      // an upstream or peer request failed (IOMMU fault, UR, CA, ACS)
};

// ---- copy-engine command: 64 bytes in the ring, little-endian --------------------------------
//   +0x00 u32 opcode (kCeOp*)   +0x04 u32 flags (kCeFlag*)
//   +0x08 u64 source VA         +0x10 u64 destination VA   +0x18 u64 length (bytes)
//   +0x20 u64 semaphore VA      +0x28 u64 semaphore payload (written as 8 bytes)
//   +0x30 reserved (0)
// A FILL of zeros over VRAM pages never written must stay cheap in wall time (the sparse backing
// is not allocated for it); the driver's scrub fills all of VRAM this way.
constexpr uint32_t kCeCommandSize = 64;
constexpr uint32_t kCeOpNop = 0, kCeOpCopy = 1, kCeOpFill = 2;  // FILL: payload's low byte as the pattern
constexpr uint32_t kCeFlagSemaphore = 1u << 0;  // write the payload to the semaphore VA when done
constexpr uint32_t kCeFlagInterrupt = 1u << 1;  // raise kIntrCeDone when done
// Physical addressing, as NVIDIA's copy classes have it (LAUNCH_DMA SRC_TYPE / DST_TYPE PHYSICAL
// with SET_SRC_PHYS_MODE / SET_DST_PHYS_MODE TARGET LOCAL_FB / COHERENT_SYSMEM / NONCOHERENT_SYSMEM,
// open-gpu-kernel-modules clc6b5.h): the source or destination is a physical address in the
// target given by [5:4] (source) or [7:6] (destination), kTarget* values; no GMMU translation.
constexpr uint32_t kCeFlagSrcPhysical = 1u << 2, kCeFlagDstPhysical = 1u << 3;
constexpr unsigned kCeFlagSrcTargetShift = 4, kCeFlagDstTargetShift = 6;
constexpr uint64_t kCeMaxLength = uint64_t{1} << 32;

// ---- fault buffer entry: 32 bytes (Volta dev_fault.h NV_MMU_FAULT_BUF_ENTRY) -------------------
//   dw0 [9:8] instance aperture, [31:12] instance block address [31:12]; dw1 address [63:32]
//   dw2 [1:0] physical aperture (0 for a virtual fault), [31:12] fault VA [31:12]; dw3 VA [63:32]
//   dw4/5 timestamp (ns of simulated time)
//   dw6 [8:0] engine id (kEngine*)
//   dw7 [4:0] fault type (gmmu_walk.h GmmuFaultType), [14:8] client (kClient*),
//       [19:16] access type (kAccess*), [20] client type (0 GPC, 1 HUB), [31] VALID
constexpr uint32_t kFaultEntrySize = 32;
constexpr uint32_t kEngineCe0 = 15, kEngineBar1 = 4;   // Volta dev_fault.h: BAR1 4, CE0 15
// (verified: open-gpu-kernel-modules kernel-open/nvidia-uvm/hwref/volta/gv100/dev_fault.h
// NV_PFAULT_MMU_ENG_ID_BAR1 4, _CE0 15; Turing/Ampere moved BAR1 to 128, Hopper to 256)
// HUB clients, NVIDIA's values (kernel-open/nvidia-uvm/hwref/volta/gv100/dev_fault.h): CE0 is
// NV_PFAULT_CLIENT_HUB_CE0 = 0x01 (0x0f there is HUB_P2P); a CPU access through BAR1 reports
// NV_PFAULT_CLIENT_HUB_HOST_CPU = 0x07 (the model's choice of client for BAR1).
constexpr uint32_t kClientCe0 = 0x01, kClientBar1 = 0x07;
constexpr uint32_t kAccessRead = 0, kAccessWrite = 1, kAccessAtomic = 2;  // NV_PFAULT_ACCESS_TYPE
constexpr uint32_t kFaultValid = 1u << 31;

// ---- MSI-X vectors ------------------------------------------------------------------------------
constexpr unsigned kVectorCe = 0, kVectorMmuFault = 1, kVectorError = 2, kMsixVectors = 4;

}  // namespace pciesim::gpu::regs
