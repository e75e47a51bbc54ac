// Fuzz target for DecodeHeader: arbitrary bytes must decode or fail cleanly, and whatever decodes
// must re-encode to exactly the input (the encoding is canonical: one header, one byte string).
// Also exercises the JSON face: HeaderToJson of a decoded header (with height and time_ms below
// 2^53, as JSON requires) parses back to it. And the auditor's check (CheckCertifiedHeader) of a
// decoded header, after block 1 of a real chain or as block 1, never passes without a commit,
// whatever the header says: no header is certified without the validators' signatures.
// Version 2 (PROTOCOL.md section 5): every decoded header is version 2, the same bytes marked
// version 1 never decode. Seeds include a change block (next_validators_hash != validators_hash).
#include <cstdint>
#include <cstdlib>

#include "ledger/block.h"
#include "ledger/block_json.h"
#include "ledger/block_pipeline.h"
#include "ledger/chain_builder.h"
#include "tests/genesis_set.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace consent;
  ByteView input(data, size);
  auto header = DecodeHeader(input);
  if (!header.ok()) return 0;
  static const ChainBuilder::BlockRecord* first = [] {
    static ChainBuilder chain = ChainBuilder::ForTesting("fuzz-chain", 4, 1000);
    static auto block = chain.AddBlock(2000, {});
    if (!block.ok()) std::abort();
    return &*block;
  }();
  static const Genesis genesis = ChainBuilder::ForTesting("fuzz-chain", 4, 1000).genesis();
  ChainTip after_first{first->header, first->header.log_size};
  for (const ChainTip& tip : {ChainTip{}, after_first}) {
    BlockCheck check;
    if (CheckCertifiedHeader(genesis, tip, *header, Commit{}, &check).ok() || check.ok()) {
      std::abort();
    }
    // The first block's own commit certifies only its own header.
    const bool same = *header == first->header;
    if (CheckCertifiedHeader(genesis, ChainTip{}, *header, first->commit, nullptr).ok() != same) {
      std::abort();
    }
  }
  // Only version 2 decodes; the static-set layout (version 1) is refused.
  if (size < 2 || data[1] != 2) std::abort();
  Bytes v1(data, data + size);
  v1[1] = 1;
  if (DecodeHeader(v1).ok()) std::abort();
  Bytes again = header->Encode();
  if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  // JSON carries integers below 2^53 only (PROTOCOL.md section 1).
  if (header->height > json::kMaxSafeInteger || header->time_ms > json::kMaxSafeInteger) return 0;
  auto from_json = HeaderFromJson(json::Json::parse(json::Dump(HeaderToJson(*header))), "header");
  if (!from_json.ok() || *from_json != *header) std::abort();
  return 0;
}
