// PCIESIM_HOT_INLINE: for the few small functions on the per-transaction fast paths (a link's
// transmission of one TLP, the route cache's replay step) that the -O2 build leaves out of line.
// Inlining them into the replay loop removes a call and a register save per link and TLP, which
// bench/bench_iommu_speed and bench_fabric_speed measure. Not for anything else.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define PCIESIM_HOT_INLINE inline __attribute__((always_inline))
#else
#define PCIESIM_HOT_INLINE inline
#endif
