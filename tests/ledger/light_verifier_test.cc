// Tests for the light verifier (ledger/light_verifier.h): a synthetic chain of certified headers
// whose validator set changes twice ({A} -> {B, C} at height 2 -> {D} at height 4) is followed
// header by header and by height; tampered answers are refused naming the check; another
// network is told apart from a forgery; a checkpoint is a start that refuses what lies below it.
#include "ledger/light_verifier.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "crypto/hex.h"
#include "crypto/sha256.h"
#include "ledger/block_json.h"
#include "ledger/chain_builder.h"
#include "ledger/merkle_log.h"
#include "ledger/schema.h"
#include "ledger/tx_json.h"

namespace consent::light {
namespace {

constexpr uint64_t kT0 = 1700000000000;
constexpr char kChain[] = "light-test";

SigningKey Key(const std::string& name) {
  return SigningKey::FromSeed(Sha256(AsBytes("light-verifier-test/" + name)));
}

ValidatorSet Sorted(std::vector<PublicKey> keys) {
  std::sort(keys.begin(), keys.end());
  return ValidatorSet{keys};
}

// A chain of `n` certified headers; heights listed in `changes_at` decide a change to the next
// set of `sets` (sets[0] is the genesis set). Every header holds the same one-transaction log.
struct Chain {
  Genesis genesis;
  std::vector<std::vector<std::string>> set_names;
  std::vector<ValidatorSet> sets;
  std::vector<CertifiedHeader> headers;
  std::vector<ValidatorChange> changes;
  SignedTx tx;
  Hash32 tx_id{};

