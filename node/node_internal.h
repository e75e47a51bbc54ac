// Helpers shared by the files that implement Node (node/node*.cc): not part of any interface.
// Pure functions and constants; thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "crypto/hex.h"
#include "ledger/block.h"

namespace consent::node_internal {

// The first 16 hex digits of a hash, for log lines.
inline std::string ShortHex(const Hash32& h) { return ToHex(h).substr(0, 16); }

// Upper bounds of the commit latency histogram, in seconds.
inline constexpr double kLatencyBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,  0.5,    1,     2.5,  5,     10};
inline constexpr size_t kLatencyBucketCount = sizeof(kLatencyBuckets) / sizeof(kLatencyBuckets[0]);

}  // namespace consent::node_internal
