// Block headers, votes, commits and the genesis file (PROTOCOL.md sections 5 and 6): encoding
// with the shared codec, strict decoding, strict genesis.json parsing and commit verification.
// Pure and deterministic; thread-safe.
#include "ledger/block.h"

#include <set>
#include <utility>

#include "crypto/hex.h"
#include "crypto/sha256.h"
#include "ledger/codec.h"
#include "ledger/json_strict.h"
#include "ledger/tx.h"

namespace consent {
namespace {

constexpr std::string_view kVoteTag = "consent-ledger/vote/v1";
constexpr size_t kMaxValidatorNameBytes = 128;
constexpr size_t kMaxGenesisJsonBytes = 1 << 20;

// CheckChainId (tx.cc) with its message re-rooted at `field` ("header.chain_id: ...").
Status CheckChainIdSyntax(std::string_view s, std::string_view field) {
  Status st = CheckChainId(s);
  if (st.ok()) return st;
  std::string m = st.message();
  if (m.rfind("chain_id", 0) == 0) m = m.substr(8);
  return Status(st.code(), std::string(field) + m);
}

// The first 8 bytes of a key in hex: enough to name a validator in a message.

}  // namespace

Bytes Header::Encode() const {
  Writer w(2 + 4 + chain_id.size() + 8 * 3 + 32 * 6);
  w.U8(kHeaderKind)
      .U8(kHeaderVersion)
      .Str(chain_id)
      .U64(height)
      .U64(time_ms)
      .Fixed(prev_block_hash)
      .U64(log_size)
      .Fixed(log_root)
      .Fixed(state_root)
      .Fixed(validators_hash)
      .Fixed(next_validators_hash)
      .Fixed(proposer);
  return std::move(w).Take();
}

Hash32 Header::Hash() const { return Sha256(Encode()); }

Result<Header> DecodeHeader(ByteView encoding) {
  Reader r(encoding);
  uint8_t kind = 0, version = 0;
  RETURN_IF_ERROR(r.U8(&kind, "header.kind"));
  if (kind != kHeaderKind) {
    return Status::Invalid("header.kind: " + std::to_string(kind) + " is not a header (16)");
  }
  RETURN_IF_ERROR(r.U8(&version, "header.version"));
  if (version != kHeaderVersion) {
    return Status::Invalid(
        "header.version: unsupported version " + std::to_string(version) +
        (version == 1 ? " (the static-set header; this node reads version 2)" : ""));
  }
  Header h;
  RETURN_IF_ERROR(r.Str(&h.chain_id, kMaxChainIdBytes, "header.chain_id"));
  RETURN_IF_ERROR(CheckChainIdSyntax(h.chain_id, "header.chain_id"));
  RETURN_IF_ERROR(r.U64(&h.height, "header.height"));
  if (h.height == 0) return Status::Invalid("header.height: must be at least 1");
  RETURN_IF_ERROR(r.U64(&h.time_ms, "header.time_ms"));
  RETURN_IF_ERROR(r.Fixed(&h.prev_block_hash, "header.prev_block_hash"));
  RETURN_IF_ERROR(r.U64(&h.log_size, "header.log_size"));
  RETURN_IF_ERROR(r.Fixed(&h.log_root, "header.log_root"));
  RETURN_IF_ERROR(r.Fixed(&h.state_root, "header.state_root"));
  RETURN_IF_ERROR(r.Fixed(&h.validators_hash, "header.validators_hash"));
  RETURN_IF_ERROR(r.Fixed(&h.next_validators_hash, "header.next_validators_hash"));
  RETURN_IF_ERROR(r.Fixed(&h.proposer, "header.proposer"));
  RETURN_IF_ERROR(r.ExpectEnd("header"));
  return h;
}

Bytes VoteMessage(std::string_view chain_id, VoteType type, uint64_t height, uint32_t round,
                  const Hash32& block_hash) {
  Writer w(kVoteTag.size() + 4 + chain_id.size() + 1 + 8 + 4 + 32);
  w.Tag(kVoteTag)
      .Str(chain_id)
      .U8(static_cast<uint8_t>(type))
      .U64(height)
      .U32(round)
      .Fixed(block_hash);
  return std::move(w).Take();
}

ValidatorSet Genesis::Set() const {
  ValidatorSet set;
  set.keys.reserve(validators.size());
  for (const auto& v : validators) set.keys.push_back(v.public_key);
  return set;
}

Hash32 Genesis::ValidatorsHash() const { return Set().Hash(); }

std::string Genesis::ToJson() const {
  json::OrderedJson out = json::OrderedJson::object();
  out["chain_id"] = chain_id;
  out["genesis_time_ms"] = genesis_time_ms;
  json::OrderedJson list = json::OrderedJson::array();
  for (const auto& v : validators) {
    json::OrderedJson item = json::OrderedJson::object();
    item["name"] = v.name;
    item["public_key"] = ToHex(v.public_key);
    list.push_back(std::move(item));
  }
  out["validators"] = std::move(list);
  return json::Dump(out, 2) + "\n";
}

namespace {

// The fields of a parsed genesis document; errors name the JSON path.
Result<Genesis> GenesisFromJson(const json::Json& doc) {
  RETURN_IF_ERROR(json::ExpectObject(doc, "", {"chain_id", "genesis_time_ms", "validators"}));
  Genesis g;
  ASSIGN_OR_RETURN(g.chain_id, json::GetString(json::At(doc, "chain_id"), "chain_id"));
  RETURN_IF_ERROR(CheckChainIdSyntax(g.chain_id, "chain_id"));
  ASSIGN_OR_RETURN(g.genesis_time_ms,
                   json::GetUint(json::At(doc, "genesis_time_ms"), "genesis_time_ms"));
  ASSIGN_OR_RETURN(const json::Json::array_t* list,
                   json::GetArray(json::At(doc, "validators"), "validators", kMaxValidators));
  if (list->empty()) return Status::Invalid("validators: at least one validator is required");
  std::set<PublicKey> seen;
  for (size_t i = 0; i < list->size(); ++i) {
    const json::Json& item = (*list)[i];
    const std::string path = json::Element("validators", i);
    RETURN_IF_ERROR(json::ExpectObject(item, path, {"name", "public_key"}));
    Validator v;
    const std::string name_path = json::Member(path, "name");
    ASSIGN_OR_RETURN(v.name, json::GetString(json::At(item, "name"), name_path));
    if (v.name.empty() || v.name.size() > kMaxValidatorNameBytes) {
      return Status::Invalid(name_path + ": length " + std::to_string(v.name.size()) +
                             " bytes is not in 1..128");
    }
    if (!IsValidUtf8NoNul(v.name)) {
      return Status::Invalid(name_path + ": not valid UTF-8 or contains a NUL character");
    }
    const std::string key_path = json::Member(path, "public_key");
    ASSIGN_OR_RETURN(v.public_key, json::GetHexFixed<32>(json::At(item, "public_key"), key_path));
    if (!seen.insert(v.public_key).second) {
      return Status::Invalid(key_path + ": duplicate validator key " + ToHex(v.public_key));
    }
    g.validators.push_back(std::move(v));
  }
  return g;
}

}  // namespace

Result<Genesis> ParseGenesis(std::string_view json_text) {
  ASSIGN_OR_RETURN(json::Json doc, json::ParseStrict(json_text, kMaxGenesisJsonBytes, "genesis"));
  auto g = GenesisFromJson(doc);
  if (!g.ok()) return g.status().Prefixed("genesis");
  return g;
}

Status VerifyCommit(std::string_view chain_id, const ValidatorSet& validators, uint64_t height,
                    const Hash32& block_hash, const Commit& commit) {
  const size_t n = validators.size();
  const size_t quorum = validators.QuorumSize();
  if (commit.signatures.size() > n) {
    return Status::Invalid(std::to_string(commit.signatures.size()) +
                           " signatures, more than the " + std::to_string(n) + " validators");
  }
  // Structure first (cheap): every signer is a distinct validator of the set.
  std::set<PublicKey> members(validators.keys.begin(), validators.keys.end()), signers;
  for (size_t i = 0; i < commit.signatures.size(); ++i) {
    const PublicKey& who = commit.signatures[i].validator;
    std::string where = "signatures[" + std::to_string(i) + "]: validator " + ToHex(who);
    if (members.count(who) == 0) {
      return Status::Invalid(where + " is not in the validator set of height " +
                             std::to_string(height));
    }
    if (!signers.insert(who).second) {
      return Status::Invalid(where + " signed more than once");
    }
  }
  // Then every signature; at most n of them, each of a distinct validator.
  Bytes msg = VoteMessage(chain_id, VoteType::kPrecommit, height, commit.round, block_hash);
  for (size_t i = 0; i < commit.signatures.size(); ++i) {
    const CommitSig& cs = commit.signatures[i];
    if (!VerifySignature(cs.validator, msg, cs.signature)) {
      return Status::BadSignature(
          "signatures[" + std::to_string(i) + "]: validator " + ToHex(cs.validator) +
          ": invalid precommit signature for " + "height " + std::to_string(height) + ", round " +
          std::to_string(commit.round) + ", block " + ToHex(ByteView(block_hash.data(), 8)));
    }
  }
  // Every entry is valid; are there enough?
  if (signers.size() < quorum) {
    return Status::Rejected("only " + std::to_string(signers.size()) + " of the required " +
                            std::to_string(quorum) + " validator signatures are valid");
  }
  return Status::Ok();
}

CommitSig SignPrecommit(const SigningKey& key, std::string_view chain_id, uint64_t height,
                        uint32_t round, const Hash32& block_hash) {
  CommitSig cs;
  cs.validator = key.public_key();
  cs.signature = key.Sign(VoteMessage(chain_id, VoteType::kPrecommit, height, round, block_hash));
  return cs;
}

}  // namespace consent
