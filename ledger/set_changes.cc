// FollowChanges and the JSON of validator changes (see set_changes.h). Pure; thread-safe.
#include "ledger/set_changes.h"

#include "crypto/hex.h"
#include "ledger/block_json.h"
#include "ledger/tx.h"

namespace consent {
namespace {

std::string Short(const Hash32& h) { return ToHex(ByteView(h.data(), 8)); }

}  // namespace

Result<ValidatorSet> FollowChanges(std::string_view chain_id, const TrustedSet& start,
                                   const std::vector<ValidatorChange>& changes, uint64_t height) {
  if (start.validators.keys.empty()) return Status::Invalid("the starting validator set is empty");
  if (changes.size() > kMaxValidatorChanges) {
    return Status::Invalid("validator_changes: " + std::to_string(changes.size()) +
                           " changes, more than " + std::to_string(kMaxValidatorChanges));
  }
  ValidatorSet held = start.validators;
  uint64_t min_height = start.from_height;
  for (size_t i = 0; i < changes.size(); ++i) {
    const ValidatorChange& c = changes[i];
    const Header& h = c.header;
    const std::string where = "validator_changes[" + std::to_string(i) + "]: ";
    if (h.height < min_height || h.height >= height) {
      return Status::Rejected(where + "order: height " + std::to_string(h.height) + " is not in [" +
                              std::to_string(min_height) + ", " + std::to_string(height) + ")" +
                              (h.height < min_height ? " (changes must strictly increase and "
                                                       "start at or after the trusted height)"
                                                     : " (a change must be below the proven "
                                                       "height)"));
    }
    if (h.chain_id != chain_id) {
      return Status::Rejected(where + "chain_id: \"" + h.chain_id + "\" is not \"" +
                              std::string(chain_id) + "\"");
    }
    if (h.validators_hash != held.Hash()) {
      return Status::Rejected(where + "validators_hash: " + Short(h.validators_hash) +
                              "... is not the hash " + Short(held.Hash()) +
                              "... of the set held at height " + std::to_string(h.height));
    }
    if (Status st = VerifyCommit(chain_id, held, h.height, h.Hash(), c.commit); !st.ok()) {
      return Status::Rejected(where + "commit: " + st.message());
    }
    if (!h.IsChangeBlock()) {
      return Status::Rejected(where + "next_validators_hash: height " + std::to_string(h.height) +
                              " decides no change (next_validators_hash equals validators_hash)");
    }
    if (c.validators.Hash() != h.next_validators_hash) {
      return Status::Rejected(where + "next_validators_hash: the set given hashes to " +
                              Short(c.validators.Hash()) + "..., the header names " +
                              Short(h.next_validators_hash) + "...");
    }
    held = c.validators;
    min_height = h.height + 1;
  }
  return held;
}

json::OrderedJson ValidatorChangeToJson(const ValidatorChange& change) {
  json::OrderedJson out = json::OrderedJson::object();
  out["header"] = HeaderToJson(change.header);
  out["commit"] = CommitToJson(change.commit);
  json::OrderedJson keys = json::OrderedJson::array();
  for (const PublicKey& k : change.validators.keys) keys.push_back(ToHex(k));
  out["validators"] = std::move(keys);
  return out;
}

json::OrderedJson ValidatorChangesToJson(const std::vector<ValidatorChange>& changes) {
  json::OrderedJson out = json::OrderedJson::array();
  for (const ValidatorChange& c : changes) out.push_back(ValidatorChangeToJson(c));
  return out;
}

Result<ValidatorChange> ValidatorChangeFromJson(const json::Json& v, std::string_view path) {
  RETURN_IF_ERROR(json::ExpectObject(v, path, {"header", "commit", "validators"}));
  ValidatorChange c;
  ASSIGN_OR_RETURN(c.header, HeaderFromJson(json::At(v, "header"), json::Member(path, "header")));
  ASSIGN_OR_RETURN(c.commit, CommitFromJson(json::At(v, "commit"), json::Member(path, "commit")));
  const std::string keys_path = json::Member(path, "validators");
  ASSIGN_OR_RETURN(const json::Json::array_t* keys,
                   json::GetArray(json::At(v, "validators"), keys_path, kMaxSetValidators));
  if (keys->empty()) return Status::Invalid(keys_path + ": at least one key is required");
  for (size_t i = 0; i < keys->size(); ++i) {
    const std::string item = json::Element(keys_path, i);
    ASSIGN_OR_RETURN(PublicKey k, json::GetHexFixed<32>((*keys)[i], item));
    if (!c.validators.keys.empty() && !(c.validators.keys.back() < k)) {
      return Status::Invalid(item + ": keys must be in strictly ascending byte order");
    }
    c.validators.keys.push_back(k);
  }
  return c;
}

Result<std::vector<ValidatorChange>> ValidatorChangesFromJson(const json::Json& v,
                                                              std::string_view path) {
  ASSIGN_OR_RETURN(const json::Json::array_t* items, json::GetArray(v, path, kMaxValidatorChanges));
  std::vector<ValidatorChange> out;
  out.reserve(items->size());
  for (size_t i = 0; i < items->size(); ++i) {
    ASSIGN_OR_RETURN(ValidatorChange c,
                     ValidatorChangeFromJson((*items)[i], json::Element(path, i)));
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace consent
