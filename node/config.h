// The node's configuration (DIR/config.toml): every setting of consentd, its default, its type
// and its allowed range, parsed strictly with toml++. A file may omit any setting (the default
// applies) but may not hold an unknown table or key, a value of the wrong type or one out of
// range: each is an error naming the key and the line, so that a typo never passes silently.
// DefaultConfigToml() writes every setting with its default and a comment; it is what
// `consentd init` writes and what docs/operations.md documents.
//
// The [api] table maps 1:1 onto ApiServerOptions (net/api_server.h).
// Pure functions and plain values; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/status.h"
#include "net/api_server.h"

namespace consent {

enum class LogFormat { kPlain, kJson };

struct Config {
  // [node]
  std::string data_dir = "data";    // relative paths are relative to the home directory
  uint32_t block_interval_ms = 50;  // minimum time between two blocks
  size_t max_txs_per_block = 4000;
  size_t mempool_capacity = 20000;
  size_t verify_threads = 0;  // 0 = one per hardware core (see VerifyThreads())

  // [storage]
  size_t block_cache_mib = 64;  // RocksDB block cache

  // [log]
  std::string log_level = "info";  // trace, debug, info, warn, error, critical, off
  LogFormat log_format = LogFormat::kPlain;

  // [p2p] (unused until multi-node, issue 5)
  std::string p2p_listen_address = "127.0.0.1";
  uint16_t p2p_port = 7801;

  // [api]
  ApiServerOptions api;

  // verify_threads, with 0 resolved to the number of hardware cores (at least 1).
  size_t VerifyThreads() const;
};

// Parses a config file's text. `source_name` (usually the path) starts every error message:
// "config.toml:12: api.port: must be an integer in [0, 65535], got 70000". Errors: TOML syntax
// (with line and column), an unknown table or key, a wrong type, a value out of range, an
// invalid IP address or log level or format. All are kInvalidArgument.
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

bool operator==(const Config& a, const Config& b);

}  // namespace consent
