// One peer link (net/peer_session.h): the handshake, the read and write loops, the per-link
// limits, and the goodbye/close sequence. Runs on the session's strand (see the header).
#include "net/peer_session.h"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "crypto/hex.h"
#include "net/peer_manager_impl.h"

namespace consent {
namespace {

constexpr const char* kPath = "/p2p";
constexpr auto kStableLink = std::chrono::seconds(10);  // a link this old resets the backoff
constexpr uint32_t kCloseGraceMs = 2000;                // goodbye + close handshake, at most
constexpr size_t kMaxUpgradeHeaderBytes = 8192;
constexpr size_t kKeptReadBufferBytes = 64 << 10;  // a larger read buffer is released after use

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

}  // namespace

PeerSession::PeerSession(PeerManagerImpl* mgr, PeerId id, bool outbound,
                         std::optional<size_t> persistent, std::string address, std::string ip,
                         tcp::socket socket)
    : mgr_(mgr),
      id_(id),
      outbound_(outbound),
      persistent_(persistent),
      address_(std::move(address)),
      ip_(std::move(ip)),
      ws_(std::move(socket)),
      handshake_timer_(ws_.get_executor()),
      close_timer_(ws_.get_executor()),
      read_timer_(ws_.get_executor()) {
  tokens_ = Burst();
  refilled_ = bytes_refilled_ = Clock::now();
  byte_tokens_ = std::max(static_cast<double>(mgr_->opt_.guest_bytes_per_sec),
                          static_cast<double>(mgr_->opt_.max_frame_bytes));
  RandomBytes(challenge_.data(), challenge_.size());
}

PeerInfo PeerSession::Info() const {
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

void PeerSession::StartOutbound(tcp::endpoint endpoint) {
  asio::dispatch(ws_.get_executor(), [self = shared_from_this(), endpoint] {
    if (self->mgr_->stopping_.load()) return self->Finish();
    self->ArmHandshakeTimer();
    auto& tcp_stream = beast::get_lowest_layer(self->ws_);
    tcp_stream.expires_after(Ms(self->mgr_->opt_.handshake_timeout_ms));
    tcp_stream.async_connect(endpoint, [self](beast::error_code ec) { self->OnConnect(ec); });
  });
}

void PeerSession::StartInbound() {
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

bool PeerSession::Enqueue(std::shared_ptr<const Bytes> frame) {
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

void PeerSession::PostClose(std::string reason, bool ban) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), reason = std::move(reason), ban] {
    if (ban) self->BanSelf();
    self->CloseWith(reason);
  });
}

void PeerSession::ArmHandshakeTimer() {
  handshake_timer_.expires_after(Ms(mgr_->opt_.handshake_timeout_ms));
  handshake_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->phase_ >= Phase::kReady) return;
    self->Refuse("handshake timeout");
  });
}

void PeerSession::OnConnect(beast::error_code ec) {
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

void PeerSession::OnUpgradeRequest(beast::error_code ec) {
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

void PeerSession::Reject(http::status status, std::string body) {
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

void PeerSession::ConfigureWebSocket(beast::role_type role) {
  const PeerManagerOptions& o = mgr_->opt_;
  websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(role);
  t.handshake_timeout = Ms(o.handshake_timeout_ms);
  t.idle_timeout = Ms(o.idle_timeout_ms);
  t.keep_alive_pings = true;
  ws_.set_option(t);
  ws_.read_message_max(o.max_frame_bytes);
  ws_.binary(true);
}

void PeerSession::OnOpen(beast::error_code ec) {
  if (phase_ >= Phase::kClosing) return;
  if (ec) {
    mgr_->Log("p2p: WebSocket upgrade with " + address_ + " failed: " + ec.message());
    return Finish();
  }
  ws_open_ = true;
  phase_ = Phase::kHello;
  p2p::Hello& hello = own_hello_;
  hello.chain_id = mgr_->opt_.chain_id;
  hello.genesis_hash = mgr_->opt_.genesis_hash;
  hello.protocol_version = p2p::kProtocolVersion;
  hello.node_key = mgr_->key_.public_key();
  hello.challenge = challenge_;
  hello.height = mgr_->opt_.current_height ? mgr_->opt_.current_height() : 0;
  Push(std::make_shared<const Bytes>(p2p::Encode(hello)), false);
  DoRead();
}

void PeerSession::DoRead() {
  ws_.async_read(buffer_,
                 [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
}

void PeerSession::OnRead(beast::error_code ec) {
  if (phase_ == Phase::kDone) return;
  if (ec) {
    if (ec == websocket::error::message_too_big && phase_ < Phase::kClosing) {
      // Beast has already sent close 1009 and torn the connection down.
      Misbehaved("frame over " + std::to_string(mgr_->opt_.max_frame_bytes) + " bytes");
    }
    return Finish();
  }
  ByteView data(static_cast<const uint8_t*>(buffer_.data().data()), buffer_.size());
  const size_t size = data.size();
  // While closing, frames are drained and dropped until the peer's close frame.
  if (phase_ < Phase::kClosing) OnFrame(data);
  buffer_.consume(buffer_.size());
  // A large frame's buffer is not kept for the life of the link.
  if (buffer_.capacity() > kKeptReadBufferBytes) buffer_.shrink_to_fit();
  if (phase_ == Phase::kDone) return;
  // A read stays pending until the link ends; a guest over its byte budget waits first.
  const double wait_s = ReadPause(size);
  if (wait_s <= 0) return DoRead();
  read_timer_.expires_after(
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait_s)));
  read_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec && self->phase_ != Phase::kDone) self->DoRead();
  });
}

