// Tests for ledger/consent_proof.h and ledger/chain_builder.h: real proofs from real blocks over
// 1 and 4 validators (granted, revoked, expired, none by both kinds of non-membership), the JSON
// round trip, strict parsing, and tampering with every leaf of the proof JSON, which must never
// yield a valid proof that means something else.
#include "ledger/consent_proof.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/hex.h"
#include "crypto/sha256.h"
#include "ledger/chain_builder.h"
#include "ledger/json_strict.h"
#include "ledger/merkle_log.h"
#include "tests/genesis_set.h"

namespace consent {
namespace {

constexpr uint64_t kT0 = 1700000000000;
constexpr uint64_t kExpiry = kT0 + 1000000;

SigningKey KeyFromLabel(const std::string& label) {
  return SigningKey::FromSeed(Sha256(AsBytes("consent-proof-test/" + label)));
}

SignedTx Grant(const std::string& chain, const SigningKey& subject, const PublicKey& controller,
               std::vector<std::string> purposes, uint64_t issued, uint64_t expires,
               uint64_t nonce = 1) {
  GrantTx g;
  g.subject = subject.public_key();
  g.controller = controller;
  g.purposes = std::move(purposes);
  g.data_categories = {"email"};
  g.jurisdiction = "EU-GDPR";
  g.policy_hash = Sha256(AsBytes("privacy notice v3"));
  g.issued_at_ms = issued;
  g.expires_at_ms = expires;
  g.nonce = nonce;
  return SignTx(chain, g, subject).value();
}

SignedTx Revoke(const std::string& chain, const SigningKey& subject, const PublicKey& controller,
                std::vector<std::string> purposes, uint64_t issued, uint64_t nonce = 2) {
  RevokeTx r;
  r.subject = subject.public_key();
  r.controller = controller;
  r.purposes = std::move(purposes);
  r.issued_at_ms = issued;
  r.nonce = nonce;
  return SignTx(chain, r, subject).value();
}

std::string Why(const Result<ProofVerdict>& r) {
  return r.ok() ? std::string("valid") : r.status().ToString();
}

bool Contains(const Status& s, const std::string& what) {
  return s.message().find(what) != std::string::npos;
}

// A chain with: block 1 grants alice -> brand {analytics, marketing.email} (expiring) and bob
// -> brand 8 purposes; block 2 revokes alice's marketing.email; block 3 grants alice
// "profiling" with no expiry.
struct Fixture {
  ChainBuilder chain;
  SigningKey alice = KeyFromLabel("alice");
  SigningKey bob = KeyFromLabel("bob");
  PublicKey brand = KeyFromLabel("brand").public_key();

