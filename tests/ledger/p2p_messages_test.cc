// Tests for ledger/p2p_messages: every message type round-trips, every cap, truncation, trailing
// byte, unknown version and unknown type is refused with a message naming the field, and golden
// frames (also in docs/protocol.md, "Peer protocol") pin the byte layout.
#include "ledger/p2p_messages.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include "crypto/hex.h"
#include "ledger/codec.h"
#include "tests/ledger/tx_test_util.h"

namespace consent::p2p {
namespace {

using consent::testing::kChain;
using consent::testing::KeyFor;
using consent::testing::kT0;
using consent::testing::MustSign;
using consent::testing::SampleGrant;
using consent::testing::SampleRegister;
using consent::testing::SampleRevoke;

Hash32 Filled(uint8_t b) {
  Hash32 h;
  h.fill(b);
  return h;
}

bool Contains(const Status& st, const std::string& s) {
  return st.message().find(s) != std::string::npos;
}

std::vector<SignedTx> SampleTxs() {
  SigningKey subject = KeyFor(1), controller = KeyFor(2);
  return {MustSign(SampleGrant(subject.public_key(), controller.public_key()), subject),
          MustSign(SampleRevoke(subject.public_key(), controller.public_key()), subject),
          MustSign(SampleRegister(controller.public_key()), controller)};
}

Header SampleHeader(uint64_t height = 3) {
  Header h;
  h.chain_id = std::string(kChain);
  h.height = height;
  h.time_ms = kT0 + height;
  h.prev_block_hash = Filled(0x01);
  h.log_size = 3 * height;
  h.log_root = Filled(0x02);
  h.state_root = Filled(0x03);
  h.validators_hash = Filled(0x04);
  h.proposer = KeyFor(9).public_key();
  return h;
}

SignedVote MakeVote(const SigningKey& key, VoteType type, uint64_t height, uint32_t round,
                    const Hash32& block_hash) {
  return SignVote(key, kChain, type, height, round, block_hash);
}

Hello SampleHello() {
  Hello h;
  h.chain_id = std::string(kChain);
  h.genesis_hash = Filled(0x11);
  h.protocol_version = kProtocolVersion;
  h.node_key = KeyFor(1).public_key();
  h.challenge = Filled(0x22);
  h.height = 7;
  return h;
}

ProposalMsg SampleProposal() {
  ProposalMsg m;
  m.proposal.height = 3;
  m.proposal.round = 1;
  m.proposal.pol_round = 0;
  m.proposal.block.header = SampleHeader(3);
  m.proposal.block.txs = SampleTxs();
  m.proposal.proposer = KeyFor(9).public_key();
  m.proposal.signature = KeyFor(9).Sign(AsBytes("not checked here"));
  return m;
}

BlockResponse SampleBlocks() {
  BlockResponse m;
  for (uint64_t h = 1; h <= 2; ++h) {
    BlockWithCommit b;
    b.block.header = SampleHeader(h);
    if (h == 2) b.block.txs = SampleTxs();
    b.commit.round = static_cast<uint32_t>(h);
    for (uint8_t k = 5; k < 8; ++k) {
      b.commit.signatures.push_back(
          SignPrecommit(KeyFor(k), kChain, h, b.commit.round, b.block.header.Hash()));
    }
    m.blocks.push_back(std::move(b));
  }
  return m;
}

// One sample of every message type, in type order.
std::vector<Message> Samples() {
  std::vector<Message> out;
  out.emplace_back(SampleHello());
  out.emplace_back(HelloAck{KeyFor(1).Sign(AsBytes("ack"))});
  out.emplace_back(StatusMsg{42, Filled(0x55)});
  out.emplace_back(TxsMsg{SampleTxs()});
  out.emplace_back(SampleProposal());
  out.emplace_back(VoteMsg{MakeVote(KeyFor(5), VoteType::kPrevote, 3, 0, Filled(0x66))});
  out.emplace_back(BlockRequest{10, 50});
  out.emplace_back(SampleBlocks());
  out.emplace_back(
      EvidenceMsg{VoteEquivocation(MakeVote(KeyFor(5), VoteType::kPrecommit, 3, 0, Filled(0x66)),
                                   MakeVote(KeyFor(5), VoteType::kPrecommit, 3, 0, Filled(0x77)))});
  {
    Evidence pe;
    pe.kind = EvidenceKind::kDuplicateProposal;
    pe.pa = SignedProposalRef{
        3, 1, kNoRound, Filled(0x66), KeyFor(5).public_key(), KeyFor(5).Sign(AsBytes("a"))};
    pe.pb = pe.pa;
    pe.pb.block_hash = Filled(0x77);
    out.emplace_back(EvidenceMsg{pe});
  }
  out.emplace_back(Goodbye{"duplicate link"});
  return out;
}

// The frame header for a type, then the payload the writer adds.
Writer Frame(uint8_t type) {
  Writer w;
  w.U8(kWireVersion).U8(type);
  return w;
}

Status DecodeError(const Bytes& frame) {
  auto r = Decode(frame);
  if (r.ok()) return Status::Internal("decoded, but an error was expected");
  return r.status();
}

TEST(P2pMessages, EveryTypeRoundTrips) {
  std::vector<Message> samples = Samples();
  // One sample per variant alternative, and the evidence alternative twice (type 9 for votes,
  // type 11 for proposals).
  ASSERT_EQ(samples.size(), std::variant_size_v<Message> + 1);
  for (size_t i = 0; i < samples.size(); ++i) {
    const Message& m = samples[i];
    SCOPED_TRACE(MessageName(m));
    Bytes frame = Encode(m);
    ASSERT_GE(frame.size(), 2u);
    EXPECT_EQ(frame[0], kWireVersion);
    // Types 1..10 in variant order; the proposal evidence sample (after the vote evidence) is 11.
    const size_t want = i < 9 ? i + 1 : (i == 9 ? 11 : 10);
    EXPECT_EQ(frame[1], want);
    auto back = Decode(frame);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->index(), m.index());
    EXPECT_EQ(Encode(*back), frame);
  }
}

TEST(P2pMessages, DecodedFieldsMatch) {
  auto hello = Decode(Encode(SampleHello()));
  ASSERT_TRUE(hello.ok());
  EXPECT_EQ(std::get<Hello>(*hello), SampleHello());

  TxsMsg txs{SampleTxs()};
  auto t = Decode(Encode(txs));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(std::get<TxsMsg>(*t).txs, txs.txs);

  BlockResponse blocks = SampleBlocks();
  auto b = Decode(Encode(blocks));
  ASSERT_TRUE(b.ok());
  const auto& got = std::get<BlockResponse>(*b).blocks;
  ASSERT_EQ(got.size(), 2u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].block, blocks.blocks[i].block);
    EXPECT_EQ(got[i].commit, blocks.blocks[i].commit);
  }

  EvidenceMsg ev = std::get<EvidenceMsg>(Samples()[8]);
  auto e = Decode(Encode(ev));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(std::get<EvidenceMsg>(*e).evidence.a, ev.evidence.a);
  EXPECT_EQ(std::get<EvidenceMsg>(*e).evidence.b, ev.evidence.b);
}

