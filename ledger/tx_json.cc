// JSON forms of a signed transaction (PROTOCOL.md section 8). Parsing never throws: values are
// type-checked before every access and the text parser's exceptions are caught here, at the
// edge. Pure functions; thread-safe.
#include "ledger/tx_json.h"

#include <set>
#include <string>
#include <vector>

#include "crypto/hex.h"

namespace consent {
namespace {

std::string TypeOf(const auto& v) {
  if (v.is_number_float()) return "a floating-point number";
  return v.type_name();
}

// Reads the named members of one JSON object, remembering which were used so that any other
// member can be reported as extra.
template <typename Json>
class FieldReader {
 public:
  explicit FieldReader(const Json& obj) : obj_(obj) {}

  Status String(const char* name, std::string* out) {
    ASSIGN_OR_RETURN(const Json* v, Get(name));
    return AsString(name, *v, out);
  }

  template <size_t N>
  Status Hex(const char* name, std::array<uint8_t, N>* out) {
    std::string s;
    RETURN_IF_ERROR(String(name, &s));
    auto r = FromHexFixed<N>(s);
    if (!r.ok()) return r.status().Prefixed(name);
    *out = *r;
    return Status::Ok();
  }

  Status Uint(const char* name, uint64_t* out) {
    ASSIGN_OR_RETURN(const Json* v, Get(name));
    if (v->is_number_unsigned()) {
      *out = v->template get<uint64_t>();
    } else if (v->is_number_integer()) {  // signed storage: built in code, or negative text
      int64_t i = v->template get<int64_t>();
      if (i < 0)
        return Status::Invalid(std::string(name) + ": " + std::to_string(i) + " is negative");
      *out = static_cast<uint64_t>(i);
    } else if (v->is_number_float() && v->template get<double>() >= 0x1p53) {
      // An integer literal beyond 2^64 parses as a floating-point number: it is out of range.
      return Status::Invalid(std::string(name) + ": out of range: must be below 2^53");
    } else {
      return Status::Invalid(std::string(name) + ": expected an unsigned integer, got " +
                             TypeOf(*v));
    }
    if (*out > kMaxJsonInteger) {
      return Status::Invalid(std::string(name) + ": " + std::to_string(*out) +
                             " is not below 2^53");
    }
    return Status::Ok();
  }

  // An array of at most max_count keys, each 64 hex digits.
  Status Keys(const char* name, size_t max_count, std::vector<PublicKey>* out) {
    ASSIGN_OR_RETURN(const Json* v, Get(name));
    if (!v->is_array()) {
      return Status::Invalid(std::string(name) + ": expected an array of hex keys, got " +
                             TypeOf(*v));
    }
    if (v->size() > max_count) {
      return Status::Invalid(std::string(name) + ": " + std::to_string(v->size()) +
                             " items exceed the limit of " + std::to_string(max_count));
    }
    out->clear();
    for (size_t i = 0; i < v->size(); ++i) {
      const std::string item_name = std::string(name) + "[" + std::to_string(i) + "]";
      std::string item;
      RETURN_IF_ERROR(AsString(item_name, (*v)[i], &item));
      auto key = FromHexFixed<32>(item);
      if (!key.ok()) return key.status().Prefixed(item_name);
      out->push_back(*key);
    }
    return Status::Ok();
  }

  Status Labels(const char* name, size_t max_count, std::vector<std::string>* out) {
    ASSIGN_OR_RETURN(const Json* v, Get(name));
    if (!v->is_array()) {
      return Status::Invalid(std::string(name) + ": expected an array of strings, got " +
                             TypeOf(*v));
    }
    if (v->size() > max_count) {
      return Status::Invalid(std::string(name) + ": " + std::to_string(v->size()) +
                             " items exceed the limit of " + std::to_string(max_count));
    }
    out->clear();
    for (size_t i = 0; i < v->size(); ++i) {
      std::string item;
      RETURN_IF_ERROR(AsString(std::string(name) + "[" + std::to_string(i) + "]", (*v)[i], &item));
      out->push_back(std::move(item));
    }
    return Status::Ok();
  }

  // Fails on the first member that no reader asked for.
  Status NoExtra(std::string_view form) const {
    for (auto it = obj_.begin(); it != obj_.end(); ++it) {
      if (used_.count(it.key()) == 0) {
        return Status::Invalid(it.key() + ": unexpected field in the " + std::string(form));
      }
    }
    return Status::Ok();
  }