  explicit Fixture(size_t validators)
      : chain(ChainBuilder::ForTesting("proof-test", validators, kT0 - 1000)) {
    const std::string& id = chain.genesis().chain_id;
    EXPECT_TRUE(
        chain
            .AddBlock(kT0 + 1000,
                      {Grant(id, alice, brand, {"analytics", "marketing.email"}, kT0, kExpiry),
                       Grant(id, bob, brand, {"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"},
                             kT0 + 1, 0)})
            .ok());
    EXPECT_TRUE(
        chain.AddBlock(kT0 + 2000, {Revoke(id, alice, brand, {"marketing.email"}, kT0 + 1500)})
            .ok());
    EXPECT_TRUE(
        chain.AddBlock(kT0 + 3000, {Grant(id, alice, brand, {"profiling"}, kT0 + 2500, 0, 3)})
            .ok());
  }
  ConsentProof Proof(const std::string& purpose, std::optional<uint64_t> at = {}) const {
    return chain.BuildProof(alice.public_key(), brand, purpose, at);
  }
};

class ConsentProofTest : public ::testing::TestWithParam<size_t> {};

INSTANTIATE_TEST_SUITE_P(Validators, ConsentProofTest, ::testing::Values(1, 4));

TEST_P(ConsentProofTest, GrantedRevokedExpiredAndNone) {
  Fixture f(GetParam());
  const Genesis& g = f.chain.genesis();
  ASSERT_EQ(f.chain.blocks().size(), 3u);

  ConsentProof granted = f.Proof("analytics");
  EXPECT_EQ(granted.status, ProofStatus::kGranted);
  ASSERT_TRUE(granted.tx.has_value());
  EXPECT_EQ(granted.tx->log_index, 0u);
  auto v = VerifyConsentProof(granted, g);
  ASSERT_TRUE(v.ok()) << Why(v);
  EXPECT_EQ(v->status, ProofStatus::kGranted);
  EXPECT_EQ(v->height, 3u);

  ConsentProof revoked = f.Proof("marketing.email");
  EXPECT_EQ(revoked.status, ProofStatus::kRevoked);
  EXPECT_EQ(revoked.tx->log_index, 2u);
  v = VerifyConsentProof(revoked, g);
  ASSERT_TRUE(v.ok()) << Why(v);
  EXPECT_EQ(v->status, ProofStatus::kRevoked);
  // A revoked entry is never reported as expired, even after the old expiry.
  EXPECT_EQ(f.Proof("marketing.email", kExpiry + 5).status, ProofStatus::kRevoked);

  // Expiry boundary: a grant holds on [issued_at_ms, expires_at_ms).
  ConsentProof before = f.Proof("analytics", kExpiry - 1);
  EXPECT_EQ(before.status, ProofStatus::kGranted);
  EXPECT_TRUE(VerifyConsentProof(before, g, kExpiry - 1).ok());
  ConsentProof at = f.Proof("analytics", kExpiry);
  EXPECT_EQ(at.status, ProofStatus::kExpired);
  v = VerifyConsentProof(at, g, kExpiry);
  ASSERT_TRUE(v.ok()) << Why(v);
  EXPECT_EQ(v->status, ProofStatus::kExpired);
  EXPECT_EQ(v->claimed, ProofStatus::kExpired);
  EXPECT_EQ(v->expires_at_ms, kExpiry);
  EXPECT_EQ(v->at_ms, kExpiry);
  EXPECT_EQ(v->time_ms, kT0 + 3000);
  // The proof does not carry the time it was asked for. The same "expired" proof judged at the
  // header's time is granted there: the claim holds at a later time (from kExpiry on), so it is
  // no forgery, and the verdict is the status at the time judged; and vice versa.
  v = VerifyConsentProof(at, g);
  ASSERT_TRUE(v.ok()) << Why(v);
  EXPECT_EQ(v->status, ProofStatus::kGranted);
  EXPECT_EQ(v->claimed, ProofStatus::kExpired);
  EXPECT_EQ(v->at_ms, kT0 + 3000);
  v = VerifyConsentProof(granted, g, kExpiry);
  ASSERT_TRUE(v.ok()) << Why(v);
  EXPECT_EQ(v->status, ProofStatus::kExpired);
  EXPECT_EQ(v->claimed, ProofStatus::kGranted);
  // Judging before the block's time is a wrong question, not a forged proof.
  v = VerifyConsentProof(granted, g, kT0 + 2999);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(v.status(), "before the proof's block time 1700000003000")) << Why(v);
  EXPECT_TRUE(VerifyConsentProof(granted, g, kT0 + 3000).ok());
  // A grant without expiry never expires, and a proof that says it did is false.
  ConsentProof forever = f.Proof("profiling", UINT64_MAX);
  EXPECT_EQ(forever.status, ProofStatus::kGranted);
  v = VerifyConsentProof(forever, g, UINT64_MAX);
  ASSERT_TRUE(v.ok()) << Why(v);
  EXPECT_EQ(v->status, ProofStatus::kGranted);
  EXPECT_EQ(v->expires_at_ms, 0u);
  forever.status = ProofStatus::kExpired;
  EXPECT_EQ(VerifyConsentProof(forever, g).status().message(),
            "status: proof claims expired but the entry is granted without expiry");

  ConsentProof none = f.Proof("sms");
  EXPECT_EQ(none.status, ProofStatus::kNone);
  EXPECT_FALSE(none.tx.has_value());
  EXPECT_FALSE(none.value.has_value());
  v = VerifyConsentProof(none, g);
  ASSERT_TRUE(v.ok()) << Why(v);
  EXPECT_EQ(v->status, ProofStatus::kNone);
}

TEST_P(ConsentProofTest, RevokeAllCoversEveryPurpose) {
  Fixture f(GetParam());
  const std::string& id = f.chain.genesis().chain_id;
  ASSERT_TRUE(f.chain.AddBlock(kT0 + 4000, {Revoke(id, f.alice, f.brand, {}, kT0 + 3500, 9)}).ok());
  for (const char* purpose : {"analytics", "marketing.email", "profiling"}) {
    ConsentProof p = f.Proof(purpose);
    EXPECT_EQ(p.status, ProofStatus::kRevoked) << purpose;
    auto v = VerifyConsentProof(p, f.chain.genesis());
    EXPECT_TRUE(v.ok()) << purpose << ": " << Why(v);
  }
}

TEST_P(ConsentProofTest, NoneByEmptySubtreeAndByNeighbouringLeaf) {
  Fixture f(GetParam());
  bool by_empty = false, by_leaf = false;
  for (int i = 0; i < 500 && !(by_empty && by_leaf); ++i) {
    ConsentProof p = f.Proof("unused-" + std::to_string(i));
    ASSERT_EQ(p.status, ProofStatus::kNone);
    auto v = VerifyConsentProof(p, f.chain.genesis());
    ASSERT_TRUE(v.ok()) << Why(v);
    if (p.state.leaf.has_value()) {
      by_leaf = true;
      EXPECT_NE(p.state.leaf->key, StateKey(f.alice.public_key(), f.brand, p.purpose));
    } else {
      by_empty = true;
    }
    auto back = ParseConsentProof(ConsentProofToJson(p));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, p);
  }
  EXPECT_TRUE(by_empty);
  EXPECT_TRUE(by_leaf);
}