TEST(P2pMessages, ProposalBlockHashIsRecomputedFromTheHeader) {
  ProposalMsg m = SampleProposal();
  m.proposal.block_hash = Filled(0xee);  // not on the wire
  auto back = Decode(Encode(m));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  const SignedProposal& p = std::get<ProposalMsg>(*back).proposal;
  EXPECT_EQ(p.block_hash, m.proposal.block.header.Hash());
  EXPECT_EQ(p.block, m.proposal.block);
  EXPECT_EQ(p.height, 3u);
  EXPECT_EQ(p.round, 1u);
  EXPECT_EQ(p.pol_round, 0u);
  EXPECT_EQ(p.proposer, m.proposal.proposer);
  EXPECT_EQ(p.signature, m.proposal.signature);
}

TEST(P2pMessages, MessageNames) {
  std::vector<std::string> names;
  for (const Message& m : Samples()) names.push_back(MessageName(m));
  EXPECT_EQ(names, (std::vector<std::string>{"hello", "hello_ack", "status", "txs", "proposal",
                                             "vote", "block_req", "block_resp", "evidence",
                                             "proposal_evidence", "goodbye"}));
}

TEST(P2pMessages, EveryTruncationIsRefusedNamingTheMessage) {
  for (const Message& m : Samples()) {
    std::string name = MessageName(m);
    SCOPED_TRACE(name);
    Bytes frame = Encode(m);
    for (size_t len = 0; len < frame.size(); ++len) {
      Bytes cut(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(len));
      Status st = DecodeError(cut);
      ASSERT_EQ(st.code(), StatusCode::kInvalidArgument) << len << ": " << st.ToString();
      if (len < 2) {
        EXPECT_TRUE(Contains(st, "frame: ")) << st.ToString();
      } else {
        EXPECT_EQ(st.message().rfind(name + ": ", 0), 0u) << len << ": " << st.ToString();
      }
    }
  }
}

