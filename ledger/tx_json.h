// Transactions in JSON (PROTOCOL.md section 8), both ways. The field form is
//   {"kind": "grant" | "revoke" | "register_controller", <each field of section 2 by its name, in
//    the order of section 2>, "signature": "hex"}
// with keys, hashes and signatures as lowercase hex and integers as JSON numbers; the encoding
// form is {"encoding": "hex of body || sig"}. Both forms are parsed into a body, encoded and run
// through DecodeSignedTx, so a JSON transaction is accepted exactly when its binary encoding is.
// Errors name the field ("purposes[1]: expected a string, got number", "nonce: missing field").
//
// Decisions where the protocol is silent: hex input may use either case (as crypto/hex.h decodes;
// output is always lowercase); duplicate object keys are rejected by TxFromJsonText; JSON
// integers must be non-negative, not floating point (1.0 is rejected) and below 2^53.
//
// Pure functions; thread-safe. No exception escapes any of them.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "crypto/status.h"
#include "ledger/tx.h"

namespace consent {

inline constexpr size_t kMaxTxJsonBytes = 64 * 1024;  // TxFromJsonText input cap
inline constexpr uint64_t kMaxJsonInteger = (uint64_t{1} << 53) - 1;
inline constexpr int kMaxTxJsonDepth = 8;  // nesting levels; the field form needs 2

// The field form of `tx`, keys in section 2 order. REQUIRES: CheckSyntax(tx.body).ok() (strings
// must be valid UTF-8 for the result to be dumpable). A transaction whose integers are >= 2^53
// (valid in binary, outside section 1's JSON range) yields numbers that TxFromJson rejects; such a
// transaction can only travel in the encoding form.
nlohmann::ordered_json TxToJson(const SignedTx& tx);

// The encoding form {"encoding": "<hex>"} of `tx`.
nlohmann::ordered_json TxToJsonEncoding(const SignedTx& tx);

// Parses either form. Fails (kInvalidArgument) on a field missing, extra or of the wrong type,
// an integer that is negative, fractional or >= 2^53, bad hex, or any rule DecodeSignedTx
// enforces. Does not check the signature.
Result<SignedTx> TxFromJson(const nlohmann::json& j);
Result<SignedTx> TxFromJson(const nlohmann::ordered_json& j);

// Parses JSON text (at most kMaxTxJsonBytes, nesting at most kMaxTxJsonDepth, no duplicate
// keys), then TxFromJson. Malformed text is an error, never an exception.
Result<SignedTx> TxFromJsonText(std::string_view text);

}  // namespace consent
