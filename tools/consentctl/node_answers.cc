// Reading a node's answers (tools/consentctl/node_answers.h). Single-threaded.
#include "tools/consentctl/node_answers.h"

#include <algorithm>
#include <cstdio>

#include "crypto/hex.h"

namespace consent::ctl {

int Fail(const Status& st, int code) {
  std::fprintf(stderr, "error: %s\n", st.message().c_str());
  return code;
}

// A failed node call: an unreachable or silent node is exit 2 (like a bad URL), anything the node
// answered (an HTTP error, a malformed answer) exit 1.
int FailNode(const Status& st) {
  return Fail(st, st.code() == StatusCode::kUnavailable ? kUsage : kNegative);
}

Result<HttpUrl> Url(const NodeArgs& node) { return ParseHttpUrl(node.url); }

// o[key] for printing: a string as it is, a number as its digits, anything else (null, missing,
// an object) as "". Never throws, whatever the node sent.
std::string Text(const json& o, const char* key) {
  if (!o.is_object()) return "";
  auto it = o.find(key);
  if (it == o.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number() || it->is_boolean()) return it->dump();
  return "";
}

// GET and parse a JSON answer; an HTTP error becomes a Status with the node's message.
Result<json> GetJson(const NodeArgs& node, const std::string& target) {
  ASSIGN_OR_RETURN(HttpUrl url, Url(node));
  ASSIGN_OR_RETURN(HttpResponse r, HttpCall(url, "GET", target, "", node.timeout_ms));
  json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (r.status != 200) {
    std::string msg = "the node answered " + std::to_string(r.status);
    if (j.is_object() && j.contains("error") && j["error"].is_object() &&
        j["error"].contains("message") && j["error"]["message"].is_string()) {
      msg += ": " + j["error"]["message"].get<std::string>();
    }
    return r.status == 404 ? Status::NotFound(msg) : Status::Rejected(msg);
  }
  if (j.is_discarded()) return Status::Invalid("the node's answer to " + target + " is not JSON");
  return j;
}

Result<std::string> Str(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) {
    return Status::Invalid(std::string("the node's answer has no string \"") + key + "\"");
  }
  return j[key].get<std::string>();
}

Result<uint64_t> Uint(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number_unsigned()) {
    return Status::Invalid(std::string("the node's answer has no number \"") + key + "\"");
  }
  return j[key].get<uint64_t>();
}

// A JSON array of at most `max` 32-byte hex hashes (a Merkle proof); `what` names it in errors.
Result<std::vector<Hash32>> HashList(const json& a, size_t max, const char* what) {
  if (!a.is_array() || a.size() > max) {
    return Status::Invalid(std::string("the node's ") + what + " is not an array of at most " +
                           std::to_string(max) + " hashes");
  }
  std::vector<Hash32> out;
  for (const auto& h : a) {
    if (!h.is_string()) return Status::Invalid(std::string(what) + ": an element is not a string");
    ASSIGN_OR_RETURN(Hash32 x, FromHexFixed<32>(h.get<std::string>()));
    out.push_back(x);
  }
  return out;
}

Result<Hash32> Hash(const json& j, const char* key) {
  ASSIGN_OR_RETURN(std::string s, Str(j, key));
  auto h = FromHexFixed<32>(s);
  if (!h.ok()) return h.status().Prefixed(key);
  return *h;
}

Result<consent::json::Json> GetStrict(const NodeArgs& node, const std::string& target) {
  ASSIGN_OR_RETURN(HttpUrl url, Url(node));
  ASSIGN_OR_RETURN(HttpResponse r, HttpCall(url, "GET", target, "", node.timeout_ms));
  if (r.status != 200) {
    json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    std::string msg = "the node answered " + std::to_string(r.status);
    if (j.is_object() && j.contains("error") && j["error"].is_object() &&
        j["error"].contains("message") && j["error"]["message"].is_string()) {
      msg += ": " + j["error"]["message"].get<std::string>();
    }
    return r.status == 404 ? Status::NotFound(msg) : Status::Rejected(msg);
  }
  auto doc =
      consent::json::ParseStrict(r.body, light::kMaxAnswerBytes, "the node's answer to " + target);
  if (!doc.ok()) return Status::Invalid(doc.status().message());
  return doc;
}

