// Tests for net/peer_manager: real PeerManagers on 127.0.0.1 (ephemeral ports) connecting,
// exchanging messages both ways and closing; and a raw Beast WebSocket client that speaks the
// handshake itself, to send what an honest node never would (another chain, a bad signature,
// garbage, text, oversized frames, a flood) and check the manager's answer. Every wait is on a
// condition with a deadline.
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

namespace consent {
namespace {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Ms = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr const char* kChainId = "p2p-test";
constexpr auto kDeadline = std::chrono::seconds(15);

Hash32 Genesis() {
  Hash32 h;
  h.fill(0x47);
  return h;
}

Seed32 SeedOf(uint8_t b) {
  Seed32 s;
  s.fill(b);
  return s;
}

PublicKey KeyOf(uint8_t b) { return SigningKey::FromSeed(SeedOf(b)).public_key(); }

// Polls `cond` until it holds or the deadline passes; the result is the last evaluation.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit = kDeadline) {
  auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(Ms(5));
  }
  return cond();
}

uint16_t FreePort() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

std::shared_ptr<const Bytes> Frame(const p2p::Message& m) {
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

// ---- Connecting and exchanging ----------------------------------------------------------------

TEST(PeerManager, TwoNodesHandshakeAndExchangeBothWays) {
  Node a(1);
  Node b(2, [&](PeerManagerOptions& o) {
    o.listen = false;
    o.persistent_peers = {a.address()};
  });
  ASSERT_TRUE(WaitFor([&] { return a.peers() == 1 && b.peers() == 1; })) << a.log.All();

  auto b_at_a = a.PeerWithKey(b.key);
  auto a_at_b = b.PeerWithKey(a.key);
  ASSERT_TRUE(b_at_a && a_at_b);
  EXPECT_FALSE(b_at_a->outbound);
  EXPECT_TRUE(a_at_b->outbound);
  EXPECT_EQ(a_at_b->address, a.address());
  EXPECT_EQ(b_at_a->height, 200u);  // from b's hello
  EXPECT_EQ(a_at_b->height, 100u);

  b.manager->Broadcast(Frame(p2p::StatusMsg{7, Hash32{}}));
  a.manager->Send(b_at_a->id, Frame(p2p::BlockRequest{1, 5}));
  ASSERT_TRUE(WaitFor([&] {
    return a.handler.Count<p2p::StatusMsg>() == 1 && b.handler.Count<p2p::BlockRequest>() == 1;
  }));
  EXPECT_EQ(a.handler.Received<p2p::StatusMsg>()[0].first, b_at_a->id);
  EXPECT_EQ(b.handler.Received<p2p::BlockRequest>()[0].second, (p2p::BlockRequest{1, 5}));
  // A status updates the height shown for the peer; so does SetPeerHeight.
  EXPECT_TRUE(WaitFor([&] { return a.PeerWithKey(b.key)->height == 7; }));
  a.manager->SetPeerHeight(b_at_a->id, 9);
  EXPECT_EQ(a.PeerWithKey(b.key)->height, 9u);

  EXPECT_TRUE(a.MetricIs("consent_peers", 1)) << a.manager->Metrics();
  EXPECT_TRUE(a.MetricIs("consent_peer_handshake_failures_total", 0));
  EXPECT_GE(a.PeerWithKey(b.key)->msgs_in, 3u);  // hello, hello_ack, status
  EXPECT_GE(a.PeerWithKey(b.key)->msgs_out, 3u);
}

TEST(PeerManager, ThreeNodesMeshAndBroadcastExcept) {
  Node a(1);
  Node b(2, [&](PeerManagerOptions& o) { o.persistent_peers = {a.address()}; });
  Node c(3, [&](PeerManagerOptions& o) { o.persistent_peers = {a.address(), b.address()}; });
  ASSERT_TRUE(WaitFor([&] { return a.peers() == 2 && b.peers() == 2 && c.peers() == 2; }));

  PeerId b_at_a = a.PeerWithKey(b.key)->id;
  a.manager->Broadcast(Frame(p2p::StatusMsg{11, Hash32{}}), /*except=*/b_at_a);
  c.manager->Broadcast(Frame(p2p::StatusMsg{33, Hash32{}}));
  ASSERT_TRUE(WaitFor([&] {
    return c.handler.Count<p2p::StatusMsg>() == 1 && a.handler.Count<p2p::StatusMsg>() == 1 &&
           b.handler.Count<p2p::StatusMsg>() == 1;
  }));
  EXPECT_EQ(c.handler.Received<p2p::StatusMsg>()[0].second.height, 11u);
  EXPECT_EQ(b.handler.Received<p2p::StatusMsg>()[0].second.height, 33u);
  EXPECT_EQ(a.handler.Received<p2p::StatusMsg>()[0].second.height, 33u);
}

// ---- Handshake refusals ----------------------------------------------------------------------

TEST(PeerManager, HandshakeRefusalsNameTheReason) {
  Node m(1);
  uint16_t port = m.manager->listen_port();
  struct Case {
    const char* name;
    std::function<void(p2p::Hello&)> tweak;
    const char* reason;
  };
  std::vector<Case> cases = {
      {"chain", [](p2p::Hello& h) { h.chain_id = "other-chain"; }, "wrong chain id"},
      {"genesis", [](p2p::Hello& h) { h.genesis_hash.fill(0x48); }, "wrong genesis hash"},
      {"version", [](p2p::Hello& h) { h.protocol_version = 3; }, "unsupported protocol version 3"},
      {"self", [&](p2p::Hello& h) { h.node_key = m.key; }, "self connection"},
  };
  size_t failures = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    RawPeer raw(20);
    ASSERT_TRUE(raw.Connect(port));
    p2p::Hello hello = raw.MakeHello();
    c.tweak(hello);
    ASSERT_TRUE(raw.SendHello(hello));
    auto reason = raw.ReadGoodbye();
    ASSERT_TRUE(reason);
    EXPECT_NE(reason->find(c.reason), std::string::npos) << *reason;
    EXPECT_TRUE(raw.ReadUntilClosed());
    ++failures;
    EXPECT_TRUE(
        WaitFor([&] { return m.MetricIs("consent_peer_handshake_failures_total", failures); }));
  }
  // A hello_ack that does not verify.
  RawPeer raw(21);
  ASSERT_TRUE(raw.Connect(port));
  ASSERT_TRUE(raw.SendHello(raw.MakeHello()));
  p2p::HelloAck bad = raw.GoodAck();
  bad.signature[0] ^= 1;
  ASSERT_TRUE(raw.Send(bad));
  auto reason = raw.ReadGoodbye();
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, "bad handshake signature");
  EXPECT_TRUE(WaitFor([&] { return m.MetricIs("consent_peer_handshake_failures_total", 5); }));
  EXPECT_EQ(m.peers(), 0u);
  EXPECT_EQ(m.handler.callbacks(), 0u);
  // Nobody is banned for a handshake refusal (the key was never proven).
  RawPeer again(21);
  EXPECT_TRUE(again.Handshake(port));
  EXPECT_TRUE(WaitFor([&] { return m.peers() == 1; }));
}

