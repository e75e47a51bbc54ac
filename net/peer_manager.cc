// Implementation of PeerManager (net/peer_manager.h): one io_context run by one thread, a listener
// that serves the WebSocket upgrade on /p2p, and one Session per link on its own strand.
//
// A Session walks connect (outbound) or HTTP upgrade (inbound) -> WebSocket -> hello -> hello_ack
// -> ready -> closing -> done. Everything a session owns is touched only on its strand; what the
// manager shares between sessions and the public methods (the links by id and by key, bans,
// counters) is under one mutex, never held while a handler callback runs. Persistent-peer dialling
// state lives on the manager's own strand. Outgoing queues are bounded with atomic counters, so
// Send/Broadcast decide to drop without waiting for the strand.
#include "net/peer_manager.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "crypto/hex.h"
#include "ledger/tx.h"

namespace consent {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

namespace {

constexpr const char* kPath = "/p2p";
constexpr auto kStableLink = std::chrono::seconds(10);  // a link this old resets the backoff
constexpr uint32_t kCloseGraceMs = 2000;                // goodbye + close handshake, at most
constexpr auto kStopGrace = std::chrono::seconds(2);
constexpr size_t kMaxUpgradeHeaderBytes = 8192;

std::string KeyName(const PublicKey& k) { return ToHex(ByteView(k.data(), 8)); }

// A goodbye reason / close reason: printable ASCII only, at most `max` bytes.
std::string Printable(std::string_view s, size_t max) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) break;
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  return out;
}

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

class PeerManager::Impl {
 public:
  class Session;

  Impl(PeerManagerOptions options, PeerHandler* handler)
      : opt_(std::move(options)),
        handler_(handler),
        key_(SigningKey::FromSeed(opt_.node_seed)),
        mgr_strand_(asio::make_strand(ioc_)),
        acceptor_(mgr_strand_) {}

  ~Impl() { Stop(); }

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
  // After the handshake: registers the link, or says why not. Sets *replaced to a link that
  // this one replaces (it must then be closed with "duplicate link").
  std::optional<std::string> Admit(const std::shared_ptr<Session>& s,
                                   std::shared_ptr<Session>* replaced);
  void OnSessionEnd(Session* s, bool was_ready, bool lived_long);
  void Unlist(Session* s);
  std::shared_ptr<Session> FindReady(PeerId id) const;

  const PeerManagerOptions opt_;
  PeerHandler* const handler_;
  const SigningKey key_;
  // Destroyed last: handlers still queued in it hold sessions.
  asio::io_context ioc_;
  asio::strand<asio::io_context::executor_type> mgr_strand_;
  tcp::acceptor acceptor_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex lifecycle_mu_;
  bool started_ = false, stopped_ = false;  // guarded by lifecycle_mu_

  std::vector<Persistent> persistent_;  // on mgr_strand_ after Start

  mutable std::mutex mu_;
  PeerId next_id_ = 1;                                     // guarded by mu_
  std::map<PeerId, std::shared_ptr<Session>> sessions_;    // every live session; mu_
  std::map<PublicKey, std::shared_ptr<Session>> by_key_;   // ready links; mu_
  std::map<PublicKey, Clock::time_point> banned_keys_;     // mu_
  std::map<std::string, Clock::time_point> banned_addrs_;  // mu_
  size_t pending_inbound_ = 0;                             // mu_

  std::atomic<uint64_t> msgs_in_{0}, msgs_out_{0}, dropped_{0}, bans_{0}, handshake_failures_{0};

  friend class Session;
};

// ---- Session --------------------------------------------------------------------------------

