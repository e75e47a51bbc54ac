// PageCache: entries in one array with CLOCK eviction, found through an open-addressing index
// (linear probing with backward-shift deletion).
#include "ledger/page_cache.h"

#include <cstring>

namespace consent {

bool PageCache::MakeKey(ByteView key, Key* out) {
  if (key.size() > kMaxKeyBytes) return false;
  out->size = static_cast<uint8_t>(key.size());
  std::copy(key.begin(), key.end(), out->bytes.begin());
  return true;
}

// Mixes the key's 8-byte words (zero-padded: MakeKey fills a zeroed array) and its size. Not
// adversarial-resistant and need not be: keys are the store's own page ids, which are prefixes of
// SHA-256 state keys.
uint32_t PageCache::HashOf(const Key& k) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ k.size;
  for (size_t i = 0; i < k.size; i += 8) {
    uint64_t w = 0;
    std::memcpy(&w, k.bytes.data() + i, std::min<size_t>(8, kMaxKeyBytes - i));
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 29;
  return static_cast<uint32_t>(h);
}

size_t PageCache::FindSlot(const Key& k, uint32_t h) const {
  const size_t mask = index_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const uint64_t v = index_[i];
    if (v == 0) return i;
    if (static_cast<uint32_t>(v >> 32) == h && entries_[(v & 0xffffffffu) - 1].key == k) return i;
  }
}

void PageCache::EraseSlot(size_t slot) {
  const size_t mask = index_.size() - 1;
  index_[slot] = 0;
  for (size_t j = slot;;) {
    j = (j + 1) & mask;
    const uint64_t v = index_[j];
    if (v == 0) return;
    const size_t home = static_cast<uint32_t>(v >> 32) & mask;
    // The entry at j may stay unless the emptied slot lies on its probe path (home .. j).
    const bool stays = slot <= j ? (slot < home && home <= j) : (slot < home || home <= j);
    if (stays) continue;
    index_[slot] = v;
    index_[j] = 0;
    slot = j;
  }
}

void PageCache::GrowIndex() {
  std::vector<uint64_t> old = std::move(index_);
  index_.assign(std::max<size_t>(64, old.size() * 2), 0);
  const size_t mask = index_.size() - 1;
  for (uint64_t v : old) {
    if (v == 0) continue;
    size_t i = static_cast<uint32_t>(v >> 32) & mask;
    while (index_[i] != 0) i = (i + 1) & mask;
    index_[i] = v;
  }
}

std::shared_ptr<const Bytes> PageCache::Lookup(ByteView key, const Hash32& expected) {
  if (capacity_ == 0) return nullptr;
  Key k;
  if (!MakeKey(key, &k)) {
    std::lock_guard<std::mutex> lock(mu_);
    ++misses_;
    return nullptr;
  }
  const uint32_t h = HashOf(k);
  std::lock_guard<std::mutex> lock(mu_);
  if (index_.empty()) {
    ++misses_;
    return nullptr;
  }
  const uint64_t v = index_[FindSlot(k, h)];
  if (v == 0) {
    ++misses_;
    return nullptr;
  }
  Entry& e = entries_[(v & 0xffffffffu) - 1];
  if (e.hash != expected) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  e.referenced = true;
  return e.value;
}

void PageCache::Insert(ByteView key, const Hash32& hash, std::shared_ptr<const Bytes> value) {
  Key k;
  if (capacity_ == 0 || value == nullptr || !MakeKey(key, &k) ||
      k.size + value->size() + kEntryOverhead > capacity_ / 8) {
    return;
  }
  const uint32_t h = HashOf(k);
  std::shared_ptr<const Bytes> old;  // released after the lock
  std::lock_guard<std::mutex> lock(mu_);
  if (2 * (live_ + 1) > index_.size()) GrowIndex();
  const size_t slot = FindSlot(k, h);
  if (index_[slot] != 0) {
    Entry& e = entries_[(index_[slot] & 0xffffffffu) - 1];
    bytes_ -= Cost(e);
    e.hash = hash;
    old = std::exchange(e.value, std::move(value));
    e.referenced = true;
    bytes_ += Cost(e);
  } else {
    size_t pos;
    if (!free_.empty()) {
      pos = free_.back();
      free_.pop_back();
    } else {
      pos = entries_.size();
      entries_.emplace_back();
    }
    Entry& e = entries_[pos];
    e.key = k;
    e.hash = hash;
    e.value = std::move(value);
    e.referenced = false;  // a second chance only once it has been used
    bytes_ += Cost(e);
    index_[slot] = (static_cast<uint64_t>(h) << 32) | (pos + 1);
    ++live_;
  }
  EvictLocked();
}

void PageCache::EvictLocked() {
  // Each pass of the hand clears the reference bits it meets, so two passes over the array
  // always find a victim while anything is cached.
  while (bytes_ > capacity_ && live_ > 0) {
    if (hand_ >= entries_.size()) hand_ = 0;
    Entry& e = entries_[hand_];
    if (e.value == nullptr) {
      ++hand_;
      continue;
    }
    if (e.referenced) {
      e.referenced = false;
      ++hand_;
      continue;
    }
    bytes_ -= Cost(e);
    EraseSlot(FindSlot(e.key, HashOf(e.key)));
    e.value.reset();
    free_.push_back(static_cast<uint32_t>(hand_));
    --live_;
    ++hand_;
  }
}

PageCache::Stats PageCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {hits_, misses_, live_, bytes_};
}

}  // namespace consent
