// VerifyPool and VerifiedCache: a task queue drained by worker threads; two FIFO-bounded sets.
#include "node/verify_pool.h"

#include <pthread.h>

#include <atomic>
#include <cstring>

namespace consent {

VerifyPool::VerifyPool(size_t threads) {
  for (size_t i = 1; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

VerifyPool::~VerifyPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void VerifyPool::WorkerLoop() {
  pthread_setname_np(pthread_self(), "consent-verify");
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_ and nothing left
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

void VerifyPool::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void VerifyPool::ParallelFor(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  // Shared by the caller and the helper tasks; lives on this stack frame, which outlives every
  // helper because we wait for all of them before returning.
  struct Job {
    std::atomic<size_t> next{0};
    std::mutex mu;
    std::condition_variable cv;
    size_t helpers_left = 0;  // guarded by mu
  } job;
  auto drain = [&job, &fn, n] {
    for (size_t i = job.next.fetch_add(1); i < n; i = job.next.fetch_add(1)) fn(i);
  };
  const size_t helpers = std::min(workers_.size(), n - 1);
  job.helpers_left = helpers;
  if (helpers > 0) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t h = 0; h < helpers; ++h) {
        queue_.emplace_back([&job, drain] {
          drain();
          std::lock_guard<std::mutex> l(job.mu);
          if (--job.helpers_left == 0) job.cv.notify_one();
        });
      }
    }
    cv_.notify_all();
  }
  drain();
  std::unique_lock<std::mutex> lock(job.mu);
  job.cv.wait(lock, [&job] { return job.helpers_left == 0; });
}

std::optional<bool> VerifiedCache::FindLocked(const Hash32& tx_id) const {
  if (good_.count(tx_id) != 0) return true;
  if (bad_.count(tx_id) != 0) return false;
  return std::nullopt;
}

std::optional<bool> VerifiedCache::Get(const Hash32& tx_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return FindLocked(tx_id);
}

void VerifiedCache::Put(const Hash32& tx_id, bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  PutLocked(tx_id, ok);
}

bool VerifiedCache::GetOrVerify(const Hash32& tx_id, const std::function<bool()>& verify,
                                bool* ran) {
  *ran = false;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (std::optional<bool> known = FindLocked(tx_id)) return *known;
    if (in_flight_.count(tx_id) == 0) break;
    done_.wait(lock);
  }
  in_flight_.insert(tx_id);
  lock.unlock();
  const bool ok = verify();
  *ran = true;
  lock.lock();
  in_flight_.erase(tx_id);
  PutLocked(tx_id, ok);
  lock.unlock();
  done_.notify_all();
  return ok;
}

void VerifiedCache::PutLocked(const Hash32& tx_id, bool ok) {
  if (FindLocked(tx_id)) return;
  auto& set = ok ? good_ : bad_;
  auto& order = ok ? good_order_ : bad_order_;
  const size_t cap = ok ? capacity_ : failure_capacity_;
  set.insert(tx_id);
  order.push_back(tx_id);
  while (order.size() > cap) {
    set.erase(order.front());
    order.pop_front();
  }
}

size_t VerifiedCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return good_.size() + bad_.size();
}

size_t VerifiedCache::failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bad_.size();
}

}  // namespace consent