// ---- Handshake relay (issue 16 item 1) ----------------------------------------------------------
// An outsider with no key sits between two honest nodes that are already linked. It never
// signs anything: it only passes on what each node says. Each node must refuse the outsider's
// links ("bad handshake signature"), keep its honest link, and ban nobody, even after the
// outsider sends a malformed frame on each link.

struct LinkedPair {
  LinkedPair() : a(1), b(2, [this](PeerManagerOptions& o) { o.persistent_peers = {a.address()}; }) {
    EXPECT_TRUE(WaitFor([&] { return a.PeerWithKey(b.key) && b.PeerWithKey(a.key); }))
        << a.log.All() << b.log.All();
    a_link = a.PeerWithKey(b.key)->id;
    b_link = b.PeerWithKey(a.key)->id;
  }
  // Both still linked through the same link each, nobody banned, and the link carries messages.
  void ExpectUntouched() {
    EXPECT_EQ(a.manager->Peers().size(), 1u) << a.log.All();
    EXPECT_EQ(b.manager->Peers().size(), 1u) << b.log.All();
    ASSERT_TRUE(a.PeerWithKey(b.key));
    ASSERT_TRUE(b.PeerWithKey(a.key));
    EXPECT_EQ(a.PeerWithKey(b.key)->id, a_link);
    EXPECT_EQ(b.PeerWithKey(a.key)->id, b_link);
    EXPECT_TRUE(a.MetricIs("consent_peer_bans_total", 0)) << a.manager->Metrics();
    EXPECT_TRUE(b.MetricIs("consent_peer_bans_total", 0)) << b.manager->Metrics();
    size_t before = b.handler.Count<p2p::StatusMsg>();
    a.manager->Broadcast(Frame(p2p::StatusMsg{77, Hash32{}}));
    EXPECT_TRUE(WaitFor([&] { return b.handler.Count<p2p::StatusMsg>() == before + 1; }));
  }
  Node a;
  Node b;
  PeerId a_link = 0, b_link = 0;
};

