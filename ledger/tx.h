// Transactions (PROTOCOL.md section 2): the four kinds, their canonical encoding, the syntax
// rules, signing, signature verification and tx_id. Decoding a signed transaction checks every
// syntax rule, so a decoded SignedTx is always well-formed (signature not yet checked).
//
// Pure and deterministic; thread-safe.
//
// Grammar (after the common prefix u8 kind, u8 version=1):
//   GRANT(1):   key subject, key controller, list<str> purposes, list<str> data_categories,
//               str jurisdiction, hash policy_hash, u64 issued_at_ms, u64 expires_at_ms, u64 nonce
//   REVOKE(2):  key subject, key controller, list<str> purposes, u64 issued_at_ms, u64 nonce
//   REGISTER_CONTROLLER(3): key controller, str name, str contact_uri, u64 issued_at_ms, u64 nonce
//   SET_VALIDATORS(4): key validator, list<key> validators, u64 issued_at_ms, u64 nonce
//   signed tx := body || sig
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/status.h"

namespace consent {

inline constexpr uint8_t kTxVersion = 1;
inline constexpr size_t kMaxTxBytes = 4096;  // whole signed encoding
inline constexpr size_t kMaxPurposes = 32;
inline constexpr size_t kMaxCategories = 32;
inline constexpr size_t kMaxLabelBytes = 64;  // one purpose or data category
inline constexpr size_t kMaxJurisdictionBytes = 16;
inline constexpr size_t kMaxNameBytes = 128;
inline constexpr size_t kMaxContactUriBytes = 256;
inline constexpr size_t kMaxChainIdBytes = 64;
inline constexpr size_t kMaxSetValidators = 64;  // keys named by one SET_VALIDATORS
// Every u64 field of a transaction is at most 2^53 - 1 (PROTOCOL.md section 1), so that JSON
// numbers carry it exactly.
inline constexpr uint64_t kMaxTxInteger = (uint64_t{1} << 53) - 1;

enum class TxKind : uint8_t {
  kGrant = 1,
  kRevoke = 2,
  kRegisterController = 3,
  kSetValidators = 4,
};
// "grant", "revoke", "register_controller", "set_validators"
const char* TxKindName(TxKind kind);

struct GrantTx {
  PublicKey subject{};
  PublicKey controller{};
  std::vector<std::string> purposes;         // sorted, unique, 1..32
  std::vector<std::string> data_categories;  // sorted, unique, 0..32
  std::string jurisdiction;
  Hash32 policy_hash{};
  uint64_t issued_at_ms = 0;
  uint64_t expires_at_ms = 0;  // 0 = never
  uint64_t nonce = 0;
  bool operator==(const GrantTx&) const = default;
};

struct RevokeTx {
  PublicKey subject{};
  PublicKey controller{};
  std::vector<std::string> purposes;  // sorted, unique, 0..32; empty = every purpose
  uint64_t issued_at_ms = 0;
  uint64_t nonce = 0;
  bool operator==(const RevokeTx&) const = default;
};

struct RegisterControllerTx {
  PublicKey controller{};
  std::string name;         // 1..128 bytes UTF-8
  std::string contact_uri;  // 0..256 bytes UTF-8
  uint64_t issued_at_ms = 0;
  uint64_t nonce = 0;
  bool operator==(const RegisterControllerTx&) const = default;
};

// A validator's approval of the set it names (PROTOCOL.md section 10).
struct SetValidatorsTx {
  PublicKey validator{};              // the signer: a member of the set in office
  std::vector<PublicKey> validators;  // 1..64 keys, strictly ascending byte order
  uint64_t issued_at_ms = 0;
  uint64_t nonce = 0;
  bool operator==(const SetValidatorsTx&) const = default;
};

using TxBody = std::variant<GrantTx, RevokeTx, RegisterControllerTx, SetValidatorsTx>;

TxKind KindOf(const TxBody& body);
// The key that must sign: subject for GRANT/REVOKE, controller for REGISTER_CONTROLLER,
// validator for SET_VALIDATORS.
const PublicKey& SignerOf(const TxBody& body);
uint64_t IssuedAtOf(const TxBody& body);

// Checks every syntax rule of section 2 on a body built in memory (label charset, sorted
// unique lists, counts, lengths, expiry after issue, integers below 2^53). The message names the
// rule and field.
Status CheckSyntax(const TxBody& body);

// Canonical body encoding. REQUIRES: CheckSyntax(body).ok() (else the bytes are still produced,
// but decoding them will fail).
Bytes EncodeBody(const TxBody& body);

// msg = tag("consent-ledger/tx/v1") || str chain_id || body
Bytes SigningMessage(std::string_view chain_id, ByteView body);

struct SignedTx {
  TxBody body;
  Signature signature{};
  bool operator==(const SignedTx&) const = default;

  Bytes Encode() const;  // body || sig
  Hash32 Id() const;     // H(0x00 || body || sig)
};

// A transaction and its tx_id (SignedTx::Id()), which only the constructor computes, from the
// transaction itself: the two cannot disagree. It is what travels where a transaction's id is
// needed more than once (admission, the mempool, block building), instead of a vector of
// transactions beside a vector of ids. Copies keep the pair; there is no other way to set the id.
class IdentifiedTx {
 public:
  explicit IdentifiedTx(SignedTx tx) : tx_(std::move(tx)), id_(tx_.Id()) {}
  const SignedTx& tx() const { return tx_; }
  const Hash32& id() const { return id_; }
  // The transaction, moved out; this object is then left with an empty transaction.
  SignedTx Take() && { return std::move(tx_); }

 private:
  SignedTx tx_;
  Hash32 id_;
};

// IdentifiedTx of each, in order.
std::vector<IdentifiedTx> Identify(std::vector<SignedTx> txs);

// Checks syntax, then signs with `key` (which must be the body's signer).
Result<SignedTx> SignTx(std::string_view chain_id, TxBody body, const SigningKey& key);

// Decodes `body || sig`, enforcing kMaxTxBytes, every cap, strict layout, no trailing bytes
// and every syntax rule. Does NOT check the signature.
Result<SignedTx> DecodeSignedTx(ByteView encoding);

// Verifies the signature against SignerOf(body) for this chain.
Status VerifyTxSignature(std::string_view chain_id, const SignedTx& tx);

// tx_id of an encoding (H(0x00 || encoding)); equal to SignedTx::Id() of its decoding.
Hash32 TxIdOf(ByteView encoding);

// The label rule of section 2 for one purpose (or data category): 1..64 bytes of [a-z0-9._-].
// The message names `field` ("purposes[0]: byte 1 (' ') is not in [a-z0-9._-]"). CheckSyntax
// applies exactly this to every item; tools use it to check a label before it reaches a node.
Status CheckPurposeLabel(std::string_view field, std::string_view s);

// Whether `s` is a valid chain id: 1..64 bytes of [a-z0-9._-].
Status CheckChainId(std::string_view s);

}  // namespace consent
