// One set-associative cache template for every translation cache in the simulator: the VT-d
// IOTLB, context cache, PASID cache, paging-structure caches and interrupt entry cache, and the
// GPU TLB (ARCHITECTURE.md, "One cache template"). It knows nothing about VT-d.
//
// Shape of the thing:
//  - capacity entries split into capacity/ways sets of `ways` entries; ways == capacity is fully
//    associative, ways == 1 direct mapped, capacity == 0 a disabled cache (every lookup misses);
//  - TAGS and OUTPUTS live in separate arrays: a lookup scans only generation stamps and tags of
//    one set, and touches the output only on a hit;
//  - replacement chosen at run time: LRU, FIFO, random (seeded, reproducible) or tree pseudo-LRU;
//  - flush() is O(1): it bumps a generation counter, and entries stamped with an older
//    generation are invalid;
//  - all storage is allocated once by the constructor; lookup/insert never allocate.
//
// The set index is Hash(tag) & (sets - 1). The low bits of the hash pick the set, so a hash that
// keeps consecutive page numbers in consecutive sets gives a set-associative TLB the same reach as
// a fully associative one for a contiguous working set.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace pciesim {

enum class ReplacementPolicy : uint8_t {
  Lru,       // least recently used (a per-entry use stamp)
  Fifo,      // oldest insertion first; hits do not refresh
  Random,    // uniformly random way, from a seeded xorshift generator (reproducible runs)
  TreePlru,  // binary-tree pseudo-LRU, ways-1 bits per set (ways: power of two, at most 64)
};

inline const char* to_string(ReplacementPolicy p) {
  switch (p) {
    case ReplacementPolicy::Lru: return "lru";
    case ReplacementPolicy::Fifo: return "fifo";
    case ReplacementPolicy::Random: return "random";
    case ReplacementPolicy::TreePlru: return "tree-plru";
  }
  return "?";
}

// Geometry and policy of one cache.
struct CacheConfig {
  unsigned capacity = 64;  // entries; 0 disables the cache
  unsigned ways = 8;       // entries per set; capacity/ways must be a power of two
  ReplacementPolicy policy = ReplacementPolicy::Lru;
  uint64_t seed = 0x5eed'cafe'f00d'0001ull;  // Random policy only

  static CacheConfig fully_associative(unsigned n, ReplacementPolicy p = ReplacementPolicy::Lru) {
    return CacheConfig{n, n, p};
  }
  static CacheConfig direct_mapped(unsigned n) { return CacheConfig{n, 1, ReplacementPolicy::Lru}; }
  static CacheConfig disabled() { return CacheConfig{0, 1, ReplacementPolicy::Lru}; }
};

struct CacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t insertions = 0;     // new entries (updates of a present tag are not counted)
  uint64_t evictions = 0;      // valid entries displaced by an insertion
  uint64_t invalidations = 0;  // entries removed by invalidate / invalidate_if
  uint64_t flushes = 0;        // flush() calls (each O(1); the entries dropped are not counted)

  uint64_t lookups() const { return hits + misses; }
  double hit_rate() const { return lookups() ? double(hits) / double(lookups()) : 0.0; }
};

// Default hash: integral and enum tags hash to themselves (so the low bits pick the set);
// anything else uses std::hash. Specialise or pass a functor for structured tags.
template <class Tag>
struct SetAssocHash {
  size_t operator()(const Tag& t) const noexcept {
    if constexpr (std::is_integral_v<Tag> || std::is_enum_v<Tag>) {
      return static_cast<size_t>(t);
    } else {
      return std::hash<Tag>{}(t);
    }
  }
};

template <class Tag, class Output, class Hash = SetAssocHash<Tag>>
class SetAssocCache {
  static_assert(std::is_default_constructible_v<Tag>, "Tag must be default-constructible");
  static_assert(std::is_default_constructible_v<Output>, "Output must be default-constructible");

 public:
  using tag_type = Tag;
  using output_type = Output;

  struct InsertResult {
    bool evicted = false;  // a valid entry with another tag was displaced
    bool updated = false;  // the tag was already cached; its output was overwritten
    Tag victim{};          // the displaced tag when evicted
  };

  explicit SetAssocCache(const CacheConfig& config = CacheConfig{}, Hash hash = Hash{})
      : m_config(config), m_hash(std::move(hash)) {
    configure();
  }