TEST_P(ConsentProofTest, JsonRoundTripAndShape) {
  Fixture f(GetParam());
  for (const auto& p : {f.Proof("analytics"), f.Proof("marketing.email"), f.Proof("sms"),
                        f.Proof("analytics", kExpiry)}) {
    std::string text = ConsentProofToJson(p);
    auto back = ParseConsentProof(text);
    ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << text;
    EXPECT_EQ(*back, p);
    EXPECT_EQ(ConsentProofToJson(*back), text);
  }
  std::string text = ConsentProofToJson(f.Proof("analytics"));
  EXPECT_EQ(text.rfind("{\"version\":1,\"chain_id\":\"proof-test\",\"subject\":\"", 0), 0u) << text;
  json::Json j = json::Json::parse(text);
  std::vector<std::string> keys;
  json::OrderedJson oj = json::OrderedJson::parse(text);
  for (const auto& [k, unused] : oj.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"version", "chain_id", "subject", "controller",
                                            "purpose", "status", "header", "commit", "state", "tx",
                                            "validator_changes"}));
  EXPECT_TRUE(j["validator_changes"].is_array());  // required, [] when the set never changed
  EXPECT_TRUE(j["validator_changes"].empty());
  {
    json::Json without = j;
    without.erase("validator_changes");
    auto r = ParseConsentProof(without.dump());
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(Contains(r.status(), "validator_changes")) << r.status().ToString();
  }
  EXPECT_TRUE(j["state"]["leaf"].is_null());  // implied for membership
  EXPECT_EQ(j["state"]["value"].get<std::string>().size(), 2 * kStateValueBytes);
  EXPECT_EQ(j["commit"]["signatures"].size(), GetParam());
  EXPECT_FALSE(json::Json::parse(ConsentProofToJson(f.Proof("sms"))).contains("tx"));
}

TEST_P(ConsentProofTest, WrongGenesisIsInvalid) {
  Fixture f(GetParam());
  ConsentProof p = f.Proof("analytics");
  Genesis other_chain = f.chain.genesis();
  other_chain.chain_id = "other-chain";
  auto v = VerifyConsentProof(p, other_chain);
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(Contains(v.status(), "chain_id: the proof is for chain \"proof-test\"")) << Why(v);

  Genesis other_keys = f.chain.genesis();
  for (size_t i = 0; i < other_keys.validators.size(); ++i) {
    other_keys.validators[i].public_key = KeyFromLabel("other " + std::to_string(i)).public_key();
  }
  v = VerifyConsentProof(p, other_keys);
  ASSERT_FALSE(v.ok());
  // The header names the set that committed it; another genesis set is refused by its hash
  // before any signature is looked at.
  EXPECT_EQ(v.status().message(),
            "header: validators_hash does not match the validator set of genesis (and the proof "
            "carries no validator change)")
      << Why(v);
  // With a header re-pointed at the other set (no longer the block that was signed), the commit
  // names signers outside that set.
  {
    ConsentProof repointed = p;
    repointed.header.validators_hash = other_keys.Set().Hash();
    v = VerifyConsentProof(repointed, other_keys);
    ASSERT_FALSE(v.ok());
    EXPECT_TRUE(Contains(v.status(), "commit: signatures[0]: validator ")) << Why(v);
    EXPECT_TRUE(Contains(v.status(), " is not in the validator set of height 3")) << Why(v);
  }
  // A header that names another validator set fails even with a commit from this one.
  {
    Genesis same_keys_other_order = f.chain.genesis();
    if (same_keys_other_order.validators.size() > 1) {
      std::swap(same_keys_other_order.validators[0], same_keys_other_order.validators[1]);
      v = VerifyConsentProof(p, same_keys_other_order);
      ASSERT_FALSE(v.ok());
      EXPECT_EQ(v.status().message(),
                "header: validators_hash does not match the validator set of genesis (and the "
                "proof carries no validator change)");
    }
  }

  // Names are not part of the validator set's identity.
  Genesis renamed = f.chain.genesis();
  renamed.validators[0].name = "someone else";
  EXPECT_TRUE(VerifyConsentProof(p, renamed).ok());

  // A chain with the same id but other validators: its own proofs verify only against it.
  ChainBuilder rival = ChainBuilder::ForTesting("proof-test", GetParam() + 1, kT0 - 1000);
  ASSERT_TRUE(rival
                  .AddBlock(kT0 + 1000,
                            {Grant("proof-test", f.alice, f.brand, {"analytics"}, kT0, kExpiry)})
                  .ok());
  ConsentProof forged = rival.BuildProof(f.alice.public_key(), f.brand, "analytics");
  EXPECT_TRUE(VerifyConsentProof(forged, rival.genesis()).ok());
  EXPECT_FALSE(VerifyConsentProof(forged, f.chain.genesis()).ok());
}

