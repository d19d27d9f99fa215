#include "iommu/walk.h"

#include <algorithm>

namespace pciesim::vtd {

namespace {

using FR = FaultReason;

Translation with_fault(Translation t, FaultReason r, bool fpd) {
  t.fault = r;
  t.fault_suppressed = fpd && is_qualified(r);
  return t;
}

bool in_interrupt_range(uint64_t a) { return a >= kInterruptRangeFirst && a <= kInterruptRangeLast; }

Translation pass_through(Translation t, uint64_t addr) {
  t.pass_through = true;
  t.output = addr;
  t.page_size = kPageSize;
  t.rights = Rights{true, true, true};
  return t;
}

// Adds what the earlier stages did (reads, domain) to a walk's result and applies FPD.
void finish_walk(Translation& w, const Translation& before, bool fpd) {
  w.memory_reads += before.memory_reads;
  w.domain_id = before.domain_id;
  w.snoop = w.snoop || before.snoop;
  if (!w.ok()) w.fault_suppressed = fpd && is_qualified(w.fault);  // with_fault(w, w.fault, fpd)
}

}  // namespace

bool is_qualified(FaultReason r) {
  switch (r) {
    case FR::None:
    // root and context structures: access errors and reserved fields are always recorded
    case FR::RootNotPresent: case FR::RootAccess: case FR::ContextAccess:
    case FR::RootReserved: case FR::ContextReserved:
    case FR::SmRootTableInvalid: case FR::SmTtmZeroWithPasid: case FR::SmRootAccess:
    case FR::SmRootNotPresent: case FR::SmRootReserved: case FR::SmContextAccess:
    case FR::SmContextReserved:
    // PASID structures: access errors and reserved fields
    case FR::SmPasidDirAccess: case FR::SmPasidDirReserved: case FR::SmPasidEntryAccess:
    case FR::SmPasidEntryReserved:
      return false;
    default:
      return !is_interrupt_fault(r);
  }
}

// --- stage 1 ---------------------------------------------------------------------------------
// VT-d 3.4.1 (legacy) / 3.4.3 (scalable): RTADDR -> root entry[bus] -> context entry[devfn].
ContextResult lookup_context(const MemReader& mem, uint64_t rtaddr, RequesterId source,
                             const Capabilities& caps) {
  ContextResult r;
  const RootTableAddress rta = decode_rtaddr(rtaddr);
  const unsigned haw = host_address_width(caps);
  const bool sm = rta.mode == TableMode::Scalable;
  r.mode = rta.mode;
  auto fail = [&r, sm](FaultReason legacy, FaultReason scalable) {
    r.fault = sm ? scalable : legacy;
    return r;
  };
  // TTM 10 is reserved and 11 aborts DMA (hardware-facts 1.5, unconfirmed); scalable mode needs
  // ECAP.SMTS; a root table beyond HAW cannot be addressed.
  if (rta.mode == TableMode::Reserved || rta.mode == TableMode::AbortDma ||
      (sm && (!caps.smts() || (rta.base & ~low_bits(haw)))))
    return fail(FR::SmRootTableInvalid, FR::SmRootTableInvalid);

  RootRaw root{};
  ++r.memory_reads;
  if (!mem.read(root_entry_address(rta.base, source.bus), root.data(), kRootEntrySize))
    return fail(FR::RootAccess, FR::SmRootAccess);
  const RootEntry re = decode_root(root, rta.mode, source.devfn);
  if (!re.present) return fail(FR::RootNotPresent, FR::SmRootNotPresent);
  if (check_root(root, rta.mode, source.devfn, haw) != EntryCheck::Ok)
    return fail(FR::RootReserved, FR::SmRootReserved);

  ContextRaw ctx{};
  ++r.memory_reads;
  if (!mem.read(context_entry_address(re, rta.mode, source.devfn), ctx.data(),
                sm ? kScalableContextSize : kLegacyContextSize))
    return fail(FR::ContextAccess, FR::SmContextAccess);
  r.entry = sm ? decode_scalable_context(ctx) : decode_legacy_context(ctx);
  if (!r.entry.present) return fail(FR::ContextNotPresent, FR::SmContextNotPresent);
  r.fpd = r.entry.fpd;
  switch (sm ? check_scalable_context(ctx, caps) : check_legacy_context(ctx, caps)) {
    case EntryCheck::Reserved: return fail(FR::ContextReserved, FR::SmContextReserved);
    case EntryCheck::Invalid: return fail(FR::ContextInvalid, FR::SmContextInvalid);
    case EntryCheck::Ok: break;
  }
  return r;
}

// --- stage 2 ---------------------------------------------------------------------------------
// VT-d 3.4.3: PASID directory entry[PASID 19:6] -> PASID table entry[PASID 5:0].
PasidResult lookup_pasid(const MemReader& mem, const ContextEntry& context, uint32_t pasid,
                         const Capabilities& caps) {
  PasidResult r;
  r.fpd = context.fpd;
  auto fail = [&r](FaultReason f) {
    r.fault = f;
    return r;
  };
  if (pasid >= pasid_limit(context.pdts) || (uint64_t{pasid} >> (caps.pss() + 1)) != 0)
    return fail(FR::SmPasidTooLarge);

  uint64_t dir_raw = 0;
  ++r.memory_reads;
  if (!mem.read(pasid_dir_entry_address(context.pasid_dir_ptr, pasid), &dir_raw, kPasidDirEntrySize))
    return fail(FR::SmPasidDirAccess);
  const PasidDirEntry dir = decode_pasid_dir(dir_raw);
  r.fpd = r.fpd || dir.fpd;
  if (!dir.present) return fail(FR::SmPasidDirNotPresent);
  if (check_pasid_dir(dir_raw, host_address_width(caps)) != EntryCheck::Ok) return fail(FR::SmPasidDirReserved);

  PasidRaw raw{};
  ++r.memory_reads;
  if (!mem.read(pasid_entry_address(dir.table, pasid), raw.data(), kPasidEntrySize))
    return fail(FR::SmPasidEntryAccess);
  r.entry = decode_pasid_entry(raw);
  r.fpd = r.fpd || r.entry.fpd;
  if (!r.entry.present) return fail(FR::SmPasidEntryNotPresent);
  switch (check_pasid_entry(raw, caps)) {
    case EntryCheck::Reserved: return fail(FR::SmPasidEntryReserved);
    case EntryCheck::Invalid: return fail(FR::SmPasidEntryInvalid);
    case EntryCheck::Ok: break;
  }
  return r;
}

// --- stage 3 ---------------------------------------------------------------------------------
SlOptions SlOptions::from(const Capabilities& caps, bool scalable) {
  SlOptions o;
  o.format = sl_format(caps, scalable);
  o.mgaw = caps.mgaw();
  return o;
}

// VT-d 3.7 / 9.8: second-level translation. Rights are the AND of R/W over all levels (QEMU
// vtd_iova_to_slpte checks them at every level, so a missing right faults where it goes missing).
Translation walk_second_level(const MemReader& mem, uint64_t root, int levels, uint64_t iova, bool write,
                              const SlOptions& opts, WalkTrace* trace, const WalkStart& start) {
  Translation t;
  const bool sm = opts.format.scalable;
  auto fail = [&t, sm](FaultReason legacy, FaultReason scalable) {
    t.fault = sm ? scalable : legacy;
    return t;
  };
  if (levels < 2 || levels > 5 || start.level < 0 || start.level > levels)
    return fail(FR::ContextInvalid, FR::SmPasidEntryInvalid);
  const unsigned width = std::min<unsigned>(width_for_levels(levels), opts.mgaw);
  if (width < 64 && (iova >> width) != 0) return fail(FR::AddressBeyondAgaw, FR::SmAddressBeyondMax);

  int level = start.level ? start.level : levels;
  uint64_t table = (start.level ? start.table : root) & kPageMask;
  uint8_t perms = start.level ? start.perms : kPermAll;
  for (; level >= 1; --level) {
    if (trace) {
      trace->table[level] = table;
      trace->perms[level] = perms;
    }
    uint64_t raw = 0;
    ++t.memory_reads;
    if (!mem.read(table + uint64_t{level_index(iova, level)} * kPagingEntrySize, &raw, kPagingEntrySize))
      return fail(FR::SlEntryAccess, FR::SmSlEntryAccess);
    const SlEntry e = decode_sl_entry(raw);
    if (!e.present()) {
      if (!opts.check_access) {  // ATS: a successful completion with R = W = 0
        t.page_size = level_size(level);
        t.rights = Rights{};
        return t;
      }
      return fail(write ? FR::WriteDenied : FR::ReadDenied, FR::SmSlPermission);
    }
    if (sl_reserved_bits(raw, level, opts.format)) return fail(FR::SlEntryReserved, FR::SmSlEntryReserved);
    perms &= static_cast<uint8_t>((e.read ? kPermRead : 0) | (e.write ? kPermWrite : 0) | kPermExecute | kPermUser);
    if (opts.check_access) {
      if (write && !(perms & kPermWrite)) return fail(FR::WriteDenied, FR::SmWriteDenied);
      if (!write && !(perms & kPermRead)) return fail(FR::ReadDenied, FR::SmReadDenied);
    }
    if (level == 1 || e.ps) {  // a PS the format does not allow was caught as reserved
      const uint64_t size = level_size(level);
      t.page_size = size;
      t.output = (e.addr & ~(size - 1)) | (iova & (size - 1));
      const bool r = perms & kPermRead;
      t.rights = Rights{r, (perms & kPermWrite) != 0, r};
      t.snoop = e.snp && opts.format.snoop_control;
      return t;
    }
    table = e.addr;
  }
  return fail(FR::ContextInvalid, FR::SmPasidEntryInvalid);  // not reached: level 1 is a leaf
}

// --- stage 4 ---------------------------------------------------------------------------------
FlOptions FlOptions::from(const Capabilities& caps, const PasidEntry& pasid) {
  FlOptions o;
  o.levels = pasid.fl_levels();
  o.format = FlFormat{host_address_width(caps), caps.fl1gp()};
  o.wpe = pasid.wpe;
  return o;
}

// VT-d 3.6 / 9.7: first-level translation in the x86-64 format; VT-d 3.8: nested, every table
// pointer and the final address are guest-physical and go through the second level.
Translation walk_first_level(const MemReader& mem, uint64_t flptptr, uint64_t va, const FlAccess& access,
                             const FlOptions& opts, WalkTrace* trace, const WalkStart& start) {
  Translation t;
  auto fail = [&t](FaultReason r) {
    t.fault = r;
    return t;
  };
  const int levels = opts.levels;
  if ((levels != 4 && levels != 5) || start.level < 0 || start.level > levels) return fail(FR::SmPasidEntryInvalid);
  // VT-d 3.6: canonical input addresses only (bits 63:N-1 equal, N = 48 or 57)
  const unsigned width = width_for_levels(levels);
  const uint64_t upper = va >> (width - 1);
  if (upper != 0 && upper != (~0ull >> (width - 1))) return fail(FR::SmFlNonCanonical);

  // Nested: a first-level table pointer through the second level (read access).
  auto resolve_table = [&](uint64_t gpa, bool top, uint64_t& hpa) -> FaultReason {
    if (!opts.nested) {
      hpa = gpa & kPageMask;
      return FR::None;
    }
    const NestedSecondLevel& n = *opts.nested;
    SlOptions so = n.opts;
    so.check_access = true;
    const Translation s = walk_second_level(mem, n.root, n.levels, gpa & kPageMask, false, so);
    t.memory_reads += s.memory_reads;
    hpa = s.output & kPageMask;
    switch (s.fault) {
      case FR::None: return FR::None;
      case FR::SmAddressBeyondMax: return FR::SmNestedFlAddressBeyond;
      case FR::SmSlPermission: case FR::SmReadDenied: return top ? FR::SmNestedFlPml4Read : FR::SmNestedFlRead;
      default: return s.fault;
    }
  };

  int level = start.level ? start.level : levels;
  uint8_t perms = start.level ? start.perms : kPermAll;
  uint64_t table = start.table & kPageMask;
  if (!start.level) {
    const FaultReason f = resolve_table(flptptr, true, table);
    if (f != FR::None) return fail(f);
  }
  for (;; --level) {
    if (trace) {
      trace->table[level] = table;
      trace->perms[level] = perms;
    }
    uint64_t raw = 0;
    ++t.memory_reads;
    if (!mem.read(table + uint64_t{level_index(va, level)} * kPagingEntrySize, &raw, kPagingEntrySize))
      return fail(opts.nested && level == levels ? FR::SmNestedFlPml4Access : FR::SmFlEntryAccess);
    const FlEntry e = decode_fl_entry(raw);
    if (!e.present) {
      if (!opts.check_access) {  // ATS: R = W = 0
        t.page_size = level_size(level);
        t.rights = Rights{};
        return t;
      }
      return fail(FR::SmFlEntryNotPresent);
    }
    if (fl_reserved_bits(raw, level, opts.format)) return fail(FR::SmFlEntryReserved);
    perms &= static_cast<uint8_t>(kPermRead | (e.write ? kPermWrite : 0) | (e.user ? kPermUser : 0) |
                                  (e.xd ? 0 : kPermExecute));
    if (level > 1 && !e.ps) {
      const FaultReason f = resolve_table(e.addr, false, table);
      if (f != FR::None) return fail(f);
      continue;
    }
    // VT-d 3.6.1: user requests need U/S everywhere; writes need R/W everywhere unless a
    // supervisor request with WPE clear; execute needs XD clear everywhere.
    const uint64_t size = level_size(level);
    const bool can_read = !access.user || (perms & kPermUser);
    const bool can_write = can_read && ((perms & kPermWrite) || (!access.user && !opts.wpe));
    const bool can_exec = can_read && (perms & kPermExecute);
    if (opts.check_access) {
      if (!can_read) return fail(FR::SmFlUserDenied);
      if (access.write && !can_write) return fail(FR::SmWriteDenied);
      if (access.execute && !can_exec) return fail(FR::SmFlExecuteDenied);
    }
    t.rights = Rights{can_read, can_write, can_exec};
    t.page_size = size;
    t.output = (e.addr & ~(size - 1)) | (va & (size - 1));
    if (opts.nested) {
      const NestedSecondLevel& n = *opts.nested;
      SlOptions so = n.opts;
      so.check_access = opts.check_access;
      const Translation s = walk_second_level(mem, n.root, n.levels, t.output, access.write, so);
      t.memory_reads += s.memory_reads;
      if (!s.ok()) return fail(s.fault == FR::SmAddressBeyondMax ? FR::SmNestedFlAddressBeyond : s.fault);
      t.output = s.output;
      t.page_size = std::min(size, s.page_size);
      t.rights = Rights{t.rights.read && s.rights.read, t.rights.write && s.rights.write,
                        t.rights.execute && s.rights.read};
      t.snoop = s.snoop;
    }
    return t;
  }
}

// --- stage 5 ---------------------------------------------------------------------------------
namespace {

// VT-d 3.4.1, 9.3: legacy mode, TT selects what the context entry allows.
// A cached translation serves the request when it grants the access (or the request only asks
// for the translation); otherwise the tables decide, as on hardware that re-walks on a miss.
bool usable(const Translation& cached, const Request& req) {
  if (req.at == AddressType::TranslationRequest) return true;
  return req.write ? cached.rights.write : cached.rights.read;
}

// Second-level walk through the paging-structure caches and IOTLB of `cache` (if any).
Translation cached_second_level(const MemReader& mem, const Capabilities& caps, const Request& req, uint16_t did,
                                uint32_t pasid, uint64_t root, int levels, bool scalable, const Translation& t, bool fpd,
                                TranslationCache* cache) {
  Translation hit;
  if (cache && cache->find_translation(did, pasid, req.addr, hit) && usable(hit, req)) {
    hit.memory_reads = t.memory_reads;
    hit.domain_id = did;
    hit.snoop = hit.snoop || t.snoop;
    return hit;
  }
  SlOptions o = SlOptions::from(caps, scalable);
  o.check_access = req.at != AddressType::TranslationRequest;
  WalkTrace trace;
  const WalkStart start = cache ? cache->find_walk_start(did, pasid, req.addr, levels) : WalkStart{};
  Translation w = walk_second_level(mem, root, levels, req.addr, req.write, o, &trace, start);
  finish_walk(w, t, fpd);
  if (cache && w.ok()) {
    cache->store_walk(did, pasid, req.addr, trace, levels);
    if (w.rights.read || w.rights.write) cache->store_translation(did, pasid, req.addr, w);
  }
  return w;
}

Translation translate_legacy(const MemReader& mem, const Capabilities& caps, const Request& req,
                             const ContextEntry& ce, Translation t, bool fpd, TranslationCache* cache) {
  t.domain_id = ce.did;
  if (req.at != AddressType::Untranslated && ce.tt != 1) return with_fault(t, FR::TranslationTypeBlocked, fpd);
  if (req.at == AddressType::Translated || ce.tt == 2) return pass_through(t, req.addr);
  return cached_second_level(mem, caps, req, ce.did, kNoPasid, ce.slptptr, ce.levels(), false, t, fpd, cache);
}

// VT-d 3.4.3, 9.4, 9.6: scalable mode, the PASID entry's PGTT selects the translation.
Translation translate_scalable(const MemReader& mem, const Capabilities& caps, const Request& req,
                               const ContextEntry& ce, Translation t, bool fpd, TranslationCache* cache) {
  if (req.at != AddressType::Untranslated && !ce.dte) return with_fault(t, FR::SmDeviceTlbDisabled, fpd);
  if (req.at == AddressType::Translated) return pass_through(t, req.addr);
  if (req.has_pasid && !ce.pasid_enable) return with_fault(t, FR::SmPasidDisabled, fpd);
  const uint32_t pasid = req.has_pasid ? req.pasid : (caps.rps() ? ce.rid_pasid : 0);
  if (!req.has_pasid && pasid >= pasid_limit(ce.pdts)) return with_fault(t, FR::SmRidPasidError, fpd);

  const uint16_t sid = req.source.raw();
  PasidResult pr;
  if (const PasidEntry* cached = cache ? cache->find_pasid(sid, pasid) : nullptr) {
    pr.entry = *cached;
    pr.fpd = cached->fpd || ce.fpd;
  } else {
    pr = lookup_pasid(mem, ce, pasid, caps);
    t.memory_reads += pr.memory_reads;
    if (cache && pr.ok()) cache->store_pasid(sid, pasid, pr.entry);
  }
  fpd = pr.fpd;
  if (!pr.ok()) return with_fault(t, pr.fault, fpd);
  const PasidEntry& pe = pr.entry;
  t.domain_id = pe.did;
  t.snoop = pe.pgsnp;
  // Privilege and execute come with the PASID prefix only.
  const bool supervisor = req.has_pasid && req.privileged;
  const bool execute = req.has_pasid && req.execute;
  if (supervisor && !pe.sre) return with_fault(t, FR::SmSupervisorDisabled, fpd);
  if (execute && !pe.ere) return with_fault(t, FR::SmExecuteDisabled, fpd);
  const bool check_access = req.at != AddressType::TranslationRequest;

  Translation w;
  switch (pe.type()) {
    case Pgtt::PassThrough:
      return pass_through(t, req.addr);
    case Pgtt::SecondLevel: {
      w = cached_second_level(mem, caps, req, pe.did, pasid, pe.ssptptr, pe.sl_levels(), true, t, fpd, cache);
      // VT-d 3.15: DMA must not be translated into the interrupt address range.
      if (w.ok() && (w.rights.read || w.rights.write) && in_interrupt_range(w.output))
        return with_fault(w, FR::SmOutputInInterruptRange, fpd);
      return w;
    }
    case Pgtt::FirstLevel:
    case Pgtt::Nested: {
      FlOptions o = FlOptions::from(caps, pe);
      o.check_access = check_access;
      const NestedSecondLevel nested{pe.ssptptr, pe.sl_levels(), SlOptions::from(caps, true)};
      if (pe.type() == Pgtt::Nested) o.nested = &nested;
      // Paging-structure caches serve the first-level walk when it is not nested (a nested walk's
      // tables are guest-physical and are resumed from the top).
      const bool psc = cache && pe.type() == Pgtt::FirstLevel;
      WalkTrace trace;
      const WalkStart start = psc ? cache->find_walk_start(pe.did, pasid, req.addr, o.levels) : WalkStart{};
      w = walk_first_level(mem, pe.flptptr, req.addr, FlAccess{req.write, execute, !supervisor}, o, &trace, start);
      if (psc && w.ok()) cache->store_walk(pe.did, pasid, req.addr, trace, o.levels);
      break;
    }
    default:
      return with_fault(t, FR::SmPasidEntryInvalid, fpd);  // check_pasid_entry admits 1..4 only
  }
  finish_walk(w, t, fpd);
  // VT-d 3.15: DMA must not be translated into the interrupt address range.
  if (w.ok() && (w.rights.read || w.rights.write) && in_interrupt_range(w.output))
    return with_fault(w, FR::SmOutputInInterruptRange, fpd);
  return w;
}

}  // namespace

Translation translate(const MemReader& mem, uint64_t rtaddr, const Capabilities& caps, const Request& req,
                      TranslationCache* cache) {
  Translation t;
  const TableMode mode = decode_rtaddr(rtaddr).mode;
  if (req.has_pasid && mode == TableMode::Legacy) return with_fault(t, FR::SmTtmZeroWithPasid, false);
  ContextResult ctx;
  const uint16_t sid = req.source.raw();
  if (const ContextEntry* cached = cache ? cache->find_context(sid) : nullptr) {
    ctx.entry = *cached;
    ctx.fpd = cached->fpd;
    ctx.mode = cached->scalable ? TableMode::Scalable : TableMode::Legacy;
  } else {
    ctx = lookup_context(mem, rtaddr, req.source, caps);
    t.memory_reads = ctx.memory_reads;
    if (!ctx.ok()) return with_fault(t, ctx.fault, ctx.fpd);
    if (cache) cache->store_context(sid, ctx.entry);
  }
  return ctx.mode == TableMode::Scalable ? translate_scalable(mem, caps, req, ctx.entry, t, ctx.fpd, cache)
                                         : translate_legacy(mem, caps, req, ctx.entry, t, ctx.fpd, cache);
}

}  // namespace pciesim::vtd
