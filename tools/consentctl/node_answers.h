// Reading a node's answers, for consentctl's command files (internal to tools/consentctl/): the
// exit codes, the JSON helpers that never throw whatever the node sent, GET with the node's error
// message, and the checks of a certified header against a genesis (chain id, commit of a quorum
// of its validators). Single-threaded, as consentctl.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "crypto/status.h"
#include "ledger/block.h"
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

// A head checked against the genesis: the header decodes and its commit is a quorum of genesis
// validators.
struct VerifiedHead {
  Header header;
};

// A certified header as the node serves it ({"header": {..., "encoding"}, "commit": {...}}),
// decoded but not yet checked: the header from its canonical encoding (the JSON fields beside it
// are not trusted), the commit from its JSON.
struct Certified {
  Header header;
  Commit commit;
};
Result<Certified> ParseCertified(const json& head);
Result<VerifiedHead> VerifyHead(const json& head, const Genesis& genesis);

// Whether the node serves the chain of `genesis`, whatever it is then asked: its status names the
// genesis's chain id, and its latest header carries a commit of the genesis validators (returned
// in `head`). Before block 1 its validator set must be the genesis's. `status` is /v1/status.
Status CheckNodeChain(const NodeArgs& node, const json& status, const Genesis& genesis,
                      std::optional<Header>* head = nullptr);

}  // namespace consent::ctl
