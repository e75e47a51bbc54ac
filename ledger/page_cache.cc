// PageCache: LRU list of entries, indexed by an unordered_map from the (inline) key to its list
// position.
#include "ledger/page_cache.h"

namespace consent {

bool PageCache::MakeKey(ByteView key, Key* out) {
  if (key.size() > kMaxKeyBytes) return false;
  out->size = static_cast<uint8_t>(key.size());
  std::copy(key.begin(), key.end(), out->bytes.begin());
  return true;
}

std::shared_ptr<const Bytes> PageCache::Lookup(ByteView key, const Hash32& expected) {
  if (capacity_ == 0) return nullptr;
  Key k;
  const bool cacheable = MakeKey(key, &k);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cacheable ? map_.find(k) : map_.end();
  if (it == map_.end() || it->second->hash != expected) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->value;
}

void PageCache::Insert(ByteView key, const Hash32& hash, std::shared_ptr<const Bytes> value) {
  Key k;
  if (capacity_ == 0 || value == nullptr || !MakeKey(key, &k) ||
      k.size + value->size() + kEntryOverhead > capacity_ / 8) {
    return;
  }
  std::shared_ptr<const Bytes> old;  // released after the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(k);
    if (it != map_.end()) {
      Node& n = *it->second;
      bytes_ -= Cost(n);
      n.hash = hash;
      old = std::exchange(n.value, std::move(value));
      bytes_ += Cost(n);
      lru_.splice(lru_.begin(), lru_, it->second);
    } else {
      lru_.push_front(Node{k, hash, std::move(value)});
      bytes_ += Cost(lru_.front());
      map_.emplace(k, lru_.begin());
    }
    EvictLocked();
  }
}

void PageCache::EvictLocked() {
  while (bytes_ > capacity_ && !lru_.empty()) {
    const Node& n = lru_.back();
    bytes_ -= Cost(n);
    map_.erase(n.key);
    lru_.pop_back();
  }
}

PageCache::Stats PageCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {hits_, misses_, map_.size(), bytes_};
}

}  // namespace consent