// The relay of the issue: to A it claims B's key with its own challenge; to B it claims A's key
// with A's challenge, so that B's answer would have signed A's challenge under protocol 1.
TEST(PeerManager, RelayedHandshakeIsRefusedAndBansNobody) {
  LinkedPair net;
  RawPeer to_a(50), to_b(51);
  ASSERT_TRUE(to_a.Connect(net.a.manager->listen_port()));
  ASSERT_TRUE(to_a.ReadServerHello());
  const p2p::Hello hello_a = to_a.server_hello();
  ASSERT_TRUE(to_b.Connect(net.b.manager->listen_port()));
  ASSERT_TRUE(to_b.ReadServerHello());
  p2p::Hello claim_b = to_a.MakeHello();
  claim_b.node_key = net.b.key;
  ASSERT_TRUE(to_a.Send(claim_b));
  ASSERT_TRUE(to_b.Send(hello_a));  // A's own hello: A's key and A's challenge
  auto ack_from_a = to_a.Read();
  auto ack_from_b = to_b.Read();
  ASSERT_TRUE(ack_from_a && std::holds_alternative<p2p::HelloAck>(*ack_from_a));
  ASSERT_TRUE(ack_from_b && std::holds_alternative<p2p::HelloAck>(*ack_from_b));
  ASSERT_TRUE(to_a.Send(*ack_from_b));  // B's proof, relayed to A
  auto reason = to_a.ReadGoodbye();
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, "bad handshake signature");
  // The malformed frame that used to get B's key banned at A.
  (void)to_a.Send(Bytes{0x01, 0xff});
  (void)to_b.Send(Bytes{0x01, 0xff});
  EXPECT_TRUE(to_a.ReadUntilClosed());
  EXPECT_TRUE(to_b.ReadUntilClosed());
  EXPECT_TRUE(WaitFor([&] {
    return net.a.MetricIs("consent_peer_handshake_failures_total", 1) &&
           net.b.MetricIs("consent_peer_handshake_failures_total", 1);
  })) << net.a.manager->Metrics()
      << net.b.manager->Metrics();
  net.ExpectUntouched();
}

// A transparent forwarder: it dials both and passes every frame on unchanged, so each node sees
// the other's real hello and hello_ack. Each node is the acceptor of its link and signs as one;
// neither accepts an acceptor's signature as the dialer's proof.
TEST(PeerManager, ForwardedHandshakeIsRefusedByBothEnds) {
  LinkedPair net;
  RawPeer to_a(52), to_b(53);
  ASSERT_TRUE(to_a.Connect(net.a.manager->listen_port()));
  ASSERT_TRUE(to_a.ReadServerHello());
  ASSERT_TRUE(to_b.Connect(net.b.manager->listen_port()));
  ASSERT_TRUE(to_b.ReadServerHello());
  ASSERT_TRUE(to_a.Send(to_b.server_hello()));
  ASSERT_TRUE(to_b.Send(to_a.server_hello()));
  auto ack_from_a = to_a.Read();
  auto ack_from_b = to_b.Read();
  ASSERT_TRUE(ack_from_a && std::holds_alternative<p2p::HelloAck>(*ack_from_a));
  ASSERT_TRUE(ack_from_b && std::holds_alternative<p2p::HelloAck>(*ack_from_b));
  ASSERT_TRUE(to_a.Send(*ack_from_b));
  ASSERT_TRUE(to_b.Send(*ack_from_a));
  auto reason_a = to_a.ReadGoodbye();
  auto reason_b = to_b.ReadGoodbye();
  ASSERT_TRUE(reason_a && reason_b);
  EXPECT_EQ(*reason_a, "bad handshake signature");
  EXPECT_EQ(*reason_b, "bad handshake signature");
  (void)to_a.Send(Bytes{0x01, 0xff});
  (void)to_b.Send(Bytes{0x01, 0xff});
  EXPECT_TRUE(to_a.ReadUntilClosed());
  EXPECT_TRUE(to_b.ReadUntilClosed());
  net.ExpectUntouched();
}

// Protocol 1 nodes are refused with a goodbye that says why, before anything is signed.
TEST(PeerManager, ProtocolVersionOneIsRefused) {
  Node m(1);
  RawPeer raw(20);
  ASSERT_TRUE(raw.Connect(m.manager->listen_port()));
  p2p::Hello hello = raw.MakeHello();
  hello.protocol_version = 1;
  ASSERT_TRUE(raw.SendHello(hello));
  auto m1 = raw.Read();  // the goodbye comes first: no hello_ack was signed for it
  ASSERT_TRUE(m1);
  ASSERT_TRUE(std::holds_alternative<p2p::Goodbye>(*m1)) << p2p::MessageName(*m1);
  EXPECT_EQ(std::get<p2p::Goodbye>(*m1).reason,
            "unsupported protocol version 1: this node speaks 2 (version 1 handshakes can be "
            "relayed; upgrade the peer)");
  EXPECT_EQ(m.peers(), 0u);
}

// ---- Admission (issue 16 item 6) ----------------------------------------------------------------

// What a plain TCP client gets from the p2p port: the HTTP answer to an upgrade, or "".
std::string UpgradeAnswer(uint16_t port) {
  asio::io_context ioc;
  tcp::socket s(ioc);
  beast::error_code ec;
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return "";
  std::string req =
      "GET /p2p HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  asio::write(s, asio::buffer(req), ec);
  std::string out;
  char buf[1024];
  for (;;) {
    size_t n = s.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec || out.find("\r\n\r\n") != std::string::npos) break;
  }
  // The body of a refusal follows the header (the 101 of an upgrade has none).
  if (out.rfind("HTTP/1.1 503", 0) == 0) {
    for (;;) {
      size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec) break;
      out.append(buf, n);
    }
  }
  return out;
}

