// gen_vectors, PROTOCOL.md section 10 part: SET_VALIDATORS transactions (valid ones, ones that
// break a syntax rule, and state-rule cases with the rule each breaks), approval_key and
// approval_value examples, and a chain of version 2 headers built with the real block pipeline
// over a MemoryKv: 4 genesis validators decide two changes, a grant is committed after them, and
// a consent proof at the head carries both changes in validator_changes. Every block is given
// with its header (fields and encoding), commit, transactions (field form and encoding), the
// transactions BuildBlock left out with the rule they break, and the set that commits it, so that
// tests/vectors/check_vectors.py can replay section 10 from genesis by itself.
// Deterministic (fixed seeds and times); single-threaded.
#include "tools/gen_vectors_sets.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "crypto/hex.h"
#include "crypto/sha256.h"
#include "ledger/block_json.h"
#include "ledger/block_pipeline.h"
#include "ledger/codec.h"
#include "ledger/consent_proof.h"
#include "ledger/kv.h"
#include "ledger/queries.h"
#include "ledger/state.h"
#include "ledger/subject_key.h"
#include "ledger/tx_json.h"
#include "ledger/validator_history.h"

namespace consent::vectors {
namespace {

using json = nlohmann::ordered_json;

void Check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "gen_vectors (sets): %s\n", what.c_str());
    std::exit(1);
  }
}

Bytes Must(Result<Bytes> r) {
  Check(r.ok(), "hex");
  return std::move(r).value();
}

std::vector<PublicKey> Sorted(std::vector<PublicKey> keys) {
  std::sort(keys.begin(), keys.end());
  return keys;
}

json Keys(const std::vector<PublicKey>& keys) {
  json a = json::array();
  for (const PublicKey& k : keys) a.push_back(ToHex(k));
  return a;
}

json HeaderEntry(const Header& h) {
  json fields = {{"chain_id", h.chain_id},
                 {"height", h.height},
                 {"time_ms", h.time_ms},
                 {"prev_block_hash", ToHex(h.prev_block_hash)},
                 {"log_size", h.log_size},
                 {"log_root", ToHex(h.log_root)},
                 {"state_root", ToHex(h.state_root)},
                 {"validators_hash", ToHex(h.validators_hash)},
                 {"next_validators_hash", ToHex(h.next_validators_hash)},
                 {"proposer", ToHex(h.proposer)}};
  return {{"encoding", ToHex(h.Encode())}, {"block_hash", ToHex(h.Hash())}, {"fields", fields}};
}