  const CertifiedHeader& at(uint64_t h) const { return headers[h - 1]; }
};

Commit CommitBy(const std::vector<std::string>& names, const Header& h) {
  Commit c;
  c.round = 0;
  for (const auto& n : names)
    c.signatures.push_back(SignPrecommit(Key(n), h.chain_id, h.height, 0, h.Hash()));
  return c;
}

Chain MakeChain(const std::string& chain_id, const std::string& genesis_key, int n,
                const std::vector<uint64_t>& changes_at,
                const std::vector<std::vector<std::string>>& later_sets) {
  Chain c;
  c.genesis.chain_id = chain_id;
  c.genesis.genesis_time_ms = kT0;
  c.genesis.validators.push_back({"validator-a", Key(genesis_key).public_key()});
  c.set_names.push_back({genesis_key});
  c.sets.push_back(c.genesis.Set());
  for (const auto& names : later_sets) {
    std::vector<PublicKey> keys;
    for (const auto& k : names) keys.push_back(Key(k).public_key());
    c.set_names.push_back(names);
    c.sets.push_back(Sorted(keys));
  }
  GrantTx g;
  SigningKey subject = Key("subject");
  g.subject = subject.public_key();
  g.controller = Key("brand").public_key();
  g.purposes = {"marketing.email"};
  g.issued_at_ms = kT0;
  g.nonce = 7;
  c.tx = SignTx(chain_id, g, subject).value();
  c.tx_id = c.tx.Id();
  size_t set = 0;
  Hash32 prev{};
  for (int h = 1; h <= n; ++h) {
    Header hd;
    hd.chain_id = chain_id;
    hd.height = h;
    hd.time_ms = kT0 + 1000 * h;
    hd.prev_block_hash = prev;
    hd.log_size = 1;
    hd.log_root = merkle::RootFromLeafHashes({c.tx_id});
    hd.validators_hash = c.sets[set].Hash();
    const bool change = std::find(changes_at.begin(), changes_at.end(), h) != changes_at.end();
    hd.next_validators_hash = change ? c.sets[set + 1].Hash() : hd.validators_hash;
    hd.proposer = c.sets[set].Proposer(h, 0);
    CertifiedHeader ch{hd, hd.Hash(), CommitBy(c.set_names[set], hd)};
    c.headers.push_back(ch);
    if (change) {
      c.changes.push_back(ValidatorChange{hd, ch.commit, c.sets[set + 1]});
      ++set;
    }
    prev = hd.Hash();
  }
  return c;
}

Chain Rotating() { return MakeChain(kChain, "a", 6, {2, 4}, {{"b", "c"}, {"d"}}); }

json::Json AsJson(const json::OrderedJson& j) { return json::Json::parse(j.dump()); }

// The API's JSON of a certified header (net/api_json.cc CertifiedHeaderJson), with "fields".
json::Json HeaderAnswer(const CertifiedHeader& h) {
  json::Json j;
  j["header"] = AsJson(HeaderToJson(h.header));
  j["fields"] = {{"chain_id", h.header.chain_id},
                 {"prev_block_hash", ToHex(h.header.prev_block_hash)},
                 {"log_size", h.header.log_size},
                 {"log_root", ToHex(h.header.log_root)},
                 {"state_root", ToHex(h.header.state_root)},
                 {"validators_hash", ToHex(h.header.validators_hash)},
                 {"next_validators_hash", ToHex(h.header.next_validators_hash)},
                 {"proposer", ToHex(h.header.proposer)}};
  j["commit"] = AsJson(CommitToJson(h.commit));
  return j;
}

json::Json TxAnswer(const Chain& c, uint64_t head) {
  json::Json j;
  j["tx_id"] = ToHex(c.tx_id);
  j["status"] = "committed";
  j["height"] = 1;
  j["position"] = 0;
  j["log_index"] = 0;
  j["tx"] = AsJson(TxToJson(c.tx));
  j["encoding"] = ToHex(c.tx.Encode());
  j["inclusion"] = json::Json::array();
  j["head"] = HeaderAnswer(c.at(head));
  return j;
}

TEST(LightVerifierTest, FollowsChangesToEveryHeight) {
  Chain c = Rotating();
  const TrustRoot root = FromGenesis(c.genesis);
  for (uint64_t h = 1; h <= 6; ++h) {
    Status st = VerifyHeader(root, c.changes, c.at(h));
    EXPECT_TRUE(st.ok()) << h << ": " << st.ToString();
  }
  EXPECT_EQ(SetForHeight(root, c.changes, 3).value(), c.sets[1]);
  EXPECT_EQ(SetForHeight(root, c.changes, 6).value(), c.sets[2]);
}

TEST(LightVerifierTest, HeaderRefusedWithChangesMissingReorderedOrAltered) {
  Chain c = Rotating();
  const TrustRoot root = FromGenesis(c.genesis);
  // None given: the header names a set the genesis never handed over to.
  Status st = VerifyHeader(root, {}, c.at(5));
  EXPECT_NE(st.message().find("validators_hash"), std::string::npos) << st.ToString();
  // The first left out.
  st = VerifyHeader(root, {c.changes[1]}, c.at(5));
  EXPECT_NE(st.message().find("validator_changes[0]: validators_hash"), std::string::npos)
      << st.ToString();
  // Reordered.
  st = VerifyHeader(root, {c.changes[1], c.changes[0]}, c.at(5));
  EXPECT_NE(st.message().find("validator_changes[0]: validators_hash"), std::string::npos)
      << st.ToString();
  // One repeated.
  st = VerifyHeader(root, {c.changes[0], c.changes[0], c.changes[1]}, c.at(5));
  EXPECT_NE(st.message().find("validator_changes[1]: order"), std::string::npos) << st.ToString();
  // A wrong set for the first change.
  auto bad = c.changes;
  bad[0].validators = c.sets[2];
  st = VerifyHeader(root, bad, c.at(5));
  EXPECT_NE(st.message().find("validator_changes[0]: next_validators_hash"), std::string::npos)
      << st.ToString();
  // A commit by the wrong set.
  CertifiedHeader forged = c.at(5);
  forged.commit = CommitBy({"a"}, forged.header);
  st = VerifyHeader(root, c.changes, forged);
  EXPECT_EQ(st.message().rfind("commit", 0), 0u) << st.ToString();
}

TEST(LightVerifierTest, WalkMeetsExactlyTheListedChanges) {
  Chain c = Rotating();
  const TrustRoot root = FromGenesis(c.genesis);
  {
    ChainWalk walk(c.genesis, root, c.changes);
    for (const auto& h : c.headers) ASSERT_TRUE(walk.Step(h).ok());
    EXPECT_TRUE(walk.Finish().ok());
    EXPECT_EQ(walk.changes_met(), 2u);
    const Checkpoint cp = walk.ToCheckpoint();
    EXPECT_EQ(cp.height, 6u);
    EXPECT_EQ(cp.block_hash, c.at(6).header.Hash());
    EXPECT_EQ(cp.validators, c.sets[2]);
  }
  auto walk_all = [&](std::vector<ValidatorChange> listed) {
    ChainWalk walk(c.genesis, root, std::move(listed));
    for (const auto& h : c.headers) {
      if (Status st = walk.Step(h); !st.ok()) return st;
    }
    return walk.Finish();
  };
  // A change block the list lacks.
  Status st = walk_all({c.changes[0]});
  EXPECT_NE(st.message().find("height 4: validator_changes: this block decides a change"),
            std::string::npos)
      << st.ToString();
  // A listed change that is no change block of the chain.
  ValidatorChange fake{c.at(3).header, c.at(3).commit, c.sets[2]};
  st = walk_all({c.changes[0], fake, c.changes[1]});
  EXPECT_NE(st.message().find("height 3: validator_changes: the node lists a change"),
            std::string::npos)
      << st.ToString();
  // A listed change of another block at that height (a fork's).
  ValidatorChange other = c.changes[1];
  other.header.time_ms += 1;
  st = walk_all({c.changes[0], other});
  EXPECT_NE(st.message().find("not this block"), std::string::npos) << st.ToString();
  // The walk without the list: the header after the change is refused (commit of another set).
  st = walk_all({});
  EXPECT_NE(st.message().find("height 2: validator_changes"), std::string::npos) << st.ToString();
  // A listed change above everything walked is fine until the walk reaches it.
  ChainWalk partial(c.genesis, root, c.changes);
  for (uint64_t h = 1; h <= 3; ++h) ASSERT_TRUE(partial.Step(c.at(h)).ok());
  EXPECT_TRUE(partial.Finish().ok());
}

TEST(LightVerifierTest, CheckpointIsAStartAndRefusesBelowIt) {
  Chain c = Rotating();
  const Checkpoint cp{kChain, 3, c.at(3).header.Hash(), c.sets[1]};
  auto parsed = ParseCheckpoint(CheckpointToJson(cp));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, cp);
  const TrustRoot root = FromCheckpoint(c.genesis, cp).value();
  EXPECT_EQ(root.Describe(), "checkpoint at height 3");
  // Only the changes at or after the checkpoint are needed; earlier ones are skipped.
  EXPECT_TRUE(VerifyHeader(root, {c.changes[1]}, c.at(5)).ok());
  EXPECT_TRUE(VerifyHeader(root, c.changes, c.at(6)).ok());
  Status st = VerifyHeader(root, c.changes, c.at(2));
  EXPECT_NE(st.message().find("below the checkpoint at height 3"), std::string::npos)
      << st.ToString();
  // The checkpoint's own height must be its block.
  CertifiedHeader other = c.at(3);
  other.header.time_ms += 1;
  other.commit = CommitBy(c.set_names[1], other.header);
  st = VerifyHeader(root, c.changes, other);
  EXPECT_NE(st.message().find("the chain was rewritten"), std::string::npos) << st.ToString();
  // A walk from the checkpoint.
  ChainWalk walk(c.genesis, root, c.changes);
  for (uint64_t h = 3; h <= 6; ++h) ASSERT_TRUE(walk.Step(c.at(h)).ok()) << h;
  EXPECT_EQ(walk.changes_met(), 1u);
  ChainWalk rewritten(c.genesis, root, c.changes);
  EXPECT_NE(rewritten.Step(other).message().find("rewritten"), std::string::npos);
  // Another chain's checkpoint.
  Checkpoint foreign = cp;
  foreign.chain_id = "other-chain";
  EXPECT_FALSE(FromCheckpoint(c.genesis, foreign).ok());
}

TEST(LightVerifierTest, CheckpointJsonIsStrict) {
  const std::string k = std::string(64, 'a');
  const std::string good = R"({"chain_id": "x", "height": 3, "block_hash": ")" + k +
                           R"(", "validators": [")" + k + R"("]})";
  EXPECT_TRUE(ParseCheckpoint(good).ok());
  for (const std::string& bad : {
           R"({"chain_id": "x", "height": 3, "block_hash": ")" + k + R"(", "validators": []})",
           R"({"chain_id": "x", "height": 0, "block_hash": ")" + k + R"(", "validators": [")" + k +
               R"("]})",
           R"({"chain_id": "x", "height": 3, "block_hash": "zz", "validators": [")" + k + R"("]})",
           R"({"chain_id": "x", "height": 3, "block_hash": ")" + k + R"(", "validators": [")" + k +
               R"(", ")" + k + R"("]})",
           R"({"chain_id": "x", "chain_id": "y", "height": 3, "block_hash": ")" + k +
               R"(", "validators": [")" + k + R"("]})",
           R"({"chain_id": "x", "height": 3, "header_hash": ")" + k + R"(", "validators": [")" + k +
               R"("]})",
       }) {
    EXPECT_FALSE(ParseCheckpoint(bad).ok()) << bad;
  }
}

