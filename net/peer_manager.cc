// Implementation of PeerManager (net/peer_manager.h): one io_context run by one thread, a listener
// that serves the WebSocket upgrade on /p2p, and one PeerSession (net/peer_session.h) per link on
// its own strand. Out of file descriptors (EMFILE/ENFILE), the listener pauses for
// kAcceptBackoffMs and then accepts again, as the API's does (net/api_server.cc).
//
// What the manager shares between sessions and the public methods (the links by id and by key,
// bans, counters) is under one mutex, never held while a handler callback runs. Persistent-peer
// dialling state lives on the manager's own strand. Outgoing queues are bounded with atomic
// counters, so Send/Broadcast decide to drop without waiting for the strand.
#include "net/peer_manager.h"

#include <pthread.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>

#include "ledger/tx.h"
#include "net/peer_manager_impl.h"

namespace consent {
namespace {

constexpr auto kStopGrace = std::chrono::seconds(2);
constexpr size_t kMaxRefusalDrainBytes = 8192;  // an upgrade request read before a refusal

Result<tcp::endpoint> ParseEndpoint(const std::string& s) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return Status::Invalid("'" + s + "': not host:port");
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return Status::Invalid("'" + s + "': host is not an IP literal");
  std::string_view port_text = std::string_view(s).substr(colon + 1);
  unsigned port = 0;
  auto [end, err] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (err != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return Status::Invalid("'" + s + "': port must be 1..65535");
  }
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

}  // namespace

// ---- Manager --------------------------------------------------------------------------------

Status PeerManagerImpl::Start() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  if (started_ || stopped_) return Status::Rejected("peer manager: Start called twice");
  if (!handler_) return Status::Invalid("peer manager: no handler");
  RETURN_IF_ERROR(CheckChainId(opt_.chain_id).Prefixed("peer manager"));
  if (opt_.max_msgs_per_sec == 0) return Status::Invalid("max_msgs_per_sec must be at least 1");
  if (opt_.max_frame_bytes < 1024) return Status::Invalid("max_frame_bytes must be >= 1024");
  if (opt_.guest_msgs_per_sec == 0 || opt_.guest_bytes_per_sec == 0 ||
      !(opt_.handshakes_per_ip_per_sec > 0) || opt_.max_pending_per_ip == 0) {
    return Status::Invalid(
        "guest_msgs_per_sec, guest_bytes_per_sec, handshakes_per_ip_per_sec and "
        "max_pending_per_ip must be positive");
  }
  if (opt_.backoff_min_ms == 0 || opt_.backoff_min_ms > opt_.backoff_max_ms) {
    return Status::Invalid("backoff: need 0 < backoff_min_ms <= backoff_max_ms");
  }
  for (size_t i = 0; i < opt_.persistent_peers.size(); ++i) {
    auto ep = ParseEndpoint(opt_.persistent_peers[i]);
    if (!ep.ok()) return ep.status().Prefixed("persistent_peers[" + std::to_string(i) + "]");
    Persistent p;
    p.address = opt_.persistent_peers[i];
    p.endpoint = *ep;
    p.backoff_ms = opt_.backoff_min_ms;
    p.timer = std::make_unique<asio::steady_timer>(mgr_strand_);
    persistent_.push_back(std::move(p));
  }
  if (opt_.listen) {
    boost::system::error_code ec;
    std::string where = opt_.listen_address + ":" + std::to_string(opt_.listen_port);
    auto address = asio::ip::make_address(opt_.listen_address, ec);
    if (ec)
      return Status::Invalid("p2p listen address '" + opt_.listen_address + "': " + ec.message());
    tcp::endpoint ep(address, opt_.listen_port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      return Status::IoError("p2p: cannot listen on " + where + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
  }
  started_ = true;
  work_.emplace(ioc_.get_executor());
  asio::post(mgr_strand_, [this] {
    if (opt_.listen) DoAccept();
    for (size_t i = 0; i < persistent_.size(); ++i) Dial(i);
  });
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "consent-p2p");
    ioc_.run();
  });
  return Status::Ok();
}