TEST(P2pMessages, TrailingBytesAreRefused) {
  for (const Message& m : Samples()) {
    std::string name = MessageName(m);
    Bytes frame = Encode(m);
    frame.push_back(0);
    Status st = DecodeError(frame);
    EXPECT_EQ(st.message(), name + ": 1 trailing bytes after the end");
  }
}

TEST(P2pMessages, TruncatedFieldIsNamed) {
  Bytes frame = Encode(VoteMsg{MakeVote(KeyFor(5), VoteType::kPrevote, 3, 0, Filled(0x66))});
  frame.resize(2 + 1 + 8 + 4 + 5);  // 5 bytes of block_hash
  Status st = DecodeError(frame);
  EXPECT_TRUE(Contains(st, "vote: block_hash: truncated")) << st.ToString();
  EXPECT_TRUE(Contains(st, "5 left")) << st.ToString();
}

TEST(P2pMessages, UnknownVersionTypeAndEmptyFrameAreRefused) {
  EXPECT_TRUE(Contains(DecodeError({}), "frame: version: truncated"));
  EXPECT_TRUE(Contains(DecodeError({kWireVersion}), "frame: type: truncated"));
  Bytes frame = Encode(Goodbye{"x"});
  frame[0] = 2;
  EXPECT_EQ(DecodeError(frame).message(), "frame: version: unsupported version 2 (expected 1)");
  frame[0] = 0;
  EXPECT_TRUE(Contains(DecodeError(frame), "unsupported version 0"));
  for (uint8_t type : {0, 12, 255}) {
    frame = Encode(Goodbye{"x"});
    frame[1] = type;
    EXPECT_EQ(DecodeError(frame).message(),
              "frame: type: unknown message type " + std::to_string(type));
  }
}

TEST(P2pMessages, OversizedFrameIsRefused) {
  Bytes frame(kMaxFrameBytes + 1, 0);
  frame[0] = kWireVersion;
  frame[1] = 4;
  EXPECT_TRUE(Contains(DecodeError(frame), "frame: 16777217 bytes exceed the limit of 16777216"));
}

TEST(P2pMessages, HelloCaps) {
  Hello h = SampleHello();
  h.chain_id = std::string(kMaxChainIdBytes + 1, 'a');
  EXPECT_TRUE(Contains(DecodeError(Encode(h)), "hello: chain_id: length 65 exceeds 64"));
  h.chain_id = "Bad Chain";
  EXPECT_TRUE(Contains(DecodeError(Encode(h)), "hello: chain_id: "));
  h.chain_id = "";
  EXPECT_TRUE(Contains(DecodeError(Encode(h)), "hello: chain_id: empty"));
  // Another protocol version decodes: the peer manager refuses it with its own reason.
  h = SampleHello();
  h.protocol_version = 99;
  auto back = Decode(Encode(h));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::get<Hello>(*back).protocol_version, 99u);
}