TEST(LightVerifierTest, CommittedTxAnswerVerifiedAndTamperingNamed) {
  Chain c = Rotating();
  const TrustRoot root = FromGenesis(c.genesis);
  auto ok = VerifyCommittedTx(root, c.changes, TxAnswer(c, 6), c.tx_id);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->head.height, 6u);
  struct Case {
    const char* want;
    std::function<void(json::Json&)> alter;
  };
  const std::vector<Case> cases = {
      {"encoding: does not hash", [](json::Json& j) { j["encoding"] = ToHex(Bytes(40, 1)); }},
      {"tx: is not the JSON", [](json::Json& j) { j["tx"]["nonce"] = 8; }},
      {"unknown", [](json::Json& j) { j["extra"] = 1; }},
      {"head.fields.log_root: disagrees",
       [](json::Json& j) { j["head"]["fields"]["log_root"] = std::string(64, '0'); }},
      {"head: commit",
       [](json::Json& j) { j["head"]["commit"]["signatures"] = json::Json::array(); }},
      {"inclusion", [](json::Json& j) { j["inclusion"] = {std::string(64, '1')}; }},
      {"tx_id", [](json::Json& j) { j["tx_id"] = std::string(64, '2'); }},
  };
  for (const Case& k : cases) {
    json::Json j = TxAnswer(c, 6);
    k.alter(j);
    auto r = VerifyCommittedTx(root, c.changes, j, c.tx_id);
    ASSERT_FALSE(r.ok()) << k.want;
    EXPECT_NE(r.status().message().find(k.want), std::string::npos) << r.status().ToString();
  }
  // Without the node's changes the head at height 6 does not verify from genesis.
  auto r = VerifyCommittedTx(root, {}, TxAnswer(c, 6), c.tx_id);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("head: validators_hash"), std::string::npos)
      << r.status().ToString();
}

