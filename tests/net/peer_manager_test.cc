// Tests for net/peer_manager: real PeerManagers on 127.0.0.1 connecting, exchanging messages both
// ways and closing, and a raw client (tests/net/peer_test_util.h) sending what an honest node
// never would (another chain, a bad signature, garbage, text, oversized frames, a flood) to check
// the manager's answer. The attacks of issue 16 are in peer_attack_test.cc.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "net/peer_manager.h"
#include "tests/net/peer_test_util.h"

namespace consent {
namespace {

using namespace peer_test;  // NOLINT: the shared test helpers

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
