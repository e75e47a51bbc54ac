// Fan-out of the node's commit notifications to the API's waiters: POST /v1/txs?wait=commit
// requests (CommitWait: completes once every awaited tx id is committed) and WebSocket streams
// (BlockSink: receives every committed block). The hub is the one CommitListener the server
// registers with the backend; it only looks blocks up and hands them on, never blocks, and
// never calls back into the backend.
// Thread-safety: every method is thread-safe. OnCommit runs on the node's commit thread; the
// completion callback of a CommitWait and BlockSink::Deliver run on that thread too and must only
// post work to their own executor.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "net/api_backend.h"
#include "net/http_types.h"

namespace consent {

// A ?wait=commit request: the per-tx results answered so far and the tx ids still awaited.
class CommitWait {
 public:
  // `single`: the request body was one object (the answer is then one object).
  explicit CommitWait(bool single) : single_(single) {}

  // Awaits the tx whose result will be results[index]. Call before submitting.
  void Await(const Hash32& tx_id, size_t index);
  // The per-tx results of the submission (one object per tx, in request order).
  void SetResults(json::OrderedJson results);
  // Stops awaiting `tx_id` (it was not accepted); may complete the wait.
  void Drop(const Hash32& tx_id);
  // Records that `tx_id` is committed; may complete the wait.
  void MarkCommitted(const Hash32& tx_id, uint64_t height, uint64_t log_index);
  // MarkCommitted for the block's txs at `positions` (indices into block.txs), under one lock.
  void OnCommitted(const CommittedBlock& block, const std::vector<size_t>& positions);
  // MarkCommitted for every tx of the block.
  void OnBlock(const CommittedBlock& block);
  // Every tx id ever awaited (for the hub's index).
  std::vector<Hash32> AllIds() const;
  bool complete() const;
  // Runs `fn` once when the wait completes (now, on this thread, if it already has). Call after
  // SetResults and every Drop.
  void OnComplete(std::function<void()> fn);

  // The answer: 200 with the results (each committed tx with status "committed", height and
  // log_index), or after a timeout 504 {"error": {"code": "commit_timeout", ...}, "results"}.
  HttpResponse Render(bool timed_out, uint32_t timeout_ms) const;

 private:
  struct Location {
    uint64_t height;
    uint64_t log_index;
  };
  void MaybeFire(std::unique_lock<std::mutex>& lock);
  void MarkCommittedLocked(const Hash32& tx_id, uint64_t height, uint64_t log_index);

  mutable std::mutex mu_;
  const bool single_;
  json::OrderedJson results_ = json::OrderedJson::array();
  std::unordered_map<Hash32, std::vector<size_t>, Hash32Hasher>
      awaited_;  // tx id -> indices into results_
  std::map<size_t, Location> committed_;
  std::vector<Hash32> all_ids_;
  std::function<void()> on_complete_;
  bool fired_ = false;
};

// A committed block as the streams send it: each transaction's stream message (JSON text) is
// serialised at most once, by the first stream that needs it, and shared by every stream (their
// queues hold references, not copies). Controllers are computed once, up front, for the filters.
// Thread-safety: thread-safe (Text serialises under a per-tx once_flag).
class StreamBlock {
 public:
  explicit StreamBlock(std::shared_ptr<const CommittedBlock> block);
  const CommittedBlock& block() const { return *block_; }
  size_t size() const { return block_->txs.size(); }
  // None for a transaction that names no controller (SET_VALIDATORS).
  const std::optional<PublicKey>& Controller(size_t i) const { return controllers_[i]; }
  // The stream message of txs[i] (see docs/api.md), serialised on first use.
  const std::string& Text(size_t i) const;

 private:
  const std::shared_ptr<const CommittedBlock> block_;
  std::vector<std::optional<PublicKey>> controllers_;
  std::unique_ptr<std::once_flag[]> once_;
  std::unique_ptr<std::string[]> texts_;
};

// Receives every committed block (a WebSocket stream session).
class BlockSink {
 public:
  virtual ~BlockSink() = default;
  virtual void Deliver(const std::shared_ptr<const StreamBlock>& block) = 0;
};

class CommitHub : public CommitListener {
 public:
  // Registers with `backend`, which must outlive the hub.
  explicit CommitHub(ApiBackend& backend);
  ~CommitHub() override;  // Detach()
  // Unregisters from the backend; afterwards no more blocks arrive. Idempotent.
  void Detach();
  CommitHub(const CommitHub&) = delete;
  CommitHub& operator=(const CommitHub&) = delete;

  void OnCommit(const std::shared_ptr<const CommittedBlock>& block) override;

  // Indexes the wait's ids. Register before submitting, so that no commit is missed.
  void AddWait(const std::shared_ptr<CommitWait>& wait);
  void RemoveWait(const std::shared_ptr<CommitWait>& wait);
  void AddSink(const std::shared_ptr<BlockSink>& sink);
  void RemoveSink(const BlockSink* sink);

 private:
  ApiBackend& backend_;
  std::once_flag detached_;
  std::mutex mu_;
  // tx id -> the waits awaiting it. A block's commit looks up each of its txs once here and
  // hands each wait only the positions of its own txs (O(block), not O(waits x block)).
  std::unordered_map<Hash32, std::vector<std::weak_ptr<CommitWait>>, Hash32Hasher> waits_;
  std::map<const BlockSink*, std::weak_ptr<BlockSink>> sinks_;
};

}  // namespace consent