TEST(PeerAdmission, IpKeys) {
  auto key = [](const char* a) { return IpKey(asio::ip::make_address(a)); };
  EXPECT_EQ(key("127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(key("::ffff:10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  EXPECT_EQ(key("2001:db8:1:2::ffff"), key("2001:db8:1:2:aaaa::1"));
  EXPECT_NE(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
}

TEST(PeerAdmission, PerIpRateIsBoundedAndRefills) {
  PerIpRate rate(/*per_sec=*/2, /*burst=*/2, /*max_ips=*/3);
  auto t0 = PerIpRate::Clock::now();
  EXPECT_TRUE(rate.Take("a", t0));
  EXPECT_TRUE(rate.Take("a", t0));
  EXPECT_FALSE(rate.Take("a", t0));
  EXPECT_TRUE(rate.Take("a", t0 + Ms(500)));  // 2/s: one more after 0.5 s
  EXPECT_TRUE(rate.Take("b", t0));
  EXPECT_TRUE(rate.Take("c", t0));
  EXPECT_TRUE(rate.Take("d", t0));  // a fourth IP: room is made, the map stays at 3
  EXPECT_LE(rate.tracked(), 3u);
}

TEST(PeerManager, GuestsAreCappedPerIp) {
  Node m(1, [](PeerManagerOptions& o) { o.max_inbound_per_ip = 2; });
  RawPeer g1(60), g2(61), g3(62);
  ASSERT_TRUE(g1.Handshake(m.manager->listen_port()));
  ASSERT_TRUE(g2.Handshake(m.manager->listen_port()));
  ASSERT_TRUE(WaitFor([&] { return m.peers() == 2; }));
  ASSERT_TRUE(g3.Handshake(m.manager->listen_port()));  // proven, then refused
  auto reason = g3.ReadGoodbye();
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, "too many links from 127.0.0.1 (max_inbound_per_ip 2)");
  EXPECT_EQ(m.peers(), 2u);
  EXPECT_NE(m.manager->Metrics().find("consent_peer_refused_total{reason=\"inbound_per_ip\"} 1"),
            std::string::npos)
      << m.manager->Metrics();
  EXPECT_TRUE(m.MetricIs("consent_peer_bans_total", 0));
  // A validator from the same IP is not a guest: it is admitted.
  Node v(1, [](PeerManagerOptions& o) {
    o.max_inbound_per_ip = 1;
    o.is_validator = [](const PublicKey& k) { return k == KeyOf(70); };
  });
  RawPeer guest(63), validator(70);
  ASSERT_TRUE(guest.Handshake(v.manager->listen_port()));
  ASSERT_TRUE(validator.Handshake(v.manager->listen_port()));
  EXPECT_TRUE(WaitFor([&] { return v.peers() == 2 && v.MetricIs("consent_validator_peers", 1); }))
      << v.manager->Metrics();
}

TEST(PeerManager, ValidatorsAndPersistentPeersEvictAGuestWhenFull) {
  Node m(1, [](PeerManagerOptions& o) {
    o.max_peers = 2;
    o.is_validator = [](const PublicKey& k) { return k == KeyOf(70); };
  });
  RawPeer g1(60), g2(61);
  ASSERT_TRUE(g1.Handshake(m.manager->listen_port()));
  ASSERT_TRUE(WaitFor([&] { return m.peers() == 1; }));
  ASSERT_TRUE(g2.Handshake(m.manager->listen_port()));
  ASSERT_TRUE(WaitFor([&] { return m.peers() == 2; }));
  // Full: another guest is refused...
  RawPeer g3(62);
  ASSERT_TRUE(g3.Handshake(m.manager->listen_port()));
  auto refused = g3.ReadGoodbye();
  ASSERT_TRUE(refused);
  EXPECT_EQ(*refused, "too many peers");
  // ...a validator is admitted, and the newest guest makes room.
  RawPeer validator(70);
  ASSERT_TRUE(validator.Handshake(m.manager->listen_port()));
  auto evicted = g2.ReadGoodbye();
  ASSERT_TRUE(evicted);
  EXPECT_EQ(*evicted, "evicted: slot needed for a validator or persistent peer");
  EXPECT_TRUE(WaitFor([&] {
    return m.peers() == 2 && m.PeerWithKey(KeyOf(70)) && m.PeerWithKey(KeyOf(60)) &&
           m.MetricIs("consent_peer_evictions_total", 1) && m.MetricIs("consent_guest_peers", 1);
  })) << m.manager->Metrics();
  // A persistent peer (this node dials it) gets a slot too: the guest goes.
  uint16_t pp = FreePort();
  Node m2(4, [&](PeerManagerOptions& o) {
    o.max_peers = 1;
    o.persistent_peers = {"127.0.0.1:" + std::to_string(pp)};
  });
  RawPeer g4(64);
  ASSERT_TRUE(g4.Handshake(m2.manager->listen_port()));
  ASSERT_TRUE(WaitFor([&] { return m2.peers() == 1; }));
  Node p(3, [&](PeerManagerOptions& o) { o.listen_port = pp; });
  auto gone = g4.ReadGoodbye();
  ASSERT_TRUE(gone);
  EXPECT_EQ(*gone, "evicted: slot needed for a validator or persistent peer");
  EXPECT_TRUE(WaitFor([&] { return m2.peers() == 1 && m2.PeerWithKey(p.key).has_value(); }))
      << m2.log.All();
}

TEST(PeerManager, PendingHandshakesAreCappedPerIp) {
  Node m(1, [](PeerManagerOptions& o) { o.max_pending_per_ip = 2; });
  RawPeer p1(60), p2(61);
  ASSERT_TRUE(p1.Connect(m.manager->listen_port()));  // upgraded, no hello: pending
  ASSERT_TRUE(p2.Connect(m.manager->listen_port()));
  std::string answer = UpgradeAnswer(m.manager->listen_port());
  EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
  EXPECT_NE(answer.find("too many pending handshakes from 127.0.0.1 (max_pending_per_ip 2)"),
            std::string::npos)
      << answer;
  EXPECT_NE(m.manager->Metrics().find("consent_peer_refused_total{reason=\"pending_per_ip\"} 1"),
            std::string::npos);
  // Once one finishes its handshake, there is room again.
  ASSERT_TRUE(p1.SendHello(p1.MakeHello()));
  ASSERT_TRUE(p1.Send(p1.GoodAck()));
  ASSERT_TRUE(WaitFor([&] { return m.peers() == 1; }));
  RawPeer p3(62);
  EXPECT_TRUE(p3.Handshake(m.manager->listen_port()));
}

TEST(PeerManager, HandshakesArePacedPerIp) {
  Node m(1, [](PeerManagerOptions& o) { o.handshakes_per_ip_per_sec = 0.01; });  // burst 1
  RawPeer first(60);
  ASSERT_TRUE(first.Handshake(m.manager->listen_port()));
  std::string answer = UpgradeAnswer(m.manager->listen_port());
  EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
  EXPECT_NE(answer.find("too many handshakes from 127.0.0.1"), std::string::npos) << answer;
  EXPECT_EQ(m.peers(), 1u);
}

TEST(PeerManager, GuestsHaveTheirOwnMessageRate) {
  Node m(1, [](PeerManagerOptions& o) {
    o.guest_msgs_per_sec = 20;  // burst 40
    o.is_validator = [](const PublicKey& k) { return k == KeyOf(70); };
  });
  RawPeer guest(60), validator(70);
  ASSERT_TRUE(guest.Handshake(m.manager->listen_port()));
  ASSERT_TRUE(validator.Handshake(m.manager->listen_port()));
  ASSERT_TRUE(WaitFor([&] { return m.peers() == 2; }));
  for (int i = 0; i < 200; ++i) {
    if (!validator.Send(p2p::StatusMsg{static_cast<uint64_t>(i), Hash32{}})) break;
  }
  for (int i = 0; i < 200; ++i) {
    if (!guest.Send(p2p::StatusMsg{static_cast<uint64_t>(i), Hash32{}})) break;
  }
  auto reason = guest.ReadGoodbye();
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, "rate limit exceeded (20 messages/s)");
  // The validator's 200 were within max_msgs_per_sec (20000): still linked.
  EXPECT_TRUE(WaitFor([&] { return m.handler.Count<p2p::StatusMsg>() >= 200; }));
  EXPECT_TRUE(m.PeerWithKey(KeyOf(70)).has_value());
}

TEST(PeerManager, HandshakeTimeout) {
  Node m(1, [](PeerManagerOptions& o) { o.handshake_timeout_ms = 300; });
  RawPeer raw(20);
  ASSERT_TRUE(raw.Connect(m.manager->listen_port()));
  auto reason = raw.ReadGoodbye();  // the manager's hello, then nothing from us
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, "handshake timeout");
  EXPECT_TRUE(WaitFor([&] { return m.MetricIs("consent_peer_handshake_failures_total", 1); }));
}