void PeerManagerImpl::Stop() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;
  stopping_.store(true);
  asio::post(mgr_strand_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    accept_backoff_.cancel();
    for (Persistent& p : persistent_) p.timer->cancel();
  });
  std::vector<std::shared_ptr<PeerSession>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, s] : sessions_) all.push_back(s);
  }
  for (auto& s : all) s->PostClose("shutting down", false);
  all.clear();
  // Give links a moment to say goodbye and finish their close handshakes, then stop.
  auto deadline = Clock::now() + kStopGrace;
  while (Clock::now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (sessions_.empty()) break;
    }
    std::this_thread::sleep_for(Ms(2));
  }
  work_.reset();
  ioc_.stop();
  thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.clear();
  by_key_.clear();
}

void PeerManagerImpl::DoAccept() {
  acceptor_.async_accept(asio::make_strand(ioc_),
                         [this](boost::system::error_code ec, tcp::socket socket) {
                           OnAccept(ec, std::move(socket));
                         });
}

void PeerManagerImpl::OnAccept(boost::system::error_code ec, tcp::socket socket) {
  if (stopping_.load() || !acceptor_.is_open()) return;
  if (!ec) {
    boost::system::error_code rec;
    auto remote = socket.remote_endpoint(rec);
    std::string address = rec ? std::string("unknown")
                              : remote.address().to_string() + ":" + std::to_string(remote.port());
    const std::string ip = rec ? address : IpKey(remote.address());
    std::shared_ptr<PeerSession> s;
    std::string refusal;
    {
      std::lock_guard<std::mutex> lock(mu_);
      size_t& from_ip = pending_by_ip_[ip];
      if (pending_inbound_ >= opt_.max_pending_handshakes) {
        refused_pending_.fetch_add(1);
        refusal =
            "too many pending handshakes (" + std::to_string(opt_.max_pending_handshakes) + ")";
      } else if (from_ip >= opt_.max_pending_per_ip) {
        refused_pending_ip_.fetch_add(1);
        refusal = "too many pending handshakes from " + ip + " (max_pending_per_ip " +
                  std::to_string(opt_.max_pending_per_ip) + ")";
      } else if (!handshake_rate_.Take(ip, Clock::now())) {
        refused_rate_ip_.fetch_add(1);
        refusal = "too many handshakes from " + ip + " (handshakes_per_ip_per_sec " +
                  std::to_string(opt_.handshakes_per_ip_per_sec) + ")";
      } else {
        ++pending_inbound_;
        ++from_ip;
        PeerId id = next_id_++;
        s = std::make_shared<PeerSession>(this, id, false, std::nullopt, address, ip,
                                          std::move(socket));
        sessions_.emplace(id, s);
      }
      if (from_ip == 0) pending_by_ip_.erase(ip);
    }
    if (s) {
      s->StartInbound();
    } else {
      RefuseConnection(socket, address, refusal);
    }
  }
  if (ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_memory ||
      ec == asio::error::no_buffer_space) {
    // Accepting again at once would fail again at once: the p2p thread would spin. Pause; the
    // links already open go on being served, and the waiting connections stay in the kernel's
    // backlog until then.
    accept_backoffs_.fetch_add(1);
    accept_backoff_.expires_after(Ms(kAcceptBackoffMs));
    accept_backoff_.async_wait([this](boost::system::error_code wait_ec) {
      if (!wait_ec && !stopping_.load()) DoAccept();
    });
    return;
  }
  DoAccept();  // also after another error: keep serving
}

void PeerManagerImpl::RefuseConnection(tcp::socket& socket, const std::string& address,
                                       const std::string& why) {
  Log("p2p: refused " + address + ": " + why);
  handshake_failures_.fetch_add(1);
  // One non-blocking write: whatever does not fit in the socket buffer is not waited for.
  const std::string body = "p2p: " + why + "\n";
  const std::string response =
      "HTTP/1.1 503 Service Unavailable\r\nServer: consentd-p2p\r\n"
      "Content-Type: text/plain\r\nConnection: close\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  boost::system::error_code ignored;
  socket.non_blocking(true, ignored);
  socket.write_some(asio::buffer(response), ignored);
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  // Closing with unread bytes sends a reset, which can overtake the answer: drain what is there.
  char drain[kMaxRefusalDrainBytes];
  socket.read_some(asio::buffer(drain), ignored);
  socket.close(ignored);
}

