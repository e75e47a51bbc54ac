// Fuzz target for DecodeSignedTx: any input either fails cleanly or decodes to a transaction that
// re-encodes to exactly the input (the encoding is canonical), passes CheckSyntax, has the tx_id
// of its bytes and survives both JSON forms. Stateless; libFuzzer calls it from one thread.
#include <cstdint>
#include <cstring>

#include "ledger/tx.h"
#include "tx_fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace consent;
  ByteView input(data, size);
  auto tx = DecodeSignedTx(input);
  if (!tx.ok()) {
    FUZZ_CHECK(!tx.status().message().empty());
    return 0;
  }
  Bytes enc = tx->Encode();
  FUZZ_CHECK(enc.size() == size && std::memcmp(enc.data(), data, size) == 0);
  FUZZ_CHECK(size <= kMaxTxBytes);
  FUZZ_CHECK(CheckSyntax(tx->body).ok());
  FUZZ_CHECK(tx->Id() == TxIdOf(input));
  fuzz::CheckJsonRoundTrip(*tx);
  return 0;
}
