// Tests for ledger/block.h and ledger/block_json.h: header encoding and strict decoding, vote
// messages, genesis.json parsing, proposer rotation, quorum sizes and commit verification.
#include "ledger/block.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/hex.h"
#include "crypto/sha256.h"
#include "ledger/block_json.h"
#include "tests/genesis_set.h"

namespace consent {
namespace {

SigningKey KeyFromByte(uint8_t b) {
  Seed32 seed;
  seed.fill(b);
  return SigningKey::FromSeed(seed);
}

std::vector<SigningKey> MakeKeys(size_t n, uint8_t first = 1) {
  std::vector<SigningKey> keys;
  for (size_t i = 0; i < n; ++i) keys.push_back(KeyFromByte(static_cast<uint8_t>(first + i)));
  return keys;
}

Genesis MakeGenesis(const std::vector<SigningKey>& keys, std::string chain_id = "test-chain") {
  Genesis g;
  g.chain_id = std::move(chain_id);
  g.genesis_time_ms = 1700000000000;
  for (size_t i = 0; i < keys.size(); ++i) {
    g.validators.push_back({"validator-" + std::to_string(i), keys[i].public_key()});
  }
  return g;
}

Hash32 Filled(uint8_t b) {
  Hash32 h;
  h.fill(b);
  return h;
}

Header SampleHeader() {
  Header h;
  h.chain_id = "consent-test.1_a";
  h.height = 7;
  h.time_ms = 1700000000123;
  h.prev_block_hash = Filled(0x11);
  h.log_size = 42;
  h.log_root = Filled(0x22);
  h.state_root = Filled(0x33);
  h.validators_hash = Filled(0x44);
  h.next_validators_hash = Filled(0x66);
  h.proposer = Filled(0x55);
  return h;
}

bool Contains(const Status& s, const std::string& what) {
  return s.message().find(what) != std::string::npos;
}

// ---- headers ----

TEST(Header, EncodingLayoutAndRoundTrip) {
  Header h = SampleHeader();
  Bytes enc = h.Encode();
  ASSERT_EQ(enc.size(), 2 + 4 + h.chain_id.size() + 8 + 8 + 32 + 8 + 32 * 5);
  EXPECT_EQ(enc[0], 16);
  EXPECT_EQ(enc[1], 2);  // header version 2 (PROTOCOL.md section 5)
  EXPECT_EQ(ToHex(ByteView(enc.data() + 2, 4)), "00000010");  // u32 length 16, big-endian
  EXPECT_EQ(std::string(enc.begin() + 6, enc.begin() + 22), h.chain_id);
  EXPECT_EQ(ToHex(ByteView(enc.data() + 22, 8)), "0000000000000007");
  EXPECT_EQ(ToHex(ByteView(enc.data() + 30, 8)), "0000018bcfe5687b");  // 1700000000123
  EXPECT_EQ(enc[38], 0x11);
  EXPECT_EQ(ToHex(ByteView(enc.data() + 70, 8)), "000000000000002a");
  // log_root 78..110, state_root 110..142, validators_hash 142..174, next_validators_hash
  // 174..206, proposer 206..238.
  EXPECT_EQ(enc[142], 0x44);
  EXPECT_EQ(enc[173], 0x44);
  EXPECT_EQ(enc[174], 0x66);
  EXPECT_EQ(enc[205], 0x66);
  EXPECT_EQ(enc[206], 0x55);
  EXPECT_EQ(enc.size(), 238u);
  EXPECT_EQ(enc.back(), 0x55);
  EXPECT_EQ(h.Hash(), Sha256(enc));
  auto decoded = DecodeHeader(enc);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, h);
  EXPECT_EQ(decoded->Encode(), enc);
}

TEST(Header, EveryFieldChangesTheBlockHash) {
  const Header base = SampleHeader();
  const Hash32 base_hash = base.Hash();
  std::vector<void (*)(Header&)> mutations = {
      [](Header& h) { h.chain_id = "consent-test.1_b"; },
      [](Header& h) { h.chain_id += "x"; },
      [](Header& h) { h.height += 1; },
      [](Header& h) { h.time_ms += 1; },
      [](Header& h) { h.prev_block_hash[31] ^= 1; },
      [](Header& h) { h.log_size += 1; },
      [](Header& h) { h.log_root[0] ^= 0x80; },
      [](Header& h) { h.state_root[5] ^= 1; },
      [](Header& h) { h.validators_hash[9] ^= 1; },
      [](Header& h) { h.next_validators_hash[3] ^= 1; },
      [](Header& h) { h.proposer[31] ^= 1; },
  };
  for (size_t i = 0; i < mutations.size(); ++i) {
    Header h = base;
    mutations[i](h);
    EXPECT_NE(h.Hash(), base_hash) << "mutation " << i;
    EXPECT_EQ(DecodeHeader(h.Encode()).value(), h) << "mutation " << i;
  }
}

TEST(Header, DecodeRejectsTruncationAtEveryOffset) {
  Bytes enc = SampleHeader().Encode();
  for (size_t n = 0; n < enc.size(); ++n) {
    auto r = DecodeHeader(ByteView(enc.data(), n));
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(Header, DecodeRejectsTrailingBytes) {
  Bytes enc = SampleHeader().Encode();
  enc.push_back(0);
  auto r = DecodeHeader(enc);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status(), "1 trailing bytes")) << r.status().ToString();
}

TEST(Header, DecodeRejectsWrongKindAndVersion) {
  Bytes enc = SampleHeader().Encode();
  Bytes bad = enc;
  bad[0] = 1;  // a GRANT's kind
  EXPECT_TRUE(Contains(DecodeHeader(bad).status(), "header.kind"));
  bad = enc;
  bad[1] = 1;  // the static-set header of protocol version 1
  EXPECT_TRUE(Contains(DecodeHeader(bad).status(), "header.version: unsupported version 1"));
  bad[1] = 3;
  EXPECT_TRUE(Contains(DecodeHeader(bad).status(), "header.version: unsupported version 3"));
  bad[1] = 0;
  EXPECT_FALSE(DecodeHeader(bad).ok());
}

TEST(Header, DecodeRejectsHeightZero) {
  Header h = SampleHeader();
  h.height = 0;
  auto r = DecodeHeader(h.Encode());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status(), "header.height")) << r.status().ToString();
  h.height = 1;
  EXPECT_TRUE(DecodeHeader(h.Encode()).ok());
}