  // ---- hit path -----------------------------------------------------------------------------

  // The cached output for `tag`, or nullptr. Counts a hit or a miss and refreshes the
  // replacement state on a hit. The pointer stays valid until the next insert/invalidate/flush.
  const Output* lookup(const Tag& tag) {
    if (m_sets == 0) {
      ++m_stats.misses;
      return nullptr;
    }
    const size_t set = set_of(tag);
    const int way = find_way(set, tag);
    if (way < 0) {
      ++m_stats.misses;
      return nullptr;
    }
    ++m_stats.hits;
    touch(set, static_cast<unsigned>(way));
    return &m_outputs[set * m_ways + static_cast<unsigned>(way)];
  }

  // Like lookup, without touching statistics or replacement state (for inspection and tests).
  const Output* peek(const Tag& tag) const {
    if (m_sets == 0) return nullptr;
    const size_t set = set_of(tag);
    const int way = find_way(set, tag);
    return way < 0 ? nullptr : &m_outputs[set * m_ways + static_cast<unsigned>(way)];
  }

  bool contains(const Tag& tag) const { return peek(tag) != nullptr; }

  // ---- repeating a lookup ---------------------------------------------------------------------
  // A caller that looks the same tag up again and again (a DMA stream within one page) may
  // remember where it was: slot_of() finds the slot without counting anything, and while
  // changes() has not moved the slot still holds that tag, so hit_at(slot) is exactly lookup(tag)
  // (one hit, the same replacement update) without the search, and count_miss() is a lookup of a
  // tag that is not cached.

  // Storage index of `tag`, or -1 when it is not cached. Counts nothing.
  long slot_of(const Tag& tag) const {
    if (m_sets == 0) return -1;
    const size_t set = set_of(tag);
    const int way = find_way(set, tag);
    return way < 0 ? -1 : static_cast<long>(set * m_ways + static_cast<unsigned>(way));
  }
  const Output& hit_at(size_t slot) {
    ++m_stats.hits;
    if (m_config.policy == ReplacementPolicy::Lru) m_stamp[slot] = ++m_clock;
    else touch(slot / m_ways, static_cast<unsigned>(slot % m_ways));
    return m_outputs[slot];
  }
  void count_miss() { ++m_stats.misses; }
  // Moves on every insert, invalidation, flush and reconfiguration (whether or not it changed
  // anything); only ever grows.
  uint64_t changes() const { return m_changes; }

  // ---- fill ---------------------------------------------------------------------------------

  // Caches `output` under `tag`: overwrites the entry if the tag is present, else fills an
  // invalid way of its set, else evicts the policy's victim.
  InsertResult insert(const Tag& tag, const Output& output) {
    InsertResult r;
    if (m_sets == 0) return r;
    ++m_changes;
    const size_t set = set_of(tag);
    const size_t base = set * m_ways;
    // One pass over the set: the tag's way if it is cached, else the first invalid way.
    const uint32_t* gen = m_gen.data() + base;
    const Tag* tags = m_tags.data() + base;
    unsigned invalid = m_ways;
    for (unsigned w = 0; w < m_ways; ++w) {
      if (gen[w] != m_generation) {
        if (invalid == m_ways) invalid = w;
      } else if (tags[w] == tag) {
        r.updated = true;
        m_outputs[base + w] = output;
        touch(set, w);
        return r;
      }
    }
    // An invalid way if the set has one, else the policy's victim (every way is valid).
    const bool full = invalid == m_ways;
    const unsigned victim = full ? policy_victim(set) : invalid;
    const size_t i = base + victim;
    if (full) {
      r.evicted = true;
      r.victim = m_tags[i];
      ++m_stats.evictions;
    }
    m_tags[i] = tag;
    m_outputs[i] = output;
    m_gen[i] = m_generation;
    ++m_stats.insertions;
    filled(set, victim);
    return r;
  }

  // ---- invalidation -------------------------------------------------------------------------

  // Drops the entry for exactly this tag; true if there was one.
  bool invalidate(const Tag& tag) {
    if (m_sets == 0) return false;
    const size_t set = set_of(tag);
    const int way = find_way(set, tag);
    if (way < 0) return false;
    ++m_changes;
    m_gen[set * m_ways + static_cast<unsigned>(way)] = kInvalid;
    ++m_stats.invalidations;
    return true;
  }