class PeerManager::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  using Strand = asio::strand<asio::io_context::executor_type>;

  Session(Impl* mgr, PeerId id, bool outbound, std::optional<size_t> persistent,
          std::string address, tcp::socket socket)
      : mgr_(mgr),
        id_(id),
        outbound_(outbound),
        persistent_(persistent),
        address_(std::move(address)),
        ws_(std::move(socket)),
        handshake_timer_(ws_.get_executor()),
        close_timer_(ws_.get_executor()) {
    tokens_ = Burst();
    refilled_ = Clock::now();
    RandomBytes(challenge_.data(), challenge_.size());
  }

  bool counted_pending_ = true;  // an inbound link counted in pending_inbound_; Impl::mu_

  PeerId id() const { return id_; }
  bool outbound() const { return outbound_; }
  const std::string& address() const { return address_; }
  const PublicKey& key() const { return key_; }  // REQUIRES: admitted (set before Admit)
  std::optional<size_t> persistent() const { return persistent_; }

  PeerInfo Info() const {
    PeerInfo p;
    p.id = id_;
    p.key = key_;
    p.address = address_;
    p.outbound = outbound_;
    p.height = height_.load();
    p.msgs_in = msgs_in_.load();
    p.msgs_out = msgs_out_.load();
    p.dropped_out = dropped_out_.load();
    return p;
  }
  void SetHeight(uint64_t h) { height_.store(h); }

  void StartOutbound(tcp::endpoint endpoint) {
    asio::dispatch(ws_.get_executor(), [self = shared_from_this(), endpoint] {
      if (self->mgr_->stopping_.load()) return self->Finish();
      self->ArmHandshakeTimer();
      auto& tcp_stream = beast::get_lowest_layer(self->ws_);
      tcp_stream.expires_after(Ms(self->mgr_->opt_.handshake_timeout_ms));
      tcp_stream.async_connect(endpoint, [self](beast::error_code ec) { self->OnConnect(ec); });
    });
  }

  void StartInbound() {
    asio::dispatch(ws_.get_executor(), [self = shared_from_this()] {
      if (self->mgr_->stopping_.load()) return self->Finish();
      self->ArmHandshakeTimer();
      self->parser_.emplace();
      self->parser_->header_limit(kMaxUpgradeHeaderBytes);
      self->parser_->body_limit(0);
      auto& tcp_stream = beast::get_lowest_layer(self->ws_);
      tcp_stream.expires_after(Ms(self->mgr_->opt_.handshake_timeout_ms));
      http::async_read(tcp_stream, self->buffer_, *self->parser_,
                       [self](beast::error_code ec, size_t) { self->OnUpgradeRequest(ec); });
    });
  }

  // From any thread. False if the queue is full (the frame is dropped and counted).
  bool Enqueue(std::shared_ptr<const Bytes> frame) {
    const PeerManagerOptions& o = mgr_->opt_;
    size_t size = frame->size();
    size_t msgs = queued_msgs_.fetch_add(1) + 1;
    size_t bytes = queued_bytes_.fetch_add(size) + size;
    if (msgs > o.max_queue_msgs || bytes > o.max_queue_bytes) {
      queued_msgs_.fetch_sub(1);
      queued_bytes_.fetch_sub(size);
      dropped_out_.fetch_add(1);
      mgr_->dropped_.fetch_add(1);
      return false;
    }
    asio::post(ws_.get_executor(), [self = shared_from_this(), frame = std::move(frame)] {
      self->Push(frame, /*counted=*/true);
    });
    return true;
  }

  // From any thread.
  void PostClose(std::string reason, bool ban) {
    asio::post(ws_.get_executor(), [self = shared_from_this(), reason = std::move(reason), ban] {
      if (ban) self->BanSelf();
      self->CloseWith(reason);
    });
  }

 private:
  enum class Phase { kUpgrade, kHello, kAck, kReady, kClosing, kDone };
  struct Out {
    std::shared_ptr<const Bytes> frame;
    bool counted;
  };

  double Burst() const { return 2.0 * mgr_->opt_.max_msgs_per_sec; }

  void ArmHandshakeTimer() {
    handshake_timer_.expires_after(Ms(mgr_->opt_.handshake_timeout_ms));
    handshake_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->phase_ >= Phase::kReady) return;
      self->Refuse("handshake timeout");
    });
  }

  void OnConnect(beast::error_code ec) {
    if (phase_ >= Phase::kClosing) return;
    if (ec) {
      mgr_->Log("p2p: dial " + address_ + " failed: " + ec.message());
      return Finish();
    }
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ignored);
    beast::get_lowest_layer(ws_).expires_never();
    ConfigureWebSocket(beast::role_type::client);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& req) { req.set(http::field::user_agent, "consentd-p2p"); }));
    ws_.async_handshake(address_, kPath,
                        [self = shared_from_this()](beast::error_code ec) { self->OnOpen(ec); });
  }

  void OnUpgradeRequest(beast::error_code ec) {
    if (phase_ >= Phase::kClosing) return;
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted) {
      return Finish();
    }
    if (ec) return Reject(http::status::bad_request, "malformed HTTP request");
    const auto& req = parser_->get();
    if (req.target() != kPath) return Reject(http::status::not_found, "not found");
    if (!websocket::is_upgrade(req)) {
      return Reject(http::status::bad_request, "a WebSocket upgrade is required on /p2p");
    }
    beast::get_lowest_layer(ws_).expires_never();
    buffer_.consume(buffer_.size());
    ConfigureWebSocket(beast::role_type::server);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "consentd-p2p"); }));
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) { self->OnOpen(ec); });
  }

  void Reject(http::status status, std::string body) {
    reject_.emplace(status, 11);
    reject_->set(http::field::server, "consentd-p2p");
    reject_->set(http::field::content_type, "text/plain");
    reject_->body() = std::move(body) + "\n";
    reject_->keep_alive(false);
    reject_->prepare_payload();
    auto& tcp_stream = beast::get_lowest_layer(ws_);
    tcp_stream.expires_after(Ms(mgr_->opt_.handshake_timeout_ms));
    http::async_write(tcp_stream, *reject_, [self = shared_from_this()](beast::error_code, size_t) {
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().shutdown(tcp::socket::shutdown_send, ignored);
      self->Finish();
    });
  }

  void ConfigureWebSocket(beast::role_type role) {
    const PeerManagerOptions& o = mgr_->opt_;
    websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(role);
    t.handshake_timeout = Ms(o.handshake_timeout_ms);
    t.idle_timeout = Ms(o.idle_timeout_ms);
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.read_message_max(o.max_frame_bytes);
    ws_.binary(true);
  }

  void OnOpen(beast::error_code ec) {
    if (phase_ >= Phase::kClosing) return;
    if (ec) {
      mgr_->Log("p2p: WebSocket upgrade with " + address_ + " failed: " + ec.message());
      return Finish();
    }
    ws_open_ = true;
    phase_ = Phase::kHello;
    p2p::Hello hello;
    hello.chain_id = mgr_->opt_.chain_id;
    hello.genesis_hash = mgr_->opt_.genesis_hash;
    hello.protocol_version = p2p::kProtocolVersion;
    hello.node_key = mgr_->key_.public_key();
    hello.challenge = challenge_;
    hello.height = mgr_->opt_.current_height ? mgr_->opt_.current_height() : 0;
    Push(std::make_shared<const Bytes>(p2p::Encode(hello)), false);
    DoRead();
  }

  void DoRead() {
    ws_.async_read(buffer_,
                   [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (phase_ == Phase::kDone) return;
    if (ec) {
      if (ec == websocket::error::message_too_big && phase_ < Phase::kClosing) {
        // Beast has already sent close 1009 and torn the connection down.
        Misbehaved("frame over " + std::to_string(mgr_->opt_.max_frame_bytes) + " bytes");
      }
      return Finish();
    }
    ByteView data(static_cast<const uint8_t*>(buffer_.data().data()), buffer_.size());
    // While closing, frames are drained and dropped until the peer's close frame.
    if (phase_ < Phase::kClosing) OnFrame(data);
    buffer_.consume(buffer_.size());
    if (phase_ != Phase::kDone) DoRead();  // a read stays pending until the link ends
  }

  void OnFrame(ByteView data) {
    msgs_in_.fetch_add(1);
    mgr_->msgs_in_.fetch_add(1);
    if (!TakeToken()) {
      return Misbehave("rate limit exceeded (" + std::to_string(mgr_->opt_.max_msgs_per_sec) +
                       " messages/s)");
    }
    if (!ws_.got_binary()) return Misbehave("text frame");
    auto message = p2p::Decode(data);
    if (!message.ok()) return Misbehave("malformed frame: " + message.status().message());
    OnMessage(std::move(message).value());
  }

  bool TakeToken() {
    Clock::time_point now = Clock::now();
    double rate = mgr_->opt_.max_msgs_per_sec;
    tokens_ =
        std::min(Burst(), tokens_ + std::chrono::duration<double>(now - refilled_).count() * rate);
    refilled_ = now;
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

  void OnMessage(p2p::Message m) {
    const PeerManagerOptions& o = mgr_->opt_;
    if (auto* bye = std::get_if<p2p::Goodbye>(&m)) {
      mgr_->Log("p2p: " + Name() + " said goodbye: " + Printable(bye->reason, 256));
      if (phase_ < Phase::kReady) mgr_->handshake_failures_.fetch_add(1);
      return CloseQuietly();
    }
    if (phase_ == Phase::kHello) {
      auto* hello = std::get_if<p2p::Hello>(&m);
      if (!hello) return Misbehave(std::string("expected hello, got ") + p2p::MessageName(m));
      if (hello->chain_id != o.chain_id) {
        return Refuse("wrong chain id: '" + hello->chain_id + "', this node is on '" + o.chain_id +
                      "'");
      }
      if (hello->genesis_hash != o.genesis_hash) {
        return Refuse("wrong genesis hash: " + ToHex(hello->genesis_hash) + ", this node has " +
                      ToHex(o.genesis_hash));
      }
      if (hello->protocol_version != p2p::kProtocolVersion) {
        return Refuse("unsupported protocol version " + std::to_string(hello->protocol_version) +
                      " (this node speaks " + std::to_string(p2p::kProtocolVersion) + ")");
      }
      if (hello->node_key == mgr_->key_.public_key()) return Refuse("self connection");
      if (mgr_->IsKeyBanned(hello->node_key)) return Refuse("banned");
      key_ = hello->node_key;
      height_.store(hello->height);
      p2p::HelloAck ack;
      ack.signature = mgr_->key_.Sign(p2p::HandshakeMessage(
          o.chain_id, o.genesis_hash, mgr_->key_.public_key(), hello->challenge));
      Push(std::make_shared<const Bytes>(p2p::Encode(ack)), false);
      phase_ = Phase::kAck;
      return;
    }
    if (phase_ == Phase::kAck) {
      auto* ack = std::get_if<p2p::HelloAck>(&m);
      if (!ack) return Misbehave(std::string("expected hello_ack, got ") + p2p::MessageName(m));
      Bytes expected = p2p::HandshakeMessage(o.chain_id, o.genesis_hash, key_, challenge_);
      if (!VerifySignature(key_, expected, ack->signature)) {
        if (outbound_) mgr_->Ban(std::nullopt, address_);
        return Refuse("bad handshake signature");
      }
      authenticated_ = true;
      if (persistent_) {
        // Known from now on, even if this link loses a duplicate tie-break below.
        asio::post(mgr_->mgr_strand_,
                   [mgr = mgr_, i = *persistent_, key = key_] { mgr->LearnKey(i, key); });
      }
      std::shared_ptr<Session> replaced;
      if (auto refusal = mgr_->Admit(shared_from_this(), &replaced)) return Refuse(*refusal);
      if (replaced) {
        mgr_->Log("p2p: " + Name() + " replaces link " + std::to_string(replaced->id()) +
                  " to the same key: duplicate link");
        replaced->PostClose("duplicate link", false);
      }
      phase_ = Phase::kReady;
      ready_at_ = Clock::now();
      handshake_timer_.cancel();
      connected_ = true;
      mgr_->handler_->OnPeerConnected(Info());
      return;
    }
    // Ready.
    if (std::holds_alternative<p2p::Hello>(m) || std::holds_alternative<p2p::HelloAck>(m)) {
      return Misbehave(std::string("unexpected ") + p2p::MessageName(m) + " after the handshake");
    }
    if (auto* status = std::get_if<p2p::StatusMsg>(&m)) height_.store(status->height);
    mgr_->handler_->OnPeerMessage(id_, std::move(m));
  }

  std::string Name() const {
    return (authenticated_ ? KeyName(key_) + "@" : std::string()) + address_;
  }

  void BanSelf() {
    mgr_->Ban(authenticated_ ? std::optional<PublicKey>(key_) : std::nullopt,
              outbound_ ? address_ : std::string());
  }

  // Misbehaviour: ban (the key if proven, the address if outbound) and close with a goodbye.
  void Misbehaved(const std::string& reason) {
    mgr_->Log("p2p: " + Name() + " misbehaved: " + reason);
    if (phase_ < Phase::kReady) mgr_->handshake_failures_.fetch_add(1);
    BanSelf();
  }
  void Misbehave(const std::string& reason) {
    Misbehaved(reason);
    CloseWith(reason);
  }

  // A handshake that cannot go on: goodbye(reason), no ban.
  void Refuse(const std::string& reason) {
    mgr_->Log("p2p: refused " + Name() + ": " + reason);
    mgr_->handshake_failures_.fetch_add(1);
    CloseWith(reason);
  }

  void Push(std::shared_ptr<const Bytes> frame, bool counted) {
    if (phase_ >= Phase::kClosing && counted) {
      queued_msgs_.fetch_sub(1);
      queued_bytes_.fetch_sub(frame->size());
      return;
    }
    queue_.push_back(Out{std::move(frame), counted});
    if (!writing_) DoWrite();
  }

  void DoWrite() {
    if (queue_.empty() || phase_ == Phase::kDone) return;
    writing_ = true;
    ws_.async_write(
        asio::buffer(*queue_.front().frame),
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
  }

  void OnWrite(beast::error_code ec) {
    writing_ = false;
    if (!queue_.empty()) {
      Release(queue_.front());
      queue_.pop_front();
    }
    if (phase_ == Phase::kDone) return;
    if (ec) return Finish();
    msgs_out_.fetch_add(1);
    mgr_->msgs_out_.fetch_add(1);
    if (!queue_.empty()) return DoWrite();
    if (phase_ == Phase::kClosing) StartCloseHandshake();
  }

  void Release(const Out& out) {
    if (!out.counted) return;
    queued_msgs_.fetch_sub(1);
    queued_bytes_.fetch_sub(out.frame->size());
  }

  // Goodbye(reason), then the WebSocket close handshake, then done (at most kCloseGraceMs).
  void CloseWith(const std::string& reason) {
    if (phase_ >= Phase::kClosing) return;
    if (!ws_open_) return Finish();
    EnterClosing(reason);
    Push(std::make_shared<const Bytes>(
             p2p::Encode(p2p::Goodbye{Printable(reason, p2p::kMaxGoodbyeBytes)})),
         false);
  }

  // The peer said goodbye: close without answering it.
  void CloseQuietly() {
    if (phase_ >= Phase::kClosing) return;
    EnterClosing("goodbye received");
    if (!writing_) StartCloseHandshake();
  }

  void EnterClosing(const std::string& reason) {
    phase_ = Phase::kClosing;
    if (connected_) mgr_->Unlist(this);  // no more Send/Broadcast to a closing link
    close_reason_ = Printable(reason, 120);
    // Drop what is not on the socket yet; the frame being written (if any) stays.
    while (queue_.size() > (writing_ ? 1u : 0u)) {
      Release(queue_.back());
      queue_.pop_back();
    }
    handshake_timer_.cancel();
    close_timer_.expires_after(Ms(kCloseGraceMs));
    close_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->Finish();
    });
  }

  void StartCloseHandshake() {
    if (close_started_ || phase_ == Phase::kDone) return;
    close_started_ = true;
    websocket::close_reason cr(websocket::close_code::normal, close_reason_);
    ws_.async_close(cr, [self = shared_from_this()](beast::error_code) { self->Finish(); });
  }

  void Finish() {
    if (phase_ == Phase::kDone) return;
    bool was_ready = connected_;
    bool lived_long = was_ready && Clock::now() - ready_at_ >= kStableLink;
    phase_ = Phase::kDone;
    handshake_timer_.cancel();
    close_timer_.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    while (!queue_.empty()) {
      Release(queue_.front());
      queue_.pop_front();
    }
    mgr_->OnSessionEnd(this, was_ready, lived_long);
    if (connected_) {
      connected_ = false;
      mgr_->handler_->OnPeerDisconnected(id_);
    }
  }

  Impl* const mgr_;
  const PeerId id_;
  const bool outbound_;
  const std::optional<size_t> persistent_;
  const std::string address_;
  websocket::stream<beast::tcp_stream> ws_;
  asio::steady_timer handshake_timer_, close_timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::optional<http::response<http::string_body>> reject_;

  Phase phase_ = Phase::kUpgrade;
  bool ws_open_ = false, authenticated_ = false, connected_ = false;
  bool writing_ = false, close_started_ = false;
  Hash32 challenge_{};
  PublicKey key_{};
  std::string close_reason_;
  std::deque<Out> queue_;
  double tokens_ = 0;
  Clock::time_point refilled_, ready_at_;

  std::atomic<size_t> queued_msgs_{0}, queued_bytes_{0};
  std::atomic<uint64_t> height_{0}, msgs_in_{0}, msgs_out_{0}, dropped_out_{0};
};

// ---- Manager --------------------------------------------------------------------------------

Status PeerManager::Impl::Start() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  if (started_ || stopped_) return Status::Rejected("peer manager: Start called twice");
  if (!handler_) return Status::Invalid("peer manager: no handler");
  RETURN_IF_ERROR(CheckChainId(opt_.chain_id).Prefixed("peer manager"));
  if (opt_.max_msgs_per_sec == 0) return Status::Invalid("max_msgs_per_sec must be at least 1");
  if (opt_.max_frame_bytes < 1024) return Status::Invalid("max_frame_bytes must be >= 1024");
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

void PeerManager::Impl::Stop() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;
  stopping_.store(true);
  asio::post(mgr_strand_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (Persistent& p : persistent_) p.timer->cancel();
  });
  std::vector<std::shared_ptr<Session>> all;
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