TEST(LightVerifierTest, ChangesAnswerAndCertifiedHeaderParseStrictly) {
  Chain c = Rotating();
  json::Json doc = {{"changes", AsJson(ValidatorChangesToJson(c.changes))}};
  auto changes = ParseChangesAnswer(doc);
  ASSERT_TRUE(changes.ok()) << changes.status().ToString();
  EXPECT_EQ(*changes, c.changes);
  doc["more"] = 1;
  EXPECT_FALSE(ParseChangesAnswer(doc).ok());
  json::Json h = HeaderAnswer(c.at(2));
  EXPECT_TRUE(ParseCertifiedHeader(h, "h").ok());
  h["fields"]["next_validators_hash"] = ToHex(c.at(2).header.validators_hash);
  EXPECT_FALSE(ParseCertifiedHeader(h, "h").ok());
  h = HeaderAnswer(c.at(2));
  h["fields"]["surprise"] = "x";
  EXPECT_FALSE(ParseCertifiedHeader(h, "h").ok());
}

ConsentProof ProofAt(const Chain& c, uint64_t height, bool with_changes) {
  ConsentProof p;
  p.chain_id = c.genesis.chain_id;
  p.header = c.at(height).header;
  p.commit = c.at(height).commit;
  if (with_changes) {
    for (const auto& ch : c.changes) {
      if (ch.header.height < height) p.validator_changes.push_back(ch);
    }
  }
  return p;
}

