// Transactions: syntax rules, canonical encoding and decoding, signing and tx_id (PROTOCOL.md
// section 2). Decoding goes through the one Reader of ledger/codec.h, then the same field checks
// that CheckSyntax applies to bodies built in memory, so both paths accept exactly the same set.
// Pure functions; thread-safe.
#include "ledger/tx.h"

#include <cstdio>

#include "crypto/hex.h"
#include "crypto/sha256.h"
#include "ledger/codec.h"

namespace consent {
namespace {

constexpr std::string_view kTxSignTag = "consent-ledger/tx/v1";
// Fixed parts of the encoding, used to bound the body size before encoding.
constexpr size_t kSigBytes = 64;

bool IsLabelByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool IsJurisdictionByte(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// "3 ('x')" for printable ASCII, "3 (0x00)" otherwise.
std::string DescribeByte(size_t index, unsigned char c) {
  char buf[48];
  if (c >= 0x20 && c < 0x7f && c != '\'') {
    std::snprintf(buf, sizeof buf, "byte %zu ('%c')", index, c);
  } else {
    std::snprintf(buf, sizeof buf, "byte %zu (0x%02x)", index, c);
  }
  return buf;
}

// Every byte of `s` satisfies `pred`; else names the first that does not.
template <typename Pred>
Status CheckCharset(std::string_view field, std::string_view s, Pred pred,
                    std::string_view charset) {
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (!pred(c)) {
      return Status::Invalid(std::string(field) + ": " + DescribeByte(i, c) + " is not in " +
                             std::string(charset));
    }
  }
  return Status::Ok();
}

// A list of labels: min..max items, each a label, strictly ascending by bytes.
Status CheckLabelList(std::string_view field, const std::vector<std::string>& items,
                      size_t min_count, size_t max_count, std::string_view kind) {
  if (items.size() < min_count || items.size() > max_count) {
    return Status::Invalid(std::string(field) + ": " + std::to_string(items.size()) + " items, " +
                           std::string(kind) + " needs " + std::to_string(min_count) + ".." +
                           std::to_string(max_count));
  }
  for (size_t i = 0; i < items.size(); ++i) {
    // The item's name ("purposes[1]") is built only for an error: this runs for every label of
    // every transaction admitted or validated.
    auto item_field = [&] { return std::string(field) + "[" + std::to_string(i) + "]"; };
    if (i > 0) {
      // Same messages as Reader::SortedStrList, so decoded and in-memory bodies agree.
      // std::string comparison uses char_traits<char>::compare, which compares as unsigned char.
      int cmp = std::string_view(items[i - 1]).compare(items[i]);
      if (cmp == 0) return Status::Invalid(item_field() + ": duplicate of the previous item");
      if (cmp > 0) return Status::Invalid(item_field() + ": not sorted ascending by bytes");
    }
    if (!CheckPurposeLabel(field, items[i]).ok()) return CheckPurposeLabel(item_field(), items[i]);
  }
  return Status::Ok();
}

Status CheckUtf8(std::string_view field, std::string_view s, size_t min_len, size_t max_len) {
  if (s.size() < min_len) {
    return Status::Invalid(std::string(field) + ": empty (needs " + std::to_string(min_len) + ".." +
                           std::to_string(max_len) + " bytes)");
  }
  if (s.size() > max_len) {
    return Status::Invalid(std::string(field) + ": length " + std::to_string(s.size()) +
                           " exceeds " + std::to_string(max_len));
  }
  if (!IsValidUtf8NoNul(s)) {
    return Status::Invalid(std::string(field) + ": not valid UTF-8 or contains a NUL byte");
  }
  return Status::Ok();
}

Status CheckGrant(const GrantTx& t) {
  RETURN_IF_ERROR(CheckLabelList("purposes", t.purposes, 1, kMaxPurposes, "GRANT"));
  RETURN_IF_ERROR(CheckLabelList("data_categories", t.data_categories, 0, kMaxCategories, "GRANT"));
  if (t.jurisdiction.size() > kMaxJurisdictionBytes) {
    return Status::Invalid("jurisdiction: length " + std::to_string(t.jurisdiction.size()) +
                           " exceeds " + std::to_string(kMaxJurisdictionBytes));
  }
  RETURN_IF_ERROR(CheckCharset("jurisdiction", t.jurisdiction, IsJurisdictionByte, "[A-Z0-9-]"));
  if (t.expires_at_ms != 0 && t.expires_at_ms <= t.issued_at_ms) {
    return Status::Invalid("expires_at_ms: " + std::to_string(t.expires_at_ms) +
                           " is not after issued_at_ms " + std::to_string(t.issued_at_ms) +
                           " (use 0 for never)");
  }
  return Status::Ok();
}

Status CheckRevoke(const RevokeTx& t) {
  return CheckLabelList("purposes", t.purposes, 0, kMaxPurposes, "REVOKE");
}

Status CheckRegister(const RegisterControllerTx& t) {
  RETURN_IF_ERROR(CheckUtf8("name", t.name, 1, kMaxNameBytes));
  return CheckUtf8("contact_uri", t.contact_uri, 0, kMaxContactUriBytes);
}

Status CheckSetValidators(const SetValidatorsTx& t) {
  if (t.validators.empty() || t.validators.size() > kMaxSetValidators) {
    return Status::Invalid("validators: SET_VALIDATORS needs 1.." +
                           std::to_string(kMaxSetValidators) + " keys, got " +
                           std::to_string(t.validators.size()));
  }
  for (size_t i = 1; i < t.validators.size(); ++i) {
    if (!(t.validators[i - 1] < t.validators[i])) {
      return Status::Invalid("validators[" + std::to_string(i) +
                             "]: keys must be in strictly ascending byte order, no duplicates");
    }
  }
  return Status::Ok();
}

// Every syntax rule except the size of the whole encoding.
// PROTOCOL.md section 1 says every integer stays below 2^53 (so that JSON numbers carry it
// exactly). We make that a syntax rule of transactions, so that every valid transaction has a
// field-form JSON and appears in proofs and APIs without loss (docs/protocol.md, "Decision").
Status CheckIntegerRange(const char* field, uint64_t v) {
  if (v > kMaxTxInteger) {
    return Status::Invalid(std::string(field) + ": " + std::to_string(v) +
                           " is not below 2^53 (PROTOCOL.md section 1)");
  }
  return Status::Ok();
}

Status CheckFields(const TxBody& body) {
  return std::visit(
      [](const auto& t) -> Status {
        using T = std::decay_t<decltype(t)>;
        RETURN_IF_ERROR(CheckIntegerRange("issued_at_ms", t.issued_at_ms));
        RETURN_IF_ERROR(CheckIntegerRange("nonce", t.nonce));
        if constexpr (std::is_same_v<T, GrantTx>) {
          RETURN_IF_ERROR(CheckIntegerRange("expires_at_ms", t.expires_at_ms));
        }
        if constexpr (std::is_same_v<T, GrantTx>) return CheckGrant(t);
        if constexpr (std::is_same_v<T, RevokeTx>) return CheckRevoke(t);
        if constexpr (std::is_same_v<T, RegisterControllerTx>) return CheckRegister(t);
        if constexpr (std::is_same_v<T, SetValidatorsTx>) return CheckSetValidators(t);
      },
      body);
}

Status CheckEncodedSize(size_t signed_size) {
  if (signed_size > kMaxTxBytes) {
    return Status::Invalid("encoding: " + std::to_string(signed_size) +
                           " bytes exceed the limit of " + std::to_string(kMaxTxBytes));
  }
  return Status::Ok();
}

void EncodeTo(Writer& w, const TxBody& body) {
  w.U8(static_cast<uint8_t>(KindOf(body))).U8(kTxVersion);
  std::visit(
      [&w](const auto& t) {
        using T = std::decay_t<decltype(t)>;
        if constexpr (std::is_same_v<T, GrantTx>) {
          w.Fixed(t.subject).Fixed(t.controller).StrList(t.purposes).StrList(t.data_categories);
          w.Str(t.jurisdiction).Fixed(t.policy_hash);
          w.U64(t.issued_at_ms).U64(t.expires_at_ms).U64(t.nonce);
        } else if constexpr (std::is_same_v<T, RevokeTx>) {
          w.Fixed(t.subject).Fixed(t.controller).StrList(t.purposes);
          w.U64(t.issued_at_ms).U64(t.nonce);
        } else if constexpr (std::is_same_v<T, RegisterControllerTx>) {
          w.Fixed(t.controller).Str(t.name).Str(t.contact_uri);
          w.U64(t.issued_at_ms).U64(t.nonce);
        } else {
          w.Fixed(t.validator).U32(static_cast<uint32_t>(t.validators.size()));
          for (const PublicKey& k : t.validators) w.Fixed(k);
          w.U64(t.issued_at_ms).U64(t.nonce);
        }
      },
      body);
}

Result<TxBody> DecodeBody(Reader& r) {
  uint8_t kind = 0, version = 0;
  RETURN_IF_ERROR(r.U8(&kind, "kind"));
  RETURN_IF_ERROR(r.U8(&version, "version"));
  if (kind < 1 || kind > 4) {
    return Status::Invalid(
        "kind: unknown transaction kind " + std::to_string(kind) +
        " (expected 1 grant, 2 revoke, 3 register_controller or 4 set_validators)");
  }
  if (version != kTxVersion) {
    return Status::Invalid("version: " + std::to_string(version) + " is not supported (expected " +
                           std::to_string(kTxVersion) + ")");
  }
  switch (static_cast<TxKind>(kind)) {
    case TxKind::kGrant: {
      GrantTx t;
      RETURN_IF_ERROR(r.Fixed(&t.subject, "subject"));
      RETURN_IF_ERROR(r.Fixed(&t.controller, "controller"));
      RETURN_IF_ERROR(r.SortedStrList(&t.purposes, kMaxPurposes, kMaxLabelBytes, "purposes"));
      RETURN_IF_ERROR(
          r.SortedStrList(&t.data_categories, kMaxCategories, kMaxLabelBytes, "data_categories"));
      RETURN_IF_ERROR(r.Str(&t.jurisdiction, kMaxJurisdictionBytes, "jurisdiction"));
      RETURN_IF_ERROR(r.Fixed(&t.policy_hash, "policy_hash"));
      RETURN_IF_ERROR(r.U64(&t.issued_at_ms, "issued_at_ms"));
      RETURN_IF_ERROR(r.U64(&t.expires_at_ms, "expires_at_ms"));
      RETURN_IF_ERROR(r.U64(&t.nonce, "nonce"));
      return TxBody(std::move(t));
    }
    case TxKind::kRevoke: {
      RevokeTx t;
      RETURN_IF_ERROR(r.Fixed(&t.subject, "subject"));
      RETURN_IF_ERROR(r.Fixed(&t.controller, "controller"));
      RETURN_IF_ERROR(r.SortedStrList(&t.purposes, kMaxPurposes, kMaxLabelBytes, "purposes"));
      RETURN_IF_ERROR(r.U64(&t.issued_at_ms, "issued_at_ms"));
      RETURN_IF_ERROR(r.U64(&t.nonce, "nonce"));
      return TxBody(std::move(t));
    }
    case TxKind::kRegisterController: {
      RegisterControllerTx t;
      RETURN_IF_ERROR(r.Fixed(&t.controller, "controller"));
      RETURN_IF_ERROR(r.Str(&t.name, kMaxNameBytes, "name"));
      RETURN_IF_ERROR(r.Str(&t.contact_uri, kMaxContactUriBytes, "contact_uri"));
      RETURN_IF_ERROR(r.U64(&t.issued_at_ms, "issued_at_ms"));
      RETURN_IF_ERROR(r.U64(&t.nonce, "nonce"));
      return TxBody(std::move(t));
    }
    case TxKind::kSetValidators: {
      SetValidatorsTx t;
      RETURN_IF_ERROR(r.Fixed(&t.validator, "validator"));
      uint32_t n = 0;
      RETURN_IF_ERROR(r.Count(&n, kMaxSetValidators, 32, "validators"));
      t.validators.resize(n);
      for (uint32_t i = 0; i < n; ++i) {
        RETURN_IF_ERROR(r.Fixed(&t.validators[i], "validators[" + std::to_string(i) + "]"));
      }
      RETURN_IF_ERROR(r.U64(&t.issued_at_ms, "issued_at_ms"));
      RETURN_IF_ERROR(r.U64(&t.nonce, "nonce"));
      return TxBody(std::move(t));
    }
  }
  return Status::Internal("unreachable");
}

}  // namespace

const char* TxKindName(TxKind kind) {
  switch (kind) {
    case TxKind::kGrant:
      return "grant";
    case TxKind::kRevoke:
      return "revoke";
    case TxKind::kRegisterController:
      return "register_controller";
    case TxKind::kSetValidators:
      return "set_validators";
  }
  return "unknown";
}

TxKind KindOf(const TxBody& body) {
  switch (body.index()) {
    case 0:
      return TxKind::kGrant;
    case 1:
      return TxKind::kRevoke;
    case 2:
      return TxKind::kRegisterController;
    default:
      return TxKind::kSetValidators;
  }
}

const PublicKey& SignerOf(const TxBody& body) {
  if (const auto* g = std::get_if<GrantTx>(&body)) return g->subject;
  if (const auto* r = std::get_if<RevokeTx>(&body)) return r->subject;
  if (const auto* s = std::get_if<SetValidatorsTx>(&body)) return s->validator;
  return std::get<RegisterControllerTx>(body).controller;
}

uint64_t IssuedAtOf(const TxBody& body) {
  return std::visit([](const auto& t) { return t.issued_at_ms; }, body);
}

Status CheckSyntax(const TxBody& body) {
  RETURN_IF_ERROR(CheckFields(body));
  // Fields are within their caps here, so the encoding is small enough to build.
  return CheckEncodedSize(EncodeBody(body).size() + kSigBytes);
}

Bytes EncodeBody(const TxBody& body) {
  Writer w(256);
  EncodeTo(w, body);
  return std::move(w).Take();
}

Bytes SigningMessage(std::string_view chain_id, ByteView body) {
  Writer w(kTxSignTag.size() + 4 + chain_id.size() + body.size());
  w.Tag(kTxSignTag).Str(chain_id).Raw(body);
  return std::move(w).Take();
}

Bytes SignedTx::Encode() const {
  Writer w(256);
  EncodeTo(w, body);
  w.Fixed(signature);
  return std::move(w).Take();
}

Hash32 SignedTx::Id() const { return TxIdOf(Encode()); }

std::vector<IdentifiedTx> Identify(std::vector<SignedTx> txs) {
  std::vector<IdentifiedTx> out;
  out.reserve(txs.size());
  for (SignedTx& tx : txs) out.emplace_back(std::move(tx));
  return out;
}

Result<SignedTx> SignTx(std::string_view chain_id, TxBody body, const SigningKey& key) {
  RETURN_IF_ERROR(CheckChainId(chain_id));
  RETURN_IF_ERROR(CheckSyntax(body));
  if (key.public_key() != SignerOf(body)) {
    return Status::Invalid(std::string("signing key ") + ToHex(key.public_key()) +
                           " is not the signer of this " + TxKindName(KindOf(body)) + " (" +
                           ToHex(SignerOf(body)) + ")");
  }
  SignedTx tx;
  tx.signature = key.Sign(SigningMessage(chain_id, EncodeBody(body)));
  tx.body = std::move(body);
  return tx;
}

Result<SignedTx> DecodeSignedTx(ByteView encoding) {
  RETURN_IF_ERROR(CheckEncodedSize(encoding.size()));
  Reader r(encoding);
  ASSIGN_OR_RETURN(TxBody body, DecodeBody(r));
  SignedTx tx;
  RETURN_IF_ERROR(r.Fixed(&tx.signature, "signature"));
  RETURN_IF_ERROR(r.ExpectEnd("encoding"));
  RETURN_IF_ERROR(CheckFields(body));
  tx.body = std::move(body);
  return tx;
}

Status VerifyTxSignature(std::string_view chain_id, const SignedTx& tx) {
  RETURN_IF_ERROR(CheckChainId(chain_id));
  Bytes msg = SigningMessage(chain_id, EncodeBody(tx.body));
  if (!VerifySignature(SignerOf(tx.body), msg, tx.signature)) {
    return Status::BadSignature(
        std::string("signature: does not verify for the ") + TxKindName(KindOf(tx.body)) +
        " signer " + ToHex(SignerOf(tx.body)) + " on chain '" + std::string(chain_id) + "'");
  }
  return Status::Ok();
}

Hash32 TxIdOf(ByteView encoding) {
  const uint8_t leaf_prefix = 0x00;
  return Sha256({ByteView(&leaf_prefix, 1), encoding});
}

Status CheckPurposeLabel(std::string_view field, std::string_view s) {
  // Checked for every label of every transaction: the field name becomes a string only for an
  // error.
  if (s.empty()) return Status::Invalid(std::string(field) + ": empty (a label is 1..64 bytes)");
  if (s.size() > kMaxLabelBytes) {
    return Status::Invalid(std::string(field) + ": length " + std::to_string(s.size()) +
                           " exceeds " + std::to_string(kMaxLabelBytes));
  }
  return CheckCharset(field, s, IsLabelByte, "[a-z0-9._-]");
}

Status CheckChainId(std::string_view s) {
  if (s.empty()) return Status::Invalid("chain_id: empty (needs 1..64 bytes)");
  if (s.size() > kMaxChainIdBytes) {
    return Status::Invalid("chain_id: length " + std::to_string(s.size()) + " exceeds " +
                           std::to_string(kMaxChainIdBytes));
  }
  return CheckCharset("chain_id", s, IsLabelByte, "[a-z0-9._-]");
}

}  // namespace consent