class Chain {
 public:
  Chain(const std::string& chain_id, uint64_t t0, const std::vector<Seed32>& seeds) : t0_(t0) {
    genesis_.chain_id = chain_id;
    genesis_.genesis_time_ms = t0;
    for (size_t i = 0; i < seeds.size(); ++i) {
      genesis_.validators.push_back({"validator-" + std::to_string(i), Add(seeds[i])});
    }
  }
  PublicKey Add(const Seed32& seed) {
    PublicKey pk = SigningKey::FromSeed(seed).public_key();
    seeds_[pk] = seed;
    return pk;
  }
  const Genesis& genesis() const { return genesis_; }
  const MemoryKv& kv() const { return kv_; }
  uint64_t height() const { return headers_.size(); }
  uint64_t NextTime() const { return t0_ + 10'000 * (height() + 1); }
  ValidatorSet InOffice() const {
    auto s = SetForHeight(kv_, genesis_, height() + 1);
    Check(s.ok(), "SetForHeight");
    return *s;
  }
  SignedTx Sign(TxBody body, const PublicKey& signer) const {
    auto tx = SignTx(genesis_.chain_id, std::move(body), SigningKey::FromSeed(seeds_.at(signer)));
    Check(tx.ok(), "signing");
    return *tx;
  }
  SignedTx Approve(const PublicKey& signer, std::vector<PublicKey> set, uint64_t issued,
                   uint64_t nonce) const {
    return Sign(SetValidatorsTx{signer, Sorted(std::move(set)), issued, nonce}, signer);
  }

  // Builds, validates and commits the next block; returns its vector entry.
  json Commit(const std::vector<SignedTx>& candidates) {
    ChainTip tip;
    if (!headers_.empty()) tip = {headers_.back(), headers_.back().log_size};
    auto built = BuildBlock(kv_, genesis_, tip, NextTime(), 0, candidates, kMaxBlockTxs);
    Check(built.ok(), "BuildBlock");
    BlockCheck check;
    auto validated = ValidateBlock(kv_, genesis_, tip, built->validated.block, 0, true, &check);
    Check(validated.ok(), "ValidateBlock: " + check.message);
    const Header h = validated->block.header;
    const ValidatorSet set = validated->validators;
    const std::optional<ValidatorSet> next = validated->next_validators;
    consent::Commit commit;
    for (size_t i = 0; i < set.QuorumSize(); ++i) {
      commit.signatures.push_back(SignPrecommit(SigningKey::FromSeed(seeds_.at(set.keys[i])),
                                                genesis_.chain_id, h.height, 0, h.Hash()));
    }
    auto batch = FinalizeBlock(genesis_, std::move(validated).value(), commit);
    Check(batch.ok(), "FinalizeBlock");
    kv_.Apply(*batch);
    headers_.push_back(h);

    json txs = json::array();
    for (const SignedTx& tx : built->validated.block.txs) {
      txs.push_back({{"json", TxToJson(tx)}, {"encoding", ToHex(tx.Encode())}});
    }
    json rejected = json::array();
    for (const RejectedTx& r : built->rejected) {
      for (const SignedTx& tx : candidates) {
        if (tx.Id() != r.tx_id) continue;
        rejected.push_back({{"json", TxToJson(tx)},
                            {"encoding", ToHex(tx.Encode())},
                            {"rule", TxRejectReasonName(r.reason)}});
        break;
      }
    }
    return {{"header", HeaderEntry(h)},     {"commit", CommitToJson(commit)},
            {"validators", Keys(set.keys)}, {"txs", txs},
            {"rejected", rejected},         {"decides", next ? Keys(next->keys) : json(nullptr)}};
  }

 private:
  Genesis genesis_;
  uint64_t t0_;
  MemoryKv kv_;
  std::map<PublicKey, Seed32> seeds_;
  std::vector<Header> headers_;
};

// SET_VALIDATORS bodies that break a syntax rule, each signed by its validator.
json InvalidSetValidators(const Seed32& seed, const std::vector<PublicKey>& keys) {
  json out = json::array();
  const SigningKey signer = SigningKey::FromSeed(seed);
  auto add = [&](const std::string& name, const std::string& rule, std::vector<PublicKey> set,
                 int count_delta) {
    Writer w;
    w.U8(4)
        .U8(1)
        .Fixed(signer.public_key())
        .U32(static_cast<uint32_t>(static_cast<int64_t>(set.size()) + count_delta));
    for (const PublicKey& k : set) w.Fixed(k);
    w.U64(1767225600000).U64(1);
    Bytes b = w.bytes();
    Append(b, signer.Sign(SigningMessage("consent-vectors", b)));
    auto d = DecodeSignedTx(b);
    Check(!d.ok(), "invalid SET_VALIDATORS vector \"" + name + "\" decodes");
    out.push_back(
        {{"name", name}, {"rule", rule}, {"encoding", ToHex(b)}, {"error", d.status().ToString()}});
  };
  const std::vector<PublicKey> sorted = Sorted(keys);
  add("set_validators with no key", "validators: 1..64 keys", {}, 0);
  std::vector<PublicKey> many;
  for (int i = 0; i < 65; ++i) {
    many.push_back(SigningKey::FromSeed(Sha256(AsBytes("many " + std::to_string(i)))).public_key());
  }
  add("set_validators with 65 keys", "validators: 1..64 keys", Sorted(many), 0);
  std::vector<PublicKey> unsorted = sorted;
  std::swap(unsorted[0], unsorted[1]);
  add("set_validators keys not ascending", "validators: strictly ascending", unsorted, 0);
  std::vector<PublicKey> dup = sorted;
  dup[1] = dup[0];
  add("set_validators with a duplicate key", "validators: strictly ascending", dup, 0);
  add("set_validators count larger than the keys given", "truncated", sorted, 4);
  return out;
}

}  // namespace

