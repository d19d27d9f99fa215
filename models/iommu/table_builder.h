// Writes real VT-d translation structures into (simulated) physical memory, the way the kernel's
// intel-iommu driver does: root and context tables (legacy and scalable), PASID directories and
// tables, second-level and first-level page tables. The cosim kernel layer and the tests use it;
// tests also use it for hostile tables (raw entries anywhere).
//
// Entry layouts come from tables.h (one place); this file only allocates pages and places entries.
#pragma once

#include <cstdint>
#include <vector>

#include "iommu/tables.h"
#include "iommu/vtd_types.h"

namespace pciesim::vtd {

// What the builders store through: CPU stores into DRAM (ARCHITECTURE.md, "Kernel memory is DRAM").
// 4 KiB pages from a physical range [base, base + size): a bump pointer plus a free list of single
// pages. Base 0 is not allowed (0 means "no page").
class PageAllocator {
 public:
  PageAllocator(uint64_t base, uint64_t size);
  uint64_t alloc(unsigned pages = 1);  // contiguous and page aligned; 0 when the range is used up
  void free(uint64_t pa);              // one page back to the free list
  uint64_t pages_in_use() const { return m_in_use; }
  uint64_t base() const { return m_base; }
  uint64_t end() const { return m_end; }

 private:
  uint64_t m_base, m_end, m_next;
  std::vector<uint64_t> m_free;
  uint64_t m_in_use = 0;
};

// Memory plus allocator: what every builder writes through.
class TableMemory {
 public:
  TableMemory(const MemReader& reader, MemWriter& writer, PageAllocator& pages)
      : m_reader(reader), m_writer(writer), m_pages(pages) {}
  uint64_t new_table(unsigned pages = 1);  // allocated and zeroed; 0 when out of pages or unwritable
  bool read64(uint64_t pa, uint64_t& value) const { return m_reader.read(pa, &value, 8); }
  bool write64(uint64_t pa, uint64_t value) { return m_writer.write(pa, &value, 8); }
  bool write_raw(uint64_t pa, const void* src, unsigned len) { return m_writer.write(pa, src, len); }
  const MemReader& reader() const { return m_reader; }
  PageAllocator& pages() { return m_pages; }

 private:
  const MemReader& m_reader;
  MemWriter& m_writer;
  PageAllocator& m_pages;
};

// --- root and context tables (VT-d 9.1-9.4) ------------------------------------------------------
// Convenience constructors for context entries; set any other field directly.
ContextEntry legacy_context(uint64_t slptptr, unsigned aw, uint16_t did, unsigned tt = 0, bool fpd = false);
ContextEntry scalable_context(uint64_t pasid_dir, unsigned pdts, uint32_t rid_pasid = 0, bool pasid_enable = true,
                              bool dte = false, bool fpd = false);

class RootTableBuilder {
 public:
  RootTableBuilder(TableMemory& mem, TableMode mode);  // allocates the root table
  bool ok() const { return m_root != 0; }
  uint64_t root() const { return m_root; }
  uint64_t rtaddr() const { return make_rtaddr(m_root, m_mode); }  // the value for RTADDR
  TableMode mode() const { return m_mode; }
  // Writes the context entry for `source` (legacy or scalable layout per mode), creating its
  // context table and marking the root entry (half) present on first use.
  bool set_context(RequesterId source, const ContextEntry& entry);
  bool clear_context(RequesterId source);  // entry zeroed (not present); tables stay
  uint64_t root_entry_address(uint8_t bus) const { return vtd::root_entry_address(m_root, bus); }
  uint64_t context_entry_address(RequesterId source) const;  // 0 until its context table exists

 private:
  uint64_t context_table(uint8_t bus, bool upper, bool create) const;
  TableMemory& m_mem;
  TableMode m_mode;
  uint64_t m_root = 0;
};

// --- PASID directory and tables (VT-d 9.5, 9.6) --------------------------------------------------
PasidEntry second_level_pasid(uint64_t ssptptr, unsigned aw, uint16_t did);
PasidEntry first_level_pasid(uint64_t flptptr, unsigned flpm, uint16_t did);
PasidEntry nested_pasid(uint64_t flptptr, unsigned flpm, uint64_t ssptptr, unsigned aw, uint16_t did);
PasidEntry pass_through_pasid(uint16_t did);

class PasidTableBuilder {
 public:
  // A directory of 2^(pdts+7) entries (pdts 2 = one 4 KiB page; Linux uses PSS - 12).
  PasidTableBuilder(TableMemory& mem, unsigned pdts);
  bool ok() const { return m_dir != 0; }
  uint64_t directory() const { return m_dir; }
  unsigned pdts() const { return m_pdts; }
  bool set(uint32_t pasid, const PasidEntry& entry);  // creates the PASID table on first use
  bool clear(uint32_t pasid);
  uint64_t dir_entry_address(uint32_t pasid) const { return pasid_dir_entry_address(m_dir, pasid); }
  uint64_t entry_address(uint32_t pasid) const;  // 0 until its PASID table exists

