// Helpers shared by the transaction fuzz targets: a check that aborts (so libFuzzer and the
// corpus replay report it) and the JSON round trip every decoded transaction must survive.
// Test-only; stateless, thread-safe.
#pragma once

#include <cstdio>
#include <cstdlib>

#include "ledger/tx.h"
#include "ledger/tx_json.h"

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

namespace consent::fuzz {

// REQUIRES: tx came from a successful decode. Both JSON forms must give back the same tx, as
// objects and as text. Every valid transaction has a field form, since the syntax rules keep
// its integers below 2^53 (PROTOCOL.md section 1).
inline void CheckJsonRoundTrip(const SignedTx& tx) {
  nlohmann::ordered_json fields = TxToJson(tx);
  auto from_fields = TxFromJson(fields);
  FUZZ_CHECK(from_fields.ok());
  FUZZ_CHECK(*from_fields == tx);
  auto from_text = TxFromJsonText(fields.dump());
  FUZZ_CHECK(from_text.ok());
  FUZZ_CHECK(*from_text == tx);
  auto from_encoding = TxFromJsonText(TxToJsonEncoding(tx).dump());
  FUZZ_CHECK(from_encoding.ok());
  FUZZ_CHECK(*from_encoding == tx);
}

}  // namespace consent::fuzz