TEST(Header, DecodeRejectsBadChainIds) {
  for (std::string id : {std::string(""), std::string("Upper"), std::string("a/b"),
                         std::string("sp ace"), std::string(65, 'a'), std::string("caf\xc3\xa9")}) {
    Header h = SampleHeader();
    h.chain_id = id;
    auto r = DecodeHeader(h.Encode());
    EXPECT_FALSE(r.ok()) << "chain id '" << id << "' accepted";
    EXPECT_TRUE(Contains(r.status(), "header.chain_id")) << r.status().ToString();
  }
  Header h = SampleHeader();
  h.chain_id = std::string(64, 'z');
  EXPECT_TRUE(DecodeHeader(h.Encode()).ok());
  h.chain_id = "a0._-";
  EXPECT_TRUE(DecodeHeader(h.Encode()).ok());
}

// ---- votes ----

TEST(Vote, MessageLayout) {
  Hash32 block = Filled(0xab);
  Bytes msg = VoteMessage("c1", VoteType::kPrecommit, 0x0102030405060708, 0x0a0b0c0d, block);
  std::string expected = ToHex(AsBytes("consent-ledger/vote/v1")) + "00000002" +
                         ToHex(AsBytes("c1")) + "02" + "0102030405060708" + "0a0b0c0d" +
                         ToHex(block);
  EXPECT_EQ(ToHex(msg), expected);
  Bytes prevote = VoteMessage("c1", VoteType::kPrevote, 0x0102030405060708, 0x0a0b0c0d, block);
  EXPECT_NE(prevote, msg);
  EXPECT_EQ(prevote[22 + 4 + 2], 1);
  Bytes nil = VoteMessage("c1", VoteType::kPrevote, 1, 0, Hash32{});
  EXPECT_EQ(ToHex(ByteView(nil.data() + nil.size() - 32, 32)), std::string(64, '0'));
}