void PeerManager::Impl::DoAccept() {
  acceptor_.async_accept(asio::make_strand(ioc_),
                         [this](boost::system::error_code ec, tcp::socket socket) {
                           OnAccept(ec, std::move(socket));
                         });
}

void PeerManager::Impl::OnAccept(boost::system::error_code ec, tcp::socket socket) {
  if (stopping_.load() || !acceptor_.is_open()) return;
  if (!ec) {
    boost::system::error_code rec;
    auto remote = socket.remote_endpoint(rec);
    std::string address = rec ? std::string("unknown")
                              : remote.address().to_string() + ":" + std::to_string(remote.port());
    std::shared_ptr<Session> s;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (pending_inbound_ < opt_.max_pending_handshakes) {
        ++pending_inbound_;
        PeerId id = next_id_++;
        s = std::make_shared<Session>(this, id, false, std::nullopt, address, std::move(socket));
        sessions_.emplace(id, s);
      }
    }
    if (s) {
      s->StartInbound();
    } else {
      Log("p2p: refused " + address + ": too many pending handshakes");
      boost::system::error_code ignored;
      socket.close(ignored);
    }
  }
  DoAccept();
}

void PeerManager::Impl::Dial(size_t index) {
  if (stopping_.load()) return;
  Persistent& p = persistent_[index];
  std::shared_ptr<Session> s;
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
    s = std::make_shared<Session>(this, id, true, index, p.address,
                                  tcp::socket(asio::make_strand(ioc_)));
    sessions_.emplace(id, s);
  }
  s->StartOutbound(p.endpoint);
}

