// consentctl's trust root and freshness rules (tools/consentctl/trust.h). Thread-compatible.
#include "tools/consentctl/trust.h"

#include <toml++/toml.h>
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "crypto/hex.h"
#include "ledger/schema.h"
#include "tools/consentctl/node_commands.h"

namespace consent::ctl {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The config file's path: CONSENTCTL_CONFIG, else the XDG location, else ~/.config. Empty when
// no home is known.
std::string ConfigPath() {
  if (std::string p = Env("CONSENTCTL_CONFIG"); !p.empty()) return p;
  if (std::string x = Env("XDG_CONFIG_HOME"); !x.empty()) return x + "/consentctl/config.toml";
  if (std::string h = Env("HOME"); !h.empty()) return h + "/.config/consentctl/config.toml";
  return "";
}

struct Config {
  std::string path;  // empty: no config file
  std::string genesis;
  std::string max_age;
};

// Reads the config file if there is one. Only `genesis` and `max_age` (strings) are allowed.
Result<Config> ReadConfig() {
  Config c;
  const std::string path = ConfigPath();
  std::error_code ec;
  if (path.empty() || !std::filesystem::exists(path, ec)) return c;
  ASSIGN_OR_RETURN(std::string text, ReadFileCapped(path, kMaxConfigBytes));
  toml::table t;
  try {
    t = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return Status::Invalid(path + ":" + std::to_string(e.source().begin.line) + ": " +
                           std::string(e.description()));
  }
  for (const auto& [key, value] : t) {
    const std::string k(key.str());
    if (k != "genesis" && k != "max_age") {
      return Status::Invalid(path + ": unknown key \"" + k + "\" (known: genesis, max_age)");
    }
    const auto* s = value.as_string();
    if (s == nullptr) return Status::Invalid(path + ": " + k + " must be a string");
    (k == "genesis" ? c.genesis : c.max_age) = s->get();
  }
  c.path = path;
  if (!c.genesis.empty() && c.genesis[0] != '/') {
    c.genesis = (std::filesystem::path(path).parent_path() / c.genesis).string();
  }
  return c;
}

}  // namespace

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

Result<std::optional<PinnedGenesis>> LoadPinnedGenesis(const std::string& flag_path) {
  PinnedGenesis pin;
  if (!flag_path.empty()) {
    pin.path = flag_path;
    pin.from = "--genesis";
  } else if (std::string e = Env("CONSENT_GENESIS"); !e.empty()) {
    pin.path = e;
    pin.from = "CONSENT_GENESIS";
  } else {
    ASSIGN_OR_RETURN(Config c, ReadConfig());
    if (c.genesis.empty()) return std::optional<PinnedGenesis>();
    pin.path = c.genesis;
    pin.from = c.path;
  }
  auto g = LoadGenesisFile(pin.path);
  if (!g.ok()) {
    return pin.from == "--genesis" ? g.status()
                                   : g.status().Prefixed("the genesis pinned by " + pin.from);
  }
  pin.genesis = *g;
  pin.hash = schema::GenesisHash(pin.genesis);
  return std::optional<PinnedGenesis>(std::move(pin));
}

Result<uint64_t> ParseMaxAge(const std::string& s) {
  if (s == "0") return uint64_t{0};
  size_t digits = 0;
  uint64_t n = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9' && digits < 8) {
    n = n * 10 + static_cast<uint64_t>(s[digits] - '0');
    ++digits;
  }
  const std::string unit = s.substr(digits);
  const uint64_t mult = unit == "ms"  ? 1
                        : unit == "s" ? 1000
                        : unit == "m" ? 60'000
                        : unit == "h" ? 3'600'000
                        : unit == "d" ? 86'400'000
                                      : 0;
  if (digits == 0 || mult == 0 || n > 1'000'000) {
    return Status::Invalid("max age \"" + s +
                           "\" must be 0 (no check) or a whole number of at most 1000000 "
                           "with a unit: ms, s, m, h or d (e.g. 60s)");
  }
  return n * mult;
}

Result<uint64_t> ResolveMaxAge(const std::string& flag) {
  if (!flag.empty()) {
    auto v = ParseMaxAge(flag);
    if (!v.ok()) return v.status().Prefixed("--max-age");
    return v;
  }
  if (std::string e = Env("CONSENT_MAX_AGE"); !e.empty()) {
    auto v = ParseMaxAge(e);
    if (!v.ok()) return v.status().Prefixed("CONSENT_MAX_AGE");
    return v;
  }
  ASSIGN_OR_RETURN(Config c, ReadConfig());
  if (!c.max_age.empty()) {
    auto v = ParseMaxAge(c.max_age);
    if (!v.ok()) return v.status().Prefixed(c.path + ": max_age");
    return v;
  }
  return kDefaultMaxAgeMs;
}

std::string AgeText(uint64_t ms) {
  if (ms < 10'000) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
    return buf;
  }
  const uint64_t s = ms / 1000;
  if (s < 120) return std::to_string(s) + " s";
  if (s < 7200) return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
  if (s < 172'800) return std::to_string(s / 3600) + " h " + std::to_string(s % 3600 / 60) + " min";
  return std::to_string(s / 86'400) + " days";
}

Status CheckFresh(const char* what, uint64_t height, uint64_t time_ms, uint64_t at_ms,
                  uint64_t max_age_ms) {
  if (max_age_ms == 0 || at_ms <= time_ms || at_ms - time_ms <= max_age_ms) return Status::Ok();
  return Status::Rejected(
      std::string(what) + " (height " + std::to_string(height) + ", block time " +
      IsoTime(time_ms) + ") is " + AgeText(at_ms - time_ms) + " old, older than --max-age " +
      AgeText(max_age_ms) +
      ": the validators commit a block every few seconds, so this node is cut off from the "
      "network or hides newer blocks (a revocation may be missing). Ask an up-to-date node, or "
      "pass a larger --max-age (0: no check) to accept it");
}

}  // namespace consent::ctl