TEST(PeerManager, OnlyTheWebSocketUpgradeOnP2pIsServed) {
  Node m(1);
  auto get = [&](const std::string& target) {
    asio::io_context ioc;
    beast::tcp_stream s(ioc);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), m.manager->listen_port()));
    s.expires_after(std::chrono::seconds(5));
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    return res.result_int();
  };
  EXPECT_EQ(get("/p2p"), 400u);  // no upgrade
  EXPECT_EQ(get("/"), 404u);
  EXPECT_EQ(get("/v1/txs"), 404u);
  RawPeer wrong_path(20);
  EXPECT_FALSE(wrong_path.Connect(m.manager->listen_port(), "/other"));
  EXPECT_EQ(m.peers(), 0u);
}

TEST(PeerManager, RefusesToConnectToItself) {
  uint16_t port = FreePort();
  Node m(1, [&](PeerManagerOptions& o) {
    o.listen_port = port;
    o.persistent_peers = {"127.0.0.1:" + std::to_string(port)};
  });
  EXPECT_TRUE(WaitFor([&] { return m.log.Has("self connection"); })) << m.log.All();
  EXPECT_EQ(m.peers(), 0u);
  EXPECT_EQ(m.handler.callbacks(), 0u);
}

// ---- Misbehaviour ----------------------------------------------------------------------------