TEST(P2pMessages, TxsCaps) {
  Writer w = Frame(4);
  w.U32(kMaxGossipTxs + 1);
  EXPECT_TRUE(Contains(DecodeError(w.bytes()), "txs: txs: 1001 items exceed the limit of 1000"));

  // A count that cannot fit in the bytes left fails before any allocation.
  Writer big = Frame(4);
  big.U32(1000).U32(0);
  EXPECT_TRUE(Contains(DecodeError(big.bytes()), "txs: txs: truncated (1000 items cannot fit"));

  Writer oversize = Frame(4);
  oversize.U32(1).Bytes(Bytes(kMaxTxBytes + 1, 0));
  EXPECT_TRUE(Contains(DecodeError(oversize.bytes()), "txs: txs[0]: length 4097 exceeds 4096"));

  // Transaction bytes go through the strict transaction decoder.
  Bytes tx = SampleTxs()[0].Encode();
  tx.push_back(0);
  Writer trailing = Frame(4);
  trailing.U32(2).Bytes(SampleTxs()[1].Encode()).Bytes(tx);
  Status st = DecodeError(trailing.bytes());
  EXPECT_TRUE(Contains(st, "txs: txs[1]: ")) << st.ToString();
  EXPECT_TRUE(Contains(st, "trailing")) << st.ToString();
}

TEST(P2pMessages, ProposalCaps) {
  auto prefix = [] {
    Writer w = Frame(5);
    w.U64(3).U32(0).U32(kNoRound).Fixed(KeyFor(9).public_key()).Fixed(Signature{});
    return w;
  };
  Writer big_header = prefix();
  big_header.Bytes(Bytes(1025, 0));
  EXPECT_TRUE(
      Contains(DecodeError(big_header.bytes()), "proposal: header: length 1025 exceeds 1024"));

  Writer bad_header = prefix();
  Bytes h = SampleHeader().Encode();
  h[0] = 17;
  bad_header.Bytes(h).U32(0);
  EXPECT_TRUE(Contains(DecodeError(bad_header.bytes()), "proposal: header: header.kind: 17"));

  Writer many = prefix();
  many.Bytes(SampleHeader().Encode()).U32(kMaxBlockTxs + 1);
  EXPECT_TRUE(Contains(DecodeError(many.bytes()), "proposal: txs: 10001 items exceed"));
}

TEST(P2pMessages, VoteTypeMustBePrevoteOrPrecommit) {
  Bytes frame = Encode(VoteMsg{MakeVote(KeyFor(5), VoteType::kPrevote, 3, 0, Filled(0x66))});
  for (uint8_t t : {0, 3, 255}) {
    frame[2] = t;
    EXPECT_EQ(DecodeError(frame).message(),
              "vote: vote_type: " + std::to_string(t) + " is not 1 (prevote) or 2 (precommit)");
  }
  EvidenceMsg ev = std::get<EvidenceMsg>(Samples()[8]);
  ev.evidence.b.type = static_cast<VoteType>(7);
  EXPECT_TRUE(Contains(DecodeError(Encode(ev)), "evidence: b.vote_type: 7 is not"));
}

TEST(P2pMessages, BlockRequestCountRange) {
  EXPECT_TRUE(Decode(Encode(BlockRequest{1, 1})).ok());
  EXPECT_TRUE(Decode(Encode(BlockRequest{1, kMaxBlocksPerResponse})).ok());
  EXPECT_EQ(DecodeError(Encode(BlockRequest{1, 0})).message(),
            "block_req: count: 0 is not in 1..50");
  EXPECT_EQ(DecodeError(Encode(BlockRequest{1, 51})).message(),
            "block_req: count: 51 is not in 1..50");
}

TEST(P2pMessages, BlockResponseCaps) {
  Writer many = Frame(8);
  many.U32(kMaxBlocksPerResponse + 1);
  EXPECT_TRUE(
      Contains(DecodeError(many.bytes()), "block_resp: blocks: 51 items exceed the limit of 50"));

  Writer sigs = Frame(8);
  sigs.U32(1).Bytes(SampleHeader().Encode()).U32(0).U32(0).U32(kMaxValidators + 1);
  EXPECT_TRUE(Contains(DecodeError(sigs.bytes()),
                       "block_resp: blocks[0].signatures: 257 items exceed the limit of 256"));

  Writer txs = Frame(8);
  txs.U32(1).Bytes(SampleHeader().Encode()).U32(kMaxBlockTxs + 1);
  EXPECT_TRUE(Contains(DecodeError(txs.bytes()), "block_resp: blocks[0].txs: 10001 items"));

  Bytes frame = Encode(SampleBlocks());
  frame.resize(frame.size() - 10);
  EXPECT_TRUE(Contains(DecodeError(frame),
                       "block_resp: blocks[1].signatures: truncated (3 items cannot fit"));
  frame = Encode(SampleBlocks());
  frame.resize(frame.size() - 3 * 96 - 2);  // inside the last block's signature count
  EXPECT_TRUE(Contains(DecodeError(frame), "block_resp: blocks[1].signatures: truncated"));
}

