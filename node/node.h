// Node: one consentd's ledger, mempool, peer links and consensus, behind the ApiBackend interface
// that net/ serves.
//
// It owns the ChainStore (RocksDB), the Mempool, the node key, the PeerManager (net/) and the
// pure consensus machine (ledger/consensus.h), which runs on one driver thread fed by an event
// queue: peer messages, timeouts and "transactions are available". The driver does what the
// machine asks: it builds a block from the mempool when this node proposes (up to
// max_txs_per_block candidates in arrival order, time_ms = max(now, previous + 1)), validates
// proposals it receives (first that the body is the one the signed header commits to, else the
// relaying peer is cut off and the header is not tainted: node/proposal_check.h; then signatures
// through the mempool's verified cache, so a transaction is verified once per node; state rules,
// roots; a time no more than kMaxFutureMs ahead of its clock), and before signing any proposal or
// vote it checks the double-sign guard and persists it (node/sign_state.h) so that no restart can
// make it sign two different blocks at one height and round. A decided block is committed in one
// synced batch with the commit the machine assembled; then the mempool drops what the block
// included and re-checks the rest, and CommitListeners hear the block. With one validator the same
// code commits each block alone.
//
// Transactions submitted here (or received from a peer and admitted) are gossiped to every peer,
// so a block built by any validator includes transactions submitted at any node. A node that
// learns from a peer's status that it is behind fetches blocks with their commits (block sync:
// from the peers ahead in turn, demoting one that does not deliver, node/block_sync.h),
// verifies each commit and block before applying it, reports catching_up while more than one
// block behind, then follows consensus. A follower (key not in the validator set) does the same
// and never signs. Equivocation (two different signed votes of one validator for one height,
// round and type) is kept (appended to <data_dir>/evidence.jsonl and reloaded at start; the last
// kMaxEvidence in memory, at most kMaxEvidencePerValidator per validator), logged, counted and
// served.
//
// A height's first round starts when transactions are pending (and block_interval_ms after the
// previous block), when a peer's proposal or vote for it arrives, or, on an idle chain,
// heartbeat_ms after the height started (an empty block, so that a live chain's head is recent;
// heartbeat_ms 0: idle chains make no blocks).
//
// A storage error (committing, reading committed state, persisting the sign state) is fatal:
// the node stops consensus, reports not ready and calls on_fatal (the daemon exits with an
// error) rather than serve or sign from a state it cannot trust.
//
// The implementation is split by room: node.cc (wiring, threads, peer callbacks, shutdown),
// node_txs.cc (tx intake and gossip), node_consensus.cc (the consensus driver), node_sync.cc
// (block sync, with its bookkeeping in node/block_sync.h), node_metrics.cc (status, metrics);
// next-height messages wait in node/future_buffer.h.
//
// Thread-safety: the ApiBackend methods may be called from any thread concurrently. Listeners
// are called on the driver thread with the listener lock held: they must not block and must not
// call Add/RemoveCommitListener. Snapshots returned by Snapshot() must be destroyed before the
// Node. Shutdown() is idempotent and may be called from any thread except a listener.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/keyfile.h"
#include "ledger/consensus.h"
#include "ledger/p2p_messages.h"
#include "ledger/store/chain_store.h"
#include "net/api_backend.h"
#include "net/peer_manager.h"
#include "node/block_sync.h"
#include "node/config.h"
#include "node/fair_verify.h"
#include "node/future_buffer.h"
#include "node/home.h"
#include "node/intake_queue.h"
#include "node/mempool.h"

