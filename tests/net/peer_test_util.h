// Shared by the peer link tests (tests/net/peer_*_test.cc): real PeerManagers on 127.0.0.1
// (ephemeral ports) with a recording handler and a log, and a raw Beast WebSocket client
// (RawPeer) that speaks the handshake itself, to send what an honest node never would. Every wait
// is on a condition with a deadline. Test-only; each object is used from one test thread (the
// handler and log are thread-safe: the manager's I/O thread calls them).
#pragma once

#include "net/peer_manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

// GCC 12 reports -Wmaybe-uninitialized inside Beast's parser (a false positive in a system header).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#pragma GCC diagnostic pop

#include "crypto/ed25519.h"
#include "net/peer_admission.h"

namespace consent::peer_test {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Ms = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr const char* kChainId = "p2p-test";
constexpr auto kDeadline = std::chrono::seconds(15);

inline Hash32 Genesis() {
  Hash32 h;
  h.fill(0x47);
  return h;
}

inline Seed32 SeedOf(uint8_t b) {
  Seed32 s;
  s.fill(b);
  return s;
}

inline PublicKey KeyOf(uint8_t b) { return SigningKey::FromSeed(SeedOf(b)).public_key(); }

// Polls `cond` until it holds or the deadline passes; the result is the last evaluation.
inline bool WaitFor(const std::function<bool()>& cond,
                    std::chrono::milliseconds limit = kDeadline) {
  auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(Ms(5));
  }
  return cond();
}

inline uint16_t FreePort() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

inline std::shared_ptr<const Bytes> Frame(const p2p::Message& m) {
  return std::make_shared<const Bytes>(p2p::Encode(m));
}

// Records every callback; thread-safe. `block_on_height`: a status of that height blocks the
// I/O thread in OnPeerMessage until Release() (to fill an outgoing queue deterministically).
class RecordingHandler : public PeerHandler {
 public:
  void OnPeerConnected(const PeerInfo& peer) override {
    std::lock_guard<std::mutex> lock(mu_);
    connected_[peer.id] = peer;
    ++callbacks_;
  }
  void OnPeerMessage(PeerId peer, p2p::Message message) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++callbacks_;
    if (auto* st = std::get_if<p2p::StatusMsg>(&message);
        st && block_on_height_ && st->height == *block_on_height_) {
      blocked_ = true;
      cv_.wait(lock, [this] { return released_; });
    }
    messages_.emplace_back(peer, std::move(message));
  }
  void OnPeerDisconnected(PeerId peer) override {
    std::lock_guard<std::mutex> lock(mu_);
    disconnected_.push_back(peer);
    ++callbacks_;
  }

  void BlockOnHeight(uint64_t h) {
    std::lock_guard<std::mutex> lock(mu_);
    block_on_height_ = h;
  }
  bool blocked() {
    std::lock_guard<std::mutex> lock(mu_);
    return blocked_;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  size_t callbacks() {
    std::lock_guard<std::mutex> lock(mu_);
    return callbacks_;
  }
  size_t disconnects() {
    std::lock_guard<std::mutex> lock(mu_);
    return disconnected_.size();
  }
  // Messages of type T received so far.
  template <typename T>
  std::vector<std::pair<PeerId, T>> Received() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::pair<PeerId, T>> out;
    for (const auto& [id, m] : messages_) {
      if (auto* t = std::get_if<T>(&m)) out.emplace_back(id, *t);
    }
    return out;
  }
  template <typename T>
  size_t Count() {
    return Received<T>().size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<PeerId, PeerInfo> connected_;
  std::vector<std::pair<PeerId, p2p::Message>> messages_;
  std::vector<PeerId> disconnected_;
  size_t callbacks_ = 0;
  std::optional<uint64_t> block_on_height_;
  bool blocked_ = false, released_ = false;
};

class LogSink {
 public:
  std::function<void(const std::string&)> Hook() {
    return [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.push_back(line);
    };
  }
  bool Has(const std::string& needle) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& l : lines_) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  }
  std::string All() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (const auto& l : lines_) out += l + "\n";
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

// A node under test: options, a recording handler, a log, the manager.
struct Node {
  explicit Node(uint8_t seed_byte, std::function<void(PeerManagerOptions&)> tweak = {}) {
    PeerManagerOptions o;
    o.chain_id = kChainId;
    o.genesis_hash = Genesis();
    o.node_seed = SeedOf(seed_byte);
    o.backoff_min_ms = 50;
    o.backoff_max_ms = 400;
    o.handshake_timeout_ms = 3000;
    o.ban_seconds = 60;
    o.handshakes_per_ip_per_sec = 1000;  // tests open many links from 127.0.0.1
    o.current_height = [seed_byte] { return uint64_t{seed_byte} * 100; };
    o.log = log.Hook();
    if (tweak) tweak(o);
    key = SigningKey::FromSeed(o.node_seed).public_key();
    manager = std::make_unique<PeerManager>(std::move(o), &handler);
    Status st = manager->Start();
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(manager->listen_port()); }
  size_t peers() const { return manager->peer_count(); }
  std::optional<PeerInfo> PeerWithKey(const PublicKey& k) const {
    for (const PeerInfo& p : manager->Peers()) {
      if (p.key == k) return p;
    }
    return std::nullopt;
  }
  bool MetricIs(const std::string& name, uint64_t value) const {
    return manager->Metrics().find("\n" + name + " " + std::to_string(value) + "\n") !=
           std::string::npos;
  }

