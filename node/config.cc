// Config parsing: one table of field descriptors (table, key, comment, range, accessor) drives
// parsing, the unknown-key check and DefaultConfigToml(), so the three cannot drift apart.
#include "node/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <thread>
#include <vector>

#include <spdlog/fmt/fmt.h>

#define TOML_EXCEPTIONS 1
#include <toml++/toml.h>

#include "ledger/block_pipeline.h"

namespace consent {
namespace {

const char* TypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    default:
      return "value";
  }
}

bool IsIpLiteral(const std::string& s) {
  in_addr a4;
  in6_addr a6;
  return inet_pton(AF_INET, s.c_str(), &a4) == 1 || inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

std::string TomlString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\u{:04X}", static_cast<unsigned>(c));
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// One setting. `parse` returns an error message without the "source:line: table.key: " prefix.
struct Field {
  std::string table;
  std::string key;
  std::string comment;
  std::function<Status(const toml::node&, Config&)> parse;
  std::function<std::string(const Config&)> render;
};

template <typename Get>
Field IntField(std::string table, std::string key, std::string comment, Get get, int64_t lo,
               int64_t hi) {
  Field f{std::move(table), std::move(key), std::move(comment), nullptr, nullptr};
  f.parse = [get, lo, hi](const toml::node& n, Config& c) -> Status {
    std::string want = fmt::format("must be an integer in [{}, {}]", lo, hi);
    const auto* v = n.as_integer();
    if (v == nullptr) return Status::Invalid(fmt::format("{}, got a {}", want, TypeName(n)));
    int64_t x = v->get();
    if (x < lo || x > hi) return Status::Invalid(fmt::format("{}, got {}", want, x));
    auto& dst = get(c);
    dst = static_cast<std::remove_reference_t<decltype(dst)>>(x);
    return Status::Ok();
  };
  f.render = [get](const Config& c) { return std::to_string(get(c)); };
  return f;
}

template <typename Get>
Field FloatField(std::string table, std::string key, std::string comment, Get get, double lo,
                 double hi) {
  Field f{std::move(table), std::move(key), std::move(comment), nullptr, nullptr};
  f.parse = [get, lo, hi](const toml::node& n, Config& c) -> Status {
    std::string want = fmt::format("must be a number in [{}, {}]", lo, hi);
    double x;
    if (const auto* i = n.as_integer()) {
      x = static_cast<double>(i->get());
    } else if (const auto* d = n.as_floating_point()) {
      x = d->get();
    } else {
      return Status::Invalid(fmt::format("{}, got a {}", want, TypeName(n)));
    }
    if (!std::isfinite(x) || x < lo || x > hi) {
      return Status::Invalid(fmt::format("{}, got {}", want, x));
    }
    get(c) = x;
    return Status::Ok();
  };
  f.render = [get](const Config& c) {
    std::string s = fmt::format("{}", get(c));  // shortest round-trip form
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
  };
  return f;
}

// A string checked by `check` (returns an error message, or empty when valid).
template <typename Get>
Field StringField(std::string table, std::string key, std::string comment, Get get,
                  std::function<std::string(const std::string&)> check) {
  Field f{std::move(table), std::move(key), std::move(comment), nullptr, nullptr};
  f.parse = [get, check](const toml::node& n, Config& c) -> Status {
    const auto* v = n.as_string();
    if (v == nullptr)
      return Status::Invalid(fmt::format("must be a string, got a {}", TypeName(n)));
    std::string err = check(v->get());
    if (!err.empty()) return Status::Invalid(err);
    get(c) = v->get();
    return Status::Ok();
  };
  f.render = [get](const Config& c) { return TomlString(get(c)); };
  return f;
}

// A boolean.
template <typename Get>
Field BoolField(std::string table, std::string key, std::string comment, Get get) {
  Field f{std::move(table), std::move(key), std::move(comment), nullptr, nullptr};
  f.parse = [get](const toml::node& n, Config& c) -> Status {
    const auto* v = n.as_boolean();
    if (v == nullptr) {
      return Status::Invalid(fmt::format("must be true or false, got a {}", TypeName(n)));
    }
    get(c) = v->get();
    return Status::Ok();
  };
  f.render = [get](const Config& c) { return std::string(get(c) ? "true" : "false"); };
  return f;
}

}  // namespace