  // Drops every valid entry whose tag satisfies pred(const Tag&). Returns how many.
  template <class Pred>
  size_t invalidate_if(Pred&& pred) {
    ++m_changes;
    size_t n = 0;
    for (size_t i = 0; i < m_gen.size(); ++i) {
      if (m_gen[i] == m_generation && pred(static_cast<const Tag&>(m_tags[i]))) {
        m_gen[i] = kInvalid;
        ++n;
      }
    }
    m_stats.invalidations += n;
    return n;
  }

  // Drops every valid entry for which pred(const Tag&, const Output&) holds: for caches whose
  // invalidation key lives in the output (e.g. a domain id read from the cached entry).
  template <class Pred>
  size_t invalidate_entries_if(Pred&& pred) {
    ++m_changes;
    size_t n = 0;
    for (size_t i = 0; i < m_gen.size(); ++i) {
      if (m_gen[i] == m_generation &&
          pred(static_cast<const Tag&>(m_tags[i]), static_cast<const Output&>(m_outputs[i]))) {
        m_gen[i] = kInvalid;
        ++n;
      }
    }
    m_stats.invalidations += n;
    return n;
  }

  // Invalidates everything in O(1): entries stamped with an older generation no longer match.
  void flush() {
    ++m_changes;
    ++m_stats.flushes;
    if (++m_generation == kInvalid) {  // 2^32 flushes later: make old stamps unambiguous again
      std::fill(m_gen.begin(), m_gen.end(), kInvalid);
      m_generation = 1;
    }
  }

  // ---- inspection ---------------------------------------------------------------------------

