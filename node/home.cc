// Home directory creation (atomic, via a sibling temp directory and rename) and loading.
#include "node/home.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace consent {
namespace fs = std::filesystem;
namespace {

std::string Errno() { return std::strerror(errno); }

}  // namespace

Status WriteNewFile(const std::string& path, const std::string& text, unsigned mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Status::IoError("cannot create " + path + ": " + Errno());
  Status st;
  size_t off = 0;
  while (st.ok() && off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      st = Status::IoError("cannot write " + path + ": " + Errno());
    } else {
      off += static_cast<size_t>(n);
    }
  }
  if (st.ok() && ::fchmod(fd, mode) != 0) st = Status::IoError("chmod " + path + ": " + Errno());
  if (st.ok() && ::fsync(fd) != 0) st = Status::IoError("fsync " + path + ": " + Errno());
  ::close(fd);
  return st;
}

void SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}

namespace {

Result<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IoError("cannot open " + path + ": " + Errno());
  }
  std::string text(max_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return Status::IoError("cannot read " + path);
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > max_bytes) {
    return Status::Invalid(path + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
  return text;
}

}  // namespace

Result<bool> IsOccupied(const std::string& path) {
  const fs::path p(path);
  std::error_code ec;
  fs::file_status st = fs::symlink_status(p, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return Status::IoError("cannot inspect " + p.string() + ": " + ec.message());
  }
  if (!fs::exists(st)) return false;
  if (!fs::is_directory(st)) return true;
  bool empty = fs::is_empty(p, ec);
  if (ec) return Status::IoError("cannot list " + p.string() + ": " + ec.message());
  return !empty;
}

namespace {

Status Populate(const std::string& dir, const InitOptions& o, const Config& config) {
  const KeyFile key = o.key ? *o.key : KeyFile::Generate(KeyKind::kValidator);
  if (key.kind != KeyKind::kValidator) {
    return Status::Invalid("a node key must be of kind \"validator\", not \"" +
                           std::string(KeyKindName(key.kind)) + "\"");
  }
  RETURN_IF_ERROR(WriteKeyFile(dir + "/" + kKeyFileName, key));
  Genesis g;
  if (o.genesis) {
    g = *o.genesis;
  } else {
    g.chain_id = o.chain_id;
    g.genesis_time_ms = o.genesis_time_ms != 0 ? o.genesis_time_ms : NowMs();
    g.validators.push_back(Validator{o.validator_name, key.public_key});
  }
  // The files must load back exactly: parse what we are about to write.
  std::string genesis_json = g.ToJson() + "\n";
  auto parsed = ParseGenesis(genesis_json);
  if (!parsed.ok()) return parsed.status().Prefixed("genesis");
  const std::string config_toml = ConfigToToml(config);
  auto reparsed = ParseConfig(config_toml, kConfigFileName);
  if (!reparsed.ok()) return reparsed.status();
  RETURN_IF_ERROR(WriteNewFile(dir + "/" + kGenesisFileName, genesis_json, 0644));
  RETURN_IF_ERROR(WriteNewFile(dir + "/" + kConfigFileName, config_toml, 0600));
  if (::mkdir((dir + "/" + config.data_dir).c_str(), 0700) != 0) {
    return Status::IoError("cannot create " + dir + "/" + config.data_dir + ": " + Errno());
  }
  SyncDir(dir);
  return Status::Ok();
}

}  // namespace

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string Home::SignStatePath() const { return dir + "/" + kSignStateFileName; }

std::string Home::DataDir() const {
  fs::path p(config.data_dir);
  return p.is_absolute() ? p.string() : (fs::path(dir) / p).string();
}