TEST(ConsentProof, PreciseReasons) {
  Fixture f(4);
  const Genesis& g = f.chain.genesis();
  ConsentProof good = f.Proof("analytics");
  ASSERT_TRUE(VerifyConsentProof(good, g).ok());

  ConsentProof p = good;
  p.commit.signatures.resize(2);
  EXPECT_EQ(VerifyConsentProof(p, g).status().message(),
            "commit: only 2 of the required 3 validator signatures are valid");

  p = good;
  p.state.siblings[0][0] ^= 1;
  EXPECT_EQ(VerifyConsentProof(p, g).status().message(), "state: computed root does not match");

  p = good;
  p.tx->inclusion.back()[3] ^= 1;
  EXPECT_TRUE(Contains(VerifyConsentProof(p, g).status(), "tx: not included in the log at index 0"))
      << Why(VerifyConsentProof(p, g));

  p = good;
  p.tx->log_index = 5;
  EXPECT_EQ(VerifyConsentProof(p, g).status().message(),
            "tx: log_index 5 is not below the header's log_size 4");

  p = good;
  p.status = ProofStatus::kRevoked;
  EXPECT_EQ(
      VerifyConsentProof(p, g).status().message(),
      "status: proof claims revoked but the entry is granted until " + std::to_string(kExpiry));
  p = f.Proof("marketing.email");
  p.status = ProofStatus::kGranted;
  EXPECT_EQ(VerifyConsentProof(p, g).status().message(),
            "status: proof claims granted but the entry is revoked");
  p = f.Proof("sms");
  p.status = ProofStatus::kExpired;
  EXPECT_EQ(VerifyConsentProof(p, g).status().message(),
            "status: proof claims expired but there is no entry");
  {
    // A grant that expired before the block: no time from the block on at which it is granted.
    ChainBuilder short_lived = ChainBuilder::ForTesting("proof-test", 4, kT0 - 1000);
    const std::string& id = short_lived.genesis().chain_id;
    ASSERT_TRUE(
        short_lived.AddBlock(kT0 + 1000, {Grant(id, f.alice, f.brand, {"x"}, kT0, kT0 + 1500)})
            .ok());
    ASSERT_TRUE(short_lived.AddBlock(kT0 + 2000, {Grant(id, f.bob, f.brand, {"y"}, kT0, 0)}).ok());
    // Built for a time before the head's, which a node refuses to answer.
    ConsentProof stale = short_lived.BuildProof(f.alice.public_key(), f.brand, "x", kT0 + 1200);
    ASSERT_EQ(stale.status, ProofStatus::kGranted);
    EXPECT_EQ(VerifyConsentProof(stale, short_lived.genesis()).status().message(),
              "status: proof claims granted but the entry is granted until " +
                  std::to_string(kT0 + 1500) + ", which is before the header's time " +
                  std::to_string(kT0 + 2000));
    auto expired = VerifyConsentProof(short_lived.BuildProof(f.alice.public_key(), f.brand, "x"),
                                      short_lived.genesis());
    ASSERT_TRUE(expired.ok()) << Why(expired);
    EXPECT_EQ(expired->status, ProofStatus::kExpired);
  }

  p = good;  // the tx of another entry
  p.tx = f.Proof("marketing.email").tx;
  EXPECT_TRUE(Contains(VerifyConsentProof(p, g).status(), "that the state value names"));

  p = good;
  p.tx.reset();
  EXPECT_TRUE(Contains(VerifyConsentProof(p, g).status(), "tx: missing"));

  p = f.Proof("sms");
  p.tx = good.tx;
  EXPECT_TRUE(Contains(VerifyConsentProof(p, g).status(), "tx: present, but the state has no"));

  p = good;  // a membership proof passed off as non-membership
  p.value.reset();
  p.tx.reset();
  p.status = ProofStatus::kNone;
  EXPECT_TRUE(Contains(VerifyConsentProof(p, g).status(), "state: "))
      << Why(VerifyConsentProof(p, g));

  p = good;  // the bob's grant for a purpose alice never granted
  ConsentProof bob = f.chain.BuildProof(f.bob.public_key(), f.brand, "a3");
  ASSERT_TRUE(VerifyConsentProof(bob, g).ok());
  bob.subject = f.alice.public_key();
  EXPECT_FALSE(VerifyConsentProof(bob, g).ok());
}

