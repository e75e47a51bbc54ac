// Benchmarks for transaction handling on a typical GRANT (3 purposes, 2 data categories): our
// Ed25519 verify wrapper against raw libsodium on the same signing message (the ratio should be
// about 1), VerifyTxSignature (encode + message + verify), DecodeSignedTx and TxFromJsonText.
// Each benchmark runs for about half a second; the whole file takes a few seconds. Single-threaded.
#include <benchmark/benchmark.h>
#include <sodium.h>

#include "crypto/ed25519.h"
#include "ledger/tx.h"
#include "ledger/tx_json.h"

namespace consent {
namespace {

constexpr std::string_view kChain = "consent-main";

struct Fixture {
  SigningKey subject = SigningKey::FromSeed(Seed32{1});
  SigningKey controller = SigningKey::FromSeed(Seed32{2});
  SignedTx tx;
  Bytes message;  // the signing message of tx
  Bytes encoding;
  std::string json_text;

  Fixture() {
    GrantTx g;
    g.subject = subject.public_key();
    g.controller = controller.public_key();
    g.purposes = {"analytics", "marketing.email", "marketing.sms"};
    g.data_categories = {"contact.email", "contact.phone"};
    g.jurisdiction = "EU-GDPR";
    g.policy_hash.fill(0x5a);
    g.issued_at_ms = 1717171717000;
    g.expires_at_ms = 1748707717000;
    g.nonce = 42;
    tx = SignTx(kChain, g, subject).value();
    message = SigningMessage(kChain, EncodeBody(tx.body));
    encoding = tx.Encode();
    json_text = TxToJson(tx).dump();
  }
};

const Fixture& F() {
  static const Fixture* f = new Fixture();
  return *f;
}

void BM_Ed25519Verify_Ours(benchmark::State& state) {
  const Fixture& f = F();
  for (auto _ : state) {
    bool ok = VerifySignature(f.subject.public_key(), f.message, f.tx.signature);
    benchmark::DoNotOptimize(ok);
  }
  state.SetLabel(std::to_string(f.message.size()) + "-byte message");
}
BENCHMARK(BM_Ed25519Verify_Ours);

void BM_Ed25519Verify_RawLibsodium(benchmark::State& state) {
  const Fixture& f = F();
  InitCrypto();
  for (auto _ : state) {
    int rc = crypto_sign_verify_detached(f.tx.signature.data(), f.message.data(), f.message.size(),
                                         f.subject.public_key().data());
    benchmark::DoNotOptimize(rc);
  }
  state.SetLabel(std::to_string(f.message.size()) + "-byte message");
}
BENCHMARK(BM_Ed25519Verify_RawLibsodium);

void BM_VerifyTxSignature(benchmark::State& state) {
  const Fixture& f = F();
  for (auto _ : state) {
    Status s = VerifyTxSignature(kChain, f.tx);
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_VerifyTxSignature);

void BM_DecodeSignedTx(benchmark::State& state) {
  const Fixture& f = F();
  for (auto _ : state) {
    auto r = DecodeSignedTx(f.encoding);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.encoding.size()));
}
BENCHMARK(BM_DecodeSignedTx);

void BM_TxFromJsonText(benchmark::State& state) {
  const Fixture& f = F();
  for (auto _ : state) {
    auto r = TxFromJsonText(f.json_text);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.json_text.size()));
}
BENCHMARK(BM_TxFromJsonText);

void BM_SignedTxEncodeAndId(benchmark::State& state) {
  const Fixture& f = F();
  for (auto _ : state) {
    Hash32 id = f.tx.Id();
    benchmark::DoNotOptimize(id);
  }
}
BENCHMARK(BM_SignedTxEncodeAndId);

}  // namespace
}  // namespace consent
