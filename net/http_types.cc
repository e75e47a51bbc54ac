// Implementation of the transport-independent HTTP helpers (net/http_types.h).
#include "net/http_types.h"

#include <algorithm>

#include "crypto/hex.h"
#include "ledger/tx.h"

namespace consent {

json::OrderedJson ErrorJson(std::string_view code, std::string_view message) {
  json::OrderedJson e = json::OrderedJson::object();
  e["code"] = std::string(code);
  e["message"] = std::string(message);
  json::OrderedJson j = json::OrderedJson::object();
  j["error"] = std::move(e);
  return j;
}

HttpResponse JsonResponse(unsigned status, const json::OrderedJson& body) {
  HttpResponse r;
  r.status = status;
  r.body = json::Dump(body);
  return r;
}

HttpResponse ErrorResponse(unsigned status, std::string_view code, std::string_view message) {
  return JsonResponse(status, ErrorJson(code, message));
}

std::pair<std::string_view, std::string_view> SplitTarget(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes; in a query (form encoding) '+' is a space too, in a path it is itself.
Result<std::string> Decode(std::string_view where, std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) {
        return Status::Invalid(std::string(where) + ": truncated percent escape");
      }
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return Status::Invalid(std::string(where) + ": bad percent escape");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

Result<std::string> PercentDecode(std::string_view s) { return Decode("query", s, true); }

}  // namespace

Result<std::string> DecodePathSegment(std::string_view segment) {
  return Decode("path", segment, false);
}

Result<QueryParams> ParseQuery(std::string_view query,
                               const std::vector<std::string_view>& allowed) {
  QueryParams out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      return Status::Invalid("query parameter '" + std::string(part.substr(0, 64)) +
                             "' has no value (expected name=value)");
    }
    ASSIGN_OR_RETURN(std::string name, PercentDecode(part.substr(0, eq)));
    ASSIGN_OR_RETURN(std::string value, PercentDecode(part.substr(eq + 1)));
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string list;
      for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return Status::Invalid(
          "unknown query parameter '" + name.substr(0, 64) + "'" +
          (list.empty() ? " (this route takes none)" : " (allowed: " + list + ")"));
    }
    if (value.empty()) {
      return Status::Invalid(name + ": empty value (omit the parameter for its default)");
    }
    if (!out.emplace(name, std::move(value)).second) {
      return Status::Invalid("query parameter '" + name + "' given twice");
    }
  }
  return out;
}

Result<uint64_t> ParseDecimal(std::string_view name, std::string_view s, uint64_t max) {
  auto bad = [&](const std::string& why) {
    return Status::Invalid(std::string(name) + ": " + why);
  };
  if (s.empty()) return bad("expected a decimal integer, got an empty value");
  if (s.size() > 20) return bad("integer too long");
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return bad("expected a decimal integer (digits only)");
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return bad("integer out of range");
    v = v * 10 + d;
  }
  // One spelling per number, as in JSON: "007" might be meant as octal elsewhere.
  if (s.size() > 1 && s.front() == '0') {
    return bad("leading zeros are not allowed (write " + std::to_string(v) + ")");
  }
  if (v > max) return bad("must be at most " + std::to_string(max));
  return v;
}

Result<uint64_t> OptionalDecimal(const QueryParams& q, std::string_view name, uint64_t def,
                                 uint64_t max) {
  auto it = q.find(name);
  if (it == q.end()) return def;
  return ParseDecimal(name, it->second, max);
}

Result<std::array<uint8_t, 32>> ParseHex32(std::string_view name, std::string_view s) {
  auto r = FromHexFixed<32>(s);
  if (!r.ok()) return r.status().Prefixed(std::string(name));
  return r;
}

bool HasToken(std::string_view list, std::string_view token) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.size() == token.size() &&
        std::equal(item.begin(), item.end(), token.begin(),
                   [&](char a, char b) { return lower(a) == lower(b); })) {
      return true;
    }
  }
  return false;
}

std::optional<HttpResponse> CheckWebSocketHandshake(const HttpRequest& request) {
  const WebSocketHeaders& h = request.websocket;
  auto upgrade_required = [](const std::string& message) {
    HttpResponse r = ErrorResponse(426, "upgrade_required", message);
    r.headers.emplace_back("Upgrade", "websocket");
    return r;
  };
  if (request.method != "GET" || !h.upgrade || !HasToken(*h.upgrade, "websocket")) {
    return upgrade_required("/v1/stream is a WebSocket: send Upgrade: websocket");
  }
  if (!h.connection || !HasToken(*h.connection, "upgrade")) {
    return upgrade_required(
        "/v1/stream is a WebSocket: send Connection: Upgrade (with Upgrade: websocket)");
  }
  if (request.version != 11) {
    return ErrorResponse(400, "invalid_request", "a WebSocket handshake must be HTTP/1.1");
  }
  if (!h.host) return ErrorResponse(400, "invalid_request", "a WebSocket handshake needs a Host");
  if (!h.version) {
    return ErrorResponse(400, "invalid_request", "Sec-WebSocket-Version: missing (send 13)");
  }
  if (*h.version != "13") {
    HttpResponse r = ErrorResponse(
        426, "upgrade_required",
        "Sec-WebSocket-Version: " + h.version->substr(0, 16) + " is not supported; send 13");
    r.headers.emplace_back("Sec-WebSocket-Version", "13");
    return r;
  }
  if (!h.key) return ErrorResponse(400, "invalid_request", "Sec-WebSocket-Key: missing");
  // 16 bytes in base64: 22 characters of the alphabet, then "==".
  const std::string& key = *h.key;
  bool key_ok = key.size() == 24 && key.compare(22, 2, "==") == 0;
  for (size_t i = 0; key_ok && i < 22; ++i) {
    const char c = key[i];
    key_ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '+' || c == '/';
  }
  if (!key_ok) {
    return ErrorResponse(400, "invalid_request",
                         "Sec-WebSocket-Key: must be 16 bytes in base64 (24 characters)");
  }
  return std::nullopt;
}

}  // namespace consent
