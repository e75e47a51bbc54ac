// JSON for headers and commits (see block_json.h). Pure; thread-safe.
#include "ledger/block_json.h"

#include <string>

#include "crypto/hex.h"

namespace consent {

json::OrderedJson HeaderToJson(const Header& header) {
  json::OrderedJson out = json::OrderedJson::object();
  out["height"] = header.height;
  out["time_ms"] = header.time_ms;
  out["encoding"] = ToHex(header.Encode());
  out["block_hash"] = ToHex(header.Hash());
  return out;
}

Result<Header> HeaderFromJson(const json::Json& v, std::string_view path) {
  RETURN_IF_ERROR(json::ExpectObject(v, path, {"height", "time_ms", "encoding", "block_hash"}));
  const std::string height_path = json::Member(path, "height");
  const std::string time_path = json::Member(path, "time_ms");
  const std::string encoding_path = json::Member(path, "encoding");
  const std::string hash_path = json::Member(path, "block_hash");
  ASSIGN_OR_RETURN(uint64_t height, json::GetUint(json::At(v, "height"), height_path));
  ASSIGN_OR_RETURN(uint64_t time_ms, json::GetUint(json::At(v, "time_ms"), time_path));
  ASSIGN_OR_RETURN(Bytes encoding,
                   json::GetHex(json::At(v, "encoding"), encoding_path, kMaxHeaderBytes));
  ASSIGN_OR_RETURN(Hash32 block_hash, json::GetHexFixed<32>(json::At(v, "block_hash"), hash_path));
  auto header = DecodeHeader(encoding);
  if (!header.ok()) return header.status().Prefixed(encoding_path);
  if (header->height != height) {
    return Status::Invalid(height_path + ": " + std::to_string(height) +
                           " does not match the encoding's height " +
                           std::to_string(header->height));
  }
  if (header->time_ms != time_ms) {
    return Status::Invalid(time_path + ": " + std::to_string(time_ms) +
                           " does not match the encoding's time_ms " +
                           std::to_string(header->time_ms));
  }
  if (header->Hash() != block_hash) {
    return Status::Invalid(hash_path + ": is not the hash of the header encoding");
  }
  return header;
}

json::OrderedJson CommitToJson(const Commit& commit) {
  json::OrderedJson out = json::OrderedJson::object();
  out["round"] = commit.round;
  json::OrderedJson sigs = json::OrderedJson::array();
  for (const auto& s : commit.signatures) {
    json::OrderedJson item = json::OrderedJson::object();
    item["validator"] = ToHex(s.validator);
    item["signature"] = ToHex(s.signature);
    sigs.push_back(std::move(item));
  }
  out["signatures"] = std::move(sigs);
  return out;
}

Result<Commit> CommitFromJson(const json::Json& v, std::string_view path) {
  RETURN_IF_ERROR(json::ExpectObject(v, path, {"round", "signatures"}));
  Commit commit;
  ASSIGN_OR_RETURN(uint64_t round,
                   json::GetUint(json::At(v, "round"), json::Member(path, "round"), UINT32_MAX));
  commit.round = static_cast<uint32_t>(round);
  const std::string sigs_path = json::Member(path, "signatures");
  ASSIGN_OR_RETURN(const json::Json::array_t* sigs,
                   json::GetArray(json::At(v, "signatures"), sigs_path, kMaxValidators));
  for (size_t i = 0; i < sigs->size(); ++i) {
    const std::string item_path = json::Element(sigs_path, i);
    const json::Json& item = (*sigs)[i];
    RETURN_IF_ERROR(json::ExpectObject(item, item_path, {"validator", "signature"}));
    CommitSig cs;
    ASSIGN_OR_RETURN(cs.validator, json::GetHexFixed<32>(json::At(item, "validator"),
                                                         json::Member(item_path, "validator")));
    ASSIGN_OR_RETURN(cs.signature, json::GetHexFixed<64>(json::At(item, "signature"),
                                                         json::Member(item_path, "signature")));
    commit.signatures.push_back(cs);
  }
  return commit;
}

}  // namespace consent
