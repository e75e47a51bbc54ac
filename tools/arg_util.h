// Strict parsing of numeric command-line values for the benchmark tools: a whole decimal number
// (no sign, no trailing characters) within a bound, or a clear refusal.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace consent::tools {

// True and *out set iff `s` is a whole decimal number <= max.
inline bool ParseU64(const char* s, uint64_t max, uint64_t* out) {
  if (s == nullptr || *s < '0' || *s > '9') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v > max) return false;
  *out = v;
  return true;
}

// True and *out set iff `s` is a finite decimal number in [lo, hi].
inline bool ParseDouble(const char* s, double lo, double hi, double* out) {
  if (s == nullptr || *s == '\0') return false;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi)) return false;
  *out = v;
  return true;
}

}  // namespace consent::tools