// ---- strict parsing ----

json::Json GoodJson(const Fixture& f, const std::string& purpose = "analytics") {
  return json::Json::parse(ConsentProofToJson(f.Proof(purpose)));
}

void ExpectParseError(const json::Json& j, const std::string& fragment) {
  auto r = ParseConsentProof(j.dump());
  ASSERT_FALSE(r.ok()) << "accepted: " << j.dump();
  EXPECT_TRUE(Contains(r.status(), fragment))
      << "message '" << r.status().message() << "' lacks '" << fragment << "'";
}

TEST(ConsentProofJson, RejectsMalformedProofs) {
  Fixture f(1);
  json::Json j = GoodJson(f);
  json::Json bad = j;
  bad["state"]["siblings"][3] = std::string(63, 'a');
  ExpectParseError(bad, "state.siblings[3]: expected 64 hex digits");
  bad = j;
  bad["extra"] = 1;
  ExpectParseError(bad, "extra: unknown field");
  bad = j;
  bad.erase("commit");
  ExpectParseError(bad, "commit: missing field");
  bad = j;
  bad["version"] = 2;
  ExpectParseError(bad, "version: unsupported version 2");
  bad = j;
  bad["version"] = "1";
  ExpectParseError(bad, "version: expected a non-negative integer");
  bad = j;
  bad["status"] = "GRANTED";
  ExpectParseError(bad, "status: \"GRANTED\" is not one of");
  bad = j;
  bad["status"] = "none";
  ExpectParseError(bad, "tx: must be absent when status is \"none\"");
  bad = j;
  bad.erase("tx");
  ExpectParseError(bad, "tx: missing field");
  bad = j;
  bad["tx"]["log_index"] = -1;
  ExpectParseError(bad, "tx.log_index: expected a non-negative integer");
  bad = j;
  bad["tx"]["inclusion"] = json::Json::array();
  for (int i = 0; i < 65; ++i) bad["tx"]["inclusion"].push_back(std::string(64, '0'));
  ExpectParseError(bad, "tx.inclusion: 65 items exceed the limit of 64");
  bad = j;
  bad["state"]["siblings"] = json::Json::array();
  for (int i = 0; i < 257; ++i) bad["state"]["siblings"].push_back(std::string(64, '0'));
  ExpectParseError(bad, "state.siblings: 257 items exceed the limit of 256");
  bad = j;
  bad["state"]["value"] = bad["state"]["value"].get<std::string>() + "00";
  ExpectParseError(bad, "state.value: expected 162 hex digits");
  bad = j;
  bad["state"]["value"] = "03" + bad["state"]["value"].get<std::string>().substr(2);
  ExpectParseError(bad, "state.value");
  bad = j;
  bad["state"]["leaf"] = {{"key", std::string(64, '0')}, {"value_hash", std::string(64, '0')}};
  ExpectParseError(bad, "state.leaf: must be null when state.value is present");
  bad = j;
  bad["header"]["height"] = bad["header"]["height"].get<uint64_t>() + 1;
  ExpectParseError(bad, "header.height");
  bad = j;
  bad["purpose"] = "Marketing";
  ExpectParseError(bad, "purpose: byte 0");
  bad = j;
  bad["chain_id"] = "";
  ExpectParseError(bad, "chain_id");
  bad = j;
  bad["subject"] = 5;
  ExpectParseError(bad, "subject: expected a string");
  bad = j;
  bad["state"]["siblings"] = "none";
  ExpectParseError(bad, "state.siblings: expected an array");

  json::Json none = GoodJson(f, "sms");
  bad = none;
  bad["state"]["leaf"] = {{"key", std::string(64, '0')}};
  ExpectParseError(bad, "state.leaf.value_hash: missing field");

  std::string text = j.dump();
  EXPECT_TRUE(Contains(ParseConsentProof(text + std::string(kMaxProofJsonBytes, ' ')).status(),
                       "over the limit of 262144"));
  EXPECT_TRUE(Contains(ParseConsentProof(text.substr(0, text.size() - 1)).status(), "proof: "));
  EXPECT_TRUE(Contains(ParseConsentProof("{\"status\":\"none\",\"status\":\"granted\"}").status(),
                       "duplicate key"));
}