void PeerManager::Impl::ScheduleDial(size_t index, uint32_t delay_ms) {
  if (stopping_.load()) return;
  Persistent& p = persistent_[index];
  p.timer->expires_after(Ms(delay_ms));
  p.timer->async_wait([this, index](boost::system::error_code ec) {
    if (!ec) Dial(index);
  });
}

void PeerManager::Impl::OnPersistentEnd(size_t index, bool lived_long) {
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

void PeerManager::Impl::OnLinkClosed(PeerId id) {
  for (size_t i = 0; i < persistent_.size(); ++i) {
    if (persistent_[i].waiting_on != id) continue;
    persistent_[i].waiting_on = 0;
    ScheduleDial(i, persistent_[i].backoff_ms);
  }
}

void PeerManager::Impl::LearnKey(size_t index, const PublicKey& key) {
  persistent_[index].key = key;
}

bool PeerManager::Impl::IsKeyBanned(const PublicKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = banned_keys_.find(key);
  if (it == banned_keys_.end()) return false;
  if (it->second > Clock::now()) return true;
  banned_keys_.erase(it);
  return false;
}

void PeerManager::Impl::Ban(const std::optional<PublicKey>& key, const std::string& address) {
  if (!key && address.empty()) return;
  auto until = Clock::now() + std::chrono::seconds(opt_.ban_seconds);
  std::lock_guard<std::mutex> lock(mu_);
  if (key) banned_keys_[*key] = until;
  if (!address.empty()) banned_addrs_[address] = until;
  bans_.fetch_add(1);
}

std::optional<std::string> PeerManager::Impl::Admit(const std::shared_ptr<Session>& s,
                                                    std::shared_ptr<Session>* replaced) {
  std::lock_guard<std::mutex> lock(mu_);
  auto ban = banned_keys_.find(s->key());
  if (ban != banned_keys_.end() && ban->second > Clock::now()) return "banned";
  auto it = by_key_.find(s->key());
  if (it != by_key_.end()) {
    const Session& old = *it->second;
    const PublicKey& self = key_.public_key();
    // The dialer of each link: this node if outbound, else the peer.
    const PublicKey& old_dialer = old.outbound() ? self : old.key();
    const PublicKey& new_dialer = s->outbound() ? self : s->key();
    bool keep_new = new_dialer == old_dialer ? true : new_dialer < old_dialer;
    if (!keep_new) return "duplicate link";
    *replaced = it->second;
    it->second = s;
  } else {
    if (by_key_.size() >= opt_.max_peers) return "too many peers";
    by_key_.emplace(s->key(), s);
  }
  if (!s->outbound()) --pending_inbound_;
  s->counted_pending_ = false;
  return std::nullopt;
}

void PeerManager::Impl::Unlist(Session* s) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_key_.find(s->key());
  if (it != by_key_.end() && it->second.get() == s) by_key_.erase(it);
}