void PeerManagerImpl::Dial(size_t index) {
  if (stopping_.load()) return;
  Persistent& p = persistent_[index];
  std::shared_ptr<PeerSession> s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto ban = banned_addrs_.find(p.address);
    if (ban != banned_addrs_.end() && ban->second > Clock::now()) {
      auto wait = std::chrono::duration_cast<Ms>(ban->second - Clock::now()).count() + 1;
      p.timer->expires_after(Ms(wait));
      p.timer->async_wait([this, index](boost::system::error_code ec) {
        if (!ec) Dial(index);
      });
      return;
    }
    if (p.key) {
      auto it = by_key_.find(*p.key);
      if (it != by_key_.end()) {
        p.waiting_on = it->second->id();
        return;
      }
    }
    PeerId id = next_id_++;
    s = std::make_shared<PeerSession>(this, id, true, index, p.address, std::string(),
                                      tcp::socket(asio::make_strand(ioc_)));
    sessions_.emplace(id, s);
  }
  s->StartOutbound(p.endpoint);
}

void PeerManagerImpl::ScheduleDial(size_t index, uint32_t delay_ms) {
  if (stopping_.load()) return;
  Persistent& p = persistent_[index];
  p.timer->expires_after(Ms(delay_ms));
  p.timer->async_wait([this, index](boost::system::error_code ec) {
    if (!ec) Dial(index);
  });
}

void PeerManagerImpl::OnPersistentEnd(size_t index, bool lived_long) {
  Persistent& p = persistent_[index];
  if (lived_long) p.backoff_ms = opt_.backoff_min_ms;
  if (p.key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_key_.find(*p.key);
    if (it != by_key_.end()) {
      p.waiting_on = it->second->id();  // redialled when that link closes
      return;
    }
  }
  uint32_t delay = p.backoff_ms;
  p.backoff_ms = std::min(opt_.backoff_max_ms, p.backoff_ms * 2);
  ScheduleDial(index, delay);
}

void PeerManagerImpl::OnLinkClosed(PeerId id) {
  for (size_t i = 0; i < persistent_.size(); ++i) {
    if (persistent_[i].waiting_on != id) continue;
    persistent_[i].waiting_on = 0;
    ScheduleDial(i, persistent_[i].backoff_ms);
  }
}

void PeerManagerImpl::LearnKey(size_t index, const PublicKey& key) { persistent_[index].key = key; }

bool PeerManagerImpl::IsKeyBanned(const PublicKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = banned_keys_.find(key);
  if (it == banned_keys_.end()) return false;
  if (it->second > Clock::now()) return true;
  banned_keys_.erase(it);
  return false;
}

void PeerManagerImpl::Ban(const std::optional<PublicKey>& key, const std::string& address) {
  if (!key && address.empty()) return;
  auto until = Clock::now() + std::chrono::seconds(opt_.ban_seconds);
  std::lock_guard<std::mutex> lock(mu_);
  if (key) banned_keys_[*key] = until;
  if (!address.empty()) banned_addrs_[address] = until;
  bans_.fetch_add(1);
}

bool PeerManagerImpl::IsPriorityLocked(const PeerSession& s) const {
  if (s.outbound()) return true;
  if (opt_.is_validator && opt_.is_validator(s.key())) return true;
  for (const auto& [index, key] : persistent_keys_) {
    if (key == s.key()) return true;
  }
  return false;
}

std::shared_ptr<PeerSession> PeerManagerImpl::PickEvictionLocked() const {
  std::map<std::string, size_t> guests_by_ip;
  for (const auto& [key, link] : by_key_) {
    if (!link->priority()) ++guests_by_ip[link->ip()];
  }
  std::shared_ptr<PeerSession> victim;
  size_t victim_ip_count = 0;
  for (const auto& [key, link] : by_key_) {
    if (link->priority()) continue;
    size_t n = guests_by_ip[link->ip()];
    if (!victim || n > victim_ip_count || (n == victim_ip_count && link->id() > victim->id())) {
      victim = link;
      victim_ip_count = n;
    }
  }
  return victim;
}

void PeerManagerImpl::ReleasePendingLocked(PeerSession* s) {
  if (s->outbound() || !s->counted_pending_) return;
  s->counted_pending_ = false;
  --pending_inbound_;
  auto it = pending_by_ip_.find(s->ip());
  if (it != pending_by_ip_.end() && --it->second == 0) pending_by_ip_.erase(it);
}