class PeerMisbehaviour : public ::testing::Test {
 protected:
  void SetUp() override {
    m_ = std::make_unique<Node>(1, [](PeerManagerOptions& o) {
      o.max_frame_bytes = 2048;
      o.max_msgs_per_sec = 50;  // burst 100
      o.guest_msgs_per_sec = 50;
    });
    honest_ = std::make_unique<Node>(2, [&](PeerManagerOptions& o) {
      o.listen = false;
      o.persistent_peers = {m_->address()};
    });
    ASSERT_TRUE(WaitFor([&] { return m_->peers() == 1 && honest_->peers() == 1; }));
    honest_id_ = m_->PeerWithKey(honest_->key)->id;
  }

  // The raw peer (seed `seed`) is disconnected and banned, and the honest link still works.
  void ExpectBannedAndHonestUnaffected(uint8_t seed, uint64_t bans) {
    EXPECT_TRUE(WaitFor([&] { return m_->MetricIs("consent_peer_bans_total", bans); }))
        << m_->manager->Metrics();
    EXPECT_TRUE(WaitFor([&] { return !m_->PeerWithKey(KeyOf(seed)); }));
    RawPeer again(seed);
    ASSERT_TRUE(again.Connect(m_->manager->listen_port()));
    ASSERT_TRUE(again.SendHello(again.MakeHello()));
    auto reason = again.ReadGoodbye();
    ASSERT_TRUE(reason);
    EXPECT_EQ(*reason, "banned");

    auto honest = m_->PeerWithKey(honest_->key);
    ASSERT_TRUE(honest);
    EXPECT_EQ(honest->id, honest_id_);  // the same link all along
    size_t before_m = m_->handler.Count<p2p::StatusMsg>();
    size_t before_h = honest_->handler.Count<p2p::StatusMsg>();
    honest_->manager->Broadcast(Frame(p2p::StatusMsg{seed, Hash32{}}));
    m_->manager->Send(honest_id_, Frame(p2p::StatusMsg{seed, Hash32{}}));
    EXPECT_TRUE(WaitFor([&] {
      return m_->handler.Count<p2p::StatusMsg>() == before_m + 1 &&
             honest_->handler.Count<p2p::StatusMsg>() == before_h + 1;
    }));
  }

  uint16_t port() const { return m_->manager->listen_port(); }

  std::unique_ptr<Node> m_, honest_;
  PeerId honest_id_ = 0;
};

TEST_F(PeerMisbehaviour, GarbageFrame) {
  RawPeer raw(30);
  ASSERT_TRUE(raw.Handshake(port()));
  ASSERT_TRUE(WaitFor([&] { return m_->peers() == 2; }));
  ASSERT_TRUE(raw.Send(Bytes{0x01, 0x63, 0xff}));
  auto reason = raw.ReadGoodbye();
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, "malformed frame: frame: type: unknown message type 99");
  EXPECT_TRUE(raw.ReadUntilClosed());
  ExpectBannedAndHonestUnaffected(30, 1);
  // The raw peer's link, not the honest one (the handler hears of it once the close completes).
  EXPECT_TRUE(WaitFor([&] { return m_->handler.disconnects() == 1; }));
  EXPECT_EQ(m_->handler.disconnects(), 1u);
}

TEST_F(PeerMisbehaviour, TextFrame) {
  RawPeer raw(31);
  ASSERT_TRUE(raw.Handshake(port()));
  ASSERT_TRUE(raw.Send(p2p::Encode(p2p::StatusMsg{1, Hash32{}}), /*text=*/true));
  auto reason = raw.ReadGoodbye();
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, "text frame");
  ExpectBannedAndHonestUnaffected(31, 1);
}