TEST(P2pMessages, GoodbyeReasonCap) {
  EXPECT_TRUE(Decode(Encode(Goodbye{std::string(kMaxGoodbyeBytes, 'x')})).ok());
  EXPECT_EQ(DecodeError(Encode(Goodbye{std::string(kMaxGoodbyeBytes + 1, 'x')})).message(),
            "goodbye: reason: length 257 exceeds 256");
  Writer bad = Frame(10);
  bad.Bytes(Bytes{'a', 0, 'b'});
  EXPECT_TRUE(Contains(DecodeError(bad.bytes()), "goodbye: reason: not valid UTF-8"));
}

// The acceptor's hello on the golden link: key of seed 02, challenge 32 x 0x33.
Hello SampleAcceptorHello() {
  Hello h = SampleHello();
  h.node_key = KeyFor(2).public_key();
  h.challenge = Filled(0x33);
  h.height = 0;
  return h;
}

TEST(P2pMessages, HandshakeMessageLayout) {
  HandshakeTranscript t = TranscriptOf(SampleHello(), SampleAcceptorHello());
  Bytes m = HandshakeMessage(t, LinkRole::kAcceptor);
  Writer w;
  w.Tag("consent-ledger/p2p-handshake/v2")
      .Str(kChain)
      .Fixed(Filled(0x11))
      .U32(2)
      .Fixed(KeyFor(1).public_key())
      .Fixed(Filled(0x22))
      .Fixed(KeyFor(2).public_key())
      .Fixed(Filled(0x33))
      .U8(2);
  EXPECT_EQ(m, w.bytes());
  EXPECT_EQ(kProtocolVersion, 2u);
  // Binds every input, and the role.
  auto changed = [&](const std::function<void(HandshakeTranscript&)>& f) {
    HandshakeTranscript c = t;
    f(c);
    return HandshakeMessage(c, LinkRole::kAcceptor);
  };
  EXPECT_NE(m, HandshakeMessage(t, LinkRole::kDialer));
  EXPECT_NE(m, changed([](HandshakeTranscript& c) { c.chain_id = "other"; }));
  EXPECT_NE(m, changed([](HandshakeTranscript& c) { c.genesis_hash = Filled(9); }));
  EXPECT_NE(m, changed([](HandshakeTranscript& c) { c.protocol_version = 1; }));
  EXPECT_NE(m, changed([](HandshakeTranscript& c) { c.dialer_key = Filled(9); }));
  EXPECT_NE(m, changed([](HandshakeTranscript& c) { c.dialer_challenge = Filled(9); }));
  EXPECT_NE(m, changed([](HandshakeTranscript& c) { c.acceptor_key = Filled(9); }));
  EXPECT_NE(m, changed([](HandshakeTranscript& c) { c.acceptor_challenge = Filled(9); }));
}

