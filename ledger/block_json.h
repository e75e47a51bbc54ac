// The JSON face of headers and commits, as they appear inside a consent proof (PROTOCOL.md
// section 9):
//   header: {"height": n, "time_ms": n, "encoding": "hex", "block_hash": "hex"}
//   commit: {"round": n, "signatures": [{"validator": "hex", "signature": "hex"}]}
// The header's binary encoding is the authority; height, time_ms and block_hash are there for
// readers and must agree with it. Parsing is strict (exact fields, hex of the exact length, errors
// name the JSON path). Pure; thread-safe.
#pragma once

#include <string_view>

#include "crypto/status.h"
#include "ledger/block.h"
#include "ledger/json_strict.h"

namespace consent {

// The longest header encoding: a 64-byte chain id and fixed-width fields.
inline constexpr size_t kMaxHeaderBytes = 2 + 4 + 64 + 8 + 8 + 32 + 8 + 32 + 32 + 32 + 32 + 32;

json::OrderedJson HeaderToJson(const Header& header);
// Fails if `v` is not exactly that object, the encoding does not decode (DecodeHeader), or
// height, time_ms or block_hash disagree with the encoding. Messages start with `path`.
Result<Header> HeaderFromJson(const json::Json& v, std::string_view path);

json::OrderedJson CommitToJson(const Commit& commit);
// Fails if `v` is not exactly that object, round is not a u32, there are more than
// kMaxValidators signatures, or a key or signature is not hex of the right length.
// Does not check the signatures (VerifyCommit does).
Result<Commit> CommitFromJson(const json::Json& v, std::string_view path);

}  // namespace consent
