// Implementation of CommitWait and CommitHub (net/commit_hub.h).
#include "net/commit_hub.h"

#include <algorithm>

#include "net/api_json.h"

namespace consent {

StreamBlock::StreamBlock(std::shared_ptr<const CommittedBlock> block)
    : block_(std::move(block)),
      once_(new std::once_flag[block_->txs.size()]),
      texts_(new std::string[block_->txs.size()]) {
  controllers_.reserve(block_->txs.size());
  for (const SignedTx& tx : block_->txs) controllers_.push_back(ControllerOf(tx.body));
}

const std::string& StreamBlock::Text(size_t i) const {
  std::call_once(once_[i], [&] {
    texts_[i] = json::Dump(StreamEventJson(block_->txs[i], block_->TxId(i), block_->header.height,
                                           block_->first_log_index + i));
  });
  return texts_[i];
}

void CommitWait::Await(const Hash32& tx_id, size_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  awaited_[tx_id].push_back(index);
  all_ids_.push_back(tx_id);
}

void CommitWait::SetResults(json::OrderedJson results) {
  std::lock_guard<std::mutex> lock(mu_);
  results_ = std::move(results);
}

void CommitWait::Drop(const Hash32& tx_id) {
  std::unique_lock<std::mutex> lock(mu_);
  awaited_.erase(tx_id);
  MaybeFire(lock);
}

void CommitWait::MarkCommitted(const Hash32& tx_id, uint64_t height, uint64_t log_index) {
  std::unique_lock<std::mutex> lock(mu_);
  MarkCommittedLocked(tx_id, height, log_index);
  MaybeFire(lock);
}

void CommitWait::MarkCommittedLocked(const Hash32& tx_id, uint64_t height, uint64_t log_index) {
  auto it = awaited_.find(tx_id);
  if (it == awaited_.end()) return;
  for (size_t index : it->second) committed_[index] = Location{height, log_index};
  awaited_.erase(it);
}

void CommitWait::OnCommitted(const CommittedBlock& block, const std::vector<size_t>& positions) {
  std::unique_lock<std::mutex> lock(mu_);
  for (size_t i : positions) {
    if (i >= block.txs.size()) continue;
    MarkCommittedLocked(block.TxId(i), block.header.height, block.first_log_index + i);
  }
  MaybeFire(lock);
}

void CommitWait::OnBlock(const CommittedBlock& block) {
  std::vector<size_t> all(block.txs.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  OnCommitted(block, all);
}

std::vector<Hash32> CommitWait::AllIds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return all_ids_;
}

bool CommitWait::complete() const {
  std::lock_guard<std::mutex> lock(mu_);
  return awaited_.empty();
}

void CommitWait::OnComplete(std::function<void()> fn) {
  std::unique_lock<std::mutex> lock(mu_);
  on_complete_ = std::move(fn);
  MaybeFire(lock);
}

void CommitWait::MaybeFire(std::unique_lock<std::mutex>& lock) {
  if (fired_ || !awaited_.empty() || !on_complete_) return;
  fired_ = true;
  std::function<void()> fn = std::move(on_complete_);
  lock.unlock();
  fn();
}

HttpResponse CommitWait::Render(bool timed_out, uint32_t timeout_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  json::OrderedJson results = results_;
  for (const auto& [index, loc] : committed_) {
    if (index >= results.size()) continue;
    json::OrderedJson& r = results[index];
    r["status"] = "committed";
    r["height"] = loc.height;
    r["log_index"] = loc.log_index;
  }
  if (!timed_out || awaited_.empty()) {
    return JsonResponse(200, single_ && !results.empty() ? results[0] : results);
  }
  json::OrderedJson body = ErrorJson(
      "commit_timeout",
      std::to_string(awaited_.size()) + " accepted transaction(s) not committed within " +
          std::to_string(timeout_ms) + " ms; they stay pending: poll GET /v1/txs/{tx_id}");
  body["results"] = std::move(results);
  return JsonResponse(504, body);
}

CommitHub::CommitHub(ApiBackend& backend) : backend_(backend) { backend_.AddCommitListener(this); }

CommitHub::~CommitHub() { Detach(); }

void CommitHub::Detach() {
  std::call_once(detached_, [this] { backend_.RemoveCommitListener(this); });
}

void CommitHub::OnCommit(const std::shared_ptr<const CommittedBlock>& block) {
  // (wait, position in the block) for every awaited tx of the block.
  std::vector<std::pair<std::shared_ptr<CommitWait>, size_t>> hits;
  std::vector<std::shared_ptr<BlockSink>> sinks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < block->txs.size(); ++i) {
      auto it = waits_.find(block->TxId(i));
      if (it == waits_.end()) continue;
      for (const auto& w : it->second) {
        if (auto s = w.lock()) hits.emplace_back(std::move(s), i);
      }
      waits_.erase(it);
    }
    for (const auto& [key, weak] : sinks_) {
      if (auto s = weak.lock()) sinks.push_back(std::move(s));
    }
  }
  // Grouped by wait (stable: positions stay in block order), each wait takes its lock once.
  std::stable_sort(hits.begin(), hits.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<size_t> positions;
  for (size_t k = 0; k < hits.size();) {
    positions.clear();
    size_t e = k;
    for (; e < hits.size() && hits[e].first == hits[k].first; ++e)
      positions.push_back(hits[e].second);
    hits[k].first->OnCommitted(*block, positions);
    k = e;
  }
  if (sinks.empty()) return;
  auto shared = std::make_shared<const StreamBlock>(block);  // one per block, for every stream
  for (const auto& s : sinks) s->Deliver(shared);
}

void CommitHub::AddWait(const std::shared_ptr<CommitWait>& wait) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Hash32& id : wait->AllIds()) waits_[id].push_back(wait);
}

void CommitHub::RemoveWait(const std::shared_ptr<CommitWait>& wait) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Hash32& id : wait->AllIds()) {
    auto it = waits_.find(id);
    if (it == waits_.end()) continue;
    auto& v = it->second;
    v.erase(std::remove_if(v.begin(), v.end(),
                           [&](const std::weak_ptr<CommitWait>& w) {
                             auto s = w.lock();
                             return !s || s == wait;
                           }),
            v.end());
    if (v.empty()) waits_.erase(it);
  }
}

void CommitHub::AddSink(const std::shared_ptr<BlockSink>& sink) {
  std::lock_guard<std::mutex> lock(mu_);
  sinks_[sink.get()] = sink;
}

void CommitHub::RemoveSink(const BlockSink* sink) {
  std::lock_guard<std::mutex> lock(mu_);
  sinks_.erase(sink);
}

}  // namespace consent
