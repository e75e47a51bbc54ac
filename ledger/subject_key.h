// Subject keys derived per controller (PROTOCOL.md section 7). A customer keeps one 32-byte
// master secret; the key they sign with towards controller C has the Ed25519 seed
// HMAC-SHA256(master_secret, tag("consent-ledger/subject/v1") || C), so controllers cannot link
// one customer's consents across brands while the customer's tools can re-derive every key.
// Pure, deterministic functions; thread-safe.
#pragma once

#include "crypto/bytes.h"
#include "crypto/ed25519.h"

namespace consent {

// The seed of the subject key for `controller`. The result is secret: callers should wipe it
// when done (DeriveSubjectKey does). Cannot fail.
Seed32 DeriveSubjectSeed(const Seed32& master_secret, const PublicKey& controller);

// SigningKey::FromSeed(DeriveSubjectSeed(master_secret, controller)).
SigningKey DeriveSubjectKey(const Seed32& master_secret, const PublicKey& controller);

}  // namespace consent
