// Sign-state file: strict JSON, atomic durable replace (write temp, fsync, rename, fsync dir).
#include "node/sign_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <tuple>

#include "crypto/hex.h"
#include "ledger/json_strict.h"

namespace consent {
namespace {

constexpr size_t kMaxSignStateBytes = 4096;

std::string Errno() { return std::strerror(errno); }

Status WriteAllAndSync(int fd, std::string_view text, const std::string& path) {
  size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError("cannot write " + path + ": " + Errno());
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return Status::IoError("fsync " + path + ": " + Errno());
  return Status::Ok();
}

}  // namespace

std::string SignStateToJson(const SignState& s) {
  json::Json j = json::Json::object();
  j["height"] = s.height;
  j["round"] = s.round;
  j["step"] = s.step;
  j["block_hash"] = ToHex(s.block_hash);
  if (s.locked_round == kNoRound) {
    j["locked_round"] = nullptr;
  } else {
    j["locked_round"] = s.locked_round;
  }
  j["locked_hash"] = ToHex(s.locked_hash);
  return j.dump() + "\n";
}

Result<SignState> SignStateFromJson(std::string_view text) {
  ASSIGN_OR_RETURN(json::Json j, json::ParseStrict(text, kMaxSignStateBytes, "sign state"));
  RETURN_IF_ERROR(json::ExpectObject(
      j, "sign state", {"height", "round", "step", "block_hash", "locked_round", "locked_hash"}));
  SignState s;
  ASSIGN_OR_RETURN(s.height, json::GetUint(json::At(j, "height"), "height"));
  ASSIGN_OR_RETURN(uint64_t round, json::GetUint(json::At(j, "round"), "round", kNoRound - 1));
  s.round = static_cast<uint32_t>(round);
  ASSIGN_OR_RETURN(uint64_t step, json::GetUint(json::At(j, "step"), "step", 3));
  s.step = static_cast<uint8_t>(step);
  ASSIGN_OR_RETURN(s.block_hash, json::GetHexFixed<32>(json::At(j, "block_hash"), "block_hash"));
  const json::Json& lr = json::At(j, "locked_round");
  if (lr.is_null()) {
    s.locked_round = kNoRound;
  } else {
    ASSIGN_OR_RETURN(uint64_t v, json::GetUint(lr, "locked_round", kNoRound - 1));
    s.locked_round = static_cast<uint32_t>(v);
  }
  ASSIGN_OR_RETURN(s.locked_hash, json::GetHexFixed<32>(json::At(j, "locked_hash"), "locked_hash"));
  if (s.locked_round != kNoRound && s.locked_round > s.round) {
    return Status::Invalid("locked_round " + std::to_string(s.locked_round) +
                           " is later than round " + std::to_string(s.round));
  }
  return s;
}

Result<std::optional<SignState>> LoadSignState(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<SignState>();
    return Status::IoError("cannot open " + path + ": " + Errno());
  }
  std::string text(kMaxSignStateBytes + 1, '\0');
  size_t off = 0;
  Status st;
  while (off < text.size()) {
    const ssize_t n = ::read(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      st = Status::IoError("cannot read " + path + ": " + Errno());
      break;
    }
    if (n == 0) break;
    off += static_cast<size_t>(n);
  }
  ::close(fd);
  RETURN_IF_ERROR(st);
  text.resize(off);
  auto parsed = SignStateFromJson(text);
  if (!parsed.ok()) {
    return Status::Corruption(path + ": " + parsed.status().message() +
                              " (the validator's double-sign guard is unreadable; refusing to "
                              "sign without it)");
  }
  return std::optional<SignState>(std::move(parsed).value());
}

Status ReplaceFileDurably(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot create " + tmp + ": " + Errno());
  Status st = WriteAllAndSync(fd, bytes, tmp);
  if (::close(fd) != 0 && st.ok()) st = Status::IoError("close " + tmp + ": " + Errno());
  RETURN_IF_ERROR(st);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IoError("cannot rename " + tmp + " to " + path + ": " + Errno());
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Status::IoError("cannot open directory " + dir + ": " + Errno());
  const int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0) return Status::IoError("fsync " + dir + ": " + Errno());
  return Status::Ok();
}

Status SaveSignState(const std::string& path, const SignState& state) {
  return ReplaceFileDurably(path, SignStateToJson(state));
}

}  // namespace consent

namespace consent {

Result<std::string> MigrateSignState(const std::string& legacy_path, const std::string& path) {
  if (legacy_path == path) return std::string();
  auto legacy = LoadSignState(legacy_path);
  if (!legacy.ok()) return legacy.status();
  if (!legacy->has_value()) return std::string();
  auto current = LoadSignState(path);
  if (!current.ok()) return current.status();
  const SignState& old = **legacy;
  auto order = [](const SignState& s) { return std::make_tuple(s.height, s.round, s.step); };
  std::string line;
  if (!current->has_value() || order(**current) < order(old)) {
    RETURN_IF_ERROR(SaveSignState(path, old));
    line = "moved the double-sign guard (height " + std::to_string(old.height) + ") from " +
           legacy_path + " to " + path;
  } else {
    line = "removed the stale double-sign guard " + legacy_path + " (height " +
           std::to_string(old.height) + "); " + path + " has signed later (height " +
           std::to_string((*current)->height) + ")";
  }
  if (::unlink(legacy_path.c_str()) != 0) {
    return Status::IoError("cannot remove " + legacy_path + " after moving it to " + path + ": " +
                           Errno());
  }
  return line;
}

}  // namespace consent
