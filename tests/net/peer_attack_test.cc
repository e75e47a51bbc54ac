// Issue 16 against real PeerManagers on 127.0.0.1: handshake relays and forwarders (item 1: a
// proof is bound to its link, nobody is banned for what was not proven on it) and admission (item
// 6: per-IP caps and pacing of guests, validators and persistent peers always get a slot).
#include <gtest/gtest.h>

#include <string>

#include "net/peer_admission.h"
#include "net/peer_manager.h"
#include "tests/net/peer_test_util.h"

namespace consent {
namespace {

using namespace peer_test;  // NOLINT: the shared test helpers

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

}  // namespace
}  // namespace consent
