// Strict JSON parsing and typed accessors. The parser is nlohmann's SAX parser feeding our own
// DOM builder, which is where duplicate keys and depth are checked. Pure; thread-safe.
#include "ledger/json_strict.h"

#include <utility>
#include <vector>

namespace consent::json {
namespace {

// Builds a Json value from SAX events, refusing duplicate keys and deep nesting. Every
// callback returns false to stop the parse once an error is recorded.
class StrictBuilder : public nlohmann::json_sax<Json> {
 public:
  bool null() override { return Put(Json(nullptr)); }
  bool boolean(bool v) override { return Put(Json(v)); }
  bool number_integer(number_integer_t v) override { return Put(Json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return Put(Json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return Put(Json(v)); }
  bool string(string_t& v) override { return Put(Json(std::move(v))); }
  bool binary(binary_t&) override { return Fail("binary values are not JSON"); }

  bool start_object(std::size_t) override { return Open(Json::object()); }
  bool key(string_t& k) override {
    if (stack_.back()->contains(k)) return Fail("duplicate key \"" + k + "\" in an object");
    key_ = std::move(k);
    return true;
  }
  bool end_object() override {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override { return Open(Json::array()); }
  bool end_array() override {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    std::string m = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
    if (!m.empty() && m[0] == '[') {
      size_t end = m.find("] ");
      if (end != std::string::npos) m = m.substr(end + 2);
    }
    return Fail(m);
  }

  Json TakeRoot() && { return std::move(root_); }
  const std::string& error() const { return error_; }

 private:
  bool Fail(std::string m) {
    if (error_.empty()) error_ = std::move(m);
    return false;
  }
  // Places a value where the parser is: the root, the next array element or the member named by
  // the last key. Returns a pointer to the stored value (stable while it is on the stack: only
  // the innermost container grows).
  Json* Place(Json v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    Json& slot = top[key_];
    slot = std::move(v);
    return &slot;
  }
  bool Put(Json v) {
    Place(std::move(v));
    return true;
  }
  bool Open(Json container) {
    if (stack_.size() >= kMaxDepth) {
      return Fail("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    stack_.push_back(Place(std::move(container)));
    return true;
  }

  Json root_;
  std::vector<Json*> stack_;
  std::string key_;
  std::string error_;
};

const char* TypeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::number_float:
      return "a non-integer number";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    default:
      return "an unsupported value";
  }
}

Status WrongType(std::string_view path, const char* expected, const Json& v) {
  return Status::Invalid(std::string(path) + ": expected " + expected + ", got " + TypeName(v));
}

}  // namespace

Result<Json> ParseStrict(std::string_view text, size_t max_bytes, std::string_view what) {
  if (text.size() > max_bytes) {
    return Status::Invalid(std::string(what) + ": input is " + std::to_string(text.size()) +
                           " bytes, over the limit of " + std::to_string(max_bytes));
  }
  StrictBuilder builder;
  bool ok = false;
  try {
    ok = Json::sax_parse(text.begin(), text.end(), &builder);
  } catch (const nlohmann::json::exception& e) {
    return Status::Invalid(std::string(what) + ": " + e.what());
  }
  if (!ok) {
    std::string m = builder.error().empty() ? "invalid JSON" : builder.error();
    return Status::Invalid(std::string(what) + ": " + m);
  }
  return std::move(builder).TakeRoot();
}

std::string Member(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return std::string(path) + "." + std::string(key);
}

std::string Element(std::string_view path, size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

Status ExpectObject(const Json& v, std::string_view path,
                    std::initializer_list<std::string_view> keys) {
  std::string where = path.empty() ? std::string("top level") : std::string(path);
  if (!v.is_object()) return WrongType(where, "an object", v);
  for (std::string_view k : keys) {
    if (!v.contains(std::string(k))) {
      return Status::Invalid(Member(path, k) + ": missing field");
    }
  }
  for (const auto& [k, unused] : v.items()) {
    bool known = false;
    for (std::string_view want : keys) known = known || (k == want);
    if (!known) return Status::Invalid(Member(path, k) + ": unknown field");
  }
  return Status::Ok();
}

const Json& At(const Json& object, std::string_view key) { return *object.find(std::string(key)); }

Result<uint64_t> GetUint(const Json& v, std::string_view path, uint64_t max) {
  // The parser stores every non-negative integer as unsigned; values built in code may hold a
  // non-negative signed integer, which is the same number.
  uint64_t n = 0;
  if (v.is_number_unsigned()) {
    n = v.get<uint64_t>();
  } else if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    n = static_cast<uint64_t>(v.get<int64_t>());
  } else if (v.is_number_integer()) {
    return Status::Invalid(std::string(path) + ": expected a non-negative integer, got " +
                           v.dump());
  } else {
    return WrongType(path, "a non-negative integer", v);
  }
  if (n > max) {
    return Status::Invalid(std::string(path) + ": " + std::to_string(n) + " exceeds the maximum " +
                           std::to_string(max));
  }
  return n;
}

Result<std::string> GetString(const Json& v, std::string_view path) {
  if (!v.is_string()) return WrongType(path, "a string", v);
  return v.get<std::string>();
}

Result<const Json::array_t*> GetArray(const Json& v, std::string_view path, size_t max_items) {
  if (!v.is_array()) return WrongType(path, "an array", v);
  const auto* a = v.get_ptr<const Json::array_t*>();
  if (a->size() > max_items) {
    return Status::Invalid(std::string(path) + ": " + std::to_string(a->size()) +
                           " items exceed the limit of " + std::to_string(max_items));
  }
  return a;
}

Result<Bytes> GetHex(const Json& v, std::string_view path, size_t max_bytes) {
  ASSIGN_OR_RETURN(std::string s, GetString(v, path));
  if (s.size() > 2 * max_bytes) {
    return Status::Invalid(std::string(path) + ": " + std::to_string(s.size()) +
                           " hex digits exceed the limit of " + std::to_string(2 * max_bytes));
  }
  auto bytes = FromHex(s);
  if (!bytes.ok()) return bytes.status().Prefixed(std::string(path));
  return std::move(bytes).value();
}

std::string Dump(const OrderedJson& v, int indent) {
  return v.dump(indent, ' ', false, nlohmann::detail::error_handler_t::replace);
}

}  // namespace consent::json
