// PageCache: a bounded, content-addressed cache of storage-tree records, shared by every view of
// one store (ledger/kv.h, KvRead::page_cache).
//
// An entry is a record's key, its stored bytes, and the hash that its parent record names for it
// (for the state tree: the subtree hash of a page). A lookup must present that expected hash and
// only an entry with the same key and hash answers it. Because a page's bytes are a function of
// the entries below it and the hash commits to those entries, a hit returns exactly the bytes any
// store view holding that parent would read, whatever snapshot or uncommitted block the reader
// works on: the cache never needs invalidating and cannot serve a stale page. Entries of blocks
// that were never committed are merely unused, and age out.
//
// Memory is bounded by `capacity_bytes` (keys + values + a fixed per-entry overhead). Eviction is
// CLOCK (second chance), an approximation of least-recently-used: a hit only sets the entry's
// reference bit, and the eviction hand passes over (and clears) entries used since it last came
// by. Entries live in one array, found through an open-addressing index (linear probing, 32-bit
// hash tags beside the positions), so a lookup reads about two cache lines and moves nothing: in
// ledger_apply_bench at 1M entries the std::unordered_map + std::list LRU this replaced cost about
// 6% of all CPU, mostly cache misses of its list splices and bucket chains. A capacity of 0
// disables the cache.
// Thread-safe (one mutex); deterministic: it changes which reads happen, never a result.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/bytes.h"

namespace consent {

class PageCache {
 public:
  explicit PageCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}
  PageCache(const PageCache&) = delete;
  PageCache& operator=(const PageCache&) = delete;

  // The bytes stored under `key` whose hash is `expected`, or nullptr.
  std::shared_ptr<const Bytes> Lookup(ByteView key, const Hash32& expected);
  // Records that the bytes `value`, whose hash is `hash`, are stored under `key` (replacing an
  // entry of the same key). Values larger than an eighth of the capacity are not kept.
  void Insert(ByteView key, const Hash32& hash, std::shared_ptr<const Bytes> value);

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t entries = 0;
    uint64_t bytes = 0;
  };
  Stats stats() const;

  static constexpr size_t kEntryOverhead = 128;  // entry, index slots, control block (estimate)
  // Longer keys are not cached (a lookup misses, an insert is skipped); state-tree page keys are
  // 34 bytes. Keys are held inline, so a lookup or an insert allocates nothing for its key.
  static constexpr size_t kMaxKeyBytes = 40;

 private:
  struct Key {
    uint8_t size = 0;
    std::array<uint8_t, kMaxKeyBytes> bytes{};
    bool operator==(const Key& o) const {
      return size == o.size && std::equal(bytes.begin(), bytes.begin() + size, o.bytes.begin());
    }
  };
  struct Entry {
    Key key;
    Hash32 hash{};
    std::shared_ptr<const Bytes> value;  // nullptr: a free slot
    bool referenced = false;             // used since the clock hand last passed
  };
  static bool MakeKey(ByteView key, Key* out);
  static uint32_t HashOf(const Key& k);
  static size_t Cost(const Entry& e) { return e.key.size + e.value->size() + kEntryOverhead; }
  // The index slot holding entry `k` (hash `h`), or the empty slot where it would go.
  size_t FindSlot(const Key& k, uint32_t h) const;
  void EraseSlot(size_t slot);  // backward-shift deletion, keeping every probe chain whole
  void GrowIndex();
  void EvictLocked();

  const size_t capacity_;
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
  std::vector<uint32_t> free_;  // positions of free entries
  // Open-addressing index, a power of two at least twice the live entries: 0 empty, else
  // (hash << 32) | (entry position + 1).
  std::vector<uint64_t> index_;
  size_t live_ = 0;
  size_t hand_ = 0;  // the clock hand, an entry position
  size_t bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace consent
