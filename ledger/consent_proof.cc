// Consent proofs (PROTOCOL.md section 9): strict JSON parsing, canonical JSON output and offline
// verification against a genesis, in the order of consent_proof.h (chain id, commit, validators
// hash, state proof, transaction, status). Pure; thread-safe.
//
// JSON shape (key order as written; "tx" present iff status is not "none"):
//   {"version": 1, "chain_id", "subject", "controller", "purpose", "status",
//    "header": {"height", "time_ms", "encoding", "block_hash"},
//    "commit": {"round", "signatures": [{"validator", "signature"}]},
//    "state": {"value": hex|null, "siblings": [hex], "leaf": null|{"key", "value_hash"}},
//    "tx": {"encoding", "log_index", "inclusion": [hex]},
//    "validator_changes": [{"header", "commit", "validators": [hex]}]}   (set_changes.h)
// For a membership proof (state.value not null) state.leaf is null in JSON: the key's own leaf
// (StateKey, H(value)) is implied, and the parsed smt::Proof carries it explicitly.
#include "ledger/consent_proof.h"

#include <algorithm>
#include <utility>

#include "crypto/hex.h"
#include "crypto/sha256.h"
#include "ledger/block_json.h"
#include "ledger/json_strict.h"
#include "ledger/merkle_log.h"
#include "ledger/tx.h"