TEST(Vote, SignPrecommitVerifiesOnlyForItsOwnMessage) {
  SigningKey k = KeyFromByte(9);
  Hash32 block = Filled(1);
  CommitSig cs = SignPrecommit(k, "chain", 5, 2, block);
  EXPECT_EQ(cs.validator, k.public_key());
  EXPECT_TRUE(VerifySignature(
      k.public_key(), VoteMessage("chain", VoteType::kPrecommit, 5, 2, block), cs.signature));
  EXPECT_FALSE(VerifySignature(
      k.public_key(), VoteMessage("chain", VoteType::kPrevote, 5, 2, block), cs.signature));
  EXPECT_FALSE(VerifySignature(
      k.public_key(), VoteMessage("chain2", VoteType::kPrecommit, 5, 2, block), cs.signature));
}

// ---- genesis ----

TEST(Genesis, ValidatorsHashIsHashOfKeyList) {
  auto keys = MakeKeys(3);
  Genesis g = MakeGenesis(keys);
  Bytes list = {0, 0, 0, 3};
  for (const auto& k : keys) Append(list, k.public_key());
  EXPECT_EQ(g.ValidatorsHash(), Sha256(list));
  std::swap(g.validators[0], g.validators[1]);  // order matters
  EXPECT_NE(g.ValidatorsHash(), Sha256(list));
}

TEST(Genesis, ProposerRotation) {
  auto keys = MakeKeys(4);
  Genesis g = MakeGenesis(keys);
  EXPECT_EQ(g.Proposer(1, 0), keys[1].public_key());
  EXPECT_EQ(g.Proposer(2, 0), keys[2].public_key());
  EXPECT_EQ(g.Proposer(3, 0), keys[3].public_key());
  EXPECT_EQ(g.Proposer(4, 0), keys[0].public_key());
  EXPECT_EQ(g.Proposer(1, 1), keys[2].public_key());
  EXPECT_EQ(g.Proposer(1, 3), keys[0].public_key());
  // (2^64 - 1 + 2^32 - 1) mod 4 without wrapping: (3 + 3) mod 4 = 2.
  EXPECT_EQ(g.Proposer(UINT64_MAX, UINT32_MAX), keys[2].public_key());
  Genesis one = MakeGenesis(MakeKeys(1));
  EXPECT_EQ(one.Proposer(123, 45), one.validators[0].public_key);
}

TEST(Genesis, QuorumSizes) {
  const size_t expected[] = {1, 2, 3, 3, 4, 5, 5, 6, 7, 7};
  for (size_t n = 1; n <= 10; ++n) {
    Genesis g = MakeGenesis(MakeKeys(n));
    EXPECT_EQ(g.QuorumSize(), expected[n - 1]) << "n=" << n;
    EXPECT_GT(3 * g.QuorumSize(), 2 * n) << "more than two thirds, n=" << n;
    EXPECT_LE(3 * (g.QuorumSize() - 1), 2 * n) << "smallest such, n=" << n;
  }
}

TEST(Genesis, CanonicalJson) {
  Genesis g;
  g.chain_id = "c";
  g.genesis_time_ms = 5;
  g.validators.push_back({"v\xc3\xa9", Filled(0x0f)});
  EXPECT_EQ(g.ToJson(),
            "{\n  \"chain_id\": \"c\",\n  \"genesis_time_ms\": 5,\n"
            "  \"validators\": [\n    {\n      \"name\": \"v\xc3\xa9\",\n"
            "      \"public_key\": \"" +
                std::string(64, '0').replace(0, 64, ToHex(Filled(0x0f))) + "\"\n    }\n  ]\n}\n");
  auto parsed = ParseGenesis(g.ToJson());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->chain_id, g.chain_id);
  EXPECT_EQ(parsed->genesis_time_ms, g.genesis_time_ms);
  EXPECT_EQ(parsed->validators, g.validators);
}

