// Fuzz target for TxFromJsonText: any text either fails cleanly (no exception, no crash) or
// yields a transaction whose JSON forms round trip and whose binary encoding decodes back to the
// same transaction. Stateless; libFuzzer calls it from one thread.
#include <cstdint>
#include <string_view>

#include "ledger/tx_json.h"
#include "tx_fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace consent;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto tx = TxFromJsonText(text);
  if (!tx.ok()) {
    FUZZ_CHECK(!tx.status().message().empty());
    return 0;
  }
  FUZZ_CHECK(CheckSyntax(tx->body).ok());
  auto decoded = DecodeSignedTx(tx->Encode());
  FUZZ_CHECK(decoded.ok());
  FUZZ_CHECK(*decoded == *tx);
  fuzz::CheckJsonRoundTrip(*tx);
  return 0;
}
