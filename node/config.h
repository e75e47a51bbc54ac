// The node's configuration (DIR/config.toml): every setting of consentd, its default, its type
// and its allowed range, parsed strictly with toml++. A file may omit any setting (the default
// applies) but may not hold an unknown table or key, a value of the wrong type or one out of
// range: each is an error naming the key and the line, so that a typo never passes silently.
// DefaultConfigToml() writes every setting with its default and a comment; it is what
// `consentd init` writes and what docs/operations.md documents.
//
// The [api] table maps 1:1 onto ApiServerOptions (net/api_server.h), [consensus] onto
// ConsensusParams (ledger/consensus.h); [p2p] feeds PeerManagerOptions (net/peer_manager.h).
// Pure functions and plain values; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/status.h"
#include "ledger/consensus.h"
#include "net/api_server.h"

namespace consent {

inline constexpr size_t kMaxPersistentPeers = 64;

enum class LogFormat { kPlain, kJson };

struct Config {
  // [node]
  std::string data_dir = "data";    // relative paths are relative to the home directory
  uint32_t block_interval_ms = 20;  // minimum time between two blocks
  size_t max_txs_per_block = 4000;
  size_t mempool_capacity = 20000;
  size_t verify_threads = 0;  // 0 = one per hardware core (see VerifyThreads())

  // [storage]
  size_t block_cache_mib = 64;  // RocksDB block cache
  size_t page_cache_mib = 64;   // state-tree page cache (ledger/page_cache.h); 0 = none

  // [log]
  std::string log_level = "info";  // trace, debug, info, warn, error, critical, off
  LogFormat log_format = LogFormat::kPlain;

  // [p2p]
  std::string p2p_listen_address = "127.0.0.1";
  uint16_t p2p_port = 7801;
  bool p2p_listen = true;  // accept inbound peer links on p2p_listen_address:p2p_port
  // Outbound peers, "IP:PORT" (IPv6 in brackets), dialled and redialled. At most
  // kMaxPersistentPeers, no two for the same address, port not 0, not this node's own address.
  std::vector<std::string> p2p_persistent_peers;
  size_t p2p_max_peers = 50;              // links (inbound + outbound) at most, 1..1000
  uint32_t p2p_ban_seconds = 60;          // a misbehaving peer is refused this long, 0..86400
  uint32_t p2p_max_msgs_per_sec = 20000;  // per peer, 1..1000000
  uint32_t p2p_relay_after_ms = 2000;     // relay peers' txs still pending after this, 0..60000
  // Admission of peers that are neither validators nor persistent peers ("guests"); see
  // PeerManagerOptions (net/peer_manager.h) and docs/security.md.
  size_t p2p_max_inbound_per_ip = 8;            // guest links per IP, 1..1000
  size_t p2p_max_pending_per_ip = 8;            // handshakes in progress per IP, 1..1000
  double p2p_handshakes_per_ip_per_sec = 10;    // new inbound links per IP, 0.01..10000
  uint32_t p2p_guest_msgs_per_sec = 2000;       // per guest, 1..1000000
  uint64_t p2p_guest_bytes_per_sec = 4u << 20;  // per guest, 1024..2^32

  // [consensus]: timeout(round) = base + round * delta, capped at max_timeout_ms. Bases and max
  // 1..600000 ms, deltas 0..600000 ms, max_timeout_ms >= every base.
  ConsensusParams consensus;
  // A validator with nothing to propose starts a round (an empty block) this long after its
  // height started, so an idle chain's head is never older than about this; 0 = never (idle
  // chains then make no blocks, and a stale head cannot be told from an idle one). 0..3600000.
  uint32_t heartbeat_ms = 5000;

  // [api]
  ApiServerOptions api;

  // verify_threads, with 0 resolved to the number of hardware cores (at least 1).
  size_t VerifyThreads() const;
};

// Parses a config file's text. `source_name` (usually the path) starts every error message:
// "config.toml:12: api.port: must be an integer in [0, 65535], got 70000". Errors: TOML syntax
// (with line and column), an unknown table or key, a wrong type, a value out of range, an
// invalid IP address or log level or format, a bad or duplicate persistent peer, and settings
// that contradict each other (consensus.max_timeout_ms below a base timeout; api and p2p on the
// same address and port). All are kInvalidArgument.
Result<Config> ParseConfig(std::string_view toml_text, std::string_view source_name);

// Reads and parses `path`. A missing or unreadable file is kNotFound / kIoError naming the path.
Result<Config> LoadConfigFile(const std::string& path);

// The TOML text of `config`: every setting in its table, each with a one-line comment that gives
// its meaning and default. ParseConfig(ConfigToToml(c)) == c for every valid c.
std::string ConfigToToml(const Config& config);

// ConfigToToml(Config{}): every setting with its default.
std::string DefaultConfigToml();

// Splits "HOST:PORT" ("127.0.0.1:7800", "[::1]:7800") into an IP literal and a port, each
// checked. Used by `consentd init --api/--p2p`.
Status ParseHostPort(std::string_view text, std::string* host, uint16_t* port);
// "host:port" with the IP literal `host` in its canonical text form ("[::1]:7800" for "0:0::1"),
// so that two spellings of one address compare equal.
std::string CanonicalAddress(const std::string& host, uint16_t port);

bool operator==(const Config& a, const Config& b);

}  // namespace consent
