// BlockSync: the block-sync bookkeeping of one node: the heights its peers claim, which peer to
// ask for the next blocks, and the request in flight. It decides; the Node sends the requests,
// verifies what comes back (every commit and block is checked before it is applied) and reports
// the outcome here.
//
// Peer choice: a request goes to a peer that claims to be ahead; a request that is not answered
// within kSyncTimeout is abandoned and the peer that did not deliver is demoted (it is asked
// again only after every other peer ahead has had its turn, and never before kSyncTimeout
// passes); a response that brings no new block counts as not delivering. So a peer that claims a
// huge height and never answers costs at most one timeout per rotation, and honest peers ahead
// keep being asked.
//
// Bounds: one entry per connected peer (the PeerManager caps links at p2p.max_peers); one request
// in flight.
// Thread-safety: none; the Node uses it on its driver thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>

#include "net/peer_manager.h"

namespace consent {

class BlockSync {
 public:
  using Clock = std::chrono::steady_clock;
  // A block request without an answer is abandoned (and its peer demoted) after this long.
  static constexpr auto kSyncTimeout = std::chrono::milliseconds(5000);
  // A peer exactly one block ahead triggers block sync only after this long (consensus usually
  // delivers that block itself a moment later).
  static constexpr auto kBehindGrace = std::chrono::milliseconds(1000);

  struct Request {
    PeerId peer = 0;
    uint64_t from = 0;
    uint32_t count = 0;
  };

  // A peer's claimed height (on connect and from its status messages).
  void SetPeerHeight(PeerId peer, uint64_t height);
  void RemovePeer(PeerId peer);

  // The request to send now, if any, given this node's height `mine` (records it as in flight).
  // `max_count`: blocks asked for at most.
  std::optional<Request> Next(uint64_t mine, Clock::time_point now, uint32_t max_count);

  // A block response arrived from `peer`; `applied`: how many new blocks it brought.
  void OnResponse(PeerId peer, size_t applied, Clock::time_point now);

  // Whether a peer claims to be more than one block ahead of `mine` (as of the last Next).
  bool catching_up() const { return catching_up_; }
  size_t peer_count() const { return peers_.size(); }
  // Times a peer did not deliver (timeouts and empty answers), since start.
  uint64_t demotions() const { return demotions_; }
  // Tests.
  std::optional<Request> in_flight() const;

 private:
  struct PeerState {
    uint64_t height = 0;
    uint64_t last_asked = 0;  // order of the last request sent to it (0: never)
    uint32_t failures = 0;    // consecutive requests it did not deliver
  };
  void Demote(PeerId peer);

  std::map<PeerId, PeerState> peers_;
  struct InFlight {
    Request req;
    Clock::time_point at{};
  };
  std::optional<InFlight> in_flight_;
  std::optional<Clock::time_point> behind_since_;
  uint64_t requests_ = 0;
  uint64_t demotions_ = 0;
  bool catching_up_ = false;
};

}  // namespace consent
