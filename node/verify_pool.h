// Signature verification at admission: a fixed pool of worker threads that a batch fans out over
// (ParallelFor), and a bounded cache of verification results by tx_id, so that no transaction's
// signature is checked twice by this node (tx_id commits to the signature bytes, so a cached
// "bad" is as final as a cached "good").
//
// Thread-safety: both classes are thread-safe. ParallelFor may be called from many threads at
// once; their work interleaves on the same workers.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "crypto/bytes.h"

namespace consent {

class VerifyPool {
 public:
  // `threads` >= 1 is the most threads one ParallelFor uses: threads - 1 workers plus the
  // calling thread (so threads == 1 runs everything on the caller).
  explicit VerifyPool(size_t threads);
  ~VerifyPool();  // joins the workers
  VerifyPool(const VerifyPool&) = delete;
  VerifyPool& operator=(const VerifyPool&) = delete;

  // Runs fn(i) for every i in [0, n), on the workers and the calling thread, and returns when all
  // have returned. fn must be thread-safe and must not throw.
  void ParallelFor(size_t n, const std::function<void(size_t)>& fn);

  size_t threads() const { return workers_.size() + 1; }

 private:
  void WorkerLoop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stop_ = false;                        // guarded by mu_
  std::vector<std::thread> workers_;
};

// tx_id -> signature valid, bounded: the oldest entry is evicted first.
class VerifiedCache {
 public:
  explicit VerifiedCache(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}
  std::optional<bool> Get(const Hash32& tx_id) const;
  void Put(const Hash32& tx_id, bool ok);
  // The cached result for tx_id, or else runs verify() (without the lock), caches and returns
  // its result. If another thread is verifying the same tx_id, waits for its result instead, so
  // concurrent submissions of one transaction verify it once. *ran tells whether verify() ran.
  bool GetOrVerify(const Hash32& tx_id, const std::function<bool()>& verify, bool* ran);
  size_t size() const;

 private:
  void PutLocked(const Hash32& tx_id, bool ok);

  mutable std::mutex mu_;
  std::condition_variable done_;
  std::unordered_set<Hash32, Hash32Hasher> in_flight_;  // guarded by mu_; being verified
  size_t capacity_;
  std::unordered_map<Hash32, bool, Hash32Hasher> map_;  // guarded by mu_
  std::deque<Hash32> order_;                            // guarded by mu_; insertion order
};

}  // namespace consent