// ---- tampering ----

// Every way we change one leaf (or one array) of the JSON tree.
std::vector<json::Json> Mutations(const json::Json& leaf) {
  std::vector<json::Json> out;
  if (leaf.is_string()) {
    std::string s = leaf.get<std::string>();
    bool hex = !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (hex) {
      for (size_t pos : {size_t{0}, s.size() / 2, s.size() - 1}) {
        std::string t = s;
        t[pos] = t[pos] == '0' ? '1' : '0';
        out.push_back(t);
      }
      out.push_back(s.substr(2));
      out.push_back(s + "00");
    }
    for (const char* st : {"granted", "revoked", "expired", "none"}) {
      if (s != st) out.push_back(st);
    }
    out.push_back(s + "x");
    out.push_back("");
  } else if (leaf.is_number()) {
    uint64_t n = leaf.get<uint64_t>();
    out.push_back(n + 1);
    if (n > 0) out.push_back(n - 1);
  } else if (leaf.is_null()) {
    out.push_back(std::string(64, '0'));
    json::Json value_like = std::string(2 * kStateValueBytes, '0');
    value_like.get_ref<std::string&>()[1] = '1';
    out.push_back(value_like);
    out.push_back({{"key", std::string(64, '1')}, {"value_hash", std::string(64, '2')}});
  }
  return out;
}

struct TamperStats {
  int mutations = 0, parse_errors = 0, invalid = 0;
  int valid_same_key = 0;    // still valid for the original (subject, controller, purpose)
  int valid_other_key = 0;   // valid, and a true statement about another key (see below)
  int valid_other_time = 0;  // valid, the status claimed for another time (granted <-> expired)
};

void Walk(const json::Json& root, const json::Json::json_pointer& ptr,
          const std::function<void(const json::Json::json_pointer&, const json::Json&)>& visit) {
  const json::Json& node = root.at(ptr);
  visit(ptr, node);
  if (node.is_object()) {
    for (const auto& [k, unused] : node.items()) Walk(root, ptr / k, visit);
  } else if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i) Walk(root, ptr / i, visit);
  }
}

// A tampered proof may fail to parse or fail to verify. If it verifies, what it says must be
// true of the chain: the verdict equals what an honest proof for its (subject, controller,
// purpose) at `at` says. (A non-membership proof that ends in an empty subtree is equally a proof
// for every key whose path leads into that subtree, so changing the purpose can give a valid
// proof of another, true, absence; that is sound, and counted separately.)
void CheckTampered(const ChainBuilder& chain, const ConsentProof& original, uint64_t at,
                   const json::Json& tampered, const std::string& what, TamperStats* stats) {
  ++stats->mutations;
  auto parsed = ParseConsentProof(tampered.dump());
  if (!parsed.ok()) {
    ++stats->parse_errors;
    return;
  }
  auto verdict = VerifyConsentProof(*parsed, chain.genesis(), at);
  if (!verdict.ok()) {
    ++stats->invalid;
    return;
  }
  const ConsentProof& p = *parsed;
  const ConsentProof truth = chain.BuildProof(p.subject, p.controller, p.purpose, at);
  EXPECT_EQ(verdict->status, truth.status) << what;
  EXPECT_EQ(verdict->height, truth.header.height) << what;
  EXPECT_EQ(verdict->claimed, p.status) << what;
  EXPECT_EQ(p.value, truth.value) << what;
  if (p.status != truth.status) {
    // The claimed status is not bound to a time: it may differ from the truth at `at` only as
    // granted and expired differ, for a granted entry that has an expiry; the verdict is true.
    const bool by_expiry =
        (p.status == ProofStatus::kGranted || p.status == ProofStatus::kExpired) &&
        (truth.status == ProofStatus::kGranted || truth.status == ProofStatus::kExpired) &&
        truth.value && truth.value->expires_at_ms != 0;
    EXPECT_TRUE(by_expiry) << what;
    ++stats->valid_other_time;
    return;
  }
  EXPECT_EQ(p.chain_id, original.chain_id) << what;
  EXPECT_EQ(p.header, original.header) << what;
  if (p.subject == original.subject && p.controller == original.controller &&
      p.purpose == original.purpose) {
    ++stats->valid_same_key;
    EXPECT_EQ(p.tx, original.tx) << what;
    EXPECT_EQ(p.state, original.state) << what;
  } else {
    ++stats->valid_other_key;
    EXPECT_EQ(truth.status, ProofStatus::kNone) << what;
  }
}

