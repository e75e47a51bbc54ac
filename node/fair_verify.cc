// FairVerifier (node/fair_verify.h): per-client queues in a ring, chunks handed to the workers
// of a VerifyPool round-robin, bounds counted per client and in total.
#include "node/fair_verify.h"

#include <algorithm>

namespace consent {

FairVerifier::FairVerifier(FairVerifyLimits limits, size_t threads, VerifyFn verify)
    : limits_(limits),
      threads_(std::max<size_t>(1, threads)),
      verify_(std::move(verify)),
      pool_(threads_ + 1) {}

FairVerifier::~FairVerifier() { Close(); }

Status FairVerifier::Enqueue(const std::string& client, size_t bytes,
                             std::shared_ptr<const std::vector<IdentifiedTx>> txs, DoneFn done) {
  const size_t n = txs ? txs->size() : 0;
  if (n == 0) {
    done({}, false);
    return Status::Ok();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Status st = CheckBoundsLocked(client, n, bytes); !st.ok()) return st;
    Client& c = clients_[client];
    auto b = std::make_shared<Batch>();
    b->client = client;
    b->bytes = bytes;
    b->txs = std::move(txs);
    b->done = std::move(done);
    b->verdicts.assign(n, 0);
    b->seq = next_seq_++;
    live_.emplace(b->seq, b);
    if (c.waiting.empty()) (c.txs == 0 ? fresh_ : ring_).push_back(client);
    c.waiting.push_back(b);
    c.txs += n;
    c.bytes += bytes;
    total_txs_ += n;
    total_bytes_ += bytes;
    if (draining_ >= threads_) return Status::Ok();
    ++draining_;
  }
  pool_.Post([this] { Drain(); });
  return Status::Ok();
}

Status FairVerifier::CheckBoundsLocked(const std::string& client, size_t n, size_t bytes) const {
  if (closed_) {
    return Status::Unavailable("the node is shutting down; retry against a running node");
  }
  auto it = clients_.find(client);
  const size_t c_txs = it == clients_.end() ? 0 : it->second.txs;
  const size_t c_bytes = it == clients_.end() ? 0 : it->second.bytes;
  // A batch alone over a bound is still taken when nothing else is queued, so that a bound
  // below one request's size cannot refuse a client forever.
  if (c_txs > 0 &&
      (c_txs + n > limits_.max_client_txs || c_bytes + bytes > limits_.max_client_bytes)) {
    return Status::Rejected(
        "too many transactions from this address waiting for signature verification (" +
        std::to_string(c_txs) + " transactions, " + std::to_string(c_bytes) +
        " bytes queued; at most " + std::to_string(limits_.max_client_txs) + " and " +
        std::to_string(limits_.max_client_bytes) + "); retry later");
  }
  const size_t max_txs = limits_.max_total_txs + (c_txs == 0 ? limits_.idle_reserve_txs : 0);
  const size_t max_bytes = limits_.max_total_bytes + (c_txs == 0 ? limits_.idle_reserve_bytes : 0);
  if (total_txs_ > 0 && (total_txs_ + n > max_txs || total_bytes_ + bytes > max_bytes)) {
    return Status::Unavailable("too many transactions waiting for signature verification (" +
                               std::to_string(total_txs_) + " from " +
                               std::to_string(clients_.size()) + " addresses; at most " +
                               std::to_string(limits_.max_total_txs) + "); retry later");
  }
  return Status::Ok();
}

Status FairVerifier::Admissible(const std::string& client, size_t bytes) const {
  std::lock_guard<std::mutex> lock(mu_);
  return CheckBoundsLocked(client, 0, bytes);
}

bool FairVerifier::HasQueued(const std::string& client) const {
  std::lock_guard<std::mutex> lock(mu_);
  return clients_.count(client) != 0;
}

bool FairVerifier::NextTurnLocked(Turn* turn) {
  for (;;) {
    std::deque<std::string>& from = !fresh_.empty() ? fresh_ : ring_;
    if (from.empty()) return false;
    const std::string name = std::move(from.front());
    from.pop_front();
    auto it = clients_.find(name);
    if (it == clients_.end() || it->second.waiting.empty()) continue;
    Client& c = it->second;
    std::shared_ptr<Batch> b = c.waiting.front();
    const size_t n = b->txs->size();
    turn->batch = b;
    turn->begin = b->next;
    turn->end = std::min(n, b->next + std::max<size_t>(1, limits_.chunk));
    b->next = turn->end;
    b->outstanding += turn->end - turn->begin;
    if (b->next == n) c.waiting.pop_front();
    if (!c.waiting.empty()) ring_.push_back(name);  // its next turn after every other client's
    return true;
  }
}

void FairVerifier::ReleaseLocked(const Batch& b) {
  const size_t n = b.txs->size();
  total_txs_ -= n;
  total_bytes_ -= b.bytes;
  auto it = clients_.find(b.client);
  if (it == clients_.end()) return;
  it->second.txs -= n;
  it->second.bytes -= b.bytes;
  if (it->second.txs == 0 && it->second.waiting.empty()) clients_.erase(it);
}

void FairVerifier::Drain() {
  for (;;) {
    Turn turn;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_ || !NextTurnLocked(&turn)) {
        --draining_;
        return;
      }
    }
    Batch& b = *turn.batch;
    // Each index is written by the one worker that holds its turn; the lock below orders the
    // writes before the batch's completion.
    for (size_t i = turn.begin; i < turn.end; ++i) {
      b.verdicts[i] = verify_((*b.txs)[i]) ? 1 : 0;
    }
    bool finish = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      b.outstanding -= turn.end - turn.begin;
      b.verified += turn.end - turn.begin;
      if (!b.finished && b.verified == b.txs->size()) {
        b.finished = true;
        live_.erase(b.seq);
        // The bounds are free before the answer goes out: a client that reads its answer and
        // sends again is never refused for the batch it was just answered for.
        ReleaseLocked(b);
        finish = true;
      }
    }
    if (!finish) continue;
    b.done(std::move(b.verdicts), false);
  }
}

void FairVerifier::Close() {
  std::vector<std::shared_ptr<Batch>> unfinished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    for (auto& [seq, b] : live_) {
      b->finished = true;
      unfinished.push_back(b);
    }
    live_.clear();
    fresh_.clear();
    ring_.clear();
    for (auto& [name, c] : clients_) c.waiting.clear();
  }
  for (auto& b : unfinished) {
    b->done({}, true);
    std::lock_guard<std::mutex> lock(mu_);
    ReleaseLocked(*b);
  }
}

size_t FairVerifier::queued_txs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_txs_;
}

size_t FairVerifier::clients() const {
  std::lock_guard<std::mutex> lock(mu_);
  return clients_.size();
}

}  // namespace consent
