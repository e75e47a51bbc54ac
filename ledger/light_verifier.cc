// The light verifier (see light_verifier.h). Pure; thread-compatible.
#include "ledger/light_verifier.h"

#include <algorithm>

#include "crypto/hex.h"
#include "ledger/block_json.h"
#include "ledger/merkle_log.h"
#include "ledger/schema.h"
#include "ledger/tx_json.h"

namespace consent::light {
namespace {

std::string Short(const Hash32& h) { return ToHex(ByteView(h.data(), 8)) + "..."; }

// The strict key list of a set given as JSON hex strings: 1..max distinct keys; `ascending`
// requires strictly ascending byte order.
Result<ValidatorSet> KeysFromJson(const json::Json& v, std::string_view path, size_t max) {
  ASSIGN_OR_RETURN(const json::Json::array_t* a, json::GetArray(v, path, max));
  if (a->empty()) return Status::Invalid(std::string(path) + ": at least one key is required");
  ValidatorSet set;
  for (size_t i = 0; i < a->size(); ++i) {
    ASSIGN_OR_RETURN(PublicKey k, json::GetHexFixed<32>((*a)[i], json::Element(path, i)));
    if (set.Contains(k)) {
      return Status::Invalid(json::Element(path, i) + ": key " + ShortKey(k) + " is repeated");
    }
    set.keys.push_back(k);
  }
  return set;
}

// The known members of a certified header's "fields" and the header's value for each.
Result<std::string> FieldValue(const Header& h, const std::string& key) {
  if (key == "chain_id") return h.chain_id;
  if (key == "prev_block_hash") return ToHex(h.prev_block_hash);
  if (key == "log_root") return ToHex(h.log_root);
  if (key == "state_root") return ToHex(h.state_root);
  if (key == "validators_hash") return ToHex(h.validators_hash);
  if (key == "next_validators_hash") return ToHex(h.next_validators_hash);
  if (key == "proposer") return ToHex(h.proposer);
  return Status::Invalid("unknown field");
}

// Whether any signature of `commit` is by a key of `set`.
bool SignedByAny(const Commit& commit, const ValidatorSet& set) {
  return std::any_of(commit.signatures.begin(), commit.signatures.end(),
                     [&](const CommitSig& s) { return set.Contains(s.validator); });
}

// The changes at or above the root's height; a change at the checkpoint's own height must be
// the checkpoint's block.
Result<std::vector<ValidatorChange>> FromRoot(const TrustRoot& root,
                                              const std::vector<ValidatorChange>& changes) {
  std::vector<ValidatorChange> out;
  for (const ValidatorChange& c : changes) {
    if (c.header.height < root.start.from_height) continue;
    if (root.start_block_hash && c.header.height == root.start.from_height &&
        c.header.Hash() != *root.start_block_hash) {
      return Status::Rejected("validator change at height " + std::to_string(c.header.height) +
                              ": block " + Short(c.header.Hash()) + " is not the checkpoint's " +
                              Short(*root.start_block_hash) + " at that height");
    }
    out.push_back(c);
  }
  return out;
}

Result<std::vector<Hash32>> HashesFromJson(const json::Json& v, std::string_view path) {
  ASSIGN_OR_RETURN(const json::Json::array_t* a, json::GetArray(v, path, kMaxProofHashes));
  std::vector<Hash32> out;
  for (size_t i = 0; i < a->size(); ++i) {
    ASSIGN_OR_RETURN(Hash32 h, json::GetHexFixed<32>((*a)[i], json::Element(path, i)));
    out.push_back(h);
  }
  return out;
}

// The fields an answer's transaction carries (GET /v1/txs/{id} and history entries): the
// encoding hashes to tx_id and decodes, and "tx" is that transaction's JSON.
struct TxFields {
  SignedTx tx;
  Hash32 tx_id{};
  uint64_t height = 0;
  uint64_t log_index = 0;
  std::vector<Hash32> inclusion;
};
Result<TxFields> ReadTxFields(const json::Json& v, std::string_view path) {
  TxFields f;
  ASSIGN_OR_RETURN(f.tx_id,
                   json::GetHexFixed<32>(json::At(v, "tx_id"), json::Member(path, "tx_id")));
  ASSIGN_OR_RETURN(f.height, json::GetUint(json::At(v, "height"), json::Member(path, "height")));
  ASSIGN_OR_RETURN(uint64_t position,
                   json::GetUint(json::At(v, "position"), json::Member(path, "position")));
  (void)position;
  ASSIGN_OR_RETURN(f.log_index,
                   json::GetUint(json::At(v, "log_index"), json::Member(path, "log_index")));
  ASSIGN_OR_RETURN(Bytes enc, json::GetHex(json::At(v, "encoding"), json::Member(path, "encoding"),
                                           kMaxTxBytes));
  if (TxIdOf(enc) != f.tx_id) {
    return Status::Rejected(json::Member(path, "encoding") + ": does not hash to its tx_id");
  }
  auto tx = DecodeSignedTx(enc);
  if (!tx.ok()) return tx.status().Prefixed(json::Member(path, "encoding"));
  f.tx = *tx;
  if (json::Json(TxToJson(f.tx)) != json::At(v, "tx")) {
    return Status::Rejected(json::Member(path, "tx") + ": is not the JSON of its encoding");
  }
  ASSIGN_OR_RETURN(f.inclusion,
                   HashesFromJson(json::At(v, "inclusion"), json::Member(path, "inclusion")));
  return f;
}

}  // namespace

// ---- Checkpoints and roots ----

Result<Checkpoint> ParseCheckpoint(std::string_view text) {
  ASSIGN_OR_RETURN(json::Json doc, json::ParseStrict(text, kMaxCheckpointBytes, "checkpoint"));
  RETURN_IF_ERROR(json::ExpectObject(doc, "", {"chain_id", "height", "block_hash", "validators"}));
  Checkpoint cp;
  ASSIGN_OR_RETURN(cp.chain_id, json::GetString(json::At(doc, "chain_id"), "chain_id"));
  RETURN_IF_ERROR(CheckChainId(cp.chain_id));
  ASSIGN_OR_RETURN(cp.height, json::GetUint(json::At(doc, "height"), "height"));
  if (cp.height == 0) return Status::Invalid("height: must be at least 1");
  ASSIGN_OR_RETURN(cp.block_hash, json::GetHexFixed<32>(json::At(doc, "block_hash"), "block_hash"));
  ASSIGN_OR_RETURN(cp.validators,
                   KeysFromJson(json::At(doc, "validators"), "validators", kMaxValidators));
  return cp;
}

std::string CheckpointToJson(const Checkpoint& cp) {
  json::OrderedJson j = json::OrderedJson::object();
  j["chain_id"] = cp.chain_id;
  j["height"] = cp.height;
  j["block_hash"] = ToHex(cp.block_hash);
  json::OrderedJson keys = json::OrderedJson::array();
  for (const PublicKey& k : cp.validators.keys) keys.push_back(ToHex(k));
  j["validators"] = std::move(keys);
  return json::Dump(j, 2) + "\n";
}

std::string TrustRoot::Describe() const {
  if (from_checkpoint()) return "checkpoint at height " + std::to_string(start.from_height);
  return "genesis " + ToHex(genesis_hash);
}

TrustRoot FromGenesis(const Genesis& genesis) {
  TrustRoot r;
  r.chain_id = genesis.chain_id;
  r.genesis_hash = schema::GenesisHash(genesis);
  r.start = TrustedSet{1, genesis.Set()};
  return r;
}

Result<TrustRoot> FromCheckpoint(const Genesis& genesis, const Checkpoint& cp) {
  if (cp.chain_id != genesis.chain_id) {
    return Status::Invalid("it is a checkpoint of chain " + cp.chain_id + ", not " +
                           genesis.chain_id);
  }
  TrustRoot r = FromGenesis(genesis);
  r.start = TrustedSet{cp.height, cp.validators};
  r.start_block_hash = cp.block_hash;
  return r;
}

// ---- Reading answers ----

Result<CertifiedHeader> ParseCertifiedHeader(const json::Json& v, std::string_view path) {
  if (!v.is_object()) return Status::Invalid(std::string(path) + ": expected an object");
  const bool has_fields = v.contains("fields");
  if (has_fields) {
    RETURN_IF_ERROR(json::ExpectObject(v, path, {"header", "fields", "commit"}));
  } else {
    RETURN_IF_ERROR(json::ExpectObject(v, path, {"header", "commit"}));
  }
  CertifiedHeader out;
  ASSIGN_OR_RETURN(out.header, HeaderFromJson(json::At(v, "header"), json::Member(path, "header")));
  ASSIGN_OR_RETURN(out.commit, CommitFromJson(json::At(v, "commit"), json::Member(path, "commit")));
  out.block_hash = out.header.Hash();
  if (has_fields) {
    const json::Json& f = json::At(v, "fields");
    const std::string fpath = json::Member(path, "fields");
    if (!f.is_object()) return Status::Invalid(fpath + ": expected an object");
    for (auto it = f.begin(); it != f.end(); ++it) {
      const std::string at = json::Member(fpath, it.key());
      if (it.key() == "log_size") {
        ASSIGN_OR_RETURN(uint64_t n, json::GetUint(it.value(), at));
        if (n != out.header.log_size) return Status::Invalid(at + ": disagrees with the encoding");
        continue;
      }
      auto want = FieldValue(out.header, it.key());
      if (!want.ok()) return Status::Invalid(fpath + ": unknown field \"" + it.key() + "\"");
      ASSIGN_OR_RETURN(std::string got, json::GetString(it.value(), at));
      std::transform(got.begin(), got.end(), got.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      if (got != *want) return Status::Invalid(at + ": disagrees with the encoding");
    }
  }
  return out;
}

Result<std::vector<ValidatorChange>> ParseChangesAnswer(const json::Json& doc) {
  RETURN_IF_ERROR(json::ExpectObject(doc, "", {"changes"}));
  return ValidatorChangesFromJson(json::At(doc, "changes"), "changes");
}

// ---- Headers ----

Result<ValidatorSet> SetForHeight(const TrustRoot& root,
                                  const std::vector<ValidatorChange>& changes, uint64_t height) {
  if (height < root.start.from_height) {
    return Status::Rejected("height " + std::to_string(height) + " is below the " +
                            root.Describe() +
                            ": verify it from genesis, or with an older "
                            "checkpoint");
  }
  ASSIGN_OR_RETURN(std::vector<ValidatorChange> from_root, FromRoot(root, changes));
  std::erase_if(from_root, [&](const ValidatorChange& c) { return c.header.height >= height; });
  return FollowChanges(root.chain_id, root.start, from_root, height);
}

Status VerifyHeader(const TrustRoot& root, const std::vector<ValidatorChange>& changes,
                    const CertifiedHeader& head) {
  const Header& h = head.header;
  if (h.chain_id != root.chain_id) {
    return Status::Rejected("chain_id: the header is of chain \"" + h.chain_id + "\", not \"" +
                            root.chain_id + "\"");
  }
  if (root.start_block_hash && h.height == root.start.from_height &&
      h.Hash() != *root.start_block_hash) {
    return Status::Rejected("checkpoint: the block at height " + std::to_string(h.height) +
                            " hashes to " + Short(h.Hash()) + ", the checkpoint recorded " +
                            Short(*root.start_block_hash) + ": the chain was rewritten");
  }
  ASSIGN_OR_RETURN(ValidatorSet set, SetForHeight(root, changes, h.height));
  if (h.validators_hash != set.Hash()) {
    return Status::Rejected("validators_hash: height " + std::to_string(h.height) + " names set " +
                            Short(h.validators_hash) +
                            ", but the set that commits it, reached "
                            "from the " +
                            root.Describe() + " through " + std::to_string(changes.size()) +
                            " listed change(s), is " + Short(set.Hash()));
  }
  Status st = VerifyCommit(root.chain_id, set, h.height, h.Hash(), head.commit);
  if (!st.ok()) return st.Prefixed("commit");
  return Status::Ok();
}

Result<CommittedTx> VerifyCommittedTx(const TrustRoot& root,
                                      const std::vector<ValidatorChange>& changes,
                                      const json::Json& answer, const Hash32& tx_id) {
  RETURN_IF_ERROR(json::ExpectObject(answer, "",
                                     {"tx_id", "status", "height", "position", "log_index", "tx",
                                      "encoding", "inclusion", "head"}));
  ASSIGN_OR_RETURN(std::string status, json::GetString(json::At(answer, "status"), "status"));
  if (status != "committed") return Status::Rejected("status: \"" + status + "\", not committed");
  ASSIGN_OR_RETURN(TxFields f, ReadTxFields(answer, ""));
  if (f.tx_id != tx_id) return Status::Rejected("tx_id: the node answered for another transaction");
  ASSIGN_OR_RETURN(CertifiedHeader head, ParseCertifiedHeader(json::At(answer, "head"), "head"));
  if (Status st = VerifyHeader(root, changes, head); !st.ok()) return st.Prefixed("head");
  if (head.header.height < f.height) {
    return Status::Rejected("head: height " + std::to_string(head.header.height) +
                            " is below the block the transaction is in (" +
                            std::to_string(f.height) + ")");
  }
  Status st = merkle::VerifyInclusion(f.log_index, head.header.log_size, tx_id, f.inclusion,
                                      head.header.log_root);
  if (!st.ok()) {
    std::string why = st.message();
    if (why.rfind("inclusion: ", 0) == 0) why = why.substr(11);
    return Status::Rejected("inclusion: the proof does not verify against the head's log root (" +
                            why + ")");
  }
  return CommittedTx{f.tx, f.height, f.log_index, head.header};
}

Result<HistoryEntry> VerifyHistoryEntry(std::string_view chain_id, const json::Json& entry,
                                        const PublicKey& subject, const Header& head) {
  RETURN_IF_ERROR(json::ExpectObject(
      entry, "", {"tx_id", "height", "position", "log_index", "tx", "encoding", "inclusion"}));
  ASSIGN_OR_RETURN(TxFields f, ReadTxFields(entry, ""));
  if (SignerOf(f.tx.body) != subject) return Status::Rejected("not signed by this customer");
  RETURN_IF_ERROR(VerifyTxSignature(chain_id, f.tx));
  if (f.height > head.height) {
    return Status::Rejected("height " + std::to_string(f.height) + " is above the page's head");
  }
  Status st =
      merkle::VerifyInclusion(f.log_index, head.log_size, f.tx_id, f.inclusion, head.log_root);
  if (!st.ok()) return st.Prefixed("inclusion");
  return HistoryEntry{f.tx, f.tx_id, f.height, f.log_index};
}

// ---- The audit walk ----

ChainWalk::ChainWalk(const Genesis& genesis, TrustRoot root, std::vector<ValidatorChange> listed)
    : genesis_(genesis), root_(std::move(root)), listed_(std::move(listed)) {
  std::erase_if(
      listed_, [&](const ValidatorChange& c) { return c.header.height < root_.start.from_height; });
  pending_ = root_.start.validators;
}

Status ChainWalk::Step(const CertifiedHeader& head) {
  const Header& h = head.header;
  const std::string where = "height " + std::to_string(h.height) + ": ";
  if (!tip_.head && root_.from_checkpoint()) {
    // The checkpoint's own block: the node must still hold the very block seen before.
    if (h.Hash() != *root_.start_block_hash) {
      return Status::Rejected(where + "the node's header hashes to " + ToHex(h.Hash()) +
                              ", the checkpoint recorded " + ToHex(*root_.start_block_hash) +
                              ": the chain was rewritten since that audit");
    }
    if (h.chain_id != root_.chain_id || h.validators_hash != pending_.Hash()) {
      return Status::Rejected(where +
                              "validators_hash: the checkpoint's block does not name the "
                              "checkpoint's validator set");
    }
    Status st = VerifyCommit(root_.chain_id, pending_, h.height, h.Hash(), head.commit);
    if (!st.ok()) return st.Prefixed(where + "bad_commit");
  } else {
    Status st = CheckCertifiedHeader(genesis_, pending_, tip_, h, head.commit, nullptr);
    if (!st.ok()) return st.Prefixed(where.substr(0, where.size() - 2));
  }
  set_ = pending_;
  // A change block must be the next listed change, and the set switches to the listed one.
  const bool listed_here = next_ < listed_.size() && listed_[next_].header.height == h.height;
  if (h.IsChangeBlock()) {
    if (!listed_here) {
      return Status::Rejected(where + "validator_changes: this block decides a change (to set " +
                              Short(h.next_validators_hash) +
                              ") that the node's list of changes lacks");
    }
    const ValidatorChange& c = listed_[next_];
    if (c.header.Hash() != h.Hash()) {
      return Status::Rejected(where +
                              "validator_changes: the listed change at this height is "
                              "block " +
                              Short(c.header.Hash()) + ", not this block " + Short(h.Hash()));
    }
    if (c.validators.Hash() != h.next_validators_hash) {
      return Status::Rejected(where + "validator_changes: the listed set hashes to " +
                              Short(c.validators.Hash()) + ", the block names " +
                              Short(h.next_validators_hash));
    }
    pending_ = c.validators;
    ++next_;
    ++met_;
  } else if (listed_here) {
    return Status::Rejected(where +
                            "validator_changes: the node lists a change at this height, "
                            "but its block decides none");
  } else if (next_ < listed_.size() && listed_[next_].header.height < h.height) {
    return Status::Rejected("validator_changes: the node lists a change at height " +
                            std::to_string(listed_[next_].header.height) +
                            " out of height order or not in the chain");
  }
  tip_.head = h;
  tip_.log_size = h.log_size;
  return Status::Ok();
}

Status ChainWalk::Finish() const {
  const uint64_t top = tip_.head ? tip_.head->height : 0;
  if (next_ < listed_.size() && listed_[next_].header.height <= top) {
    return Status::Rejected("validator_changes: the node lists a change at height " +
                            std::to_string(listed_[next_].header.height) +
                            " that is not in the chain walked");
  }
  return Status::Ok();
}

Checkpoint ChainWalk::ToCheckpoint() const {
  return Checkpoint{root_.chain_id, tip_.head->height, tip_.head->Hash(), set_};
}

// ---- Another network ----

Status CheckProofNetwork(const Genesis& genesis, const TrustRoot& root, const ConsentProof& proof,
                         std::string_view genesis_name) {
  const std::string name(genesis_name);
  // The header's chain id is signed; the proof's own "chain_id" beside it is not (a proof whose
  // header is ours but whose "chain_id" was altered is a tampered proof: INVALID).
  if (proof.header.chain_id != genesis.chain_id) {
    return Status::Rejected("this proof is not of " + name + " (chain id " + proof.header.chain_id +
                            ", expected " + genesis.chain_id + ")");
  }
  // Same chain id: a proof that carries no validator change (from the root on) and whose header
  // names another set than the root's, signed by none of the root's keys, cannot be of this
  // genesis. A proof that carries changes is judged by them: any failure there is INVALID,
  // naming the check (a change left out, added, reordered or with a wrong set).
  for (const ValidatorChange& c : proof.validator_changes) {
    if (c.header.height >= root.start.from_height) return Status::Ok();
  }
  const Header& h = proof.header;
  if (h.height < root.start.from_height) return Status::Ok();  // refused as below the start
  if (h.validators_hash != root.start.validators.Hash() &&
      !SignedByAny(proof.commit, root.start.validators)) {
    return Status::Rejected(
        "this proof is not of " + name + " (chain id " + genesis.chain_id +
        " as expected, but its header at height " + std::to_string(h.height) +
        " names validator set " + Short(h.validators_hash) + " and is signed by none of the " +
        std::to_string(root.start.validators.size()) + " validators of the " + root.Describe() +
        ", and it carries no validator change): a chain of another network with the same chain "
        "id, or a proof whose validator_changes were all removed");
  }
  return Status::Ok();
}

Status CheckChainNetwork(const Genesis& genesis, const TrustRoot& root, std::string_view chain_id,
                         const std::optional<Hash32>& genesis_hash, const CertifiedHeader* first,
                         std::string_view genesis_name) {
  const std::string name(genesis_name);
  if (chain_id != genesis.chain_id) {
    return Status::Rejected("this chain is not of " + name + " (chain id " + std::string(chain_id) +
                            ", expected " + genesis.chain_id + ")");
  }
  if (genesis_hash && *genesis_hash != root.genesis_hash) {
    return Status::Rejected("this chain is not of " + name + " (genesis hash " +
                            ToHex(*genesis_hash) + ", expected " + ToHex(root.genesis_hash) + ")");
  }
  if (first != nullptr && first->header.chain_id == genesis.chain_id &&
      first->header.height == root.start.from_height &&
      first->header.validators_hash != root.start.validators.Hash() &&
      !SignedByAny(first->commit, root.start.validators)) {
    return Status::Rejected("this chain is not of " + name + " (chain id " + genesis.chain_id +
                            " as expected, but height " + std::to_string(first->header.height) +
                            " is committed by none of the validators of the " + root.Describe() +
                            ")");
  }
  return Status::Ok();
}

Result<ProofVerdict> VerifyProof(const ConsentProof& proof, const Genesis& genesis,
                                 const TrustRoot& root, std::optional<uint64_t> at_ms) {
  if (!root.from_checkpoint()) return VerifyConsentProof(proof, genesis, at_ms);
  const uint64_t h = root.start.from_height;
  if (proof.header.height < h) {
    return Status::Rejected("header: height " + std::to_string(proof.header.height) +
                            " is below the checkpoint's height " + std::to_string(h) +
                            ": verify it from genesis, or with an older checkpoint");
  }
  if (proof.header.height == h && proof.header.Hash() != *root.start_block_hash) {
    return Status::Rejected("header: the block at the checkpoint's height " + std::to_string(h) +
                            " is not the checkpoint's block: the chain was rewritten");
  }
  ASSIGN_OR_RETURN(std::vector<ValidatorChange> from_root, FromRoot(root, proof.validator_changes));
  (void)from_root;
  return VerifyConsentProof(proof, genesis, at_ms, &root.start);
}

}  // namespace consent::light
