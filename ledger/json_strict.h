// Strict JSON input for the ledger's JSON faces (genesis.json, consent proofs): a parser that
// rejects what nlohmann::json silently accepts (duplicate object keys, unbounded nesting,
// unbounded input), and typed accessors whose errors name the JSON path of the bad value
// ("state.siblings[3]: expected 64 hex digits (32 bytes), got 63"). No exception escapes this
// module: parser errors become a Status. Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "crypto/bytes.h"
#include "crypto/hex.h"
#include "crypto/status.h"

namespace consent::json {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// Deepest nesting of arrays and objects accepted by ParseStrict.
inline constexpr size_t kMaxDepth = 32;
// The largest integer the JSON faces carry (PROTOCOL.md section 1: values stay below 2^53).
inline constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;

// Parses `text` as exactly one JSON value. Fails (InvalidArgument, message prefixed with `what`)
// if the text is longer than max_bytes, is not valid JSON (the message gives the position), has
// an object with a repeated key, or nests deeper than kMaxDepth.
Result<Json> ParseStrict(std::string_view text, size_t max_bytes, std::string_view what);

// "a.b" for (a, b), or "b" when `path` is empty; "a[3]" for (a, 3).
std::string Member(std::string_view path, std::string_view key);
std::string Element(std::string_view path, size_t index);

// OK iff `v` is an object whose keys are exactly `keys` (in any order); the error names the first
// missing or the first unknown key.
Status ExpectObject(const Json& v, std::string_view path,
                    std::initializer_list<std::string_view> keys);
// The member `key` of an object. REQUIRES: ExpectObject listed `key` and passed.
const Json& At(const Json& object, std::string_view key);

// An unsigned JSON integer (not a float, not negative) no greater than `max`.
Result<uint64_t> GetUint(const Json& v, std::string_view path, uint64_t max = kMaxSafeInteger);
Result<std::string> GetString(const Json& v, std::string_view path);
// An array of at most max_items values.
Result<const Json::array_t*> GetArray(const Json& v, std::string_view path, size_t max_items);
// A string of hex digits encoding at most max_bytes bytes. Upper case is accepted on input
// (docs/protocol.md section 1); output is always lower case.
Result<Bytes> GetHex(const Json& v, std::string_view path, size_t max_bytes);
// A string of exactly 2N hex digits.
template <size_t N>
Result<std::array<uint8_t, N>> GetHexFixed(const Json& v, std::string_view path) {
  ASSIGN_OR_RETURN(std::string s, GetString(v, path));
  if (s.size() != 2 * N) {
    return Status::Invalid(std::string(path) + ": expected " + std::to_string(2 * N) +
                           " hex digits (" + std::to_string(N) + " bytes), got " +
                           std::to_string(s.size()));
  }
  ASSIGN_OR_RETURN(Bytes b, GetHex(v, path, N));
  std::array<uint8_t, N> out;
  for (size_t i = 0; i < N; ++i) out[i] = b[i];
  return out;
}

// Serialises without throwing: invalid UTF-8 (which the parsers never let in) is replaced.
std::string Dump(const OrderedJson& v, int indent = -1);

}  // namespace consent::json