// "host:port" with the host in its canonical text form (inet_ntop), so that "::1" and
// "0:0::1" compare equal. REQUIRES: host is an IP literal.
std::string CanonicalAddress(const std::string& host, uint16_t port) {
  char buf[INET6_ADDRSTRLEN] = {};
  in_addr a4;
  in6_addr a6;
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    inet_ntop(AF_INET, &a4, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(port);
  }
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
    inet_ntop(AF_INET6, &a6, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

namespace {

// [p2p] persistent_peers: an array of "IP:PORT" strings, at most kMaxPersistentPeers, port not 0,
// no two for the same address (compared in canonical form).
Field PeerListField(std::string table, std::string key, std::string comment) {
  Field f{std::move(table), std::move(key), std::move(comment), nullptr, nullptr};
  f.parse = [](const toml::node& n, Config& c) -> Status {
    const auto* arr = n.as_array();
    if (arr == nullptr) {
      return Status::Invalid(fmt::format(
          "must be an array of \"IP:PORT\" strings such as [\"127.0.0.1:7801\"], got a {}",
          TypeName(n)));
    }
    if (arr->size() > kMaxPersistentPeers) {
      return Status::Invalid(
          fmt::format("at most {} peers, got {}", kMaxPersistentPeers, arr->size()));
    }
    std::vector<std::string> peers, canonical;
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::node& e = *arr->get(i);
      const auto* s = e.as_string();
      if (s == nullptr) {
        return Status::Invalid(
            fmt::format("[{}]: must be an \"IP:PORT\" string, got a {}", i, TypeName(e)));
      }
      std::string host;
      uint16_t port = 0;
      if (Status st = ParseHostPort(s->get(), &host, &port); !st.ok()) {
        return Status::Invalid(fmt::format("[{}]: {}", i, st.message()));
      }
      if (port == 0) {
        return Status::Invalid(
            fmt::format("[{}]: {}: port must be in [1, 65535]", i, TomlString(s->get())));
      }
      std::string canon = CanonicalAddress(host, port);
      auto dup = std::find(canonical.begin(), canonical.end(), canon);
      if (dup != canonical.end()) {
        return Status::Invalid(fmt::format("[{}]: {} is the same address as [{}] ({})", i,
                                           TomlString(s->get()), dup - canonical.begin(),
                                           TomlString(peers[dup - canonical.begin()])));
      }
      peers.push_back(s->get());
      canonical.push_back(std::move(canon));
    }
    c.p2p_persistent_peers = std::move(peers);
    return Status::Ok();
  };
  f.render = [](const Config& c) {
    const auto& peers = c.p2p_persistent_peers;
    if (peers.empty()) return std::string("[]");
    std::string out = "[\n";
    for (const auto& p : peers) out += "  " + TomlString(p) + ",\n";
    return out + "]";
  };
  return f;
}

std::string CheckIp(const std::string& s) {
  if (IsIpLiteral(s)) return "";
  return "must be an IPv4 or IPv6 address such as \"127.0.0.1\" or \"::1\" (no host names), got " +
         TomlString(s);
}

const std::vector<std::string>& LogLevels() {
  static const std::vector<std::string> levels = {"trace", "debug",    "info", "warn",
                                                  "error", "critical", "off"};
  return levels;
}

const std::vector<Field>& Fields() {
  static const std::vector<Field> fields = [] {
    constexpr int64_t kU32 = std::numeric_limits<uint32_t>::max();
    std::vector<Field> v;
    // [node]
    v.push_back(StringField(
        "node", "data_dir", "RocksDB directory; a relative path is relative to the home directory",
        [](auto& c) -> auto& { return c.data_dir; },
        [](const std::string& s) -> std::string {
          if (s.empty()) return "must not be empty";
          if (s.find('\0') != std::string::npos) return "must not contain a NUL byte";
          return "";
        }));
    v.push_back(IntField(
        "node", "block_interval_ms", "minimum time between two blocks, in milliseconds",
        [](auto& c) -> auto& { return c.block_interval_ms; }, 0, 60'000));
    v.push_back(IntField(
        "node", "max_txs_per_block", "at most this many transactions in one block",
        [](auto& c) -> auto& { return c.max_txs_per_block; }, 1,
        static_cast<int64_t>(kMaxBlockTxs)));
    v.push_back(IntField(
        "node", "mempool_capacity",
        "pending transactions held at most; beyond it submissions are refused (HTTP 503)",
        [](auto& c) -> auto& { return c.mempool_capacity; }, 1, 10'000'000));
    v.push_back(IntField(
        "node", "verify_threads", "signature verification threads; 0 = one per hardware core",
        [](auto& c) -> auto& { return c.verify_threads; }, 0, 256));
    // [storage]
    v.push_back(IntField(
        "storage", "block_cache_mib", "RocksDB block cache, in MiB",
        [](auto& c) -> auto& { return c.block_cache_mib; }, 1, 1 << 20));
    v.push_back(IntField(
        "storage", "page_cache_mib",
        "decoded state-tree pages kept in memory, in MiB (0 = none): saves reading and hashing "
        "the upper tree on every block",
        [](auto& c) -> auto& { return c.page_cache_mib; }, 0, 1 << 20));
    // [log]
    v.push_back(StringField(
        "log", "level", "trace, debug, info, warn, error, critical or off",
        [](auto& c) -> auto& { return c.log_level; },
        [](const std::string& s) -> std::string {
          const auto& l = LogLevels();
          if (std::find(l.begin(), l.end(), s) != l.end()) return "";
          return "must be one of trace, debug, info, warn, error, critical, off; got " +
                 TomlString(s);
        }));
    {
      Field f{"log", "format", "plain (human-readable lines) or json (one JSON object per line)",
              nullptr, nullptr};
      f.parse = [](const toml::node& n, Config& c) -> Status {
        const auto* s = n.as_string();
        if (s == nullptr) {
          return Status::Invalid(fmt::format("must be a string, got a {}", TypeName(n)));
        }
        if (s->get() == "plain") {
          c.log_format = LogFormat::kPlain;
        } else if (s->get() == "json") {
          c.log_format = LogFormat::kJson;
        } else {
          return Status::Invalid("must be \"plain\" or \"json\", got " + TomlString(s->get()));
        }
        return Status::Ok();
      };
      f.render = [](const Config& c) {
        return std::string(c.log_format == LogFormat::kJson ? "\"json\"" : "\"plain\"");
      };
      v.push_back(std::move(f));
    }
    // [api]
    v.push_back(StringField(
        "api", "listen_address",
        "IP address the HTTP API listens on; 0.0.0.0 exposes it beyond this machine",
        [](auto& c) -> auto& { return c.api.listen_address; }, CheckIp));
    v.push_back(IntField(
        "api", "port", "HTTP API port; 0 = any free port",
        [](auto& c) -> auto& { return c.api.port; }, 0, 65535));
    v.push_back(IntField(
        "api", "threads", "threads serving HTTP and WebSocket connections",
        [](auto& c) -> auto& { return c.api.threads; }, 1, 256));
    v.push_back(IntField(
        "api", "max_connections", "open connections at most; more are refused",
        [](auto& c) -> auto& { return c.api.max_connections; }, 1, 1'000'000));
    v.push_back(IntField(
        "api", "max_header_bytes", "largest request header, in bytes",
        [](auto& c) -> auto& { return c.api.max_header_bytes; }, 1024, 1 << 20));
    v.push_back(IntField(
        "api", "max_body_bytes", "largest request body (POST /v1/txs), in bytes",
        [](auto& c) -> auto& { return c.api.max_body_bytes; }, 1024, 64 << 20));
    v.push_back(IntField(
        "api", "request_timeout_ms", "ms to read one request or write one response",
        [](auto& c) -> auto& { return c.api.request_timeout_ms; }, 100, kU32));
    v.push_back(IntField(
        "api", "idle_timeout_ms", "ms after which an idle keep-alive connection is closed",
        [](auto& c) -> auto& { return c.api.idle_timeout_ms; }, 100, kU32));
    v.push_back(IntField(
        "api", "wait_commit_timeout_ms", "ms that POST /v1/txs?wait=commit waits at most",
        [](auto& c) -> auto& { return c.api.wait_commit_timeout_ms; }, 100, kU32));
    v.push_back(IntField(
        "api", "max_txs_per_request", "transactions in one POST /v1/txs at most",
        [](auto& c) -> auto& { return c.api.max_txs_per_request; }, 1, 100'000));
    v.push_back(FloatField(
        "api", "write_rate_per_s", "POST requests per second per client address (token bucket)",
        [](auto& c) -> auto& { return c.api.write_rate_per_s; }, 0.001, 1e9));
    v.push_back(FloatField(
        "api", "write_burst", "token bucket size: POST requests a client may send at once",
        [](auto& c) -> auto& { return c.api.write_burst; }, 1, 1e9));
    v.push_back(IntField(
        "api", "ws_max_message_bytes", "largest WebSocket message accepted, in bytes",
        [](auto& c) -> auto& { return c.api.ws_max_message_bytes; }, 1024, 64 << 20));
    v.push_back(IntField(
        "api", "ws_max_queue_bytes",
        "bytes queued per stream consumer; beyond it the stream is closed (resumable)",
        [](auto& c) -> auto& { return c.api.ws_max_queue_bytes; }, 64 << 10, int64_t{1} << 32));
    v.push_back(IntField(
        "api", "ws_max_streams", "concurrent WebSocket streams at most",
        [](auto& c) -> auto& { return c.api.ws_max_streams; }, 0, 100'000));
    v.push_back(IntField(
        "api", "ready_max_head_age_ms",
        "/readyz answers 503 when the head is older than this many ms (from block 1 on; 0 = no "
        "bound); keep it several times consensus.heartbeat_ms",
        [](auto& c) -> auto& { return c.api.ready_max_head_age_ms; }, 0, kU32));
    v.push_back(IntField(
        "api", "max_connections_per_ip",
        "open connections per client address (an IPv6 client: per /64) at most",
        [](auto& c) -> auto& { return c.api.max_connections_per_ip; }, 1, 1'000'000));
    v.push_back(IntField(
        "api", "ws_max_streams_per_ip",
        "open WebSocket streams per client address (an IPv6 client: per /64) at most",
        [](auto& c) -> auto& { return c.api.ws_max_streams_per_ip; }, 0, 100'000));
    v.push_back(IntField(
        "api", "ws_idle_timeout_ms",
        "a stream whose client sends nothing (not even a pong) for this long is closed",
        [](auto& c) -> auto& { return c.api.ws_idle_timeout_ms; }, 100, kU32));
    v.push_back(FloatField(
        "api", "write_tx_rate_per_s",
        "transactions per second per client address (token bucket, charged per tx)",
        [](auto& c) -> auto& { return c.api.write_tx_rate_per_s; }, 0.001, 1e9));
    v.push_back(FloatField(
        "api", "write_tx_burst", "transaction bucket size; at least max_txs_per_request",
        [](auto& c) -> auto& { return c.api.write_tx_burst; }, 1, 1e9));
    v.push_back(FloatField(
        "api", "write_bytes_per_s", "POST body bytes per second per client address (token bucket)",
        [](auto& c) -> auto& { return c.api.write_bytes_per_s; }, 1, 1e12));
    v.push_back(FloatField(
        "api", "write_bytes_burst", "body byte bucket size; at least max_body_bytes",
        [](auto& c) -> auto& { return c.api.write_bytes_burst; }, 1, 1e12));
    // [p2p]
    v.push_back(StringField(
        "p2p", "listen_address", "IP address this node accepts peer links on",
        [](auto& c) -> auto& { return c.p2p_listen_address; }, CheckIp));
    v.push_back(IntField(
        "p2p", "port", "peer link port; 0 = any free port",
        [](auto& c) -> auto& { return c.p2p_port; }, 0, 65535));
    v.push_back(BoolField(
        "p2p", "listen", "accept inbound peer links; false = only dial persistent_peers",
        [](auto& c) -> auto& { return c.p2p_listen; }));
    v.push_back(PeerListField(
        "p2p", "persistent_peers",
        "peers to dial and keep dialling, \"IP:PORT\" (IPv6 in brackets), at most 64"));
    v.push_back(IntField(
        "p2p", "max_peers", "peer links (inbound + outbound) at most",
        [](auto& c) -> auto& { return c.p2p_max_peers; }, 1, 1000));
    v.push_back(IntField(
        "p2p", "ban_seconds", "seconds a misbehaving peer is refused; 0 = only disconnect",
        [](auto& c) -> auto& { return c.p2p_ban_seconds; }, 0, 86400));
    v.push_back(IntField(
        "p2p", "max_msgs_per_sec", "messages per second per peer; more is misbehaviour",
        [](auto& c) -> auto& { return c.p2p_max_msgs_per_sec; }, 1, 1'000'000));
    v.push_back(IntField(
        "p2p", "relay_after_ms",
        "a transaction received from a peer is relayed to the other peers if still pending after "
        "this many milliseconds; 0 = relay at once",
        [](auto& c) -> auto& { return c.p2p_relay_after_ms; }, 0, 60'000));
    v.push_back(IntField(
        "p2p", "max_inbound_per_ip",
        "links from one IP (IPv6: one /64) that are neither validators nor persistent peers",
        [](auto& c) -> auto& { return c.p2p_max_inbound_per_ip; }, 1, 1000));
    v.push_back(IntField(
        "p2p", "max_pending_per_ip", "inbound links still in their handshake, per IP",
        [](auto& c) -> auto& { return c.p2p_max_pending_per_ip; }, 1, 1000));
    v.push_back(FloatField(
        "p2p", "handshakes_per_ip_per_sec",
        "new inbound links accepted per second per IP (burst: 2 s worth)",
        [](auto& c) -> auto& { return c.p2p_handshakes_per_ip_per_sec; }, 0.01, 10'000));
    v.push_back(IntField(
        "p2p", "guest_msgs_per_sec",
        "messages per second from a peer that is neither a validator nor a persistent peer",
        [](auto& c) -> auto& { return c.p2p_guest_msgs_per_sec; }, 1, 1'000'000));
    v.push_back(IntField(
        "p2p", "guest_bytes_per_sec",
        "bytes per second read from such a peer (it is paused, not cut off, when over)",
        [](auto& c) -> auto& { return c.p2p_guest_bytes_per_sec; }, 1024, int64_t{1} << 32));
    // [consensus]
    constexpr int64_t kMaxTimeout = 600'000;
    v.push_back(IntField(
        "consensus", "timeout_propose_ms", "ms to wait for the round's proposal in round 0",
        [](auto& c) -> auto& { return c.consensus.propose_base_ms; }, 1, kMaxTimeout));
    v.push_back(IntField(
        "consensus", "timeout_propose_delta_ms", "ms added to timeout_propose_ms per round",
        [](auto& c) -> auto& { return c.consensus.propose_delta_ms; }, 0, kMaxTimeout));
    v.push_back(IntField(
        "consensus", "timeout_prevote_ms",
        "ms to wait after 2/3 of prevotes for anything, before precommitting nil",
        [](auto& c) -> auto& { return c.consensus.prevote_base_ms; }, 1, kMaxTimeout));
    v.push_back(IntField(
        "consensus", "timeout_prevote_delta_ms", "ms added to timeout_prevote_ms per round",
        [](auto& c) -> auto& { return c.consensus.prevote_delta_ms; }, 0, kMaxTimeout));
    v.push_back(IntField(
        "consensus", "timeout_precommit_ms",
        "ms to wait after 2/3 of precommits for anything, before the next round",
        [](auto& c) -> auto& { return c.consensus.precommit_base_ms; }, 1, kMaxTimeout));
    v.push_back(IntField(
        "consensus", "timeout_precommit_delta_ms", "ms added to timeout_precommit_ms per round",
        [](auto& c) -> auto& { return c.consensus.precommit_delta_ms; }, 0, kMaxTimeout));
    v.push_back(IntField(
        "consensus", "max_timeout_ms",
        "cap on every timeout however many rounds; at least each base timeout",
        [](auto& c) -> auto& { return c.consensus.max_timeout_ms; }, 1, kMaxTimeout));
    v.push_back(IntField(
        "consensus", "heartbeat_ms",
        "an idle validator starts a round (an empty block) this long after the height started, "
        "so a live chain's head is never older than about this; 0 = idle chains make no blocks",
        [](auto& c) -> auto& { return c.heartbeat_ms; }, 0, 3'600'000));
    return v;
  }();
  return fields;
}

std::vector<std::string> Tables() {
  std::vector<std::string> tables;
  for (const Field& f : Fields()) {
    if (std::find(tables.begin(), tables.end(), f.table) == tables.end()) {
      tables.push_back(f.table);
    }
  }
  return tables;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

size_t Config::VerifyThreads() const {
  if (verify_threads != 0) return verify_threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

Result<Config> ParseConfig(std::string_view toml_text, std::string_view source_name) {
  const std::string src(source_name);
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    return Status::Invalid(fmt::format("{}:{}:{}: TOML syntax error: {}", src,
                                       e.source().begin.line, e.source().begin.column,
                                       e.description()));
  }
  auto where = [&](const toml::node& n, const std::string& name) {
    return fmt::format("{}:{}: {}", src, n.source().begin.line, name);
  };
  const std::vector<std::string> tables = Tables();
  Config config;
  for (const auto& [tkey, tnode] : root) {
    const std::string tname(tkey.str());
    if (std::find(tables.begin(), tables.end(), tname) == tables.end()) {
      return Status::Invalid(fmt::format("{}: unknown {} (known tables: {})", where(tnode, tname),
                                         tnode.is_table() ? "table" : "top-level key",
                                         Join(tables)));
    }
    const toml::table* table = tnode.as_table();
    if (table == nullptr) {
      return Status::Invalid(fmt::format("{}: must be a table ([{}]), got a {}",
                                         where(tnode, tname), tname, TypeName(tnode)));
    }
    for (const auto& [key, node] : *table) {
      const std::string kname(key.str());  // (clang 14 cannot capture structured bindings)
      const std::string name = tname + "." + kname;
      auto it = std::find_if(Fields().begin(), Fields().end(),
                             [&](const Field& f) { return f.table == tname && f.key == kname; });
      if (it == Fields().end()) {
        std::vector<std::string> known;
        for (const Field& f : Fields()) {
          if (f.table == tname) known.push_back(f.key);
        }
        return Status::Invalid(fmt::format("{}: unknown key (known keys in [{}]: {})",
                                           where(node, name), tname, Join(known)));
      }
      Status st = it->parse(node, config);
      if (!st.ok()) return Status::Invalid(where(node, name) + ": " + st.message());
    }
  }
  // Settings that must agree with each other. The error names the line of `key` when the file
  // sets it.
  auto at = [&](const std::string& table, const std::string& key) {
    const toml::node* n = root.at_path(table + "." + key).node();
    const std::string name = table + "." + key;
    return n != nullptr ? where(*n, name) : src + ": " + name;
  };
  auto in_file = [&](const std::string& path) { return root.at_path(path).node() != nullptr; };
  const ConsensusParams& cp = config.consensus;
  const std::pair<const char*, uint64_t> bases[] = {{"timeout_propose_ms", cp.propose_base_ms},
                                                    {"timeout_prevote_ms", cp.prevote_base_ms},
                                                    {"timeout_precommit_ms", cp.precommit_base_ms}};
  for (const auto& [key, base] : bases) {
    if (cp.max_timeout_ms >= base) continue;
    const std::string blame =
        in_file("consensus.max_timeout_ms") ? "max_timeout_ms" : std::string(key);
    return Status::Invalid(
        fmt::format("{}: consensus.max_timeout_ms ({}) must be at least consensus.{} ({})",
                    at("consensus", blame), cp.max_timeout_ms, key, base));
  }
  const std::string own_p2p = CanonicalAddress(config.p2p_listen_address, config.p2p_port);
  for (size_t i = 0; i < config.p2p_persistent_peers.size(); ++i) {
    std::string host;
    uint16_t port = 0;
    (void)ParseHostPort(config.p2p_persistent_peers[i], &host, &port);  // checked when parsed
    if (CanonicalAddress(host, port) == own_p2p) {
      return Status::Invalid(fmt::format(
          "{}: [{}]: {} is this node's own p2p.listen_address and p2p.port",
          at("p2p", "persistent_peers"), i, TomlString(config.p2p_persistent_peers[i])));
    }
  }
  if (config.p2p_port != 0 &&
      CanonicalAddress(config.api.listen_address, config.api.port) == own_p2p) {
    return Status::Invalid(fmt::format("{}: the API and the peer links cannot share {}",
                                       at(in_file("p2p.port") ? "p2p" : "api", "port"), own_p2p));
  }
  return config;
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IoError(path + ": cannot open: " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IoError(path + ": read failed");
  return ParseConfig(text.str(), path);
}

std::string ConfigToToml(const Config& config) {
  std::string out =
      "# consentd configuration. Every setting is listed with its default; a missing setting\n"
      "# takes its default, an unknown key is an error. See docs/operations.md.\n";
  std::string table;
  for (const Field& f : Fields()) {
    if (f.table != table) {
      table = f.table;
      out += "\n[" + table + "]\n";
    }
    out += "# " + f.comment + " (default: " + f.render(Config{}) + ")\n";
    out += f.key + " = " + f.render(config) + "\n";
  }
  return out;
}

std::string DefaultConfigToml() { return ConfigToToml(Config{}); }

Status ParseHostPort(std::string_view text, std::string* host, uint16_t* port) {
  std::string t(text);
  size_t colon = t.rfind(':');
  if (colon == std::string::npos || colon + 1 == t.size()) {
    return Status::Invalid("'" + t + "': expected HOST:PORT, such as 127.0.0.1:7800");
  }
  std::string h = t.substr(0, colon);
  std::string p = t.substr(colon + 1);
  const bool bracketed = h.size() >= 2 && h.front() == '[' && h.back() == ']';
  if (bracketed) h = h.substr(1, h.size() - 2);
  if (bracketed != (h.find(':') != std::string::npos)) {  // "::1:5" is ambiguous
    return Status::Invalid("'" + t + "': an IPv6 address must be in brackets ([::1]:7801), " +
                           "an IPv4 address must not");
  }
  if (!IsIpLiteral(h)) {
    return Status::Invalid("'" + t + "': host must be an IPv4 or IPv6 address (IPv6 in brackets)");
  }
  if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) {
    return Status::Invalid("'" + t + "': port must be a number in [0, 65535]");
  }
  unsigned long v = std::stoul(p);
  if (v > 65535) return Status::Invalid("'" + t + "': port must be a number in [0, 65535]");
  *host = h;
  *port = static_cast<uint16_t>(v);
  return Status::Ok();
}

bool operator==(const Config& a, const Config& b) {
  const ApiServerOptions& x = a.api;
  const ApiServerOptions& y = b.api;
  return a.data_dir == b.data_dir && a.block_interval_ms == b.block_interval_ms &&
         a.max_txs_per_block == b.max_txs_per_block && a.mempool_capacity == b.mempool_capacity &&
         a.verify_threads == b.verify_threads && a.block_cache_mib == b.block_cache_mib &&
         a.page_cache_mib == b.page_cache_mib && a.log_level == b.log_level &&
         a.log_format == b.log_format && a.p2p_listen_address == b.p2p_listen_address &&
         a.p2p_port == b.p2p_port && a.p2p_listen == b.p2p_listen &&
         a.p2p_persistent_peers == b.p2p_persistent_peers && a.p2p_max_peers == b.p2p_max_peers &&
         a.p2p_ban_seconds == b.p2p_ban_seconds &&
         a.p2p_max_msgs_per_sec == b.p2p_max_msgs_per_sec &&
         a.p2p_relay_after_ms == b.p2p_relay_after_ms &&
         a.p2p_max_inbound_per_ip == b.p2p_max_inbound_per_ip &&
         a.p2p_max_pending_per_ip == b.p2p_max_pending_per_ip &&
         a.p2p_handshakes_per_ip_per_sec == b.p2p_handshakes_per_ip_per_sec &&
         a.p2p_guest_msgs_per_sec == b.p2p_guest_msgs_per_sec &&
         a.p2p_guest_bytes_per_sec == b.p2p_guest_bytes_per_sec &&
         a.consensus.propose_base_ms == b.consensus.propose_base_ms &&
         a.consensus.propose_delta_ms == b.consensus.propose_delta_ms &&
         a.consensus.prevote_base_ms == b.consensus.prevote_base_ms &&
         a.consensus.prevote_delta_ms == b.consensus.prevote_delta_ms &&
         a.consensus.precommit_base_ms == b.consensus.precommit_base_ms &&
         a.consensus.precommit_delta_ms == b.consensus.precommit_delta_ms &&
         a.consensus.max_timeout_ms == b.consensus.max_timeout_ms &&
         a.heartbeat_ms == b.heartbeat_ms && x.listen_address == y.listen_address &&
         x.port == y.port && x.threads == y.threads && x.max_connections == y.max_connections &&
         x.max_header_bytes == y.max_header_bytes && x.max_body_bytes == y.max_body_bytes &&
         x.request_timeout_ms == y.request_timeout_ms && x.idle_timeout_ms == y.idle_timeout_ms &&
         x.wait_commit_timeout_ms == y.wait_commit_timeout_ms &&
         x.max_txs_per_request == y.max_txs_per_request &&
         x.write_rate_per_s == y.write_rate_per_s && x.write_burst == y.write_burst &&
         x.ws_max_message_bytes == y.ws_max_message_bytes &&
         x.ws_max_queue_bytes == y.ws_max_queue_bytes && x.ws_max_streams == y.ws_max_streams &&
         x.ready_max_head_age_ms == y.ready_max_head_age_ms &&
         x.max_connections_per_ip == y.max_connections_per_ip &&
         x.ws_max_streams_per_ip == y.ws_max_streams_per_ip &&
         x.ws_idle_timeout_ms == y.ws_idle_timeout_ms &&
         x.write_tx_rate_per_s == y.write_tx_rate_per_s && x.write_tx_burst == y.write_tx_burst &&
         x.write_bytes_per_s == y.write_bytes_per_s && x.write_bytes_burst == y.write_bytes_burst;
}

}  // namespace consent