std::string GenesisText(const std::string& chain, const std::string& time,
                        const std::string& validators) {
  return "{\"chain_id\": " + chain + ", \"genesis_time_ms\": " + time +
         ", \"validators\": " + validators + "}";
}

std::string V(const std::string& name, uint8_t key) {
  return "{\"name\": \"" + name + "\", \"public_key\": \"" + ToHex(Filled(key)) + "\"}";
}

TEST(Genesis, ParsesValidFile) {
  auto g = ParseGenesis(
      GenesisText("\"main-1\"", "1700000000000", "[" + V("alpha", 1) + ", " + V("beta", 2) + "]"));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->chain_id, "main-1");
  EXPECT_EQ(g->genesis_time_ms, 1700000000000u);
  ASSERT_EQ(g->validators.size(), 2u);
  EXPECT_EQ(g->validators[1].name, "beta");
  EXPECT_EQ(g->validators[1].public_key, Filled(2));
  // Key order and whitespace do not matter on input.
  auto g2 = ParseGenesis("{\"validators\":[" + V("alpha", 1) + "," + V("beta", 2) +
                         "],\"genesis_time_ms\":1700000000000,\n\"chain_id\":\"main-1\"}");
  ASSERT_TRUE(g2.ok()) << g2.status().ToString();
  EXPECT_EQ(g2->validators, g->validators);
}

void ExpectGenesisError(const std::string& text, const std::string& fragment) {
  auto g = ParseGenesis(text);
  ASSERT_FALSE(g.ok()) << "accepted: " << text;
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(g.status(), fragment))
      << "message '" << g.status().message() << "' lacks '" << fragment << "'";
  EXPECT_EQ(g.status().message().rfind("genesis: ", 0), 0u) << g.status().message();
}

TEST(Genesis, RejectsMissingExtraAndMistypedFields) {
  const std::string vals = "[" + V("a", 1) + "]";
  ExpectGenesisError("{\"genesis_time_ms\": 0, \"validators\": " + vals + "}",
                     "chain_id: missing field");
  ExpectGenesisError("{\"chain_id\": \"c\", \"validators\": " + vals + "}",
                     "genesis_time_ms: missing field");
  ExpectGenesisError("{\"chain_id\": \"c\", \"genesis_time_ms\": 0}", "validators: missing field");
  ExpectGenesisError(
      "{\"chain_id\": \"c\", \"genesis_time_ms\": 0, \"validators\": " + vals + ", \"extra\": 1}",
      "extra: unknown field");
  ExpectGenesisError(GenesisText("\"c\"", "0", "[{\"name\": \"a\"}]"),
                     "validators[0].public_key: missing field");
  ExpectGenesisError(GenesisText("\"c\"", "0",
                                 "[{\"name\": \"a\", \"public_key\": \"" + ToHex(Filled(1)) +
                                     "\", \"power\": 1}]"),
                     "validators[0].power: unknown field");
  ExpectGenesisError(GenesisText("5", "0", vals), "chain_id: expected a string");
  ExpectGenesisError(GenesisText("\"c\"", "\"0\"", vals), "genesis_time_ms: expected");
  ExpectGenesisError(GenesisText("\"c\"", "1.5", vals), "genesis_time_ms: expected");
  ExpectGenesisError(GenesisText("\"c\"", "-1", vals), "genesis_time_ms: expected a non-negative");
  ExpectGenesisError(GenesisText("\"c\"", "9007199254740992", vals),
                     "genesis_time_ms: 9007199254740992 exceeds");
  EXPECT_TRUE(ParseGenesis(GenesisText("\"c\"", "9007199254740991", vals)).ok());
  ExpectGenesisError(GenesisText("\"c\"", "0", "{}"), "validators: expected an array");
  ExpectGenesisError(GenesisText("\"c\"", "0", "[5]"), "validators[0]: expected an object");
  ExpectGenesisError(
      GenesisText("\"c\"", "0", "[{\"name\": 1, \"public_key\": \"" + ToHex(Filled(1)) + "\"}]"),
      "validators[0].name: expected a string");
  ExpectGenesisError("[]", "top level: expected an object");
  ExpectGenesisError(
      "{\"chain_id\": \"c\", \"chain_id\": \"d\", \"genesis_time_ms\": 0, "
      "\"validators\": " +
          vals + "}",
      "duplicate key \"chain_id\"");
  ExpectGenesisError("{\"chain_id\": \"c\"", "parse error");
  ExpectGenesisError(GenesisText("\"c\"", "0", vals) + " {}", "parse error");
}