TEST_F(PeerMisbehaviour, OversizedFrame) {
  RawPeer raw(32);
  ASSERT_TRUE(raw.Handshake(port()));
  Bytes frame(4096, 0);  // over max_frame_bytes = 2048
  raw.Send(frame);
  // Beast refuses it while reading the frame header: close code 1009, no goodbye first.
  EXPECT_FALSE(raw.ReadGoodbye());
  EXPECT_EQ(raw.close_code(), static_cast<uint16_t>(websocket::close_code::too_big));
  ExpectBannedAndHonestUnaffected(32, 1);
  EXPECT_TRUE(m_->log.Has("frame over 2048 bytes")) << m_->log.All();
}

TEST_F(PeerMisbehaviour, RateLimit) {
  RawPeer raw(33);
  ASSERT_TRUE(raw.Handshake(port()));
  // Burst is 2 s worth (100 messages); 400 back to back cannot all fit.
  for (int i = 0; i < 400; ++i) {
    if (!raw.Send(p2p::StatusMsg{static_cast<uint64_t>(i), Hash32{}})) break;
  }
  auto reason = raw.ReadGoodbye();
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, "rate limit exceeded (50 messages/s)");
  ExpectBannedAndHonestUnaffected(33, 1);
}

TEST_F(PeerMisbehaviour, HelloAfterTheHandshake) {
  RawPeer raw(34);
  ASSERT_TRUE(raw.Handshake(port()));
  ASSERT_TRUE(raw.Send(raw.MakeHello()));
  auto reason = raw.ReadGoodbye();
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, "unexpected hello after the handshake");
  ExpectBannedAndHonestUnaffected(34, 1);
}

TEST_F(PeerMisbehaviour, HandlerDisconnectWithBan) {
  // The handler found an invalid block from the honest node: it is dropped and banned, and its
  // redials (it is a persistent peer of the honest node) are refused.
  m_->manager->Disconnect(honest_id_, "invalid block", /*ban=*/true);
  EXPECT_TRUE(WaitFor([&] { return honest_->log.Has("said goodbye: invalid block"); }))
      << honest_->log.All();
  EXPECT_TRUE(WaitFor([&] { return honest_->log.Has("said goodbye: banned"); }))
      << honest_->log.All();
  EXPECT_EQ(m_->peers(), 0u);
  EXPECT_TRUE(m_->MetricIs("consent_peer_bans_total", 1));
}

// ---- Links over time -------------------------------------------------------------------------

TEST(PeerManager, PersistentPeerReconnectsAfterRemoteRestart) {
  auto b = std::make_unique<Node>(2);
  uint16_t port = b->manager->listen_port();
  Node a(1, [&](PeerManagerOptions& o) {
    o.listen = false;
    o.persistent_peers = {b->address()};
  });
  ASSERT_TRUE(WaitFor([&] { return a.peers() == 1 && b->peers() == 1; }));
  PeerId first = a.PeerWithKey(b->key)->id;

  b.reset();  // Stop: goodbye "shutting down"
  ASSERT_TRUE(WaitFor([&] { return a.peers() == 0; }));
  EXPECT_TRUE(WaitFor([&] { return a.log.Has("said goodbye: shutting down"); })) << a.log.All();
  // A closing link leaves Peers() at once; the handler hears of it when the close completes.
  EXPECT_TRUE(WaitFor([&] { return a.handler.disconnects() == 1u; })) << a.handler.disconnects();
  // Let a few redials fail (backoff), then bring b back on the same port.
  EXPECT_TRUE(WaitFor([&] { return a.log.Has("failed"); })) << a.log.All();
  Node b2(2, [&](PeerManagerOptions& o) { o.listen_port = port; });
  ASSERT_TRUE(WaitFor([&] { return a.peers() == 1 && b2.peers() == 1; })) << a.log.All();
  EXPECT_NE(a.PeerWithKey(b2.key)->id, first);  // ids are never reused
  a.manager->Broadcast(Frame(p2p::StatusMsg{5, Hash32{}}));
  EXPECT_TRUE(WaitFor([&] { return b2.handler.Count<p2p::StatusMsg>() == 1; }));
}

TEST(PeerManager, DuplicateLinksKeepTheOneDialledBySmallerKey) {
  uint16_t pa = FreePort(), pb = FreePort();
  ASSERT_NE(pa, pb);
  auto opts = [](uint16_t own, uint16_t other) {
    return [own, other](PeerManagerOptions& o) {
      o.listen_port = own;
      o.persistent_peers = {"127.0.0.1:" + std::to_string(other)};
    };
  };
  Node a(1, opts(pa, pb));
  Node b(2, opts(pb, pa));
  bool a_smaller = a.key < b.key;
  // Each side ends with exactly one link: the one the smaller key dialled.
  ASSERT_TRUE(WaitFor([&] {
    auto pa_ = a.manager->Peers();
    auto pb_ = b.manager->Peers();
    return pa_.size() == 1 && pb_.size() == 1 && pa_[0].outbound == a_smaller &&
           pb_[0].outbound == !a_smaller;
  })) << a.log.All()
      << b.log.All();
  // Both always dial (neither knows the other's key before a handshake), so a duplicate was seen.
  EXPECT_TRUE(WaitFor([&] { return a.log.Has("duplicate link") || b.log.Has("duplicate link"); }))
      << a.log.All() << b.log.All();
  PeerId link_at_a = a.PeerWithKey(b.key)->id;
  a.manager->Broadcast(Frame(p2p::StatusMsg{1, Hash32{}}));
  b.manager->Broadcast(Frame(p2p::StatusMsg{2, Hash32{}}));
  ASSERT_TRUE(WaitFor([&] {
    return a.handler.Count<p2p::StatusMsg>() == 1 && b.handler.Count<p2p::StatusMsg>() == 1;
  }));
  // Still that one link: the loser's address is not redialled while the winner lives.
  EXPECT_EQ(a.manager->Peers().size(), 1u);
  EXPECT_EQ(a.PeerWithKey(b.key)->id, link_at_a);
}

