// Reading a node's answers, for consentctl's command files (internal to tools/consentctl/): the
// exit codes, the JSON helpers that never throw whatever the node sent, GET with the node's error
// message, and the light verifier's check (ledger/light_verifier.h) of a node's head against a
// genesis through the node's validator changes. Single-threaded, as consentctl.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "crypto/status.h"
#include "ledger/block.h"
#include "ledger/json_strict.h"
#include "ledger/light_verifier.h"
#include "tools/consentctl/http_client.h"
#include "tools/consentctl/node_commands.h"

namespace consent::ctl {

// Ordered: what the node sent is printed in its own order (status, submit), not sorted.
using json = nlohmann::ordered_json;

inline constexpr int kOk = 0;
inline constexpr int kNegative = 1;
inline constexpr int kUsage = 2;

// Prints "error: MESSAGE" on stderr and returns `code`.
int Fail(const Status& st, int code);
// A failed node call: an unreachable or silent node is exit 2 (like a bad URL), anything the node
// answered (an HTTP error, a malformed answer) exit 1.
int FailNode(const Status& st);
Result<HttpUrl> Url(const NodeArgs& node);

// o[key] for printing: a string as it is, a number as its digits, anything else "".
std::string Text(const json& o, const char* key);
// GET and parse a JSON answer; an HTTP error becomes a Status with the node's message.
Result<json> GetJson(const NodeArgs& node, const std::string& target);
Result<std::string> Str(const json& j, const char* key);
Result<uint64_t> Uint(const json& j, const char* key);
// A JSON array of at most `max` 32-byte hex hashes (a Merkle proof); `what` names it in errors.
Result<std::vector<Hash32>> HashList(const json& a, size_t max, const char* what);
Result<Hash32> Hash(const json& j, const char* key);

// GET and parse a node's answer with the strict reader (ledger/json_strict.h) for the light
// verifier: duplicate keys, deep nesting and non-JSON are refused. An HTTP error is a Status with
// the node's message, as GetJson's.
Result<consent::json::Json> GetStrict(const NodeArgs& node, const std::string& target);

// The node's validator set changes (GET /v1/validators/changes), strictly parsed. A node that
// does not serve the route (404: a node from before validator changes) has none to give: an
// empty list, with which any header after a change then fails to verify.
Result<std::vector<ValidatorChange>> FetchChanges(const NodeArgs& node);

// A certified header answer checked by the light verifier against `root` through `changes`.
Result<Header> VerifyHead(const consent::json::Json& head, const light::TrustRoot& root,
                          const std::vector<ValidatorChange>& changes);

// Whether the node serves the chain of `genesis`, whatever it is then asked: its status names the
// genesis's chain id, and its latest header verifies from the genesis through the node's
// validator changes (returned in `head`). Before block 1 its validator set must be the genesis's.
// `status` is /v1/status. When the node is of another network altogether (another chain id, or a
// block 1 signed by none of the genesis validators: light::CheckChainNetwork), `*foreign` (if
// given) is set and the message is "this chain is not of GENESIS_NAME (...)".
Status CheckNodeChain(const NodeArgs& node, const json& status, const Genesis& genesis,
                      std::optional<Header>* head = nullptr, bool* foreign = nullptr,
                      const std::string& genesis_name = "the genesis");

}  // namespace consent::ctl