TEST(Genesis, RejectsBadHexAndKeys) {
  auto with_key = [](const std::string& hex) {
    return GenesisText("\"c\"", "0", "[{\"name\": \"a\", \"public_key\": \"" + hex + "\"}]");
  };
  ExpectGenesisError(with_key(std::string(63, 'a')), "validators[0].public_key: expected 64 hex");
  ExpectGenesisError(with_key(std::string(66, 'a')), "validators[0].public_key: expected 64 hex");
  ExpectGenesisError(with_key(std::string(63, 'a') + "g"), "validators[0].public_key");
  // Upper case is accepted on input and written back in lower case.
  auto upper = ParseGenesis(with_key(std::string(64, 'A')));
  ASSERT_TRUE(upper.ok()) << upper.status().ToString();
  EXPECT_NE(upper->ToJson().find(std::string(64, 'a')), std::string::npos);
  ExpectGenesisError(GenesisText("\"c\"", "0", "[" + V("a", 1) + ", " + V("b", 1) + "]"),
                     "validators[1].public_key: duplicate validator key");
}

TEST(Genesis, RejectsBadValidatorCountsNamesAndChainIds) {
  ExpectGenesisError(GenesisText("\"c\"", "0", "[]"), "at least one validator");
  std::string many = "[";
  for (int i = 0; i < 257; ++i) {
    if (i) many += ",";
    Hash32 k = Filled(0);
    k[0] = static_cast<uint8_t>(i);
    k[1] = static_cast<uint8_t>(i >> 8);
    many += "{\"name\": \"v\", \"public_key\": \"" + ToHex(k) + "\"}";
  }
  ExpectGenesisError(GenesisText("\"c\"", "0", many + "]"), "257 items exceed the limit of 256");
  // Exactly 256 is fine.
  std::string full = many.substr(0, many.rfind(",{")) + "]";
  auto g = ParseGenesis(GenesisText("\"c\"", "0", full));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->validators.size(), 256u);

  ExpectGenesisError(GenesisText("\"c\"", "0", "[" + V("", 1) + "]"),
                     "validators[0].name: length 0");
  ExpectGenesisError(GenesisText("\"c\"", "0", "[" + V(std::string(129, 'n'), 1) + "]"),
                     "validators[0].name: length 129");
  EXPECT_TRUE(
      ParseGenesis(GenesisText("\"c\"", "0", "[" + V(std::string(128, 'n'), 1) + "]")).ok());
  ExpectGenesisError(GenesisText("\"c\"", "0", "[" + V("a\\u0000b", 1) + "]"), "NUL");

  for (std::string id : {std::string("\"\""), std::string("\"Main\""), std::string("\"a b\""),
                         "\"" + std::string(65, 'a') + "\"", std::string("\"a\\u00e9\"")}) {
    ExpectGenesisError(GenesisText(id, "0", "[" + V("a", 1) + "]"), "chain_id");
  }
}

TEST(Genesis, RejectsHugeInput) {
  std::string text = GenesisText("\"c\"", "0", "[" + V("a", 1) + "]");
  text += std::string((1 << 20) - text.size() + 1, ' ');
  ExpectGenesisError(text, "over the limit of 1048576");
  text.pop_back();
  EXPECT_TRUE(ParseGenesis(text).ok());  // exactly 1 MiB, whitespace-padded
  ExpectGenesisError(std::string(100, '[') + std::string(100, ']'), "nesting deeper than");
}

// ---- commits ----

struct CommitCase {
  std::vector<SigningKey> keys;
  Genesis genesis;
  Hash32 block = Filled(0x77);
  uint64_t height = 12;
  uint32_t round = 3;

