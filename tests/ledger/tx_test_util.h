// Shared fixtures for the ledger tests: deterministic keys and one valid transaction of each
// kind. Test-only; plain functions, thread-safe.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "crypto/ed25519.h"
#include "ledger/tx.h"

namespace consent::testing {

inline constexpr std::string_view kChain = "consent-test.1";
inline constexpr uint64_t kT0 = 1'700'000'000'000;  // a plausible block time, ms

// A deterministic key whose seed is 32 copies of `b`.
inline SigningKey KeyFor(uint8_t b) {
  Seed32 seed;
  seed.fill(b);
  return SigningKey::FromSeed(seed);
}

inline GrantTx SampleGrant(const PublicKey& subject, const PublicKey& controller) {
  GrantTx t;
  t.subject = subject;
  t.controller = controller;
  t.purposes = {"analytics", "marketing.email"};
  t.data_categories = {"contact.email", "device_id"};
  t.jurisdiction = "EU-GDPR";
  t.policy_hash.fill(0xab);
  t.issued_at_ms = kT0;
  t.expires_at_ms = kT0 + 365ull * 24 * 3600 * 1000;
  t.nonce = 7;
  return t;
}

inline RevokeTx SampleRevoke(const PublicKey& subject, const PublicKey& controller) {
  RevokeTx t;
  t.subject = subject;
  t.controller = controller;
  t.purposes = {"marketing.email"};
  t.issued_at_ms = kT0 + 1000;
  t.nonce = 8;
  return t;
}

inline RegisterControllerTx SampleRegister(const PublicKey& controller) {
  RegisterControllerTx t;
  t.controller = controller;
  t.name = "Acme Stores Ltd \xc3\xa9";  // UTF-8 e-acute
  t.contact_uri = "mailto:privacy@acme.example";
  t.issued_at_ms = kT0;
  t.nonce = 1;
  return t;
}

// Signs `body` with `key`; the test fails (and an empty tx is returned) if signing fails.
inline SignedTx MustSign(TxBody body, const SigningKey& key) {
  auto r = SignTx(kChain, std::move(body), key);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : SignedTx{};
}

// True iff `s` failed and its message contains `fragment`.
inline ::testing::AssertionResult FailsWith(const Status& s, std::string_view fragment) {
  if (s.ok())
    return ::testing::AssertionFailure()
           << "expected an error containing '" << fragment << "', got OK";
  if (s.message().find(fragment) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "expected '" << fragment << "' in '" << s.message() << "'";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace consent::testing
