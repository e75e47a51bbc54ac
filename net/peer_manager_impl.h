// Internal to net/: the state of a PeerManager (net/peer_manager.h) shared by the manager's code
// (net/peer_manager.cc) and the links (net/peer_session.cc). Nothing outside net/peer_*.cc may
// include this file.
//
// Thread-safety: the links by id and by key, bans and pending counts are under mu_ (never held
// while a handler callback runs); persistent-peer dialling state is on mgr_strand_; counters are
// atomics; opt_, handler_ and key_ are immutable after construction.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "net/peer_admission.h"
#include "net/peer_manager.h"
#include "net/peer_session.h"

namespace consent {

// IPs whose handshake pace is remembered at once (net/peer_admission.h); ~100 bytes each.
inline constexpr size_t kMaxTrackedIps = 4096;

class PeerManagerImpl {
 public:
  PeerManagerImpl(PeerManagerOptions options, PeerHandler* handler)
      : opt_(std::move(options)),
        handler_(handler),
        key_(SigningKey::FromSeed(opt_.node_seed)),
        mgr_strand_(asio::make_strand(ioc_)),
        acceptor_(mgr_strand_),
        handshake_rate_(std::max(opt_.handshakes_per_ip_per_sec, 1e-3),
                        std::max(2.0 * opt_.handshakes_per_ip_per_sec, 1.0), kMaxTrackedIps) {}

  ~PeerManagerImpl() { Stop(); }

  Status Start();
  void Stop();
  uint16_t listen_port() const { return port_; }
  void Send(PeerId peer, std::shared_ptr<const Bytes> frame);
  void Broadcast(std::shared_ptr<const Bytes> frame, PeerId except);
  void Disconnect(PeerId peer, const std::string& reason, bool ban);
  void SetPeerHeight(PeerId peer, uint64_t height);
  size_t peer_count() const;
  std::vector<PeerInfo> Peers() const;
  std::string Metrics() const;

 private:
  struct Persistent {
    std::string address;
    tcp::endpoint endpoint;
    uint32_t backoff_ms = 0;
    std::optional<PublicKey> key;  // learned from the first handshake on this address
    PeerId waiting_on = 0;         // its key is connected through this other link
    std::unique_ptr<asio::steady_timer> timer;
  };

  void Log(const std::string& line) const {
    if (opt_.log) opt_.log(line);
  }
  void DoAccept();
  void OnAccept(boost::system::error_code ec, tcp::socket socket);
  // Persistent peers (on mgr_strand_).
  void Dial(size_t index);
  void ScheduleDial(size_t index, uint32_t delay_ms);
  void OnPersistentEnd(size_t index, bool lived_long);
  void OnLinkClosed(PeerId id);
  void LearnKey(size_t index, const PublicKey& key);

  // Called by sessions (on their strands).
  bool IsKeyBanned(const PublicKey& key);
  void Ban(const std::optional<PublicKey>& key, const std::string& address);
  // After the handshake: registers the link (and marks it priority or guest), or says why not.
  // Sets *replaced to a link that this one replaces (to be closed with "duplicate link") and
  // *evicted to a guest link unlisted to make room for this priority link (to be closed).
  std::optional<std::string> Admit(const std::shared_ptr<PeerSession>& s,
                                   std::shared_ptr<PeerSession>* replaced,
                                   std::shared_ptr<PeerSession>* evicted);
  // REQUIRES: mu_ held.
  bool IsPriorityLocked(const PeerSession& s) const;
  std::shared_ptr<PeerSession> PickEvictionLocked() const;
  void ReleasePendingLocked(PeerSession* s);
  // Refuses an inbound connection before the upgrade: "HTTP/1.1 503" with the reason, closed.
  void RefuseConnection(tcp::socket& socket, const std::string& address, const std::string& why);
  void OnSessionEnd(PeerSession* s, bool was_ready, bool lived_long);
  void Unlist(PeerSession* s);
  std::shared_ptr<PeerSession> FindReady(PeerId id) const;

  const PeerManagerOptions opt_;
  PeerHandler* const handler_;
  const SigningKey key_;
  // Destroyed last: handlers still queued in it hold sessions.
  asio::io_context ioc_;
  asio::strand<asio::io_context::executor_type> mgr_strand_;
  tcp::acceptor acceptor_;
  // Out of file descriptors (EMFILE/ENFILE) or memory, accepting pauses this long (on
  // mgr_strand_) instead of retrying at once, which would spin the p2p thread.
  static constexpr uint32_t kAcceptBackoffMs = 100;
  asio::steady_timer accept_backoff_{mgr_strand_};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex lifecycle_mu_;
  bool started_ = false, stopped_ = false;  // guarded by lifecycle_mu_

  std::vector<Persistent> persistent_;  // on mgr_strand_ after Start

  mutable std::mutex mu_;
  PeerId next_id_ = 1;                                        // guarded by mu_
  std::map<PeerId, std::shared_ptr<PeerSession>> sessions_;   // every live session; mu_
  std::map<PublicKey, std::shared_ptr<PeerSession>> by_key_;  // ready links; mu_
  std::map<PublicKey, Clock::time_point> banned_keys_;        // mu_
  std::map<std::string, Clock::time_point> banned_addrs_;     // mu_
  size_t pending_inbound_ = 0;                                // mu_
  std::map<std::string, size_t> pending_by_ip_;               // IpKey -> pending inbound; mu_
  PerIpRate handshake_rate_;                                  // mu_
  std::map<size_t, PublicKey> persistent_keys_;  // persistent index -> key proven on a dial; mu_

  std::atomic<uint64_t> msgs_in_{0}, msgs_out_{0}, dropped_{0}, bans_{0}, handshake_failures_{0};
  // Refusals by admission rule, and guest links evicted for priority links.
  std::atomic<uint64_t> refused_pending_{0}, refused_pending_ip_{0}, refused_rate_ip_{0},
      refused_inbound_ip_{0}, refused_full_{0}, evictions_{0};
  std::atomic<uint64_t> accept_backoffs_{0};  // accepting paused on EMFILE/ENFILE/ENOMEM

  friend class PeerSession;
};

}  // namespace consent
