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
// Memory is bounded by `capacity_bytes` (keys + values + a fixed per-entry overhead); the least
// recently used entries are evicted first. A capacity of 0 disables the cache.
// Thread-safe (one mutex); deterministic: it changes which reads happen, never a result.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <utility>

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

  static constexpr size_t kEntryOverhead = 128;  // map node, list node, control block (estimate)
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
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<std::string_view>{}(
          std::string_view(reinterpret_cast<const char*>(k.bytes.data()), k.size));
    }
  };
  struct Node {
    Key key;
    Hash32 hash{};
    std::shared_ptr<const Bytes> value;
  };
  using Lru = std::list<Node>;  // front = most recently used
  static bool MakeKey(ByteView key, Key* out);
  static size_t Cost(const Node& n) { return n.key.size + n.value->size() + kEntryOverhead; }
  void EvictLocked();

  const size_t capacity_;
  mutable std::mutex mu_;
  Lru lru_;
  std::unordered_map<Key, Lru::iterator, KeyHash> map_;  // list iterators stay valid
  size_t bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace consent
