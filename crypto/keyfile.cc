// Key file reading and writing with POSIX calls (O_EXCL, fchmod, fsync, fstat).
#include "crypto/keyfile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "crypto/ed25519.h"
#include "crypto/hex.h"

namespace consent {
namespace {
constexpr const char* kType = "consent-ledger-key";

bool HasPublicKey(KeyKind k) { return k != KeyKind::kCustomer; }

std::string Errno() { return std::strerror(errno); }
}  // namespace

const char* KeyKindName(KeyKind kind) {
  switch (kind) {
    case KeyKind::kCustomer:
      return "customer";
    case KeyKind::kBrand:
      return "brand";
    case KeyKind::kValidator:
      return "validator";
  }
  return "unknown";
}

Result<KeyKind> ParseKeyKind(const std::string& name) {
  if (name == "customer") return KeyKind::kCustomer;
  if (name == "brand") return KeyKind::kBrand;
  if (name == "validator") return KeyKind::kValidator;
  return Status::Invalid("unknown key kind \"" + name +
                         "\" (expected customer, brand or validator)");
}

KeyFile KeyFile::FromSecret(KeyKind kind, const Seed32& secret) {
  KeyFile k;
  k.kind = kind;
  k.secret = secret;
  if (HasPublicKey(kind)) k.public_key = SigningKey::FromSeed(secret).public_key();
  return k;
}

KeyFile KeyFile::Generate(KeyKind kind) {
  Seed32 s;
  RandomBytes(s.data(), s.size());
  return FromSecret(kind, s);
}

std::string SerializeKeyFile(const KeyFile& key) {
  nlohmann::ordered_json j;
  j["type"] = kType;
  j["version"] = 1;
  j["kind"] = KeyKindName(key.kind);
  j["secret"] = ToHex(key.secret);
  if (HasPublicKey(key.kind)) j["public_key"] = ToHex(key.public_key);
  return j.dump(2) + "\n";
}

Result<KeyFile> ParseKeyFile(const std::string& text) {
  if (text.size() > kMaxKeyFileBytes) return Status::Invalid("key file is larger than 4096 bytes");
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Invalid("key file is not a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k != "type" && k != "version" && k != "kind" && k != "secret" && k != "public_key") {
      return Status::Invalid("key file has an unknown field \"" + k + "\"");
    }
  }
  auto str = [&](const char* f) -> Result<std::string> {
    auto it = j.find(f);
    if (it == j.end()) return Status::Invalid(std::string("key file has no \"") + f + "\"");
    if (!it->is_string())
      return Status::Invalid(std::string("key file \"") + f + "\" is not a string");
    return it->get<std::string>();
  };
  ASSIGN_OR_RETURN(std::string type, str("type"));
  if (type != kType) return Status::Invalid("key file type is \"" + type + "\", not " + kType);
  auto v = j.find("version");
  if (v == j.end() || !v->is_number_unsigned() || v->get<uint64_t>() != 1) {
    return Status::Invalid("key file version must be 1");
  }
  ASSIGN_OR_RETURN(std::string kind_name, str("kind"));
  ASSIGN_OR_RETURN(KeyKind kind, ParseKeyKind(kind_name));
  ASSIGN_OR_RETURN(std::string secret_hex, str("secret"));
  auto secret = FromHexFixed<32>(secret_hex);
  if (!secret.ok()) return secret.status().Prefixed("key file \"secret\"");
  KeyFile key = KeyFile::FromSecret(kind, *secret);
  if (HasPublicKey(kind)) {
    ASSIGN_OR_RETURN(std::string pk_hex, str("public_key"));
    auto pk = FromHexFixed<32>(pk_hex);
    if (!pk.ok()) return pk.status().Prefixed("key file \"public_key\"");
    if (*pk != key.public_key) {
      return Status::Invalid("key file \"public_key\" does not match its secret");
    }
  } else if (j.contains("public_key")) {
    return Status::Invalid("a customer key file has no \"public_key\" (it is a master secret)");
  }
  return key;
}

Status WriteKeyFile(const std::string& path, const KeyFile& key) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return Status::AlreadyExists(path + " already exists; refusing to overwrite a key file");
    }
    return Status::IoError("cannot create " + path + ": " + Errno());
  }
  std::string text = SerializeKeyFile(key);
  Status st;
  if (::fchmod(fd, 0600) != 0) {
    st = Status::IoError("cannot chmod 600 " + path + ": " + Errno());
  } else if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    st = Status::IoError("cannot write " + path + ": " + Errno());
  } else if (::fsync(fd) != 0) {
    st = Status::IoError("cannot sync " + path + ": " + Errno());
  }
  ::close(fd);
  if (!st.ok()) ::unlink(path.c_str());
  return st;
}

Result<KeyFile> ReadKeyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("key file " + path + " does not exist");
    return Status::IoError("cannot open key file " + path + ": " + Errno());
  }
  struct stat sb;
  if (::fstat(fd, &sb) != 0) {
    ::close(fd);
    return Status::IoError("cannot stat " + path + ": " + Errno());
  }
  if (!S_ISREG(sb.st_mode)) {
    ::close(fd);
    return Status::Invalid(path + " is not a regular file");
  }
  if ((sb.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(sb.st_mode & 07777));
    return Status::PermissionDenied(
        "key file " + path + " has mode " + mode +
        ", readable by others; refusing to use it. Fix with: chmod 600 " + path);
  }
  if (sb.st_size > static_cast<off_t>(kMaxKeyFileBytes)) {
    ::close(fd);
    return Status::Invalid("key file " + path + " is larger than 4096 bytes");
  }
  std::string text(static_cast<size_t>(sb.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  auto key = ParseKeyFile(text);
  if (!key.ok()) return key.status().Prefixed(path);
  return key;
}

}  // namespace consent