Status InitHome(const InitOptions& o) {
  if (o.home.empty()) return Status::Invalid("--home: must not be empty");
  if (!o.genesis) RETURN_IF_ERROR(CheckChainId(o.chain_id).Prefixed("--chain-id"));
  Config config = o.config.value_or(Config{});
  if (o.api) {
    RETURN_IF_ERROR(
        ParseHostPort(*o.api, &config.api.listen_address, &config.api.port).Prefixed("--api"));
  }
  if (o.p2p) {
    RETURN_IF_ERROR(
        ParseHostPort(*o.p2p, &config.p2p_listen_address, &config.p2p_port).Prefixed("--p2p"));
  }
  if ((o.api || o.p2p) && config.p2p_port != 0 &&
      CanonicalAddress(config.api.listen_address, config.api.port) ==
          CanonicalAddress(config.p2p_listen_address, config.p2p_port)) {
    return Status::Invalid(std::string(o.p2p ? "--p2p" : "--api") +
                           ": the API and the peer links cannot share " +
                           CanonicalAddress(config.p2p_listen_address, config.p2p_port));
  }
  fs::path home = fs::path(o.home).lexically_normal();
  if (home.filename().empty()) home = home.parent_path();
  ASSIGN_OR_RETURN(bool occupied, IsOccupied(home.string()));
  std::error_code kind_ec;
  if (occupied && !fs::is_directory(fs::symlink_status(home, kind_ec))) {
    return Status::AlreadyExists(home.string() +
                                 " exists and is not a directory: a home is a directory; choose "
                                 "another --home or remove it");
  }
  if (occupied) {
    return Status::AlreadyExists(home.string() +
                                 " already exists and is not empty: refusing to overwrite a "
                                 "home (its key and chain); choose another --home or remove it");
  }
  fs::path parent = home.has_parent_path() ? home.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) return Status::IoError("cannot create " + parent.string() + ": " + ec.message());

  std::string tmpl = (parent / ("." + home.filename().string() + ".init-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Status::IoError("cannot create a directory in " + parent.string() + ": " + Errno());
  }
  const std::string tmp = tmpl;
  Status st = Populate(tmp, o, config);
  if (st.ok() && ::rename(tmp.c_str(), home.c_str()) != 0) {
    if (errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR) {
      st = Status::AlreadyExists(home.string() +
                                 " appeared while initialising: refusing to "
                                 "overwrite it");
    } else {
      st = Status::IoError("cannot rename " + tmp + " to " + home.string() + ": " + Errno());
    }
  }
  if (!st.ok()) {
    fs::remove_all(tmp, ec);
    return st;
  }
  ::chmod(home.c_str(), 0700);
  SyncDir(parent.string());
  return Status::Ok();
}

Result<Home> LoadHome(const std::string& dir) {
  std::error_code ec;
  const fs::file_type type = fs::status(dir, ec).type();
  if (type == fs::file_type::none) {
    return Status::IoError("cannot read " + dir + ": " + ec.message());
  }
  if (type != fs::file_type::directory) {
    return Status::NotFound(dir +
                            " is not a consentd home (no such directory): run `consentd "
                            "init --home " +
                            dir + "` first");
  }
  Home home;
  home.dir = dir;
  const std::string config_path = dir + "/" + kConfigFileName;
  const std::string genesis_path = dir + "/" + kGenesisFileName;
  const std::string key_path = dir + "/" + kKeyFileName;
  for (const std::string& p : {config_path, genesis_path, key_path}) {
    const fs::file_type t = fs::status(p, ec).type();
    if (t == fs::file_type::none) return Status::IoError("cannot read " + p + ": " + ec.message());
    if (t == fs::file_type::not_found) {
      return Status::NotFound(dir + " is not a complete consentd home: " + p + " is missing");
    }
  }
  ASSIGN_OR_RETURN(home.config, LoadConfigFile(config_path));
  ASSIGN_OR_RETURN(std::string genesis_text, ReadSmallFile(genesis_path, 1 << 20));
  auto genesis = ParseGenesis(genesis_text);
  if (!genesis.ok()) {
    return Status(genesis.status().code(), genesis_path + ": " + genesis.status().message());
  }
  home.genesis = std::move(genesis).value();
  auto key = ReadKeyFile(key_path);
  if (!key.ok()) return key.status();
  if (key->kind != KeyKind::kValidator) {
    return Status::Invalid(key_path + ": a node key must be of kind \"validator\", not \"" +
                           std::string(KeyKindName(key->kind)) + "\"");
  }
  home.key = *key;
  for (const Validator& v : home.genesis.validators) {
    if (v.public_key == home.key.public_key) home.is_validator = true;
  }
  return home;
}

}  // namespace consent