namespace consent {

// A proposed block whose time is further than this ahead of the local clock is invalid.
inline constexpr uint64_t kMaxFutureMs = 10000;
inline constexpr size_t kMaxEvidence = 1000;
// Evidence items kept (in memory and appended to the file) per validator at most: the first ones
// are kept, so one equivocating validator cannot crowd out the evidence against the others.
inline constexpr size_t kMaxEvidencePerValidator = 16;
// Driver events queued at most (peer votes/proposals beyond this are dropped; gossip resends).
inline constexpr size_t kMaxDriverQueue = 50000;
// Pending transactions sent to a peer when its link opens, at most (the rest follows in the
// periodic re-gossip).
inline constexpr size_t kMaxNewLinkGossipTxs = 5000;
// Re-gossip of pending transactions: first after p2p.relay_after_ms (or this, when that is 0),
// then doubling up to kRegossipMaxDelay, until committed or dropped from the mempool.
inline constexpr std::chrono::milliseconds kRegossipFirstDelay{2000};
inline constexpr std::chrono::milliseconds kRegossipMaxDelay{30000};
// Bytes of transactions a proposed block holds at most, so that a proposal and a block_resp of
// one block fit in one peer frame (p2p::kMaxFrameBytes, 16 MiB).
inline constexpr size_t kMaxBlockBytes = 15u << 20;
// Bytes of blocks in one block_resp at most (a single larger block is sent alone).
inline constexpr size_t kMaxBlockResponseBytes = 8u << 20;

struct NodeOptions {
  Genesis genesis;
  KeyFile key;           // the node key (kind validator)
  std::string data_dir;  // the RocksDB directory (created if missing)
  // The double-sign guard; NodeOptionsFromHome puts it beside node.key (Home::SignStatePath).
  // Empty: data_dir + "/sign_state.json" (in-process tests only). A guard found at that legacy
  // place while this path is elsewhere is moved here at Open (MigrateSignState).
  std::string sign_state_path;
  Config config;  // [node], [storage], [p2p], [consensus] are used here; [api] by the daemon
  // Called once, on the driver thread, if the node stops on an error.
  std::function<void(const Status&)> on_fatal;
  // Wall clock in ms for block times and admission (tests); default: the system clock.
  std::function<uint64_t()> clock_ms;
  // Tests: called on the driver thread each time a new sign state has been made durable, before
  // anything is signed with it: the moment a kill -9 would leave exactly the files on disk.
  std::function<void(const SignState&)> on_sign_state_saved;
};

// The options for the home's node (genesis, key, data dir, config).
NodeOptions NodeOptionsFromHome(const Home& home);

class Node final : public ApiBackend, private PeerHandler {
 public:
  // Opens (or creates) the store for the genesis, checks it (ChainStore::Open: a store that
  // disagrees with itself or with the genesis is an error), loads the sign state, starts the
  // peer links (a validator of a multi-validator chain that cannot bind its p2p address fails;
  // other nodes log a warning and run without inbound links) and the driver.
  static Result<std::unique_ptr<Node>> Open(NodeOptions options);
  ~Node() override;  // Shutdown(), then closes the store

  // Closes the peer links, stops accepting transactions (kUnavailable), lets the block being
  // committed finish (one synced batch: wholly written or not at all), joins the threads,
  // flushes the store. Pending transactions are dropped (clients resubmit). Idempotent.
  void Shutdown();

  // Whether this node's key is in the validator set (it proposes and votes).
  bool producing() const { return validator_.load(); }
  // The bound p2p port (0 when not listening).
  uint16_t p2p_port() const;

  // ApiBackend.
  const Genesis& genesis() const override { return genesis_; }
  std::unique_ptr<KvRead> Snapshot() const override { return store_->Snapshot(); }
  using ApiBackend::Submit;  // the SignedTx form
  std::vector<SubmitOutcome> Submit(std::vector<IdentifiedTx> txs) override;
  // Verification queued per client in fair_ (node/fair_verify.h), then Admit.
  consent::Status SubmitAsync(const std::string& client, size_t bytes,
                              std::vector<IdentifiedTx> txs, SubmitDone done) override;
  consent::Status CanQueue(const std::string& client, size_t bytes) const override {
    return fair_->Admissible(client, bytes);
  }
  NodeStatus Status() const override;
  void AddCommitListener(CommitListener* l) override;
  void RemoveCommitListener(CommitListener* l) override;
  std::string NodeMetrics() const override;
  std::vector<Evidence> EvidenceList() const override;

 private:
  Node(NodeOptions options, std::unique_ptr<ChainStore> store, std::optional<SignState> sign_state);
  consent::Status StartPeers();
  void LoadEvidenceFile();
  // The proposal of the block this validator locked on, kept in locked_path_ (the p2p encoding
  // of a ProposalMsg) so that after a restart at that height the consensus can re-propose the
  // locked block instead of a new block it would itself prevote nil for. A liveness aid only:
  // safety rests on the sign state. Written durably (ReplaceFileDurably) before the sign state
  // that records the lock, so a sign state with a lock always finds its block here (a missing,
  // stale or damaged file is ignored with a log line). Driver thread.
  consent::Status SaveLockedProposal(const SignedProposal& p);
  std::optional<Block> RestoreLockedBlock(uint64_t height, const SignState& restored);

