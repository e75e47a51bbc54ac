// Logging setup for consentd: spdlog's default logger writing to stderr, at the configured level,
// as plain lines ("2026-01-02T03:04:05.678Z info message") or JSON lines
// ({"ts": "...", "level": "info", "msg": "..."}, one object per line, the message escaped).
// Call once at start-up, before other threads log. spdlog itself is thread-safe.
#pragma once

#include <string>

#include "crypto/status.h"
#include "node/config.h"

namespace consent {

// `level` is one of trace, debug, info, warn, error, critical, off (kInvalidArgument otherwise).
Status SetupLogging(const std::string& level, LogFormat format);

// The JSON line for one message (exposed for tests): {"ts":..., "level":..., "msg":...}.
std::string JsonLogLine(const std::string& ts, const std::string& level, const std::string& msg);

}  // namespace consent