// The relay of issue 16: B's answer on the outsider's link to B can never be A's proof of B.
TEST(P2pMessages, HandshakeProofsDoNotTransferBetweenLinks) {
  Hello a = SampleHello();          // node A (key 01)
  Hello b = SampleAcceptorHello();  // node B (key 02)
  Hello claims_b = a;               // the outsider, to A: "I am B" with its own challenge
  claims_b.node_key = b.node_key;
  claims_b.challenge = Filled(0x44);
  // A is the acceptor of the outsider's link and wants B's signature as the dialer.
  Bytes a_wants = HandshakeMessage(TranscriptOf(claims_b, a), LinkRole::kDialer);
  // Relay: to B the outsider presents A's own hello (A's key and challenge); B signs as acceptor.
  Bytes b_signs = HandshakeMessage(TranscriptOf(a, b), LinkRole::kAcceptor);
  EXPECT_NE(a_wants, b_signs);
  // Forwarder: A sees B's real hello as the dialer's; B signs its own link as acceptor.
  Bytes a_wants_fwd = HandshakeMessage(TranscriptOf(b, a), LinkRole::kDialer);
  Bytes b_signs_fwd = HandshakeMessage(TranscriptOf(a, b), LinkRole::kAcceptor);
  EXPECT_NE(a_wants_fwd, b_signs_fwd);
  EXPECT_FALSE(VerifySignature(b.node_key, a_wants_fwd, KeyFor(2).Sign(b_signs_fwd)));
  // An honest link: both sides build the same transcript.
  EXPECT_EQ(HandshakeMessage(TranscriptOf(a, b), LinkRole::kDialer),
            HandshakeMessage(TranscriptOf(a, b), LinkRole::kDialer));
}

// Golden frames, computed by this code from fixed inputs; the same hex is in docs/protocol.md.
TEST(P2pMessages, GoldenHelloFrame) {
  EXPECT_EQ(ToHex(Encode(SampleHello())),
            "0101"                                                              // version, type
            "0000000e636f6e73656e742d746573742e31"                              // chain_id
            "1111111111111111111111111111111111111111111111111111111111111111"  // genesis_hash
            "00000002"                                                          // protocol_version
            "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"  // node_key
            "2222222222222222222222222222222222222222222222222222222222222222"  // challenge
            "0000000000000007");                                                // height
}

TEST(P2pMessages, GoldenVoteFrame) {
  // Precommit by the key whose seed is 32 x 0x05, height 5, round 2, block_hash 32 x 0x33.
  SignedVote v = MakeVote(KeyFor(5), VoteType::kPrecommit, 5, 2, Filled(0x33));
  EXPECT_EQ(ToHex(Encode(VoteMsg{v})),
            "0106"                                                              // version, type
            "02"                                                                // precommit
            "0000000000000005"                                                  // height
            "00000002"                                                          // round
            "3333333333333333333333333333333333333333333333333333333333333333"  // block_hash
            "6e7a1cdd29b0b78fd13af4c5598feff4ef2a97166e3ca6f2e4fbfccd80505bf1"  // validator
            "7a25daab311901b5d2ca38f4aa61972cba696ec18a5711d0d0e90aa1e386e8d1"  // signature
            "653a0b3396f88e5a84d03a1b7c865959fdd57e7fb30b5a7b39edaa444f369d02");
}

TEST(P2pMessages, GoldenHandshakeSignature) {
  // The acceptor (key 02) answers the dialer's SampleHello: signer_role 2.
  Bytes msg =
      HandshakeMessage(TranscriptOf(SampleHello(), SampleAcceptorHello()), LinkRole::kAcceptor);
  EXPECT_EQ(ToHex(Encode(HelloAck{KeyFor(2).Sign(msg)})),
            "0102"
            "aa8776be3e6075ee5ba83613cad90a1fa15b660e0d3c286692e3f7e3d4381e0e"
            "2fafcfd55ebb5c76acfb638307c61451409becd79e817c44d34351d03274920d");
}

// The fuzz seeds (tests/fuzz/corpus/p2p_messages) are real frames: all decode but the two bad ones.
TEST(P2pMessages, FuzzSeedsDecode) {
  std::filesystem::path dir =
      std::filesystem::path(CONSENT_SOURCE_DIR) / "tests/fuzz/corpus/p2p_messages";
  size_t seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string name = entry.path().filename().string();
    bool bad = name == "truncated_vote.bin" || name == "unknown_type.bin";
    auto m = Decode(data);
    EXPECT_EQ(m.ok(), !bad) << name << ": " << m.status().ToString();
    if (m.ok()) {
      EXPECT_EQ(Encode(*m), data) << name;
    }
    ++seen;
  }
  EXPECT_GE(seen, 12u);
}

}  // namespace
}  // namespace consent::p2p