 private:
  TableMemory& m_mem;
  unsigned m_pdts;
  uint64_t m_dir = 0;
};

// --- paging structures (VT-d 9.7, 9.8) -----------------------------------------------------------
struct SlMapping {
  bool read = true, write = true, snoop = false;
};
struct FlMapping {
  bool write = true, user = true, execute_disable = false, dirty = false;
};

// Common walk-and-create logic for both formats. Entries hold table addresses plus an offset
// (first level when nested: the tables live at host-physical X and the entries say X + offset,
// a guest-physical address the second level maps back to X).
class PageTableBuilder {
 public:
  uint64_t root() const { return m_root; }                       // host-physical
  uint64_t root_pointer() const { return m_root + m_offset; }    // what SLPTPTR / FLPTPTR holds
  int levels() const { return m_levels; }
  bool ok() const { return m_root != 0; }
  // Removes the leaf of `size` (4 KiB, 2 MiB or 1 GiB) at `addr`; tables stay. False when no
  // such leaf is mapped.
  bool unmap(uint64_t addr, uint64_t size);
  // Address of the entry for `addr` at `level`; 0 when the tables down to it do not exist.
  uint64_t entry_address(uint64_t addr, int level) const;
  // Hostile tables: writes any value into the entry for `addr` at `level`, creating the tables
  // above it as needed.
  bool set_raw(uint64_t addr, int level, uint64_t value);

 protected:
  PageTableBuilder(TableMemory& mem, int levels, int64_t offset);
  virtual ~PageTableBuilder() = default;
  virtual bool entry_present(uint64_t raw) const = 0;
  virtual bool entry_is_leaf(uint64_t raw, int level) const = 0;
  virtual uint64_t table_entry(uint64_t table_pointer) const = 0;  // a non-leaf entry
  // Finds or creates the table at `level` for `addr`: 0 when it cannot (out of pages, or a leaf
  // is in the way).
  uint64_t table_for(uint64_t addr, int level, bool create) const;
  bool map_leaf(uint64_t addr, uint64_t size, uint64_t leaf);

  TableMemory& m_mem;
  int m_levels;
  int64_t m_offset;
  uint64_t m_root = 0;
};

class SecondLevelBuilder : public PageTableBuilder {
 public:
  SecondLevelBuilder(TableMemory& mem, int levels);  // 3, 4 or 5
  // Maps [iova, iova + size) to pa with one leaf of `size` (4 KiB, 2 MiB or 1 GiB; both addresses
  // aligned to it). Intermediate entries are R+W, as Linux writes them.
  bool map(uint64_t iova, uint64_t pa, uint64_t size, const SlMapping& m = {});
  // Maps a range with the largest leaves up to `max_page` that alignment allows.
  bool map_range(uint64_t iova, uint64_t pa, uint64_t len, const SlMapping& m = {}, uint64_t max_page = kPageSize);

 private:
  bool entry_present(uint64_t raw) const override { return raw & 3; }
  bool entry_is_leaf(uint64_t raw, int level) const override { return level == 1 || (raw & bit(7)); }
  uint64_t table_entry(uint64_t table_pointer) const override { return encode_sl_entry(table_pointer, true, true); }
};

class FirstLevelBuilder : public PageTableBuilder {
 public:
  // levels 4 or 5; `offset` is added to every table address an entry holds (nested: GPA - HPA).
  FirstLevelBuilder(TableMemory& mem, int levels, int64_t offset = 0);
  // `pa` is what the leaf holds (a GPA when nested). Intermediate entries are P+R/W+U/S+A, as
  // Linux writes them for first-level domains.
  bool map(uint64_t va, uint64_t pa, uint64_t size, const FlMapping& m = {});

 private:
  bool entry_present(uint64_t raw) const override { return raw & 1; }
  bool entry_is_leaf(uint64_t raw, int level) const override { return level == 1 || (raw & bit(7)); }
  uint64_t table_entry(uint64_t table_pointer) const override {
    return encode_fl_entry(table_pointer, FlFlags{true, true, false, false, true, false});
  }
};

}  // namespace pciesim::vtd