void PeerManager::Impl::OnSessionEnd(Session* s, bool was_ready, bool lived_long) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!s->outbound() && s->counted_pending_) --pending_inbound_;
    s->counted_pending_ = false;
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

std::shared_ptr<PeerManager::Impl::Session> PeerManager::Impl::FindReady(PeerId id) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, s] : by_key_) {
    if (s->id() == id) return s;
  }
  return nullptr;
}

void PeerManager::Impl::Send(PeerId peer, std::shared_ptr<const Bytes> frame) {
  if (stopping_.load() || !frame) return;
  if (auto s = FindReady(peer)) s->Enqueue(std::move(frame));
}

void PeerManager::Impl::Broadcast(std::shared_ptr<const Bytes> frame, PeerId except) {
  if (stopping_.load() || !frame) return;
  std::vector<std::shared_ptr<Session>> targets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, s] : by_key_) {
      if (s->id() != except) targets.push_back(s);
    }
  }
  for (auto& s : targets) s->Enqueue(frame);
}

void PeerManager::Impl::Disconnect(PeerId peer, const std::string& reason, bool ban) {
  std::shared_ptr<Session> s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(peer);
    if (it != sessions_.end()) s = it->second;
  }
  if (s) s->PostClose(reason, ban);
}

void PeerManager::Impl::SetPeerHeight(PeerId peer, uint64_t height) {
  if (auto s = FindReady(peer)) s->SetHeight(height);
}

size_t PeerManager::Impl::peer_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_key_.size();
}

std::vector<PeerInfo> PeerManager::Impl::Peers() const {
  std::vector<PeerInfo> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, s] : by_key_) out.push_back(s->Info());
  std::sort(out.begin(), out.end(),
            [](const PeerInfo& a, const PeerInfo& b) { return a.id < b.id; });
  return out;
}

std::string PeerManager::Impl::Metrics() const {
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
  return out;
}

// ---- PeerManager ----------------------------------------------------------------------------

PeerManager::PeerManager(PeerManagerOptions options, PeerHandler* handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}
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