  // PeerHandler (peer I/O thread): quick; real work is posted to the driver or the ingest thread.
  void OnPeerConnected(const PeerInfo& peer) override;
  void OnPeerMessage(PeerId peer, p2p::Message message) override;
  void OnPeerDisconnected(PeerId peer) override;

  // Threads.
  void Post(std::function<void()> fn, bool droppable);
  void DriverLoop();
  void IngestLoop();

  // Driver thread only.
  void StartNextHeight();
  void MaybeTxsAvailable();
  void Handle(Output out);
  Output BuildProposal(const ProposalRequest& req);  // builds a block, hands it to the machine
  std::optional<SignedProposal> DoPropose(const ProposalRequest& req);  // guard, persist, sign
  std::optional<SignedVote> DoVote(const VoteRequest& req);             // guard, persist, sign
  void DoDecide(Decision d);
  bool EvaluateProposal(const SignedProposal& p);
  void OnProposalMsg(PeerId peer, const SignedProposal& p);
  void OnVoteMsg(PeerId peer, const SignedVote& v);
  void OnBlockResponse(PeerId peer, p2p::BlockResponse resp);
  void OnEvidenceMsg(PeerId peer, const Evidence& e);
  void OnStatusMsg(PeerId peer, const p2p::StatusMsg& s);
  void Tick();
  void MaybeSync();
  void GossipCurrentHeight(PeerId to);  // 0 = every peer
  // `synced`: the block came from block sync, not from this node's own round; it is counted in
  // consent_blocks_synced_total and kept out of the commit-latency histogram.
  void CommitDecided(ValidatedBlock validated, const Commit& commit, bool synced = false);
  void RecordEvidence(const Evidence& e);
  void Fatal(const consent::Status& st);
  void Broadcast(const p2p::Message& m, PeerId except = 0);
  void SendTo(PeerId peer, const p2p::Message& m);
  void UpdateConsensusInfo();

  // Relays the queued transactions that are due and still pending (driver thread, from Tick).
  void RelayDue();

  // Ingest thread only.
  void IngestTxs(PeerId peer, std::vector<SignedTx> txs);
  void ServeBlocks(PeerId peer, p2p::BlockRequest req);

  uint64_t NowMs() const;
  // Submit's work with the signatures' `verdicts` known (or null: verified here): admission to
  // the mempool, then gossip of the accepted ones.
  std::vector<SubmitOutcome> Admit(std::vector<IdentifiedTx> txs,
                                   const std::vector<char>* verdicts);
  // `seconds`: the height's latency, for the histogram; nullopt for a synced block.
  void RecordCommit(const CommittedBlock& block, std::optional<double> seconds);

  const NodeOptions options_;
  const Genesis genesis_;
  const SigningKey key_;
  // Whether this node's key is in the set that commits the current height (section 10: it
  // changes when the set does). Written by the driver thread at each height.
  std::atomic<bool> validator_{false};
  std::unique_ptr<ChainStore> store_;
  std::unique_ptr<Mempool> mempool_;
  // API submissions' signatures, verified round-robin across clients; closed at Shutdown,
  // destroyed before mempool_ (its workers call into it).
  std::unique_ptr<FairVerifier> fair_;
  std::unique_ptr<PeerManager> peers_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> fatal_{false};

  // Driver queue.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                        // guarded by mu_
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  uint64_t dropped_events_ = 0;              // guarded by mu_
  std::thread driver_;

  // Ingest queue.
  mutable std::mutex ingest_mu_;
  std::condition_variable ingest_cv_;
  bool ingest_stop_ = false;  // guarded by ingest_mu_
  IntakeQueue intake_;        // guarded by ingest_mu_: per-peer fair queues (node/intake_queue.h)
  std::thread ingest_;

  std::mutex shutdown_mu_;
  bool shut_down_ = false;  // guarded by shutdown_mu_