TEST(LightVerifierTest, AnotherNetworkIsToldApartFromAForgery) {
  Chain c = Rotating();
  const TrustRoot root = FromGenesis(c.genesis);
  // Ours, with its changes: of this genesis.
  EXPECT_TRUE(CheckProofNetwork(c.genesis, root, ProofAt(c, 5, true), "g.json").ok());
  EXPECT_TRUE(CheckProofNetwork(c.genesis, root, ProofAt(c, 1, false), "g.json").ok());
  // Another chain id.
  Chain other = MakeChain("other-net", "z", 3, {}, {});
  Status st = CheckProofNetwork(c.genesis, root, ProofAt(other, 2, false), "g.json");
  EXPECT_EQ(st.message(), "this proof is not of g.json (chain id other-net, expected light-test)");
  // The same chain id, another network (its genesis key "z" is none of ours).
  Chain twin = MakeChain(kChain, "z", 3, {}, {});
  st = CheckProofNetwork(c.genesis, root, ProofAt(twin, 2, false), "g.json");
  EXPECT_EQ(st.message().rfind("this proof is not of g.json (chain id light-test as expected", 0),
            0u)
      << st.ToString();
  // A proof that carries changes is judged by them, not called another network: here the twin
  // network's own change, which the genesis set never signed, is INVALID naming the check.
  Chain twin_changed = MakeChain(kChain, "z", 4, {2}, {{"y"}});
  EXPECT_TRUE(CheckProofNetwork(c.genesis, root, ProofAt(twin_changed, 4, true), "g.json").ok());
  st = VerifyHeader(root, twin_changed.changes, twin_changed.at(4));
  EXPECT_NE(st.message().find("validator_changes[0]: validators_hash"), std::string::npos)
      << st.ToString();
  // A forgery signed by our genesis key over another set hash is not "another network": the
  // verifier reports it INVALID.
  ConsentProof forged = ProofAt(twin, 2, false);
  forged.commit = CommitBy({"a"}, forged.header);
  EXPECT_TRUE(CheckProofNetwork(c.genesis, root, forged, "g.json").ok());
  // A chain's own answer: the network check of a whole chain.
  EXPECT_TRUE(
      CheckChainNetwork(c.genesis, root, kChain, schema::GenesisHash(c.genesis), &c.at(1), "g.json")
          .ok());
  st = CheckChainNetwork(c.genesis, root, kChain, std::nullopt, &twin.at(1), "g.json");
  EXPECT_EQ(st.message().rfind("this chain is not of g.json", 0), 0u) << st.ToString();
  st = CheckChainNetwork(c.genesis, root, kChain, Hash32{}, nullptr, "g.json");
  EXPECT_NE(st.message().find("genesis hash"), std::string::npos) << st.ToString();
  st = CheckChainNetwork(c.genesis, root, "other-net", std::nullopt, nullptr, "g.json");
  EXPECT_EQ(st.message(), "this chain is not of g.json (chain id other-net, expected light-test)");
}

TEST(LightVerifierTest, ProofVerifiedFromACheckpoint) {
  ChainBuilder chain = ChainBuilder::ForTesting("light-proof", 4, kT0);
  SigningKey subject = Key("proof-subject");
  const PublicKey brand = Key("proof-brand").public_key();
  for (int b = 1; b <= 3; ++b) {
    std::vector<SignedTx> txs;
    if (b == 2) {
      GrantTx g;
      g.subject = subject.public_key();
      g.controller = brand;
      g.purposes = {"marketing.email"};
      g.issued_at_ms = kT0 + 1500;
      g.nonce = 1;
      txs.push_back(SignTx("light-proof", g, subject).value());
    }
    ASSERT_TRUE(chain.AddBlock(kT0 + 1000 * b, std::move(txs)).ok());
  }
  const ConsentProof proof = chain.BuildProof(subject.public_key(), brand, "marketing.email");
  const Genesis& genesis = chain.genesis();
  auto from_genesis = VerifyProof(proof, genesis, FromGenesis(genesis), std::nullopt);
  ASSERT_TRUE(from_genesis.ok()) << from_genesis.status().ToString();
  EXPECT_EQ(from_genesis->status, ProofStatus::kGranted);
  auto at = [&](uint64_t h, Hash32 hash) {
    return FromCheckpoint(genesis, Checkpoint{"light-proof", h, hash, genesis.Set()}).value();
  };
  // A checkpoint at or below the proof's height: VALID from it.
  for (uint64_t h : {2, 3}) {
    auto v = VerifyProof(proof, genesis, at(h, chain.blocks()[h - 1].block_hash), std::nullopt);
    EXPECT_TRUE(v.ok()) << h << ": " << v.status().ToString();
  }
  // Above it: refused, named.
  auto above = VerifyProof(proof, genesis, at(4, Hash32{}), std::nullopt);
  ASSERT_FALSE(above.ok());
  EXPECT_NE(above.status().message().find("below the checkpoint's height 4"), std::string::npos);
  // At its height, another block than the checkpoint's: the chain was rewritten.
  auto rewritten = VerifyProof(proof, genesis, at(3, Hash32{}), std::nullopt);
  ASSERT_FALSE(rewritten.ok());
  EXPECT_NE(rewritten.status().message().find("rewritten"), std::string::npos);
  // A checkpoint over another set: the proof's header does not name it.
  Checkpoint other{"light-proof", 2, chain.blocks()[1].block_hash, Sorted({Key("x").public_key()})};
  auto v = VerifyProof(proof, genesis, FromCheckpoint(genesis, other).value(), std::nullopt);
  EXPECT_FALSE(v.ok());
  // And the network check from that checkpoint calls it another network (signed by none of it).
  EXPECT_FALSE(CheckProofNetwork(genesis, FromCheckpoint(genesis, other).value(), proof, "g").ok());
}

}  // namespace
}  // namespace consent::light
