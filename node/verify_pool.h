// Signature verification at admission: a fixed pool of worker threads that a batch fans out over
// (ParallelFor), and a bounded cache of verification results by tx_id, so that no transaction's
// signature is checked twice by this node (tx_id commits to the signature bytes, so a cached
// "bad" is as final as a cached "good").
//
// Thread-safety: both classes are thread-safe. ParallelFor may be called from many threads at
// once; their work interleaves on the same workers.
#pragma once

#include <algorithm>
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

  // Runs task() on a worker thread, after the tasks queued before it. REQUIRES: threads >= 2
  // (at least one worker). task must not throw.
  void Post(std::function<void()> task);

  size_t threads() const { return workers_.size() + 1; }

 private:
  void WorkerLoop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stop_ = false;                        // guarded by mu_
  std::vector<std::thread> workers_;
};

// tx_id -> signature valid, bounded. Successes and failures are kept apart, each evicting its
// own oldest entry first: `capacity` successes, and failures in a small set of their own
// (`failure_capacity`, default capacity / 8, at least 1), so that a flood of bad signatures
// evicts only other failures and never forces an honest pending transaction to be verified
// again.
class VerifiedCache {
 public:
  explicit VerifiedCache(size_t capacity, size_t failure_capacity = 0)
      : capacity_(capacity == 0 ? 1 : capacity),
        failure_capacity_(failure_capacity != 0 ? failure_capacity
                                                : std::max<size_t>(1, capacity_ / 8)) {}
  std::optional<bool> Get(const Hash32& tx_id) const;
  void Put(const Hash32& tx_id, bool ok);
  // The cached result for tx_id, or else runs verify() (without the lock), caches and returns
  // its result. If another thread is verifying the same tx_id, waits for its result instead, so
  // concurrent submissions of one transaction verify it once. *ran tells whether verify() ran.
  bool GetOrVerify(const Hash32& tx_id, const std::function<bool()>& verify, bool* ran);
  size_t size() const;  // successes + failures held
  size_t failures() const;

 private:
  void PutLocked(const Hash32& tx_id, bool ok);
  std::optional<bool> FindLocked(const Hash32& tx_id) const;

  mutable std::mutex mu_;
  std::condition_variable done_;
  std::unordered_set<Hash32, Hash32Hasher> in_flight_;  // guarded by mu_; being verified
  const size_t capacity_;
  const size_t failure_capacity_;
  std::unordered_set<Hash32, Hash32Hasher> good_;  // guarded by mu_
  std::deque<Hash32> good_order_;                  // guarded by mu_; insertion order
  std::unordered_set<Hash32, Hash32Hasher> bad_;   // guarded by mu_
  std::deque<Hash32> bad_order_;                   // guarded by mu_; insertion order
};

}  // namespace consent