 private:
  Result<const Json*> Get(const char* name) {
    auto it = obj_.find(name);
    if (it == obj_.end()) return Status::Invalid(std::string(name) + ": missing field");
    used_.insert(name);
    return &*it;
  }

  static Status AsString(const std::string& name, const Json& v, std::string* out) {
    if (!v.is_string()) {
      return Status::Invalid(name + ": expected a string, got " + TypeOf(v));
    }
    *out = v.template get_ref<const std::string&>();
    return Status::Ok();
  }

  const Json& obj_;
  std::set<std::string> used_;
};

template <typename Json>
Result<TxBody> ParseBody(FieldReader<Json>& f, const std::string& kind) {
  if (kind == "grant") {
    GrantTx t;
    RETURN_IF_ERROR(f.Hex("subject", &t.subject));
    RETURN_IF_ERROR(f.Hex("controller", &t.controller));
    RETURN_IF_ERROR(f.Labels("purposes", kMaxPurposes, &t.purposes));
    RETURN_IF_ERROR(f.Labels("data_categories", kMaxCategories, &t.data_categories));
    RETURN_IF_ERROR(f.String("jurisdiction", &t.jurisdiction));
    RETURN_IF_ERROR(f.Hex("policy_hash", &t.policy_hash));
    RETURN_IF_ERROR(f.Uint("issued_at_ms", &t.issued_at_ms));
    RETURN_IF_ERROR(f.Uint("expires_at_ms", &t.expires_at_ms));
    RETURN_IF_ERROR(f.Uint("nonce", &t.nonce));
    return TxBody(std::move(t));
  }
  if (kind == "revoke") {
    RevokeTx t;
    RETURN_IF_ERROR(f.Hex("subject", &t.subject));
    RETURN_IF_ERROR(f.Hex("controller", &t.controller));
    RETURN_IF_ERROR(f.Labels("purposes", kMaxPurposes, &t.purposes));
    RETURN_IF_ERROR(f.Uint("issued_at_ms", &t.issued_at_ms));
    RETURN_IF_ERROR(f.Uint("nonce", &t.nonce));
    return TxBody(std::move(t));
  }
  if (kind == "register_controller") {
    RegisterControllerTx t;
    RETURN_IF_ERROR(f.Hex("controller", &t.controller));
    RETURN_IF_ERROR(f.String("name", &t.name));
    RETURN_IF_ERROR(f.String("contact_uri", &t.contact_uri));
    RETURN_IF_ERROR(f.Uint("issued_at_ms", &t.issued_at_ms));
    RETURN_IF_ERROR(f.Uint("nonce", &t.nonce));
    return TxBody(std::move(t));
  }
  if (kind == "set_validators") {
    SetValidatorsTx t;
    RETURN_IF_ERROR(f.Hex("validator", &t.validator));
    RETURN_IF_ERROR(f.Keys("validators", kMaxSetValidators, &t.validators));
    RETURN_IF_ERROR(f.Uint("issued_at_ms", &t.issued_at_ms));
    RETURN_IF_ERROR(f.Uint("nonce", &t.nonce));
    return TxBody(std::move(t));
  }
  return Status::Invalid("kind: unknown transaction kind '" + kind +
                         "' (expected grant, revoke, register_controller or set_validators)");
}

template <typename Json>
Result<SignedTx> FromJson(const Json& j) {
  if (!j.is_object()) {
    return Status::Invalid("transaction JSON: expected an object, got " + TypeOf(j));
  }
  FieldReader<Json> f(j);
  Bytes encoding;
  if (j.contains("encoding")) {
    std::string hex;
    RETURN_IF_ERROR(f.String("encoding", &hex));
    RETURN_IF_ERROR(f.NoExtra("encoding form (it has only \"encoding\")"));
    if (hex.size() > 2 * kMaxTxBytes) {
      return Status::Invalid("encoding: " + std::to_string(hex.size()) +
                             " hex digits exceed the limit of " + std::to_string(kMaxTxBytes) +
                             " bytes");
    }
    auto bytes = FromHex(hex);
    if (!bytes.ok()) return bytes.status().Prefixed("encoding");
    encoding = std::move(bytes).value();
  } else {
    std::string kind;
    RETURN_IF_ERROR(f.String("kind", &kind));
    ASSIGN_OR_RETURN(TxBody body, ParseBody(f, kind));
    Signature sig;
    RETURN_IF_ERROR(f.Hex("signature", &sig));
    RETURN_IF_ERROR(f.NoExtra(kind + " form"));
    // Field checks first (clear messages even for huge strings), then the one binary decoder.
    RETURN_IF_ERROR(CheckSyntax(body));
    encoding = SignedTx{std::move(body), sig}.Encode();
  }
  return DecodeSignedTx(encoding);
}

}  // namespace

nlohmann::ordered_json TxToJson(const SignedTx& tx) {
  nlohmann::ordered_json j;
  j["kind"] = TxKindName(KindOf(tx.body));
  std::visit(
      [&j](const auto& t) {
        using T = std::decay_t<decltype(t)>;
        if constexpr (std::is_same_v<T, GrantTx>) {
          j["subject"] = ToHex(t.subject);
          j["controller"] = ToHex(t.controller);
          j["purposes"] = t.purposes;
          j["data_categories"] = t.data_categories;
          j["jurisdiction"] = t.jurisdiction;
          j["policy_hash"] = ToHex(t.policy_hash);
          j["issued_at_ms"] = t.issued_at_ms;
          j["expires_at_ms"] = t.expires_at_ms;
          j["nonce"] = t.nonce;
        } else if constexpr (std::is_same_v<T, RevokeTx>) {
          j["subject"] = ToHex(t.subject);
          j["controller"] = ToHex(t.controller);
          j["purposes"] = t.purposes;
          j["issued_at_ms"] = t.issued_at_ms;
          j["nonce"] = t.nonce;
        } else if constexpr (std::is_same_v<T, SetValidatorsTx>) {
          j["validator"] = ToHex(t.validator);
          nlohmann::ordered_json keys = nlohmann::ordered_json::array();
          for (const PublicKey& k : t.validators) keys.push_back(ToHex(k));
          j["validators"] = std::move(keys);
          j["issued_at_ms"] = t.issued_at_ms;
          j["nonce"] = t.nonce;
        } else {
          j["controller"] = ToHex(t.controller);
          j["name"] = t.name;
          j["contact_uri"] = t.contact_uri;
          j["issued_at_ms"] = t.issued_at_ms;
          j["nonce"] = t.nonce;
        }
      },
      tx.body);
  j["signature"] = ToHex(tx.signature);
  return j;
}

nlohmann::ordered_json TxToJsonEncoding(const SignedTx& tx) {
  nlohmann::ordered_json j;
  j["encoding"] = ToHex(tx.Encode());
  return j;
}

Result<SignedTx> TxFromJson(const nlohmann::json& j) { return FromJson(j); }
Result<SignedTx> TxFromJson(const nlohmann::ordered_json& j) { return FromJson(j); }

Result<SignedTx> TxFromJsonText(std::string_view text) {
  if (text.size() > kMaxTxJsonBytes) {
    return Status::Invalid("transaction JSON: " + std::to_string(text.size()) +
                           " bytes exceed the limit of " + std::to_string(kMaxTxJsonBytes));
  }
  // The callback rejects duplicate keys (the parser would keep the last one silently) and
  // nesting deeper than any transaction needs.
  std::vector<std::set<std::string>> keys;
  std::string problem;
  auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (!problem.empty()) return true;
    if ((event == E::object_start || event == E::array_start) && depth >= kMaxTxJsonDepth) {
      problem = "nesting deeper than " + std::to_string(kMaxTxJsonDepth) + " levels";
    } else if (event == E::object_start) {
      keys.emplace_back();
    } else if (event == E::object_end && !keys.empty()) {
      keys.pop_back();
    } else if (event == E::key && !keys.empty() && parsed.is_string()) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!keys.back().insert(key).second) problem = "duplicate key \"" + key + "\"";
    }
    return true;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end(), callback);
  } catch (const nlohmann::json::exception& e) {
    return Status::Invalid(std::string("transaction JSON: ") + e.what());
  } catch (const std::exception& e) {
    return Status::Invalid(std::string("transaction JSON: ") + e.what());
  }
  if (!problem.empty()) return Status::Invalid("transaction JSON: " + problem);
  return FromJson(j);
}

}  // namespace consent
