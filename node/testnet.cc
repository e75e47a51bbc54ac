// `consentd testnet`: keys and genesis first, then one InitHome per node inside a temporary
// sibling directory, renamed into place at the end.
#include "node/testnet.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "crypto/keyfile.h"
#include "ledger/tx.h"
#include "node/config.h"
#include "node/home.h"

namespace consent {
namespace fs = std::filesystem;
namespace {

std::string Errno() { return std::strerror(errno); }

std::string Address(const std::string& host, uint16_t port) {
  return host + ":" + std::to_string(port);
}

// Fills in every node's name, role, ports and key, and the genesis.
Result<Testnet> Plan(const TestnetOptions& o) {
  if (o.out.empty()) return Status::Invalid("--out: must not be empty");
  if (o.validators < 1 || o.validators > kMaxTestnetValidators) {
    return Status::Invalid("--validators: must be in [1, " + std::to_string(kMaxTestnetValidators) +
                           "], got " + std::to_string(o.validators));
  }
  if (o.followers < 0 || o.followers > kMaxTestnetFollowers) {
    return Status::Invalid("--followers: must be in [0, " + std::to_string(kMaxTestnetFollowers) +
                           "], got " + std::to_string(o.followers));
  }
  const int total = o.validators + o.followers;
  const uint64_t last_port = uint64_t{o.base_port} + 2 * static_cast<uint64_t>(total) - 1;
  if (o.base_port < 1 || last_port > 65535) {
    return Status::Invalid("--base-port: " + std::to_string(total) + " nodes use ports " +
                           std::to_string(o.base_port) + ".." + std::to_string(last_port) +
                           ", which must lie in [1, 65535]");
  }
  RETURN_IF_ERROR(CheckChainId(o.chain_id).Prefixed("--chain-id"));

  Testnet net;
  net.dir = o.out;
  net.genesis.chain_id = o.chain_id;
  net.genesis.genesis_time_ms = o.genesis_time_ms != 0 ? o.genesis_time_ms : NowMs();
  for (int i = 0; i < total; ++i) {
    TestnetNode n;
    n.name = "node" + std::to_string(i);
    n.home = (fs::path(o.out) / n.name).string();
    n.validator = i < o.validators;
    n.api_port = static_cast<uint16_t>(o.base_port + 2 * i);
    n.p2p_port = static_cast<uint16_t>(o.base_port + 2 * i + 1);
    if (n.validator) net.genesis.validators.push_back(Validator{n.name, PublicKey{}});
    net.nodes.push_back(std::move(n));
  }
  const bool full_mesh = static_cast<size_t>(total - 1) <= kMaxPersistentPeers;
  for (TestnetNode& n : net.nodes) {
    for (const TestnetNode& peer : net.nodes) {
      if (&peer == &n || !(full_mesh || peer.validator)) continue;
      n.persistent_peers.push_back(Address(peer.host, peer.p2p_port));
    }
  }
  return net;
}

Status Build(const std::string& dir, Testnet& net, const std::vector<KeyFile>& keys) {
  RETURN_IF_ERROR(WriteNewFile(dir + "/" + kGenesisFileName, net.genesis.ToJson() + "\n", 0644));
  const size_t total = net.nodes.size();
  for (size_t i = 0; i < total; ++i) {
    const TestnetNode& n = net.nodes[i];
    Config config;
    config.api.listen_address = n.host;
    config.api.port = n.api_port;
    config.p2p_listen_address = n.host;
    config.p2p_port = n.p2p_port;
    config.p2p_listen = true;
    config.p2p_persistent_peers = n.persistent_peers;
    config.p2p_max_peers = std::max(config.p2p_max_peers, total - 1);
    // Every node of a testnet dials from 127.0.0.1: the per-IP caps must fit all of them.
    config.p2p_max_inbound_per_ip = std::max(config.p2p_max_inbound_per_ip, total);
    config.p2p_max_pending_per_ip = std::max(config.p2p_max_pending_per_ip, total);
    config.p2p_handshakes_per_ip_per_sec =
        std::max(config.p2p_handshakes_per_ip_per_sec, static_cast<double>(total));
    InitOptions init;
    init.home = dir + "/" + n.name;
    init.key = keys[i];
    init.genesis = net.genesis;
    init.config = config;
    RETURN_IF_ERROR(InitHome(init).Prefixed(n.name));
  }
  SyncDir(dir);
  return Status::Ok();
}

}  // namespace

Result<Testnet> CreateTestnet(const TestnetOptions& o) {
  ASSIGN_OR_RETURN(Testnet net, Plan(o));
  std::vector<KeyFile> keys;
  for (TestnetNode& n : net.nodes) {
    keys.push_back(KeyFile::Generate(KeyKind::kValidator));
    n.key = keys.back().public_key;
  }
  for (size_t i = 0; i < net.genesis.validators.size(); ++i) {
    net.genesis.validators[i].public_key = net.nodes[i].key;
  }

  fs::path out = fs::path(o.out).lexically_normal();
  if (out.filename().empty()) out = out.parent_path();
  ASSIGN_OR_RETURN(bool occupied, IsOccupied(out.string()));
  if (occupied) {
    return Status::AlreadyExists(out.string() +
                                 " already exists and is not empty: refusing to overwrite it; "
                                 "choose another --out or remove it");
  }
  const fs::path parent = out.has_parent_path() ? out.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) return Status::IoError("cannot create " + parent.string() + ": " + ec.message());
  std::string tmpl = (parent / ("." + out.filename().string() + ".testnet-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Status::IoError("cannot create a directory in " + parent.string() + ": " + Errno());
  }
  const std::string tmp = tmpl;
  Status st = Build(tmp, net, keys);
  if (st.ok() && ::chmod(tmp.c_str(), 0755) != 0) {
    st = Status::IoError("chmod " + tmp + ": " + Errno());
  }
  if (st.ok() && ::rename(tmp.c_str(), out.c_str()) != 0) {
    if (errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR) {
      st = Status::AlreadyExists(out.string() + " appeared meanwhile: refusing to overwrite it");
    } else {
      st = Status::IoError("cannot rename " + tmp + " to " + out.string() + ": " + Errno());
    }
  }
  if (!st.ok()) {
    fs::remove_all(tmp, ec);
    return st;
  }
  SyncDir(parent.string());
  return net;
}

}  // namespace consent