Result<std::vector<ValidatorChange>> FetchChanges(const NodeArgs& node) {
  auto doc = GetStrict(node, "/v1/validators/changes");
  if (!doc.ok() && doc.status().code() == StatusCode::kNotFound) {
    return std::vector<ValidatorChange>();
  }
  if (!doc.ok()) return doc.status();
  auto changes = light::ParseChangesAnswer(*doc);
  if (!changes.ok()) return changes.status().Prefixed("the node's validator changes");
  return changes;
}

Result<Header> VerifyHead(const consent::json::Json& head, const light::TrustRoot& root,
                          const std::vector<ValidatorChange>& changes) {
  ASSIGN_OR_RETURN(CertifiedHeader c, light::ParseCertifiedHeader(head, "head"));
  Status st = light::VerifyHeader(root, changes, c);
  if (!st.ok())
    return st.Prefixed("the node's head (height " + std::to_string(c.header.height) + ")");
  return c.header;
}

// Whether the node serves the chain of `genesis`, whatever it is then asked: its latest header
// must verify from the genesis through the node's validator changes. Before block 1 (no header,
// no commit) its chain id and validator set must be the genesis's. `status` is /v1/status.
Status CheckNodeChain(const NodeArgs& node, const json& status, const Genesis& genesis,
                      std::optional<Header>* head, bool* foreign, const std::string& genesis_name) {
  ASSIGN_OR_RETURN(uint64_t height, Uint(status, "height"));
  ASSIGN_OR_RETURN(std::string chain, Str(status, "chain_id"));
  const light::TrustRoot root = light::FromGenesis(genesis);
  if (chain != genesis.chain_id) {
    if (foreign != nullptr) *foreign = true;
    return light::CheckChainNetwork(genesis, root, chain, std::nullopt, nullptr, genesis_name)
        .Prefixed("the node is on chain " + chain + ", not " + genesis.chain_id);
  }
  if (height > 0) {
    ASSIGN_OR_RETURN(consent::json::Json h,
                     GetStrict(node, "/v1/headers?from=" + std::to_string(height) +
                                         "&to=" + std::to_string(height)));
    if (!h.is_object() || !h.contains("headers") || !h["headers"].is_array() ||
        h["headers"].size() != 1) {
      return Status::Invalid("the node's answer to /v1/headers is malformed");
    }
    ASSIGN_OR_RETURN(std::vector<ValidatorChange> changes, FetchChanges(node));
    auto v = VerifyHead(h["headers"][0], root, changes);
    if (!v.ok()) {
      // Another network, or a forgery of this one? Block 1 tells: signed by none of the genesis
      // validators over another set, it is another network.
      auto first = GetStrict(node, "/v1/headers?from=1&to=1");
      if (first.ok() && first->is_object() && first->contains("headers") &&
          (*first)["headers"].is_array() && (*first)["headers"].size() == 1) {
        auto c = light::ParseCertifiedHeader((*first)["headers"][0], "headers[0]");
        if (c.ok()) {
          Status net =
              light::CheckChainNetwork(genesis, root, chain, std::nullopt, &*c, genesis_name);
          if (!net.ok()) {
            if (foreign != nullptr) *foreign = true;
            return net;
          }
        }
      }
      return v.status();
    }
    if (head != nullptr) *head = *v;
    return Status::Ok();
  }
  std::vector<std::string> keys, want;
  if (status.contains("validators") && status["validators"].is_array()) {
    for (const auto& v : status["validators"]) keys.push_back(Text(v, "public_key"));
  }
  for (const auto& v : genesis.validators) want.push_back(ToHex(v.public_key));
  std::sort(keys.begin(), keys.end());
  std::sort(want.begin(), want.end());
  if (keys != want) {
    return Status::Rejected("the node's validators are not those of the genesis (chain " + chain +
                            ", no block yet)");
  }
  return Status::Ok();
}

}  // namespace consent::ctl
