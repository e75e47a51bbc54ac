// Fair signature verification of API submissions (issue 16, item 7): one queue per client (the
// API's ClientKey: an IPv4 address or an IPv6 /64), served round-robin, a chunk of at most
// FairVerifyLimits::chunk transactions per turn, by the worker threads of a VerifyPool. A client
// that had nothing queued takes its first turn before the clients already in the ring (it got
// no service while idle; the backlogged ones did), in the order such clients arrived, and then
// joins the ring. A client that queues many large batches therefore delays another client's
// batch by at most one chunk per other client with work queued, not by its whole backlog.
//
// Bounds (docs/security.md, "API clients and streams"): per client at most max_client_txs
// transactions and max_client_bytes request bytes queued or being verified (over it, Enqueue
// answers kRejected: the API answers 429), and for all clients together max_total_txs and
// max_total_bytes (over it, kUnavailable: 503), plus idle_reserve_txs/bytes that only a client
// with nothing queued may use. A batch counts against the bounds from Enqueue
// until its `done` has returned.
//
// `done` runs on a worker thread, once per accepted batch, with one verdict per transaction
// (1: the signature verifies); after Close, batches not yet finished are answered with
// `closed` set and no verdicts. Thread-safety: every method is thread-safe; `verify` and `done`
// are called without the queue's lock and must be thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "crypto/status.h"
#include "ledger/tx.h"
#include "node/verify_pool.h"

namespace consent {

struct FairVerifyLimits {
  size_t max_client_txs = 40'000;         // the per-client burst (api.write_tx_burst)
  size_t max_client_bytes = 64ull << 20;  // the per-client byte burst (api.write_bytes_burst)
  size_t max_total_txs = 160'000;         // ~8 s of verification at 20,000/s
  size_t max_total_bytes = 256ull << 20;  // request bytes (JSON), more than the decoded txs
  size_t chunk = 16;                      // transactions verified per turn (~1 ms of one core)
  // A client with nothing queued may take its batch past the total bounds by this much more:
  // a flood from many addresses that fills the queue does not refuse an idle client's grant.
  size_t idle_reserve_txs = 40'000;
  size_t idle_reserve_bytes = 64ull << 20;
};

class FairVerifier {
 public:
  // verify(tx, id): true if the signature verifies (may consult a cache).
  using VerifyFn = std::function<bool(const IdentifiedTx&)>;
  // done(verdicts, closed): verdicts[i] for txs[i]; `closed`: not verified (shutting down).
  using DoneFn = std::function<void(std::vector<char> verdicts, bool closed)>;

  // `threads` >= 1 worker threads verify.
  FairVerifier(FairVerifyLimits limits, size_t threads, VerifyFn verify);
  ~FairVerifier();  // Close(), then joins the workers
  FairVerifier(const FairVerifier&) = delete;
  FairVerifier& operator=(const FairVerifier&) = delete;

  // Queues a batch of `client`'s. `bytes`: what the request cost to hold (its body size).
  // OK: queued, `done` will run. kRejected: this client's bounds are full; kUnavailable: the
  // total bounds are full or the verifier is closed; `done` is then not called. The messages
  // name the bound.
  Status Enqueue(const std::string& client, size_t bytes,
                 std::shared_ptr<const std::vector<IdentifiedTx>> txs, DoneFn done);

  // Whether a batch of `bytes` from `client` could be queued now (the transaction bounds taken
  // as they stand, without this batch's): the same refusals as Enqueue, before the caller spends
  // work decoding it.
  Status Admissible(const std::string& client, size_t bytes) const;
  // Whether `client` has a batch queued or being verified.
  bool HasQueued(const std::string& client) const;

  // Answers every unfinished batch with `closed`; later Enqueues are refused. Idempotent.
  void Close();

  size_t queued_txs() const;  // queued or being verified, all clients
  size_t clients() const;     // clients with a batch queued or being verified
  const FairVerifyLimits& limits() const { return limits_; }

 private:
  struct Batch {
    std::string client;
    size_t bytes = 0;
    std::shared_ptr<const std::vector<IdentifiedTx>> txs;
    DoneFn done;
    std::vector<char> verdicts;
    size_t next = 0;         // first transaction not yet handed to a worker
    size_t outstanding = 0;  // handed out, not yet verified
    size_t verified = 0;
    bool finished = false;  // answered (verified or closed)
    uint64_t seq = 0;       // key in live_
  };
  struct Client {
    std::deque<std::shared_ptr<Batch>> waiting;  // batches with transactions not handed out
    size_t txs = 0, bytes = 0;                   // counted until each batch's done returned
  };
  struct Turn {
    std::shared_ptr<Batch> batch;
    size_t begin = 0, end = 0;
  };

  // Worker loop: takes turns until no client has work, then returns (a new Enqueue posts it).
  void Drain();
  // REQUIRES: mu_ held. The next client's next chunk, round-robin; false if none.
  bool NextTurnLocked(Turn* turn);
  // REQUIRES: mu_ held. The refusal for a batch of n transactions and `bytes`, or OK.
  Status CheckBoundsLocked(const std::string& client, size_t n, size_t bytes) const;
  // REQUIRES: mu_ held. Releases the batch's share of the bounds.
  void ReleaseLocked(const Batch& b);

  const FairVerifyLimits limits_;
  const size_t threads_;
  const VerifyFn verify_;
  mutable std::mutex mu_;
  std::map<std::string, Client> clients_;  // guarded by mu_; only clients with a batch counted
  // Clients with waiting batches: those that were idle first (arrival order), then the ring.
  std::deque<std::string> fresh_;                    // guarded by mu_
  std::deque<std::string> ring_;                     // guarded by mu_
  std::map<uint64_t, std::shared_ptr<Batch>> live_;  // guarded by mu_; unfinished, by seq
  size_t total_txs_ = 0, total_bytes_ = 0;           // guarded by mu_
  uint64_t next_seq_ = 1;                            // guarded by mu_
  size_t draining_ = 0;                              // guarded by mu_; workers inside Drain
  bool closed_ = false;                              // guarded by mu_
  VerifyPool pool_;                                  // last: its workers run Drain on this object
};

}  // namespace consent
