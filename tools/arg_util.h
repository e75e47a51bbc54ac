// Strict parsing of numeric command-line values for the benchmark tools: a whole decimal number
// (no sign, no trailing characters) within a bound, or a clear refusal.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace consent::tools {

// True and *out set iff `s` is a whole decimal number <= max. Leading zeros are allowed and mean
// nothing ("010" is ten, never octal eight), as for consentctl's numeric options.
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

// Splits argv[1..] into "--flag value" pairs. Returns -1 when every flag has a value (pairs in
// *out); otherwise the exit code, with `usage` printed: 0 for --help or -h, 2 for a flag without
// a value.
inline int FlagPairs(int argc, char** argv, const char* usage,
                     std::vector<std::pair<std::string, const char*>>* out) {
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf("%s", usage);
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n%s", flag.c_str(), usage);
      return 2;
    }
    out->emplace_back(flag, argv[i + 1]);
  }
  return -1;
}

}  // namespace consent::tools
