// The customer's local brand list (tools/consentctl/brand_list.h). Thread-compatible.
#include "tools/consentctl/brand_list.h"

#include <unistd.h>

#include <algorithm>

#include "crypto/hex.h"
#include "tools/consentctl/node_commands.h"

namespace consent::ctl {

std::string BrandListPath(const std::string& key_path) { return key_path + ".brands"; }

Result<std::vector<PublicKey>> ReadBrandList(const std::string& key_path) {
  const std::string path = BrandListPath(key_path);
  std::vector<PublicKey> out;
  if (::access(path.c_str(), F_OK) != 0) return out;
  ASSIGN_OR_RETURN(std::string text, ReadFileCapped(path, kMaxBrands * 65));
  size_t line = 0, pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ++line;
    std::string_view l(text.data() + pos, end - pos);
    pos = end + 1;
    if (l.empty()) continue;
    auto k = FromHexFixed<32>(l);
    if (!k.ok()) {
      return Status::Invalid(path + ":" + std::to_string(line) +
                             ": not a brand's key (64 hex digits): " + k.status().message());
    }
    out.push_back(*k);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Status RememberBrand(const std::string& key_path, const PublicKey& controller) {
  ASSIGN_OR_RETURN(std::vector<PublicKey> list, ReadBrandList(key_path));
  if (std::binary_search(list.begin(), list.end(), controller)) return Status::Ok();
  if (list.size() >= kMaxBrands) {
    return Status::Invalid(BrandListPath(key_path) + " already lists " +
                           std::to_string(kMaxBrands) + " brands, the most it may hold");
  }
  list.insert(std::upper_bound(list.begin(), list.end(), controller), controller);
  std::string text;
  text.reserve(list.size() * 65);
  for (const auto& k : list) text += ToHex(k) + "\n";
  Status st = ReplaceFile(BrandListPath(key_path), text, 0600);
  if (!st.ok()) return st.Prefixed("cannot record the brand beside the key file");
  return Status::Ok();
}

}  // namespace consent::ctl
