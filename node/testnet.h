// `consentd testnet`: the homes of a whole network on one machine, for tests and demos.
//
//   OUT/            mode 0755
//     genesis.json  the chain: validators node0 .. node{N-1}, genesis_time_ms = now
//     node0/        a home exactly as `consentd init` makes it (node/home.h), but with the shared
//     ...           genesis, its own node key, and a config.toml with
//     node{N+M-1}/    [api] 127.0.0.1:(base_port + 2i), [p2p] 127.0.0.1:(base_port + 2i + 1),
//                     persistent_peers = the other nodes' p2p addresses (see below)
//
// node0 .. node{N-1} are the validators (in genesis order); node{N} .. node{N+M-1} are followers:
// their key is a validator-kind node key that is not in the set.
//
// Peers: with at most kMaxPersistentPeers + 1 nodes in all, every node lists every other node
// (a full mesh; the peer layer keeps one link per pair). Beyond that a follower-to-follower mesh
// would not fit in persistent_peers, so every node lists every validator but itself; validators
// still link to every node (followers dial them). p2p.max_peers is raised to at least N+M-1.
//
// Atomic like init: everything is written into a fresh sibling directory renamed to OUT at the
// end; on failure nothing is left. OUT must not exist or be an empty directory.
// Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "crypto/status.h"
#include "ledger/block.h"

namespace consent {

inline constexpr int kMaxTestnetValidators = 64;
inline constexpr int kMaxTestnetFollowers = 64;
inline constexpr uint32_t kDefaultTestnetBasePort = 26600;
inline constexpr char kDefaultTestnetChainId[] = "testnet";

struct TestnetOptions {
  std::string out;
  int validators = 0;  // 1..kMaxTestnetValidators
  int followers = 0;   // 0..kMaxTestnetFollowers
  // Node i: API on base_port + 2i, p2p on base_port + 2i + 1; all of them must be <= 65535.
  uint32_t base_port = kDefaultTestnetBasePort;
  std::string chain_id = kDefaultTestnetChainId;
  uint64_t genesis_time_ms = 0;  // 0 = now
};

struct TestnetNode {
  std::string name;  // "node<i>", also the validator's name in the genesis
  std::string home;  // OUT/node<i>
  bool validator = false;
  std::string host = "127.0.0.1";
  uint16_t api_port = 0;
  uint16_t p2p_port = 0;
  PublicKey key{};
  std::vector<std::string> persistent_peers;
};

struct Testnet {
  std::string dir;  // OUT as given
  Genesis genesis;
  std::vector<TestnetNode> nodes;  // validators first, in genesis order
};

// Creates the network described above. Errors: kInvalidArgument (a count or port out of range,
// a bad chain id, an empty OUT), kAlreadyExists (OUT exists and is not an empty directory:
// nothing is changed), kIoError.
Result<Testnet> CreateTestnet(const TestnetOptions& options);

}  // namespace consent