TEST_P(ConsentProofTest, TamperingNeverYieldsAnotherValidMeaning) {
  Fixture f(GetParam());
  const Genesis& g = f.chain.genesis();
  std::vector<std::pair<ConsentProof, uint64_t>> proofs = {
      {f.Proof("analytics"), kT0 + 3000},
      {f.Proof("marketing.email"), kT0 + 3000},
      {f.Proof("analytics", kExpiry), kExpiry},
  };
  // A none proof of each kind.
  for (int i = 0; i < 500; ++i) {
    ConsentProof p = f.Proof("unused-" + std::to_string(i));
    bool want_leaf = proofs.size() == 3;
    if (p.state.leaf.has_value() == want_leaf) proofs.push_back({p, kT0 + 3000});
    if (proofs.size() == 5) break;
  }
  ASSERT_EQ(proofs.size(), 5u);

  TamperStats stats;
  for (const auto& entry : proofs) {
    const ConsentProof& original = entry.first;  // (clang 14 cannot capture bindings)
    const uint64_t at = entry.second;
    ASSERT_TRUE(VerifyConsentProof(original, g, at).ok());
    const json::Json j = json::Json::parse(ConsentProofToJson(original));
    Walk(j, json::Json::json_pointer(),
         [&](const json::Json::json_pointer& ptr, const json::Json& node) {
           const std::string where =
               std::string(ProofStatusName(original.status)) + " " + ptr.to_string();
           for (const json::Json& m : Mutations(node)) {
             json::Json t = j;
             t[ptr] = m;
             CheckTampered(f.chain, original, at, t, where + " := " + m.dump(), &stats);
           }
           if (node.is_array()) {
             for (size_t i = 0; i < node.size(); ++i) {
               json::Json dropped = j;
               dropped[ptr].erase(i);
               CheckTampered(f.chain, original, at, dropped, where + " drop " + std::to_string(i),
                             &stats);
               json::Json duplicated = j;
               duplicated[ptr].insert(duplicated[ptr].begin() + static_cast<std::ptrdiff_t>(i),
                                      node[i]);
               CheckTampered(f.chain, original, at, duplicated, where + " dup " + std::to_string(i),
                             &stats);
               json::Json inserted = j;
               inserted[ptr].insert(inserted[ptr].begin() + static_cast<std::ptrdiff_t>(i),
                                    std::string(64, '7'));
               CheckTampered(f.chain, original, at, inserted,
                             where + " insert " + std::to_string(i), &stats);
             }
             json::Json appended = j;
             appended[ptr].push_back(std::string(64, '0'));
             CheckTampered(f.chain, original, at, appended, where + " append", &stats);
           }
           if (!ptr.empty() && j.at(ptr.parent_pointer()).is_object()) {
             json::Json removed = j;
             removed[ptr.parent_pointer()].erase(ptr.back());
             CheckTampered(f.chain, original, at, removed, where + " removed",
                           &stats);  // member dropped
           }
         });
  }
  // Every kind of outcome happened, and the only changes that kept a proof valid for its own key
  // are dropping one of the surplus commit signatures (4 validators, quorum 3; 5 proofs), and
  // claiming "expired" for the granted proof and "granted" for the expired one (the claim is for
  // a time the proof does not carry; the verdict stays the truth at the time judged).
  EXPECT_GT(stats.mutations, 1000);
  EXPECT_GT(stats.parse_errors, 300);
  EXPECT_GT(stats.invalid, 200);
  EXPECT_EQ(stats.valid_same_key, GetParam() == 4 ? 5 * 4 : 0);
  EXPECT_EQ(stats.valid_other_time, 2);
  std::printf(
      "tampering: %d mutations: %d parse errors, %d invalid, %d valid for the same key, "
      "%d valid (true) for another key, %d valid with the status claimed for another time\n",
      stats.mutations, stats.parse_errors, stats.invalid, stats.valid_same_key,
      stats.valid_other_key, stats.valid_other_time);
}

// ---- ChainBuilder ----

