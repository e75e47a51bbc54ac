// What consentctl trusts, and how fresh an answer must be: the pinned genesis and the maximum age.
//
// A customer's or auditor's only trust root is the chain's genesis file. consentctl finds it, in
// this order: the command's --genesis, the environment variable CONSENT_GENESIS, or the per-user
// config file (CONSENTCTL_CONFIG, else $XDG_CONFIG_HOME/consentctl/config.toml, else
// ~/.config/consentctl/config.toml) naming it: `genesis = "/path/to/genesis.json"` (a relative
// path is relative to the config file's folder). With a genesis pinned, consentctl signs only for
// its chain, refuses a node that serves another, and checks a "committed" answer's inclusion
// proof and commit before saying so; without one, it says that the node's word is unchecked.
//
// Freshness: every header the validators commit carries its time; on a live chain they commit at
// least every heartbeat (5 s by default), so an answer whose head is much older comes from a node
// cut off from the network, or one hiding newer blocks. verify, history and audit refuse a head
// older than --max-age (default kDefaultMaxAgeMs; 0 disables), also settable in the config file as
// `max_age = "60s"` or with CONSENT_MAX_AGE. Pure functions and file reads; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "crypto/status.h"
#include "ledger/block.h"

namespace consent::ctl {

// 60 s: twelve heartbeats (node default heartbeat_ms 5,000), enough for a slow block, a
// round change or a clock a few seconds apart, and far below the time in which a customer's
// revocation must be honoured.
inline constexpr uint64_t kDefaultMaxAgeMs = 60'000;
// The config file is small and user-written: read at most this much.
inline constexpr size_t kMaxConfigBytes = 64 << 10;

struct PinnedGenesis {
  Genesis genesis;
  Hash32 hash{};     // SHA-256 of its canonical JSON (what peers compare in their handshake)
  std::string path;  // the file
  std::string from;  // "--genesis", "CONSENT_GENESIS" or the config file's path
};

// The genesis to trust: `flag_path` (the command's --genesis) if given, else CONSENT_GENESIS, else
// the config file's `genesis`. nullopt when none is set. A file that is set but missing or not a
// valid genesis, or a config file that is malformed, is an error naming it.
Result<std::optional<PinnedGenesis>> LoadPinnedGenesis(const std::string& flag_path);

// The maximum age: `flag` ("60s", "5m", "0"; empty = not given), else CONSENT_MAX_AGE, else the
// config file's `max_age`, else kDefaultMaxAgeMs. 0 disables the check.
Result<uint64_t> ResolveMaxAge(const std::string& flag);

// Parses "0", "500ms", "45s", "30m", "12h", "2d" into milliseconds (at most 10^6 units).
Result<uint64_t> ParseMaxAge(const std::string& text);

// "95 s" / "2.5 s" / "3 min 20 s" style text of an age in ms.
std::string AgeText(uint64_t age_ms);

// OK when the head at `time_ms`, judged at `at_ms`, is at most `max_age_ms` old (or max_age_ms
// is 0). Otherwise kRejected: "the head (height H, block time T) is 95 s old, older than
// --max-age 60 s: ...". `what` names the head ("the proof's head").
Status CheckFresh(const char* what, uint64_t height, uint64_t time_ms, uint64_t at_ms,
                  uint64_t max_age_ms);

// Milliseconds since the Unix epoch, now.
uint64_t NowMs();

}  // namespace consent::ctl