json SetChangeVectors(const std::string& chain_id, uint64_t t0,
                      const std::function<Seed32(const std::string&)>& seed_for) {
  std::vector<Seed32> seeds;
  for (int i = 0; i < 4; ++i) seeds.push_back(seed_for("validator " + std::to_string(i)));
  Chain chain(chain_id, t0, seeds);
  const PublicKey newcomer = chain.Add(seed_for("validator 4"));
  const SigningKey brand = SigningKey::FromSeed(seed_for("brand"));
  const Seed32 subject_seed =
      DeriveSubjectSeed(seed_for("customer master secret"), brand.public_key());
  const PublicKey subject = chain.Add(subject_seed);
  const ValidatorSet g = chain.InOffice();
  const std::vector<PublicKey> s1 = Sorted({newcomer, g.keys[1], g.keys[2], g.keys[3]});
  const std::vector<PublicKey> s2 = Sorted({newcomer, g.keys[2], g.keys[3]});
  auto grant = [&](const std::string& purpose, uint64_t issued, uint64_t nonce) {
    GrantTx t;
    t.subject = subject;
    t.controller = brand.public_key();
    t.purposes = {purpose};
    t.jurisdiction = "EU-GDPR";
    t.policy_hash = Sha256(AsBytes("privacy notice v3, 2026-01-01"));
    t.issued_at_ms = issued;
    t.nonce = nonce;
    return chain.Sign(t, subject);
  };

  json blocks = json::array();
  json valid = json::array();  // SET_VALIDATORS transactions that were committed
  // 1: a grant and the first approval of S1 (v0 approves its own replacement); an outsider's
  //    approval and a no-op approval are refused.
  uint64_t t = chain.NextTime();
  std::vector<SignedTx> b1 = {grant("analytics", t - 500, 1),
                              chain.Approve(g.keys[0], s1, t - 400, 2),
                              chain.Approve(newcomer, s1, t - 300, 3)};
  if (Sorted(g.keys) == g.keys) b1.push_back(chain.Approve(g.keys[1], g.keys, t - 200, 4));
  blocks.push_back(chain.Commit(b1));
  // 2: a stale approval (not newer than v0's), then v1 and v2 decide S1; v3's approval after
  //    the decision is refused (change_decided).
  t = chain.NextTime();
  blocks.push_back(chain.Commit(
      {chain.Approve(g.keys[0], s2, t - 10'000 - 400, 5), chain.Approve(g.keys[1], s1, t - 300, 6),
       chain.Approve(g.keys[2], s1, t - 200, 7), chain.Approve(g.keys[3], s1, t - 100, 8)}));
  // 3: committed by S1; v0 has left (not_validator); the newcomer approves S2; S1 named again is
  //    no_change.
  t = chain.NextTime();
  blocks.push_back(chain.Commit({chain.Approve(g.keys[0], s2, t - 300, 9),
                                 chain.Approve(newcomer, s2, t - 200, 10),
                                 chain.Approve(g.keys[2], s1, t - 150, 11)}));
  // 4: two more members of S1 decide S2 (3 of 4).
  t = chain.NextTime();
  const ValidatorSet in1 = chain.InOffice();
  std::vector<SignedTx> b4;
  for (const PublicKey& k : in1.keys) {
    if (k != newcomer && b4.size() < 2) b4.push_back(chain.Approve(k, s2, t - 300, 12 + b4.size()));
  }
  blocks.push_back(chain.Commit(b4));
  // 5: committed by S2 (3 validators): a grant. 6: empty; the proven head.
  t = chain.NextTime();
  blocks.push_back(chain.Commit({grant("marketing.email", t - 100, 20)}));
  blocks.push_back(chain.Commit({}));

  for (const json& b : blocks) {
    for (const json& tx : b["txs"]) {
      if (tx["json"]["kind"] == "set_validators") valid.push_back(tx);
    }
  }
  for (json& tx : valid) {
    auto d = DecodeSignedTx(Must(FromHex(tx["encoding"].get<std::string>())));
    Check(d.ok(), "decoding a committed approval");
    const auto& sv = std::get<SetValidatorsTx>(d->body);
    tx["tx_id"] = ToHex(d->Id());
    tx["set_hash"] = ToHex(SetHashOf(sv.validators));
    tx["approval_key"] = ToHex(ApprovalKey(sv.validator));
    tx["approval_value"] =
        ToHex(ApprovalValue{SetHashOf(sv.validators), d->Id(), sv.issued_at_ms}.Encode());
  }

  json proofs = json::array();
  for (const std::string purpose : {"marketing.email", "analytics", "profiling"}) {
    auto proof = ProveConsent(chain.kv(), chain.genesis(), subject, brand.public_key(), purpose);
    Check(proof.ok(), "ProveConsent");
    Check(proof->validator_changes.size() == 2, "the proof carries both changes");
    Check(VerifyConsentProof(*proof, chain.genesis()).ok(), "VerifyConsentProof");
    proofs.push_back(json::parse(ConsentProofToJson(*proof)));
  }

  json out;
  out["genesis"] = json::parse(chain.genesis().ToJson());
  out["blocks"] = blocks;
  out["set_validators_transactions"] = valid;
  out["invalid_set_validators"] = InvalidSetValidators(seeds[0], g.keys);
  out["proofs"] = proofs;
  return out;
}

}  // namespace consent::vectors
