// Internal to net/: one peer link (a PeerSession) of a PeerManager (net/peer_manager.h). It walks
// connect (outbound) or HTTP upgrade (inbound) -> WebSocket -> hello -> hello_ack -> ready ->
// closing -> done, enforces the per-link limits (frame size, message rate, bounded outgoing
// queue) and hands decoded messages to the manager's PeerHandler.
//
// Thread-safety: everything a session owns is touched only on its own strand, except the
// counters (atomics) and the methods marked "from any thread", which post to the strand. What
// it shares with other links it reaches through its PeerManagerImpl, under that one's mutex.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "net/peer_manager.h"

namespace consent {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

class PeerManagerImpl;

class PeerSession : public std::enable_shared_from_this<PeerSession> {
 public:
  using Strand = asio::strand<asio::io_context::executor_type>;

  // `ip`: the IpKey of an inbound link's remote address (net/peer_admission.h); "" if outbound.
  PeerSession(PeerManagerImpl* mgr, PeerId id, bool outbound, std::optional<size_t> persistent,
              std::string address, std::string ip, tcp::socket socket);

  bool counted_pending_ =
      true;  // an inbound link counted in pending_inbound_; PeerManagerImpl::mu_

  PeerId id() const { return id_; }
  bool outbound() const { return outbound_; }
  const std::string& address() const { return address_; }
  const PublicKey& key() const { return key_; }  // REQUIRES: admitted (set before Admit)
  std::optional<size_t> persistent() const { return persistent_; }
  const std::string& ip() const { return ip_; }
  // A validator's, a persistent peer's or an outbound link (set by the manager when admitted).
  bool priority() const { return priority_.load(); }
  void set_priority(bool p) { priority_.store(p); }

  PeerInfo Info() const;
  void SetHeight(uint64_t h) { height_.store(h); }

  void StartOutbound(tcp::endpoint endpoint);

  void StartInbound();

  // From any thread. False if the queue is full (the frame is dropped and counted).
  bool Enqueue(std::shared_ptr<const Bytes> frame);

  // From any thread.
  void PostClose(std::string reason, bool ban);

 private:
  enum class Phase { kUpgrade, kHello, kAck, kReady, kClosing, kDone };
  struct Out {
    std::shared_ptr<const Bytes> frame;
    bool counted;
  };

  uint32_t MsgRate() const;  // messages a second: max_msgs_per_sec, or guest_msgs_per_sec
  double Burst() const;
  // Seconds to wait before the next read after a frame of `frame_bytes`: 0 for priority links;
  // for guests, what keeps their reads within guest_bytes_per_sec.
  double ReadPause(size_t frame_bytes);

  void ArmHandshakeTimer();

  void OnConnect(beast::error_code ec);

  void OnUpgradeRequest(beast::error_code ec);

  void Reject(http::status status, std::string body);

  void ConfigureWebSocket(beast::role_type role);

  void OnOpen(beast::error_code ec);

  void DoRead();

  void OnRead(beast::error_code ec);

  void OnFrame(ByteView data);

  bool TakeToken();

  void OnMessage(p2p::Message m);

  std::string Name() const;

  void BanSelf();

  // Misbehaviour: ban (the key if proven, the address if outbound) and close with a goodbye.
  void Misbehaved(const std::string& reason);
  void Misbehave(const std::string& reason);

  // A handshake that cannot go on: goodbye(reason), no ban.
  void Refuse(const std::string& reason);

  void Push(std::shared_ptr<const Bytes> frame, bool counted);

  void DoWrite();

  void OnWrite(beast::error_code ec);

  void Release(const Out& out);

  // Goodbye(reason), then the WebSocket close handshake, then done (at most kCloseGraceMs).
  void CloseWith(const std::string& reason);

  // The peer said goodbye: close without answering it.
  void CloseQuietly();

  void EnterClosing(const std::string& reason);

  void StartCloseHandshake();

  void Finish();

  PeerManagerImpl* const mgr_;
  const PeerId id_;
  const bool outbound_;
  const std::optional<size_t> persistent_;
  const std::string address_;
  const std::string ip_;
  websocket::stream<beast::tcp_stream> ws_;
  asio::steady_timer handshake_timer_, close_timer_, read_timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::optional<http::response<http::string_body>> reject_;

  Phase phase_ = Phase::kUpgrade;
  bool ws_open_ = false, authenticated_ = false, connected_ = false;
  bool writing_ = false, close_started_ = false;
  Hash32 challenge_{};
  p2p::Hello own_hello_;                 // as sent (set when the WebSocket opens)
  p2p::HandshakeTranscript transcript_;  // both hellos in role order (set on the peer's hello)
  PublicKey key_{};
  std::string close_reason_;
  std::deque<Out> queue_;
  double tokens_ = 0, byte_tokens_ = 0;
  Clock::time_point refilled_, bytes_refilled_, ready_at_;
  std::atomic<bool> priority_{false};

  std::atomic<size_t> queued_msgs_{0}, queued_bytes_{0};
  std::atomic<uint64_t> height_{0}, msgs_in_{0}, msgs_out_{0}, dropped_out_{0};
};

}  // namespace consent