std::optional<std::string> PeerManagerImpl::Admit(const std::shared_ptr<PeerSession>& s,
                                                  std::shared_ptr<PeerSession>* replaced,
                                                  std::shared_ptr<PeerSession>* evicted) {
  std::lock_guard<std::mutex> lock(mu_);
  auto ban = banned_keys_.find(s->key());
  if (ban != banned_keys_.end() && ban->second > Clock::now()) return "banned";
  if (s->persistent()) {
    persistent_keys_[*s->persistent()] = s->key();
    // A link this key opened to us before we proved it on our dial is a persistent peer's too.
    if (auto it = by_key_.find(s->key()); it != by_key_.end()) it->second->set_priority(true);
  }
  const bool priority = IsPriorityLocked(*s);
  auto it = by_key_.find(s->key());
  if (it != by_key_.end()) {
    const PeerSession& old = *it->second;
    const PublicKey& self = key_.public_key();
    // The dialer of each link: this node if outbound, else the peer.
    const PublicKey& old_dialer = old.outbound() ? self : old.key();
    const PublicKey& new_dialer = s->outbound() ? self : s->key();
    bool keep_new = new_dialer == old_dialer ? true : new_dialer < old_dialer;
    if (!keep_new) return "duplicate link";
    s->set_priority(priority);
    *replaced = it->second;
    it->second = s;
  } else {
    if (!priority) {
      size_t from_ip = 0;
      for (const auto& [key, link] : by_key_) {
        if (!link->priority() && link->ip() == s->ip()) ++from_ip;
      }
      if (from_ip >= opt_.max_inbound_per_ip) {
        refused_inbound_ip_.fetch_add(1);
        return "too many links from " + s->ip() + " (max_inbound_per_ip " +
               std::to_string(opt_.max_inbound_per_ip) + ")";
      }
      if (by_key_.size() >= opt_.max_peers) {
        refused_full_.fetch_add(1);
        return "too many peers";
      }
    } else if (by_key_.size() >= opt_.max_peers) {
      // A validator or persistent peer always gets a slot: a guest makes room, if there is one.
      if (auto victim = PickEvictionLocked()) {
        by_key_.erase(victim->key());
        evictions_.fetch_add(1);
        *evicted = std::move(victim);
      }
    }
    s->set_priority(priority);
    by_key_.emplace(s->key(), s);
  }
  ReleasePendingLocked(s.get());
  return std::nullopt;
}

void PeerManagerImpl::Unlist(PeerSession* s) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_key_.find(s->key());
  if (it != by_key_.end() && it->second.get() == s) by_key_.erase(it);
}

void PeerManagerImpl::OnSessionEnd(PeerSession* s, bool was_ready, bool lived_long) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ReleasePendingLocked(s);
    if (was_ready) {
      auto it = by_key_.find(s->key());
      if (it != by_key_.end() && it->second.get() == s) by_key_.erase(it);
    }
    sessions_.erase(s->id());
  }
  if (stopping_.load()) return;
  PeerId id = s->id();
  auto index = s->persistent();
  asio::post(mgr_strand_, [this, id, index, was_ready, lived_long] {
    if (was_ready) OnLinkClosed(id);
    if (index) OnPersistentEnd(*index, lived_long);
  });
}

std::shared_ptr<PeerSession> PeerManagerImpl::FindReady(PeerId id) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, s] : by_key_) {
    if (s->id() == id) return s;
  }
  return nullptr;
}

void PeerManagerImpl::Send(PeerId peer, std::shared_ptr<const Bytes> frame) {
  if (stopping_.load() || !frame) return;
  if (auto s = FindReady(peer)) s->Enqueue(std::move(frame));
}

void PeerManagerImpl::Broadcast(std::shared_ptr<const Bytes> frame, PeerId except) {
  if (stopping_.load() || !frame) return;
  std::vector<std::shared_ptr<PeerSession>> targets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, s] : by_key_) {
      if (s->id() != except) targets.push_back(s);
    }
  }
  for (auto& s : targets) s->Enqueue(frame);
}

