// PageCache: LRU over an unordered_map keyed by the record key's bytes.
#include "ledger/page_cache.h"

namespace consent {
namespace {
std::string KeyString(ByteView key) {
  return std::string(reinterpret_cast<const char*>(key.data()), key.size());
}
}  // namespace

std::shared_ptr<const Bytes> PageCache::Lookup(ByteView key, const Hash32& expected) {
  if (capacity_ == 0) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(KeyString(key));
  if (it == map_.end() || it->second.hash != expected) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.value;
}

void PageCache::Insert(ByteView key, const Hash32& hash, std::shared_ptr<const Bytes> value) {
  if (capacity_ == 0 || value == nullptr || Cost(key.size(), *value) > capacity_ / 8) return;
  std::lock_guard<std::mutex> lock(mu_);
  std::string k = KeyString(key);
  auto it = map_.find(k);
  if (it != map_.end()) {
    bytes_ -= Cost(k.size(), *it->second.value);
    it->second.hash = hash;
    it->second.value = std::move(value);
    bytes_ += Cost(k.size(), *it->second.value);
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  } else {
    lru_.push_front(k);
    bytes_ += Cost(k.size(), *value);
    map_.emplace(std::move(k), Entry{hash, std::move(value), lru_.begin()});
  }
  EvictLocked();
}

void PageCache::EvictLocked() {
  while (bytes_ > capacity_ && !lru_.empty()) {
    auto it = map_.find(lru_.back());
    bytes_ -= Cost(it->first.size(), *it->second.value);
    map_.erase(it);
    lru_.pop_back();
  }
}

PageCache::Stats PageCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {hits_, misses_, map_.size(), bytes_};
}

}  // namespace consent