  explicit CommitCase(size_t n) : keys(MakeKeys(n)), genesis(MakeGenesis(keys)) {}
  Commit SignedBy(const std::vector<size_t>& who) const {
    Commit c;
    c.round = round;
    for (size_t i : who) {
      c.signatures.push_back(SignPrecommit(keys[i], genesis.chain_id, height, round, block));
    }
    return c;
  }
};

TEST(VerifyCommit, ExactlyQuorumPassesAndOneLessFails) {
  for (size_t n : {1, 2, 3, 4, 7, 10}) {
    CommitCase c(n);
    size_t q = c.genesis.QuorumSize();
    std::vector<size_t> who;
    for (size_t i = 0; i < q; ++i) who.push_back(n - 1 - i);  // any order, any subset
    Status ok = VerifyCommit(c.genesis, c.height, c.block, c.SignedBy(who));
    EXPECT_TRUE(ok.ok()) << "n=" << n << ": " << ok.ToString();
    who.pop_back();
    Status short_by_one = VerifyCommit(c.genesis, c.height, c.block, c.SignedBy(who));
    ASSERT_FALSE(short_by_one.ok()) << "n=" << n;
    EXPECT_TRUE(Contains(short_by_one,
                         "only " + std::to_string(q - 1) + " of the required " + std::to_string(q)))
        << short_by_one.message();
  }
  CommitCase all(4);
  EXPECT_TRUE(VerifyCommit(all.genesis, all.height, all.block, all.SignedBy({0, 1, 2, 3})).ok());
}

TEST(VerifyCommit, RejectsDuplicateSigner) {
  CommitCase c(4);
  Status s = VerifyCommit(c.genesis, c.height, c.block, c.SignedBy({0, 1, 1}));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(
      s, "signatures[2]: validator " + ToHex(c.keys[1].public_key()) + " signed more than once"))
      << s.message();
  // Even on top of a quorum.
  EXPECT_FALSE(VerifyCommit(c.genesis, c.height, c.block, c.SignedBy({0, 1, 2, 2})).ok());
}

TEST(VerifyCommit, RejectsNonValidator) {
  CommitCase c(4);
  Commit commit = c.SignedBy({0, 1, 2});
  SigningKey outsider = KeyFromByte(200);
  commit.signatures.push_back(
      SignPrecommit(outsider, c.genesis.chain_id, c.height, c.round, c.block));
  Status s = VerifyCommit(c.genesis, c.height, c.block, commit);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s, "signatures[3]: validator " + ToHex(outsider.public_key()) +
                              " is not in the validator set of height " + std::to_string(c.height)))
      << s.message();
  // A key that differs from a validator's only in its last byte is named in full, so the message
  // cannot be read as naming the genuine validator.
  Commit near = c.SignedBy({0, 1, 2});
  near.signatures[2].validator.back() ^= 1;
  s = VerifyCommit(c.genesis, c.height, c.block, near);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s, "signatures[2]: validator " + ToHex(near.signatures[2].validator) +
                              " is not in the validator set of height " + std::to_string(c.height)))
      << s.message();
}

TEST(VerifyCommit, RejectsMoreEntriesThanValidators) {
  CommitCase c(1);
  Status s = VerifyCommit(c.genesis, c.height, c.block, c.SignedBy({0, 0}));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s, "more than the 1 validators")) << s.message();
}

TEST(VerifyCommit, RejectsBadSignature) {
  CommitCase c(4);
  Commit commit = c.SignedBy({0, 1, 2, 3});
  commit.signatures[2].signature[10] ^= 1;
  Status s = VerifyCommit(c.genesis, c.height, c.block, commit);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidSignature);
  EXPECT_TRUE(Contains(s, "signatures[2]: validator " + ToHex(c.keys[2].public_key()) +
                              ": invalid precommit signature"))
      << s.message();
  // A signature swapped between validators is also invalid.
  commit = c.SignedBy({0, 1, 2});
  std::swap(commit.signatures[0].signature, commit.signatures[1].signature);
  EXPECT_FALSE(VerifyCommit(c.genesis, c.height, c.block, commit).ok());
}

