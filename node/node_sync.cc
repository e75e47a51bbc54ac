// Node, block sync (node/node.h): peers' heights, requesting blocks with their commits from a
// peer ahead, verifying and applying them, and serving blocks to peers behind.
// Thread-safety: driver thread, except ServeBlocks (ingest thread).
#include "node/node.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "crypto/hex.h"
#include "ledger/block_pipeline.h"
#include "ledger/queries.h"
#include "node/node_internal.h"

namespace consent {

void Node::OnStatusMsg(PeerId peer, const p2p::StatusMsg& s) {
  sync_.SetPeerHeight(peer, s.height);
  if (peers_) peers_->SetPeerHeight(peer, s.height);
  MaybeSync();
}

void Node::MaybeSync() {
  const uint64_t mine = store_->height();
  auto req = sync_.Next(mine, Clock::now(), static_cast<uint32_t>(p2p::kMaxBlocksPerResponse));
  catching_up_ = sync_.catching_up();
  if (sync_.demotions() != sync_demotions_.load()) {
    spdlog::info(
        "block sync: a peer did not deliver the blocks it was asked for ({} times so far); "
        "asking another peer ahead",
        sync_.demotions());
    sync_demotions_ = sync_.demotions();
  }
  if (!req) return;
  p2p::BlockRequest m;
  m.from_height = req->from;
  m.count = req->count;
  spdlog::debug("block sync: requesting {} blocks from height {} of peer {}", m.count,
                m.from_height, req->peer);
  SendTo(req->peer, m);
}

void Node::OnBlockResponse(PeerId peer, p2p::BlockResponse resp) {
  size_t applied = 0;
  for (p2p::BlockWithCommit& bc : resp.blocks) {
    if (fatal_) return;
    const uint64_t mine = store_->height();
    const uint64_t h = bc.block.header.height;
    if (h <= mine) continue;  // already have it (consensus got there first)
    if (h != mine + 1) break;
    const Hash32 hash = bc.block.header.Hash();
    auto refuse = [&](const std::string& why) {
      {
        std::lock_guard<std::mutex> lock(metrics_mu_);
        ++bad_peer_messages_;
      }
      spdlog::warn("block sync: peer {} sent an invalid block {}: {}", peer, h, why);
      sync_.OnResponse(peer, store_->height(), applied);
      if (peers_) peers_->Disconnect(peer, "invalid block " + std::to_string(h) + ": " + why, true);
    };
    if (consent::Status st =
            VerifyCommit(genesis_.chain_id, store_->ValidatorsFor(h), h, hash, bc.commit);
        !st.ok()) {
      return refuse(st.message());
    }
    BlockCheck check;
    auto v = ValidateBlock(store_->kv(), genesis_, store_->tip(), bc.block, bc.commit.round, false,
                           &check);
    if (!v.ok()) {
      if (check.reason == BlockRejectReason::kStorage) return Fatal(v.status());
      return refuse(v.status().message());
    }
    if (auto bad = mempool_->VerifyBlockSignatures(bc.block.txs, v->tx_ids)) {
      return refuse("transaction " + std::to_string(*bad) + " has an invalid signature");
    }
    {
      std::lock_guard<std::mutex> lock(metrics_mu_);
      ++blocks_synced_;
    }
    ++applied;
    CommitDecided(std::move(v).value(), bc.commit, /*synced=*/true);
  }
  sync_.OnResponse(peer, store_->height(), applied);
  if (applied > 0) {
    spdlog::info("block sync: applied {} blocks from peer {}, now at height {}", applied, peer,
                 store_->height());
  }
  MaybeSync();
}

void Node::ServeBlocks(PeerId peer, p2p::BlockRequest req) {
  std::unique_ptr<KvRead> snap = store_->Snapshot();
  p2p::BlockResponse resp;
  size_t bytes = 0;
  const uint32_t count =
      std::min<uint32_t>(req.count, static_cast<uint32_t>(p2p::kMaxBlocksPerResponse));
  for (uint64_t h = req.from_height; h < req.from_height + count; ++h) {
    auto certified = GetCertifiedHeader(*snap, h);
    if (!certified.ok()) break;  // past the head (NotFound) or unreadable: send what we have
    auto body = GetBlockBody(*snap, h);
    if (!body.ok()) {
      spdlog::error("block sync: stored block {}: {}", h, body.status().ToString());
      break;
    }
    bytes += body->encoded_bytes + 1024;
    if (!resp.blocks.empty() && bytes > kMaxBlockResponseBytes) break;
    p2p::BlockWithCommit bc;
    bc.block.header = certified->header;
    bc.block.txs = std::move(body->txs);
    bc.commit = certified->commit;
    resp.blocks.push_back(std::move(bc));
  }
  SendTo(peer, resp);
}

}  // namespace consent