  // Driver-thread state.
  using Clock = std::chrono::steady_clock;
  std::unique_ptr<Consensus> consensus_;
  std::optional<SignState> sign_state_;
  std::multimap<Clock::time_point, TimeoutRequest> timers_;
  std::optional<Clock::time_point> txs_wake_at_;
  Clock::time_point last_commit_{};
  Clock::time_point height_started_{};
  Clock::time_point active_since_{};  // when the current height's first round started
  bool active_ = false;
  // When the outermost Handle call that found the height waiting began: a height that goes from
  // waiting to decided within one call (a single validator's every block) started then.
  Clock::time_point handle_since_{};
  int handle_depth_ = 0;
  Clock::time_point next_tick_{};
  Clock::time_point last_regossip_{};
  std::map<Hash32, ValidatedBlock> validated_;  // proposals of the current height found valid
  std::set<Hash32> invalid_;                    // ... and found invalid
  FutureBuffer future_;                         // messages for the next height
  BlockSync sync_;                              // peers' heights and the block request in flight

  // Read by Status() from any thread.
  std::atomic<bool> catching_up_{false};
  std::atomic<uint64_t> cons_height_{0};
  std::atomic<uint32_t> cons_round_{0};
  std::atomic<uint8_t> cons_step_{0};
  std::atomic<uint64_t> sync_demotions_{0};  // BlockSync::demotions(), for the metrics

  std::mutex listeners_mu_;
  std::vector<CommitListener*> listeners_;  // guarded by listeners_mu_

  const std::string evidence_path_;  // <data_dir>/evidence.jsonl (node/evidence_log.h)
  const std::string locked_path_;    // <data_dir>/locked_proposal.bin
  uint64_t saved_lock_height_ = 0;   // driver thread: the lock last written to locked_path_
  Hash32 saved_lock_hash_{};
  mutable std::mutex evidence_mu_;
  std::deque<Evidence> evidence_;   // guarded by evidence_mu_
  uint64_t evidence_total_ = 0;     // guarded by evidence_mu_
  uint64_t evidence_over_cap_ = 0;  // guarded by evidence_mu_: past kMaxEvidencePerValidator
  // True if `e` may be kept: fewer than kMaxEvidencePerValidator items of its validator held.
  bool EvidenceRoomLocked(const Evidence& e) const;

  // Transactions admitted here (submitted, or from a peer), to gossip again while they are still
  // pending: first when due (p2p.relay_after_ms after admission; for a peer's, the first relay,
  // so that a partial mesh still carries them), then with a doubling delay up to
  // kRegossipMaxDelay, until a block takes them or the mempool drops them. So a transaction any
  // honest node accepted reaches every validator even if a peer dropped it once (a full intake
  // queue, a link that closed). Bounded by the mempool's capacity (the oldest due go first).
  struct RelayItem {
    PeerId from = 0;  // the peer it came from first (0: submitted here): not sent back there
    Hash32 id{};      // the tx itself stays in the mempool until it is due (or committed)
    std::chrono::milliseconds delay{0};  // the wait before this due time
  };
  void QueueRelay(const std::vector<Hash32>& ids, PeerId from, std::chrono::milliseconds delay);
  void GossipPendingTo(PeerId peer);  // a new link: what is pending here, up to a bound
  std::mutex relay_mu_;
  std::multimap<std::chrono::steady_clock::time_point, RelayItem> relay_queue_;  // relay_mu_

  // Metrics.
  mutable std::mutex metrics_mu_;
  uint64_t txs_relayed_ = 0;               // guarded by metrics_mu_
  uint64_t blocks_committed_ = 0;          // guarded by metrics_mu_ (since start)
  uint64_t blocks_synced_ = 0;             // guarded by metrics_mu_: committed from block sync
  uint64_t txs_committed_ = 0;             // guarded by metrics_mu_
  uint64_t txs_left_out_ = 0;              // guarded by metrics_mu_: rejected at block building
  uint64_t rounds_started_ = 0;            // guarded by metrics_mu_
  uint64_t bad_peer_messages_ = 0;         // guarded by metrics_mu_
  uint64_t proposal_body_mismatches_ = 0;  // guarded by metrics_mu_: relayed bodies not signed
  std::vector<uint64_t> latency_buckets_;  // guarded by metrics_mu_ (cumulative at render)
  uint64_t latency_count_ = 0;             // guarded by metrics_mu_
  double latency_sum_ = 0;                 // guarded by metrics_mu_
  mutable std::chrono::steady_clock::time_point rate_at_;  // guarded by metrics_mu_
  mutable uint64_t rate_verifications_ = 0;                // guarded by metrics_mu_
  mutable double verify_rate_ = 0;                         // guarded by metrics_mu_
};

}  // namespace consent