  // Calls f(const Tag&, const Output&) for every valid entry, in storage order.
  template <class F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < m_gen.size(); ++i) {
      if (m_gen[i] == m_generation) f(m_tags[i], m_outputs[i]);
    }
  }

  // Valid entries (O(capacity)).
  size_t occupancy() const {
    size_t n = 0;
    for (uint32_t g : m_gen) n += (g == m_generation);
    return n;
  }

  const CacheStats& stats() const { return m_stats; }
  void reset_stats() { m_stats = CacheStats{}; }
  const CacheConfig& config() const { return m_config; }
  unsigned capacity() const { return m_config.capacity; }
  unsigned ways() const { return m_ways; }
  size_t sets() const { return m_sets; }
  ReplacementPolicy policy() const { return m_config.policy; }
  bool enabled() const { return m_sets != 0; }
  uint32_t generation() const { return m_generation; }
  // Which set a tag maps to (tests and tuning).
  size_t set_index(const Tag& tag) const { return m_sets ? set_of(tag) : 0; }

  // Drops all entries and replacement state and applies a new geometry (allocates).
  void reconfigure(const CacheConfig& config) {
    m_config = config;
    configure();
  }

 private:
  static constexpr uint32_t kInvalid = 0;

  void configure() {
    const unsigned cap = m_config.capacity;
    const unsigned ways = m_config.ways;
    m_sets = 0;
    m_ways = ways ? ways : 1;
    if (cap != 0) {
      if (ways == 0 || cap % ways != 0)
        throw std::invalid_argument("SetAssocCache: capacity " + std::to_string(cap) +
                                    " is not a multiple of ways " + std::to_string(ways));
      const size_t sets = cap / ways;
      if ((sets & (sets - 1)) != 0)
        throw std::invalid_argument("SetAssocCache: capacity/ways = " + std::to_string(sets) +
                                    " sets is not a power of two");
      if (m_config.policy == ReplacementPolicy::TreePlru && ((ways & (ways - 1)) != 0 || ways > 64))
        throw std::invalid_argument("SetAssocCache: tree-PLRU needs a power-of-two way count <= 64");
      m_sets = sets;
    }
    m_set_mask = m_sets ? m_sets - 1 : 0;
    m_tags.assign(cap, Tag{});
    m_outputs.assign(cap, Output{});
    m_gen.assign(cap, kInvalid);
    m_stamp.assign(cap, 0);
    m_plru.assign(m_sets, 0);
    m_generation = 1;
    ++m_changes;
    m_clock = 0;
    m_rng = m_config.seed ? m_config.seed : 0x9e37'79b9'7f4a'7c15ull;
    m_log2_ways = 0;
    while ((1u << m_log2_ways) < m_ways) ++m_log2_ways;
  }

  size_t set_of(const Tag& tag) const { return static_cast<size_t>(m_hash(tag)) & m_set_mask; }

  int find_way(size_t set, const Tag& tag) const {
    const size_t base = set * m_ways;
    const uint32_t* gen = m_gen.data() + base;
    const Tag* tags = m_tags.data() + base;
    for (unsigned w = 0; w < m_ways; ++w) {
      if (gen[w] == m_generation && tags[w] == tag) return static_cast<int>(w);
    }
    return -1;
  }

  // A hit refreshes LRU and PLRU state; FIFO and Random ignore hits.
  void touch(size_t set, unsigned way) {
    switch (m_config.policy) {
      case ReplacementPolicy::Lru: m_stamp[set * m_ways + way] = ++m_clock; break;
      case ReplacementPolicy::TreePlru: plru_touch(set, way); break;
      case ReplacementPolicy::Fifo:
      case ReplacementPolicy::Random: break;
    }
  }

  void filled(size_t set, unsigned way) {
    switch (m_config.policy) {
      case ReplacementPolicy::Lru:
      case ReplacementPolicy::Fifo: m_stamp[set * m_ways + way] = ++m_clock; break;
      case ReplacementPolicy::TreePlru: plru_touch(set, way); break;
      case ReplacementPolicy::Random: break;
    }
  }

  // The policy's victim in a set whose ways are all valid.
  unsigned policy_victim(size_t set) {
    const size_t base = set * m_ways;
    switch (m_config.policy) {
      case ReplacementPolicy::Lru:
      case ReplacementPolicy::Fifo: {
        unsigned victim = 0;
        uint64_t oldest = m_stamp[base];
        for (unsigned w = 1; w < m_ways; ++w) {
          if (m_stamp[base + w] < oldest) {
            oldest = m_stamp[base + w];
            victim = w;
          }
        }
        return victim;
      }
      case ReplacementPolicy::Random: return static_cast<unsigned>(next_random() % m_ways);
      case ReplacementPolicy::TreePlru: return plru_victim(set);
    }
    return 0;
  }

  // Tree-PLRU: nodes 1..ways-1 of an implicit binary heap, one bit each; a bit names the subtree
  // (0 left, 1 right) that holds the next victim. Touching a way points every node on its path
  // away from it.
  void plru_touch(size_t set, unsigned way) {
    uint64_t bits = m_plru[set];
    unsigned node = 1;
    for (unsigned level = m_log2_ways; level-- > 0;) {
      const unsigned dir = (way >> level) & 1u;
      if (dir)
        bits &= ~(1ull << node);  // touched the right half: victim goes left
      else
        bits |= (1ull << node);
      node = 2 * node + dir;
    }
    m_plru[set] = bits;
  }

  unsigned plru_victim(size_t set) const {
    const uint64_t bits = m_plru[set];
    unsigned node = 1;
    while (node < m_ways) node = 2 * node + static_cast<unsigned>((bits >> node) & 1u);
    return node - m_ways;
  }

  uint64_t next_random() {  // xorshift64*
    m_rng ^= m_rng >> 12;
    m_rng ^= m_rng << 25;
    m_rng ^= m_rng >> 27;
    return m_rng * 0x2545'f491'4f6c'dd1dull;
  }

  CacheConfig m_config;
  Hash m_hash;
  size_t m_sets = 0;
  size_t m_set_mask = 0;
  unsigned m_ways = 1;
  unsigned m_log2_ways = 0;
  uint32_t m_generation = 1;
  uint64_t m_clock = 0;
  uint64_t m_changes = 0;
  uint64_t m_rng = 0;
  std::vector<Tag> m_tags;         // tags, scanned on the hit path
  std::vector<uint32_t> m_gen;     // generation stamp per entry; != m_generation: invalid
  std::vector<Output> m_outputs;   // outputs, read only on a hit
  std::vector<uint64_t> m_stamp;   // LRU use / FIFO insertion stamp per entry
  std::vector<uint64_t> m_plru;    // tree-PLRU bits per set
  CacheStats m_stats;
};

}  // namespace pciesim