double PeerSession::ReadPause(size_t frame_bytes) {
  if (priority_.load()) return 0;
  const double rate = static_cast<double>(mgr_->opt_.guest_bytes_per_sec);
  const double burst = std::max(rate, static_cast<double>(mgr_->opt_.max_frame_bytes));
  const Clock::time_point now = Clock::now();
  byte_tokens_ = std::min(
      burst, byte_tokens_ + std::chrono::duration<double>(now - bytes_refilled_).count() * rate);
  bytes_refilled_ = now;
  byte_tokens_ -= static_cast<double>(frame_bytes);
  return byte_tokens_ >= 0 ? 0 : -byte_tokens_ / rate;
}

void PeerSession::OnFrame(ByteView data) {
  msgs_in_.fetch_add(1);
  mgr_->msgs_in_.fetch_add(1);
  if (!TakeToken()) {
    return Misbehave("rate limit exceeded (" + std::to_string(MsgRate()) + " messages/s)");
  }
  if (!ws_.got_binary()) return Misbehave("text frame");
  auto message = p2p::Decode(data);
  if (!message.ok()) return Misbehave("malformed frame: " + message.status().message());
  OnMessage(std::move(message).value());
}

bool PeerSession::TakeToken() {
  Clock::time_point now = Clock::now();
  double rate = MsgRate();
  tokens_ =
      std::min(Burst(), tokens_ + std::chrono::duration<double>(now - refilled_).count() * rate);
  refilled_ = now;
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

void PeerSession::OnMessage(p2p::Message m) {
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
                    ": this node speaks " + std::to_string(p2p::kProtocolVersion) +
                    (hello->protocol_version < p2p::kProtocolVersion
                         ? " (version 1 handshakes can be relayed; upgrade the peer)"
                         : ""));
    }
    if (hello->node_key == mgr_->key_.public_key()) return Refuse("self connection");
    if (mgr_->IsKeyBanned(hello->node_key)) return Refuse("banned");
    key_ = hello->node_key;
    height_.store(hello->height);
    // Sign this link's transcript (both hellos, in role order) as this node's role: the
    // signature is worth nothing on any other link, so answering at once relays nothing.
    transcript_ =
        outbound_ ? p2p::TranscriptOf(own_hello_, *hello) : p2p::TranscriptOf(*hello, own_hello_);
    p2p::HelloAck ack;
    ack.signature = mgr_->key_.Sign(p2p::HandshakeMessage(
        transcript_, outbound_ ? p2p::LinkRole::kDialer : p2p::LinkRole::kAcceptor));
    Push(std::make_shared<const Bytes>(p2p::Encode(ack)), false);
    phase_ = Phase::kAck;
    return;
  }
  if (phase_ == Phase::kAck) {
    auto* ack = std::get_if<p2p::HelloAck>(&m);
    if (!ack) return Misbehave(std::string("expected hello_ack, got ") + p2p::MessageName(m));
    Bytes expected = p2p::HandshakeMessage(
        transcript_, outbound_ ? p2p::LinkRole::kAcceptor : p2p::LinkRole::kDialer);
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
    std::shared_ptr<PeerSession> replaced, evicted;
    if (auto refusal = mgr_->Admit(shared_from_this(), &replaced, &evicted)) {
      return Refuse(*refusal);
    }
    if (replaced) {
      mgr_->Log("p2p: " + Name() + " replaces link " + std::to_string(replaced->id()) +
                " to the same key: duplicate link");
      replaced->PostClose("duplicate link", false);
    }
    if (evicted) {
      mgr_->Log("p2p: evicted guest link " + std::to_string(evicted->id()) + " from " +
                evicted->address() + " to make room for " + Name());
      evicted->PostClose("evicted: slot needed for a validator or persistent peer", false);
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

std::string PeerSession::Name() const {
  return (authenticated_ ? KeyName(key_) + "@" : std::string()) + address_;
}

void PeerSession::BanSelf() {
  mgr_->Ban(authenticated_ ? std::optional<PublicKey>(key_) : std::nullopt,
            outbound_ ? address_ : std::string());
}

void PeerSession::Misbehaved(const std::string& reason) {
  mgr_->Log("p2p: " + Name() + " misbehaved: " + reason);
  if (phase_ < Phase::kReady) mgr_->handshake_failures_.fetch_add(1);
  BanSelf();
}

void PeerSession::Misbehave(const std::string& reason) {
  Misbehaved(reason);
  CloseWith(reason);
}

void PeerSession::Refuse(const std::string& reason) {
  mgr_->Log("p2p: refused " + Name() + ": " + reason);
  mgr_->handshake_failures_.fetch_add(1);
  CloseWith(reason);
}

void PeerSession::Push(std::shared_ptr<const Bytes> frame, bool counted) {
  if (phase_ >= Phase::kClosing && counted) {
    queued_msgs_.fetch_sub(1);
    queued_bytes_.fetch_sub(frame->size());
    return;
  }
  queue_.push_back(Out{std::move(frame), counted});
  if (!writing_) DoWrite();
}

void PeerSession::DoWrite() {
  if (queue_.empty() || phase_ == Phase::kDone) return;
  writing_ = true;
  ws_.async_write(asio::buffer(*queue_.front().frame),
                  [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
}

void PeerSession::OnWrite(beast::error_code ec) {
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

void PeerSession::Release(const Out& out) {
  if (!out.counted) return;
  queued_msgs_.fetch_sub(1);
  queued_bytes_.fetch_sub(out.frame->size());
}

void PeerSession::CloseWith(const std::string& reason) {
  if (phase_ >= Phase::kClosing) return;
  if (!ws_open_) return Finish();
  EnterClosing(reason);
  Push(std::make_shared<const Bytes>(
           p2p::Encode(p2p::Goodbye{Printable(reason, p2p::kMaxGoodbyeBytes)})),
       false);
}

void PeerSession::CloseQuietly() {
  if (phase_ >= Phase::kClosing) return;
  EnterClosing("goodbye received");
  if (!writing_) StartCloseHandshake();
}

void PeerSession::EnterClosing(const std::string& reason) {
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

void PeerSession::StartCloseHandshake() {
  if (close_started_ || phase_ == Phase::kDone) return;
  close_started_ = true;
  websocket::close_reason cr(websocket::close_code::normal, close_reason_);
  ws_.async_close(cr, [self = shared_from_this()](beast::error_code) { self->Finish(); });
}

void PeerSession::Finish() {
  if (phase_ == Phase::kDone) return;
  bool was_ready = connected_;
  bool lived_long = was_ready && Clock::now() - ready_at_ >= kStableLink;
  phase_ = Phase::kDone;
  handshake_timer_.cancel();
  close_timer_.cancel();
  read_timer_.cancel();
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

uint32_t PeerSession::MsgRate() const {
  return priority_.load() ? mgr_->opt_.max_msgs_per_sec : mgr_->opt_.guest_msgs_per_sec;
}

double PeerSession::Burst() const { return 2.0 * MsgRate(); }

}  // namespace consent
