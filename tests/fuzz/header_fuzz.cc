// Fuzz target for DecodeHeader: arbitrary bytes must decode or fail cleanly, and whatever decodes
// must re-encode to exactly the input (the encoding is canonical: one header, one byte string).
// Also exercises the JSON face: HeaderToJson of a decoded header (with height and time_ms below
// 2^53, as JSON requires) parses back to it.
#include <cstdint>
#include <cstdlib>

#include "ledger/block.h"
#include "ledger/block_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace consent;
  ByteView input(data, size);
  auto header = DecodeHeader(input);
  if (!header.ok()) return 0;
  Bytes again = header->Encode();
  if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  // JSON carries integers below 2^53 only (PROTOCOL.md section 1).
  if (header->height > json::kMaxSafeInteger || header->time_ms > json::kMaxSafeInteger) return 0;
  auto from_json = HeaderFromJson(json::Json::parse(json::Dump(HeaderToJson(*header))), "header");
  if (!from_json.ok() || *from_json != *header) std::abort();
  return 0;
}