TEST(ChainBuilder, BlocksChainAndRefuseInvalidTransactions) {
  Fixture f(4);
  const auto& blocks = f.chain.blocks();
  const Genesis& g = f.chain.genesis();
  for (size_t i = 0; i < blocks.size(); ++i) {
    const Header& h = blocks[i].header;
    EXPECT_EQ(h.height, i + 1);
    EXPECT_EQ(h.prev_block_hash, i == 0 ? Hash32{} : blocks[i - 1].block_hash);
    EXPECT_EQ(h.validators_hash, g.ValidatorsHash());
    EXPECT_EQ(h.proposer, g.Proposer(h.height, 0));
    EXPECT_EQ(blocks[i].block_hash, h.Hash());
    EXPECT_TRUE(VerifyCommit(g, h.height, h.Hash(), blocks[i].commit).ok());
    EXPECT_EQ(DecodeHeader(h.Encode()).value(), h);
  }
  EXPECT_EQ(blocks.back().header.log_size, 4u);
  EXPECT_EQ(blocks.back().header.log_root, merkle::RootFromLeafHashes(f.chain.log_leaf_hashes()));
  EXPECT_EQ(blocks.back().header.state_root, f.chain.tree().Root());
  EXPECT_EQ(f.chain.tree().size(), f.chain.state().consents().size());

  const std::string& id = g.chain_id;
  const Header head = blocks.back().header;
  // Replay of a committed tx, a tx signed for another chain, a stale grant, time not increasing.
  SignedTx replay = blocks[0].txs[0];
  auto r = f.chain.AddBlock(kT0 + 5000, {replay});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status(), "txs[0]: ")) << r.status().ToString();
  SignedTx other_chain = Grant("other", f.alice, f.brand, {"x"}, kT0 + 4000, 0);
  r = f.chain.AddBlock(kT0 + 5000,
                       {Grant(id, f.alice, f.brand, {"y"}, kT0 + 4000, 0), other_chain});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status(), "txs[1]: ")) << r.status().ToString();
  r = f.chain.AddBlock(kT0 + 5000, {Grant(id, f.alice, f.brand, {"analytics"}, kT0, 0, 77)});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status(), "txs[0]: stale")) << r.status().ToString();
  r = f.chain.AddBlock(head.time_ms, {});
  EXPECT_FALSE(r.ok());
  // Nothing changed.
  EXPECT_EQ(f.chain.blocks().size(), 3u);
  EXPECT_EQ(f.chain.blocks().back().header, head);
  EXPECT_EQ(f.chain.log_leaf_hashes().size(), 4u);
  EXPECT_FALSE(f.chain.state().GetConsent(f.alice.public_key(), f.brand, "y").has_value());
  // An empty block is fine.
  ASSERT_TRUE(f.chain.AddBlock(kT0 + 5000, {}).ok());
  EXPECT_TRUE(VerifyConsentProof(f.Proof("analytics"), g).ok());

  std::vector<SigningKey> wrong;
  wrong.push_back(KeyFromLabel("x"));
  Genesis one = ChainBuilder::ForTesting("c", 1).genesis();
  EXPECT_FALSE(ChainBuilder::Create(one, std::move(wrong)).ok());
}

// ---- fuzz seeds ----

// The seed corpus of tests/fuzz/consent_proof_fuzz.cc: real proofs over the chain that target
// verifies against (ChainBuilder::ForTesting("fuzz-chain", 4)). Regenerate with
// CONSENT_WRITE_FUZZ_SEEDS=1 ./build/tests/ledger_tests --gtest_filter=ConsentProofSeeds.*
TEST(ConsentProofSeeds, CorpusIsCurrent) {
  ChainBuilder chain = ChainBuilder::ForTesting("fuzz-chain", 4, kT0 - 1000);
  SigningKey alice = KeyFromLabel("alice");
  PublicKey brand = KeyFromLabel("brand").public_key();
  ASSERT_TRUE(chain
                  .AddBlock(kT0 + 1000, {Grant("fuzz-chain", alice, brand,
                                               {"analytics", "marketing.email"}, kT0, kExpiry)})
                  .ok());
  ASSERT_TRUE(chain
                  .AddBlock(kT0 + 2000,
                            {Revoke("fuzz-chain", alice, brand, {"marketing.email"}, kT0 + 1500)})
                  .ok());
  std::vector<std::pair<std::string, ConsentProof>> seeds = {
      {"granted.json", chain.BuildProof(alice.public_key(), brand, "analytics")},
      {"revoked.json", chain.BuildProof(alice.public_key(), brand, "marketing.email")},
      {"none.json", chain.BuildProof(alice.public_key(), brand, "sms")},
  };
  const std::string dir = std::string(CONSENT_SOURCE_DIR) + "/tests/fuzz/corpus/consent_proof/";
  const bool write = std::getenv("CONSENT_WRITE_FUZZ_SEEDS") != nullptr;
  for (const auto& [name, proof] : seeds) {
    ASSERT_TRUE(VerifyConsentProof(proof, chain.genesis()).ok()) << name;
    std::string text = ConsentProofToJson(proof) + "\n";
    if (write) std::ofstream(dir + name, std::ios::binary) << text;
    std::ifstream in(dir + name, std::ios::binary);
    std::stringstream committed;
    committed << in.rdbuf();
    EXPECT_EQ(committed.str(), text) << name << " is stale; regenerate the seeds";
  }
}

}  // namespace
}  // namespace consent