TEST(VerifyCommit, RejectsWrongRoundHeightHashOrChain) {
  CommitCase c(4);
  Commit commit = c.SignedBy({0, 1, 2});
  ASSERT_TRUE(VerifyCommit(c.genesis, c.height, c.block, commit).ok());
  Commit other_round = commit;
  other_round.round += 1;
  EXPECT_FALSE(VerifyCommit(c.genesis, c.height, c.block, other_round).ok());
  EXPECT_FALSE(VerifyCommit(c.genesis, c.height + 1, c.block, commit).ok());
  Hash32 other_block = c.block;
  other_block[0] ^= 1;
  EXPECT_FALSE(VerifyCommit(c.genesis, c.height, other_block, commit).ok());
  Genesis other_chain = c.genesis;
  other_chain.chain_id = "other-chain";
  EXPECT_FALSE(VerifyCommit(other_chain, c.height, c.block, commit).ok());
  // Prevotes are not precommits.
  Commit prevotes;
  prevotes.round = c.round;
  for (size_t i = 0; i < 3; ++i) {
    prevotes.signatures.push_back(
        {c.keys[i].public_key(), c.keys[i].Sign(VoteMessage(c.genesis.chain_id, VoteType::kPrevote,
                                                            c.height, c.round, c.block))});
  }
  EXPECT_FALSE(VerifyCommit(c.genesis, c.height, c.block, prevotes).ok());
}

// ---- JSON faces of headers and commits ----

TEST(BlockJson, HeaderRoundTripAndAgreement) {
  Header h = SampleHeader();
  json::OrderedJson j = HeaderToJson(h);
  EXPECT_EQ(json::Dump(j).substr(0, 48), "{\"height\":7,\"time_ms\":1700000000123,\"encoding\":\"");
  auto back = HeaderFromJson(json::Json::parse(json::Dump(j)), "header");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, h);

  json::Json bad = json::Json::parse(json::Dump(j));
  bad["height"] = 8;
  EXPECT_TRUE(Contains(HeaderFromJson(bad, "header").status(),
                       "header.height: 8 does not match the encoding's height 7"));
  bad = json::Json::parse(json::Dump(j));
  bad["time_ms"] = 1;
  EXPECT_TRUE(Contains(HeaderFromJson(bad, "header").status(), "header.time_ms"));
  bad = json::Json::parse(json::Dump(j));
  bad["block_hash"] = ToHex(Filled(0));
  EXPECT_TRUE(Contains(HeaderFromJson(bad, "header").status(), "header.block_hash"));
  bad = json::Json::parse(json::Dump(j));
  bad["encoding"] = bad["encoding"].get<std::string>() + "00";
  EXPECT_TRUE(Contains(HeaderFromJson(bad, "header").status(), "header.encoding: header: 1"));
  bad = json::Json::parse(json::Dump(j));
  bad.erase("encoding");
  EXPECT_TRUE(Contains(HeaderFromJson(bad, "header").status(), "header.encoding: missing"));
}

TEST(BlockJson, CommitRoundTripAndErrors) {
  CommitCase c(4);
  Commit commit = c.SignedBy({3, 0, 2});
  json::Json j = json::Json::parse(json::Dump(CommitToJson(commit)));
  auto back = CommitFromJson(j, "commit");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, commit);

  json::Json bad = j;
  bad["round"] = 4294967296ull;
  EXPECT_TRUE(Contains(CommitFromJson(bad, "commit").status(), "commit.round: 4294967296 exceeds"));
  bad = j;
  bad["signatures"][1]["signature"] = "00";
  EXPECT_TRUE(Contains(CommitFromJson(bad, "commit").status(),
                       "commit.signatures[1].signature: expected 128 hex digits"));
  bad = j;
  bad["signatures"][0]["extra"] = true;
  EXPECT_TRUE(
      Contains(CommitFromJson(bad, "commit").status(), "commit.signatures[0].extra: unknown"));
}

}  // namespace
}  // namespace consent
