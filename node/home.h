// A node's home directory: what `consentd init` creates and what `consentd start` loads.
//
//   DIR/            mode 0700
//     node.key      the validator key (crypto/keyfile.h, kind "validator"), mode 0600
//     genesis.json  the chain (PROTOCOL.md section 5); after init, this node its sole validator
//     config.toml   every setting with its default (node/config.h)
//     data/         the RocksDB store (config [node] data_dir; created empty by init)
//     sign_state.json  a validator's double-sign guard, written before its first signature
//
// Init is atomic: the files are written into a fresh sibling directory that is then renamed to
// DIR, so an interrupted init leaves no half-made home. An existing home is never overwritten.
// Thread-safe (no shared state); the usual file-system races apply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "crypto/keyfile.h"
#include "crypto/status.h"
#include "ledger/block.h"
#include "node/config.h"

namespace consent {

inline constexpr char kDefaultChainId[] = "consent-dev";
inline constexpr char kKeyFileName[] = "node.key";
inline constexpr char kGenesisFileName[] = "genesis.json";
inline constexpr char kConfigFileName[] = "config.toml";
// The validator's double-sign guard (node/sign_state.h). It lives beside node.key, not in data/,
// so that restoring or wiping data/ cannot roll it back; a home made before it moved has it in
// data/, and the node moves it at start (MigrateSignState).
inline constexpr char kSignStateFileName[] = "sign_state.json";

struct InitOptions {
  std::string home;
  std::string chain_id = kDefaultChainId;
  std::optional<std::string> api;  // "HOST:PORT" for [api]; default 127.0.0.1:7800
  std::optional<std::string> p2p;  // "HOST:PORT" for [p2p]; default 127.0.0.1:7801
  uint64_t genesis_time_ms = 0;    // 0 = now
  std::string validator_name = "validator-0";
  // For homes made together (`consentd testnet`), each may be given; by default init makes them.
  std::optional<KeyFile> key;      // the node key (kind validator); default: a new one
  std::optional<Genesis> genesis;  // the chain; replaces chain_id, genesis_time_ms and
                                   // validator_name. Default: this key the sole validator
  std::optional<Config> config;    // the settings; api/p2p above still override its addresses
};

// Creates a new home at options.home (see the layout above). Fails with kAlreadyExists if
// options.home exists and is not an empty directory ("refusing to overwrite"), kInvalidArgument
// for a bad chain id, address, key kind, genesis or config, kIoError for a file-system failure
// (nothing is left behind).
Status InitHome(const InitOptions& options);

// Whether `path` exists and is not an empty directory (a file counts as occupied).
Result<bool> IsOccupied(const std::string& path);

// Creates `path` (which must not exist) with `mode`, writes `text` and fsyncs it.
Status WriteNewFile(const std::string& path, const std::string& text, unsigned mode);

// fsyncs a directory (after creating or renaming entries in it); errors are ignored.
void SyncDir(const std::string& dir);

struct Home {
  std::string dir;
  Config config;
  Genesis genesis;
  KeyFile key;
  // Whether key.public_key is in genesis.validators. A node whose key is not in the set runs as
  // a follower: it serves queries but produces no blocks.
  bool is_validator = false;
  // config.data_dir, resolved against dir when relative.
  std::string DataDir() const;
  // DIR/sign_state.json: the double-sign guard, beside node.key.
  std::string SignStatePath() const;
};

// Loads and validates DIR/config.toml, DIR/genesis.json and DIR/node.key. Errors name the file:
// kNotFound ("DIR is not a consentd home: run consentd init"), kInvalidArgument (a malformed or
// tampered file: the parse error), kPermissionDenied (a key file others can read), and a key
// that is not a validator key. A key that is not in the genesis validator set is NOT an error
// (is_validator = false).
Result<Home> LoadHome(const std::string& dir);

// Milliseconds since the Unix epoch (the system clock).
uint64_t NowMs();

}  // namespace consent