void PeerManagerImpl::Disconnect(PeerId peer, const std::string& reason, bool ban) {
  std::shared_ptr<PeerSession> s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(peer);
    if (it != sessions_.end()) s = it->second;
  }
  if (s) s->PostClose(reason, ban);
}

void PeerManagerImpl::SetPeerHeight(PeerId peer, uint64_t height) {
  if (auto s = FindReady(peer)) s->SetHeight(height);
}

size_t PeerManagerImpl::peer_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_key_.size();
}

std::vector<PeerInfo> PeerManagerImpl::Peers() const {
  std::vector<PeerInfo> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, s] : by_key_) out.push_back(s->Info());
  std::sort(out.begin(), out.end(),
            [](const PeerInfo& a, const PeerInfo& b) { return a.id < b.id; });
  return out;
}

std::string PeerManagerImpl::Metrics() const {
  std::string out;
  auto add = [&out](const char* name, const char* type, const char* help, uint64_t value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(value) + "\n";
  };
  add("consent_peers", "gauge", "Peer links past the handshake.", peer_count());
  add("consent_peer_messages_in_total", "counter", "Frames received from peers.", msgs_in_.load());
  add("consent_peer_messages_out_total", "counter", "Frames written to peers.", msgs_out_.load());
  add("consent_peer_dropped_total", "counter",
      "Outgoing messages dropped because a peer's queue was full.", dropped_.load());
  add("consent_peer_bans_total", "counter", "Peers banned for misbehaviour.", bans_.load());
  add("consent_peer_handshake_failures_total", "counter",
      "Links refused or failed before the handshake completed.", handshake_failures_.load());
  out +=
      "# HELP consent_peer_refused_total Inbound links refused by an admission limit.\n"
      "# TYPE consent_peer_refused_total counter\n";
  const std::pair<const char*, uint64_t> refused[] = {
      {"pending_total", refused_pending_.load()},
      {"pending_per_ip", refused_pending_ip_.load()},
      {"handshake_rate", refused_rate_ip_.load()},
      {"inbound_per_ip", refused_inbound_ip_.load()},
      {"max_peers", refused_full_.load()}};
  for (const auto& [reason, n] : refused) {
    out += std::string("consent_peer_refused_total{reason=\"") + reason + "\"} " +
           std::to_string(n) + "\n";
  }
  size_t validators = 0, guests = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, link] : by_key_) {
      if (opt_.is_validator && opt_.is_validator(key)) ++validators;
      if (!link->priority()) ++guests;
    }
  }
  add("consent_validator_peers", "gauge", "Peer links to current validators.", validators);
  add("consent_guest_peers", "gauge",
      "Peer links that are neither validators, persistent peers nor dialled by this node.", guests);
  add("consent_peer_evictions_total", "counter",
      "Guest links closed to make room for a validator or persistent peer.", evictions_.load());
  add("consent_peer_accept_backoffs_total", "counter",
      "Times the p2p listener paused accepting for 100 ms: out of file descriptors or memory.",
      accept_backoffs_.load());
  return out;
}

// ---- PeerManager ----------------------------------------------------------------------------

PeerManager::PeerManager(PeerManagerOptions options, PeerHandler* handler)
    : impl_(std::make_unique<PeerManagerImpl>(std::move(options), handler)) {}
PeerManager::~PeerManager() { Stop(); }
Status PeerManager::Start() { return impl_->Start(); }
void PeerManager::Stop() { impl_->Stop(); }
uint16_t PeerManager::listen_port() const { return impl_->listen_port(); }
void PeerManager::Send(PeerId peer, std::shared_ptr<const Bytes> frame) {
  impl_->Send(peer, std::move(frame));
}
void PeerManager::Broadcast(std::shared_ptr<const Bytes> frame, PeerId except) {
  impl_->Broadcast(std::move(frame), except);
}
void PeerManager::Disconnect(PeerId peer, const std::string& reason, bool ban) {
  impl_->Disconnect(peer, reason, ban);
}
void PeerManager::SetPeerHeight(PeerId peer, uint64_t height) {
  impl_->SetPeerHeight(peer, height);
}
size_t PeerManager::peer_count() const { return impl_->peer_count(); }
std::vector<PeerInfo> PeerManager::Peers() const { return impl_->Peers(); }
std::string PeerManager::Metrics() const { return impl_->Metrics(); }

}  // namespace consent
