// The brands a customer has dealt with, kept beside the customer's key file (KEY.brands), so that
// `consentctl history` asks a node about those brands only: asking about every brand of the
// directory, back to back, tells that node which subject keys belong to one person.
//
// Format: text, one controller key (64 lowercase hex digits) per line, sorted, no duplicates;
// nothing else (no names, no subject keys, no times). At most kMaxBrands lines. Written by
// `grant`, `revoke` and `id` (and by `history --scan-directory` for the brands where it found
// entries), atomically: a temporary file beside it, fsync, rename; mode 0600 like the key file.
// Thread-compatible; one process at a time is assumed (two concurrent writers may lose one
// brand, never corrupt the file).
#pragma once

#include <string>
#include <vector>

#include "crypto/status.h"
#include "ledger/tx.h"

namespace consent::ctl {

inline constexpr size_t kMaxBrands = 10'000;

// KEY.brands for the key file KEY.
std::string BrandListPath(const std::string& key_path);

// The listed brands, sorted. A missing file is an empty list; a line that is not one key, or more
// than kMaxBrands lines, is an error naming the file and line.
Result<std::vector<PublicKey>> ReadBrandList(const std::string& key_path);

// Adds `controller` to the list (no change if it is there already).
Status RememberBrand(const std::string& key_path, const PublicKey& controller);

}  // namespace consent::ctl