namespace consent {
namespace {

constexpr size_t kMaxSiblings = smt::kDepth;
constexpr size_t kMaxInclusionHashes = 64;

Result<std::vector<Hash32>> HashList(const json::Json& v, const std::string& path,
                                     size_t max_items) {
  ASSIGN_OR_RETURN(const json::Json::array_t* items, json::GetArray(v, path, max_items));
  std::vector<Hash32> out;
  out.reserve(items->size());
  for (size_t i = 0; i < items->size(); ++i) {
    ASSIGN_OR_RETURN(Hash32 h, json::GetHexFixed<32>((*items)[i], json::Element(path, i)));
    out.push_back(h);
  }
  return out;
}

json::OrderedJson HashListJson(const std::vector<Hash32>& hashes) {
  json::OrderedJson out = json::OrderedJson::array();
  for (const auto& h : hashes) out.push_back(ToHex(h));
  return out;
}

// The state part; `key` is the proof's StateKey, used for the implied membership leaf.
Status ParseState(const json::Json& v, const Hash32& key, ConsentProof* proof) {
  RETURN_IF_ERROR(json::ExpectObject(v, "state", {"value", "siblings", "leaf"}));
  const json::Json& value = json::At(v, "value");
  if (!value.is_null()) {
    ASSIGN_OR_RETURN(auto raw, json::GetHexFixed<kStateValueBytes>(value, "state.value"));
    auto decoded = StateValue::Decode(ByteView(raw.data(), raw.size()));
    if (!decoded.ok()) return decoded.status().Prefixed("state.value");
    proof->value = *decoded;
  }
  ASSIGN_OR_RETURN(proof->state.siblings,
                   HashList(json::At(v, "siblings"), "state.siblings", kMaxSiblings));
  const json::Json& leaf = json::At(v, "leaf");
  if (leaf.is_null()) {
    if (proof->value.has_value()) {
      proof->state.leaf = smt::ProofLeaf{key, Sha256(proof->value->Encode())};
    }
    return Status::Ok();
  }
  if (proof->value.has_value()) {
    return Status::Invalid(
        "state.leaf: must be null when state.value is present (the key's own "
        "leaf is implied)");
  }
  RETURN_IF_ERROR(json::ExpectObject(leaf, "state.leaf", {"key", "value_hash"}));
  smt::ProofLeaf l;
  ASSIGN_OR_RETURN(l.key, json::GetHexFixed<32>(json::At(leaf, "key"), "state.leaf.key"));
  ASSIGN_OR_RETURN(l.value_hash,
                   json::GetHexFixed<32>(json::At(leaf, "value_hash"), "state.leaf.value_hash"));
  proof->state.leaf = l;
  return Status::Ok();
}

Result<ConsentProof::TxPart> ParseTx(const json::Json& v) {
  RETURN_IF_ERROR(json::ExpectObject(v, "tx", {"encoding", "log_index", "inclusion"}));
  ConsentProof::TxPart tx;
  ASSIGN_OR_RETURN(tx.encoding, json::GetHex(json::At(v, "encoding"), "tx.encoding", kMaxTxBytes));
  if (tx.encoding.empty()) return Status::Invalid("tx.encoding: empty");
  ASSIGN_OR_RETURN(tx.log_index, json::GetUint(json::At(v, "log_index"), "tx.log_index"));
  ASSIGN_OR_RETURN(tx.inclusion,
                   HashList(json::At(v, "inclusion"), "tx.inclusion", kMaxInclusionHashes));
  return tx;
}

Result<ConsentProof> ProofFromJson(const json::Json& doc) {
  if (!doc.is_object()) return Status::Invalid("top level: expected an object");
  ConsentProof p;
  // The status decides whether "tx" belongs, so it is read first.
  if (!doc.contains("status")) return Status::Invalid("status: missing field");
  ASSIGN_OR_RETURN(std::string status, json::GetString(json::At(doc, "status"), "status"));
  auto parsed_status = ParseProofStatus(status);
  if (!parsed_status.ok()) return parsed_status.status().Prefixed("status");
  p.status = *parsed_status;
  const bool has_tx = p.status != ProofStatus::kNone;
  if (!has_tx && doc.contains("tx")) {
    return Status::Invalid("tx: must be absent when status is \"none\"");
  }
  if (has_tx && !doc.contains("tx")) {
    return Status::Invalid("tx: missing field (required unless status is \"none\")");
  }
  if (has_tx) {
    RETURN_IF_ERROR(
        json::ExpectObject(doc, "",
                           {"version", "chain_id", "subject", "controller", "purpose", "status",
                            "header", "commit", "state", "tx", "validator_changes"}));
  } else {
    RETURN_IF_ERROR(
        json::ExpectObject(doc, "",
                           {"version", "chain_id", "subject", "controller", "purpose", "status",
                            "header", "commit", "state", "validator_changes"}));
  }
  ASSIGN_OR_RETURN(uint64_t version, json::GetUint(json::At(doc, "version"), "version"));
  if (version != 1) {
    return Status::Invalid("version: unsupported version " + std::to_string(version) +
                           " (expected 1)");
  }
  p.version = 1;
  ASSIGN_OR_RETURN(p.chain_id, json::GetString(json::At(doc, "chain_id"), "chain_id"));
  RETURN_IF_ERROR(CheckChainId(p.chain_id));
  ASSIGN_OR_RETURN(p.subject, json::GetHexFixed<32>(json::At(doc, "subject"), "subject"));
  ASSIGN_OR_RETURN(p.controller, json::GetHexFixed<32>(json::At(doc, "controller"), "controller"));
  ASSIGN_OR_RETURN(p.purpose, json::GetString(json::At(doc, "purpose"), "purpose"));
  RETURN_IF_ERROR(CheckPurposeLabel("purpose", p.purpose));
  ASSIGN_OR_RETURN(p.header, HeaderFromJson(json::At(doc, "header"), "header"));
  ASSIGN_OR_RETURN(p.commit, CommitFromJson(json::At(doc, "commit"), "commit"));
  RETURN_IF_ERROR(
      ParseState(json::At(doc, "state"), StateKey(p.subject, p.controller, p.purpose), &p));
  if (has_tx) {
    ASSIGN_OR_RETURN(p.tx, ParseTx(json::At(doc, "tx")));
  }
  ASSIGN_OR_RETURN(p.validator_changes, ValidatorChangesFromJson(json::At(doc, "validator_changes"),
                                                                 "validator_changes"));
  return p;
}

std::string Short(const Hash32& h) { return ToHex(ByteView(h.data(), 8)); }

// Step 4: the transaction that set the state entry. REQUIRES: proof.value.
Status VerifyTx(const ConsentProof& proof, const Genesis& genesis) {
  const StateValue& value = *proof.value;
  if (!proof.tx.has_value()) {
    return Status::Invalid("tx: missing, but the state entry was set by tx " + Short(value.tx_id));
  }
  const ConsentProof::TxPart& part = *proof.tx;
  auto decoded = DecodeSignedTx(part.encoding);
  if (!decoded.ok()) return decoded.status().Prefixed("tx");
  const SignedTx& tx = *decoded;
  const Hash32 tx_id = TxIdOf(part.encoding);
  if (tx_id != value.tx_id) {
    return Status::Rejected("tx: its id " + Short(tx_id) + " is not the tx_id " +
                            Short(value.tx_id) + " that the state value names");
  }
  const PublicKey* subject = nullptr;
  const PublicKey* controller = nullptr;
  const std::vector<std::string>* purposes = nullptr;
  bool covers_all = false;
  if (value.status == ConsentStatus::kGranted) {
    const auto* grant = std::get_if<GrantTx>(&tx.body);
    if (grant == nullptr) {
      return Status::Rejected(std::string("tx: is a ") + TxKindName(KindOf(tx.body)) +
                              ", but a granted entry must be set by a grant");
    }
    if (grant->expires_at_ms != value.expires_at_ms || grant->policy_hash != value.policy_hash) {
      return Status::Rejected("tx: the grant's expiry or policy hash differs from the state's");
    }
    subject = &grant->subject;
    controller = &grant->controller;
    purposes = &grant->purposes;
  } else {
    const auto* revoke = std::get_if<RevokeTx>(&tx.body);
    if (revoke == nullptr) {
      return Status::Rejected(std::string("tx: is a ") + TxKindName(KindOf(tx.body)) +
                              ", but a revoked entry must be set by a revoke");
    }
    subject = &revoke->subject;
    controller = &revoke->controller;
    purposes = &revoke->purposes;
    covers_all = revoke->purposes.empty();  // an empty REVOKE covers every purpose
  }
  if (IssuedAtOf(tx.body) != value.issued_at_ms) {
    return Status::Rejected("tx: issued_at_ms " + std::to_string(IssuedAtOf(tx.body)) +
                            " differs from the state's " + std::to_string(value.issued_at_ms));
  }
  if (*subject != proof.subject) return Status::Rejected("tx: is for another subject");
  if (*controller != proof.controller) return Status::Rejected("tx: is for another controller");
  if (!covers_all && !std::binary_search(purposes->begin(), purposes->end(), proof.purpose)) {
    return Status::Rejected("tx: does not cover purpose \"" + proof.purpose + "\"");
  }
  Status sig = VerifyTxSignature(genesis.chain_id, tx);
  if (!sig.ok()) return sig.Prefixed("tx");
  if (part.log_index >= proof.header.log_size) {
    return Status::Rejected("tx: log_index " + std::to_string(part.log_index) +
                            " is not below the header's log_size " +
                            std::to_string(proof.header.log_size));
  }
  // tx_id = H(0x00 || encoding) is also the transaction's leaf hash in the log.
  Status inc = merkle::VerifyInclusion(part.log_index, proof.header.log_size, tx_id, part.inclusion,
                                       proof.header.log_root);
  if (!inc.ok()) {
    return Status(inc.code(), "tx: not included in the log at index " +
                                  std::to_string(part.log_index) + " (" + inc.message() + ")");
  }
  return Status::Ok();
}

}  // namespace

const char* ProofStatusName(ProofStatus s) {
  switch (s) {
    case ProofStatus::kGranted:
      return "granted";
    case ProofStatus::kRevoked:
      return "revoked";
    case ProofStatus::kExpired:
      return "expired";
    case ProofStatus::kNone:
      return "none";
  }
  return "unknown";
}

Result<ProofStatus> ParseProofStatus(std::string_view s) {
  for (ProofStatus p :
       {ProofStatus::kGranted, ProofStatus::kRevoked, ProofStatus::kExpired, ProofStatus::kNone}) {
    if (s == ProofStatusName(p)) return p;
  }
  return Status::Invalid("\"" + std::string(s.substr(0, 32)) +
                         "\" is not one of granted, revoked, expired, none");
}

Result<ConsentProof> ParseConsentProof(std::string_view json_text) {
  ASSIGN_OR_RETURN(json::Json doc, json::ParseStrict(json_text, kMaxProofJsonBytes, "proof"));
  return ProofFromJson(doc);
}

std::string ConsentProofToJson(const ConsentProof& proof) {
  json::OrderedJson out = json::OrderedJson::object();
  out["version"] = proof.version;
  out["chain_id"] = proof.chain_id;
  out["subject"] = ToHex(proof.subject);
  out["controller"] = ToHex(proof.controller);
  out["purpose"] = proof.purpose;
  out["status"] = ProofStatusName(proof.status);
  out["header"] = HeaderToJson(proof.header);
  out["commit"] = CommitToJson(proof.commit);
  json::OrderedJson state = json::OrderedJson::object();
  state["value"] = proof.value.has_value() ? json::OrderedJson(ToHex(proof.value->Encode()))
                                           : json::OrderedJson(nullptr);
  state["siblings"] = HashListJson(proof.state.siblings);
  if (proof.value.has_value() || !proof.state.leaf.has_value()) {
    state["leaf"] = nullptr;
  } else {
    json::OrderedJson leaf = json::OrderedJson::object();
    leaf["key"] = ToHex(proof.state.leaf->key);
    leaf["value_hash"] = ToHex(proof.state.leaf->value_hash);
    state["leaf"] = std::move(leaf);
  }
  out["state"] = std::move(state);
  if (proof.tx.has_value()) {
    json::OrderedJson tx = json::OrderedJson::object();
    tx["encoding"] = ToHex(proof.tx->encoding);
    tx["log_index"] = proof.tx->log_index;
    tx["inclusion"] = HashListJson(proof.tx->inclusion);
    out["tx"] = std::move(tx);
  }
  out["validator_changes"] = ValidatorChangesToJson(proof.validator_changes);
  return json::Dump(out);
}

Result<ProofVerdict> VerifyConsentProof(const ConsentProof& proof, const Genesis& genesis,
                                        std::optional<uint64_t> at_ms,
                                        const TrustedSet* checkpoint) {
  const Header& header = proof.header;
  // 1. The chain.
  if (proof.version != 1) {
    return Status::Invalid("version: unsupported version " + std::to_string(proof.version));
  }
  if (genesis.validators.empty()) return Status::Invalid("genesis: no validators");
  if (proof.chain_id != genesis.chain_id) {
    return Status::Rejected("chain_id: the proof is for chain \"" + proof.chain_id +
                            "\" but the genesis is for \"" + genesis.chain_id + "\"");
  }
  if (header.chain_id != genesis.chain_id) {
    return Status::Rejected("header: chain id \"" + header.chain_id + "\" is not the genesis's \"" +
                            genesis.chain_id + "\"");
  }
  // 2. The set that commits the header: from the genesis set (or the checkpoint's) through the
  //    validator changes (section 10).
  TrustedSet start{1, genesis.Set()};
  std::vector<ValidatorChange> changes = proof.validator_changes;
  if (checkpoint != nullptr) {
    if (header.height < checkpoint->from_height) {
      return Status::Rejected("header: height " + std::to_string(header.height) +
                              " is below the checkpoint's height " +
                              std::to_string(checkpoint->from_height) +
                              ": verify it from genesis, or with an older checkpoint");
    }
    start = *checkpoint;
    std::erase_if(changes, [&](const ValidatorChange& c) {
      return c.header.height < checkpoint->from_height;
    });
  }
  ASSIGN_OR_RETURN(ValidatorSet validators,
                   FollowChanges(genesis.chain_id, start, changes, header.height));
  // ... the header names that set, and a quorum of it precommitted this header's hash.
  if (header.validators_hash != validators.Hash()) {
    return Status::Rejected(
        std::string("header: validators_hash does not match the validator set ") +
        (proof.validator_changes.empty() ? "of genesis (and the proof carries no validator change)"
                                         : "reached through validator_changes") +
        (checkpoint != nullptr ? " from the checkpoint" : ""));
  }
  Status commit =
      VerifyCommit(genesis.chain_id, validators, header.height, header.Hash(), proof.commit);
  if (!commit.ok()) return commit.Prefixed("commit");
  // 3. The state proof for this (subject, controller, purpose) against the state root.
  const Hash32 key = StateKey(proof.subject, proof.controller, proof.purpose);
  std::optional<Bytes> value_bytes;
  if (proof.value.has_value()) value_bytes = proof.value->Encode();
  Status state = smt::VerifyProof(header.state_root, key, value_bytes, proof.state);
  if (!state.ok()) {
    std::string m = state.message();
    if (m.rfind("state proof: ", 0) == 0) m = m.substr(13);
    return Status(state.code(), "state: " + m);
  }
  // 4. The transaction that set the entry, or none.
  if (proof.value.has_value()) {
    RETURN_IF_ERROR(VerifyTx(proof, genesis));
  } else if (proof.tx.has_value()) {
    return Status::Rejected("tx: present, but the state has no entry for this purpose");
  }
  // 5. The claimed status. The proof does not carry the time it was asked for, and a node
  //    answers for a time at or after its head's, so the claim must be one the entry has at some
  //    time >= the header's time_ms. Boundary: a grant holds on [issued_at_ms, expires_at_ms), so
  //    at exactly expires_at_ms it is already expired (IsExpired, docs/protocol.md section 3).
  const uint64_t from = header.time_ms;
  const bool granted = proof.value.has_value() && proof.value->status == ConsentStatus::kGranted;
  const uint64_t expiry = granted ? proof.value->expires_at_ms : 0;
  bool possible = false;
  switch (proof.status) {
    case ProofStatus::kNone:
      possible = !proof.value.has_value();
      break;
    case ProofStatus::kRevoked:
      possible = proof.value.has_value() && proof.value->status == ConsentStatus::kRevoked;
      break;
    case ProofStatus::kGranted:
      possible = granted && !IsExpired(*proof.value, from);
      break;
    case ProofStatus::kExpired:
      possible = granted && expiry != 0;
      break;
  }
  if (!possible) {
    std::string state = !proof.value.has_value() ? "there is no entry"
                        : !granted               ? "the entry is revoked"
                        : expiry == 0            ? "the entry is granted without expiry"
                                      : "the entry is granted until " + std::to_string(expiry);
    if (proof.status == ProofStatus::kGranted && granted) {
      state += ", which is before the header's time " + std::to_string(from);
    }
    return Status::Rejected(std::string("status: proof claims ") + ProofStatusName(proof.status) +
                            " but " + state);
  }
  // The verdict, at the time asked about.
  const uint64_t at = at_ms.value_or(from);
  if (at < from) {
    return Status::Invalid("the time to judge at (" + std::to_string(at) +
                           ") is before the proof's block time " + std::to_string(from) +
                           ": the proof shows the state from that time on");
  }
  ProofStatus computed = ProofStatus::kNone;
  if (proof.value.has_value()) {
    if (!granted) {
      computed = ProofStatus::kRevoked;
    } else {
      computed = IsExpired(*proof.value, at) ? ProofStatus::kExpired : ProofStatus::kGranted;
    }
  }
  ProofVerdict verdict;
  verdict.status = computed;
  verdict.height = header.height;
  verdict.time_ms = from;
  verdict.at_ms = at;
  verdict.claimed = proof.status;
  verdict.expires_at_ms = expiry;
  return verdict;
}

}  // namespace consent
