// Per-controller subject key derivation (PROTOCOL.md section 7). Pure; thread-safe.
#include "ledger/subject_key.h"

#include <sodium.h>

#include "crypto/sha256.h"
#include "ledger/codec.h"

namespace consent {
namespace {
constexpr std::string_view kSubjectKeyTag = "consent-ledger/subject/v1";
}  // namespace

Seed32 DeriveSubjectSeed(const Seed32& master_secret, const PublicKey& controller) {
  Writer w(kSubjectKeyTag.size() + controller.size());
  w.Tag(kSubjectKeyTag).Fixed(controller);
  return HmacSha256(ByteView(master_secret.data(), master_secret.size()), w.bytes());
}

SigningKey DeriveSubjectKey(const Seed32& master_secret, const PublicKey& controller) {
  Seed32 seed = DeriveSubjectSeed(master_secret, controller);
  SigningKey key = SigningKey::FromSeed(seed);
  sodium_memzero(seed.data(), seed.size());
  return key;
}

}  // namespace consent