TEST(PeerManager, QueueOverflowDropsAndCounts) {
  Node a(1, [](PeerManagerOptions& o) { o.max_queue_msgs = 4; });
  Node b(2, [&](PeerManagerOptions& o) {
    o.listen = false;
    o.persistent_peers = {a.address()};
  });
  ASSERT_TRUE(WaitFor([&] { return a.peers() == 1 && b.peers() == 1; }));
  PeerId b_at_a = a.PeerWithKey(b.key)->id;
  // Block a's I/O thread inside its handler, so nothing a queues can be written.
  a.handler.BlockOnHeight(999);
  b.manager->Broadcast(Frame(p2p::StatusMsg{999, Hash32{}}));
  ASSERT_TRUE(WaitFor([&] { return a.handler.blocked(); }));
  for (uint64_t i = 0; i < 10; ++i) a.manager->Send(b_at_a, Frame(p2p::StatusMsg{i, Hash32{}}));
  EXPECT_EQ(a.PeerWithKey(b.key)->dropped_out, 6u);
  EXPECT_TRUE(a.MetricIs("consent_peer_dropped_total", 6)) << a.manager->Metrics();
  a.handler.Release();
  ASSERT_TRUE(WaitFor([&] { return b.handler.Count<p2p::StatusMsg>() == 4; }));
  std::vector<uint64_t> heights;
  for (const auto& [id, st] : b.handler.Received<p2p::StatusMsg>()) heights.push_back(st.height);
  EXPECT_EQ(heights, (std::vector<uint64_t>{0, 1, 2, 3}));
  // The queue drains: sending works again.
  a.manager->Send(b_at_a, Frame(p2p::StatusMsg{10, Hash32{}}));
  EXPECT_TRUE(WaitFor([&] { return b.handler.Count<p2p::StatusMsg>() == 5; }));
}

TEST(PeerManager, StopWithOpenLinks) {
  auto m = std::make_unique<Node>(1);
  Node b(2, [&](PeerManagerOptions& o) { o.persistent_peers = {m->address()}; });
  Node c(3, [&](PeerManagerOptions& o) { o.persistent_peers = {m->address(), b.address()}; });
  RawPeer raw(40);
  ASSERT_TRUE(raw.Handshake(m->manager->listen_port()));
  ASSERT_TRUE(WaitFor([&] { return m->peers() == 3 && b.peers() == 2 && c.peers() == 2; }));
  // Traffic in flight while stopping.
  for (int i = 0; i < 50; ++i) m->manager->Broadcast(Frame(p2p::StatusMsg{1, Hash32{}}));
  m->manager->Stop();
  size_t callbacks = m->handler.callbacks();
  EXPECT_EQ(m->peers(), 0u);
  auto reason = raw.ReadGoodbye();
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, "shutting down");
  ASSERT_TRUE(WaitFor([&] { return b.peers() == 1 && c.peers() == 1; }));
  // Calls after Stop are harmless, and no callback ran after Stop returned.
  m->manager->Broadcast(Frame(p2p::StatusMsg{1, Hash32{}}));
  m->manager->Disconnect(1, "x", true);
  m->manager->Stop();
  EXPECT_EQ(m->handler.callbacks(), callbacks);
  m.reset();
}

TEST(PeerManager, StartErrors) {
  RecordingHandler h;
  PeerManagerOptions o;
  o.chain_id = kChainId;
  o.persistent_peers = {"localhost:1"};
  PeerManager bad_peer(o, &h);
  Status st = bad_peer.Start();
  EXPECT_EQ(st.message(), "persistent_peers[0]: 'localhost:1': host is not an IP literal");

  Node first(1);
  o.persistent_peers.clear();
  o.listen_port = first.manager->listen_port();
  PeerManager taken(o, &h);
  st = taken.Start();
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_NE(st.message().find("cannot listen on 127.0.0.1:" + std::to_string(o.listen_port)),
            std::string::npos)
      << st.ToString();
}

}  // namespace
}  // namespace consent
