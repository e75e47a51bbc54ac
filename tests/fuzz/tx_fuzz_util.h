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

// Whether every integer of `tx` is in the JSON range of PROTOCOL.md section 1 (< 2^53).
inline bool FitsJson(const SignedTx& tx) {
  return std::visit(
      [](const auto& t) {
        bool ok = t.issued_at_ms <= kMaxJsonInteger && t.nonce <= kMaxJsonInteger;
        if constexpr (std::is_same_v<std::decay_t<decltype(t)>, GrantTx>) {
          ok = ok && t.expires_at_ms <= kMaxJsonInteger;
        }
        return ok;
      },
      tx.body);
}

// REQUIRES: tx came from a successful decode. Both JSON forms must give back the same tx, as
// objects and as text; the field form only when the integers fit JSON, and must fail otherwise.
inline void CheckJsonRoundTrip(const SignedTx& tx) {
  nlohmann::ordered_json fields = TxToJson(tx);
  auto from_fields = TxFromJson(fields);
  if (FitsJson(tx)) {
    FUZZ_CHECK(from_fields.ok());
    FUZZ_CHECK(*from_fields == tx);
    auto from_text = TxFromJsonText(fields.dump());
    FUZZ_CHECK(from_text.ok());
    FUZZ_CHECK(*from_text == tx);
  } else {
    FUZZ_CHECK(!from_fields.ok());
  }
  auto from_encoding = TxFromJsonText(TxToJsonEncoding(tx).dump());
  FUZZ_CHECK(from_encoding.ok());
  FUZZ_CHECK(*from_encoding == tx);
}

}  // namespace consent::fuzz