  LogSink log;
  RecordingHandler handler;
  PublicKey key{};
  std::unique_ptr<PeerManager> manager;
};

// A hand-driven peer: a Beast WebSocket client whose every operation has a deadline.
class RawPeer {
 public:
  explicit RawPeer(uint8_t seed_byte) : key_(SigningKey::FromSeed(SeedOf(seed_byte))), ws_(ioc_) {}

  bool Connect(uint16_t port, const std::string& target = "/p2p") {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (ec) return false;
    return Run([&](auto h) { ws_.async_handshake("127.0.0.1", target, h); });
  }

  bool Send(const Bytes& frame, bool text = false) {
    ws_.text(text);
    return Run([&](auto h) { ws_.async_write(asio::buffer(frame), h); });
  }
  bool Send(const p2p::Message& m) { return Send(p2p::Encode(m)); }

  // The next frame, or nullopt when the link closed (see close_code()) or the deadline passed.
  std::optional<p2p::Message> Read() {
    buffer_.consume(buffer_.size());
    if (!Run([&](auto h) { ws_.async_read(buffer_, h); })) return std::nullopt;
    ByteView data(static_cast<const uint8_t*>(buffer_.data().data()), buffer_.size());
    auto m = p2p::Decode(data);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    if (!m.ok()) return std::nullopt;
    return std::move(m).value();
  }

  // Reads until a goodbye (returns its reason) or the end of the link (returns nullopt).
  std::optional<std::string> ReadGoodbye() {
    while (auto m = Read()) {
      if (auto* bye = std::get_if<p2p::Goodbye>(&*m)) return bye->reason;
    }
    return std::nullopt;
  }

  // True once the manager has closed the link (reads drain anything still on the way).
  bool ReadUntilClosed() {
    while (Read()) {
    }
    return closed_;
  }
  uint16_t close_code() const { return static_cast<uint16_t>(ws_.reason().code); }

  p2p::Hello MakeHello() const {
    p2p::Hello h;
    h.chain_id = kChainId;
    h.genesis_hash = Genesis();
    h.node_key = key_.public_key();
    h.challenge = challenge_;
    h.height = 1;
    return h;
  }

  // Sends `hello` (kept in sent_hello_), reads the manager's hello (kept in server_hello_).
  bool SendHello(const p2p::Hello& hello) {
    sent_hello_ = hello;
    if (!Send(hello)) return false;
    return ReadServerHello();
  }
  // Reads the manager's hello (it sends it as soon as the WebSocket is open).
  bool ReadServerHello() {
    auto m = Read();
    if (!m || !std::holds_alternative<p2p::Hello>(*m)) return false;
    server_hello_ = std::get<p2p::Hello>(*m);
    return true;
  }
  // This client dials, so it signs the transcript (its hello, the manager's) as the dialer.
  p2p::HelloAck GoodAck() const {
    return p2p::HelloAck{key_.Sign(p2p::HandshakeMessage(
        p2p::TranscriptOf(sent_hello_, server_hello_), p2p::LinkRole::kDialer))};
  }

  // The whole handshake as an honest node; true when the manager's hello_ack verified.
  bool Handshake(uint16_t port) {
    if (!Connect(port) || !SendHello(MakeHello()) || !Send(GoodAck())) return false;
    auto m = Read();
    if (!m || !std::holds_alternative<p2p::HelloAck>(*m)) return false;
    return VerifySignature(server_hello_.node_key,
                           p2p::HandshakeMessage(p2p::TranscriptOf(sent_hello_, server_hello_),
                                                 p2p::LinkRole::kAcceptor),
                           std::get<p2p::HelloAck>(*m).signature);
  }

  const p2p::Hello& server_hello() const { return server_hello_; }

 private:
  template <typename Start>
  bool Run(Start start, Ms limit = Ms(5000)) {
    bool done = false;
    beast::error_code result;
    start([&](beast::error_code ec, auto&&...) {
      done = true;
      result = ec;
    });
    ioc_.restart();
    ioc_.run_for(limit);
    if (!done) {
      beast::error_code ignored;
      beast::get_lowest_layer(ws_).socket().close(ignored);
      ioc_.restart();
      ioc_.run();
      return false;
    }
    if (result == websocket::error::closed) closed_ = true;
    return !result;
  }

  SigningKey key_;
  Hash32 challenge_{{0x5a, 0x5b, 0x5c}};
  asio::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  p2p::Hello sent_hello_, server_hello_;
  bool closed_ = false;
};

}  // namespace consent::peer_test
