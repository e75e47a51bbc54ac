// Peer links: authenticated WebSocket connections between nodes (Boost.Beast, binary frames, one
// strand per session), carrying the messages of ledger/p2p_messages.h.
//
// A link, inbound or outbound, becomes usable only after the handshake: each side sends hello
// (chain id, genesis hash, protocol version, node key, a fresh random 32-byte challenge, height)
// and answers the other's hello with hello_ack, a signature over HandshakeMessage(transcript of
// both hellos in role order, its own role). A wrong chain id, genesis hash or protocol version, a
// bad signature, this node's own key, a key already connected, or a key that is banned ends the
// link with a goodbye naming the reason. The handshake must finish within handshake_timeout_ms.
// The transcript (protocol version 2) binds a proof to its link: a relay, or a forwarder that
// dials two nodes and passes their messages on, gets no link (docs/protocol.md, "Peer protocol").
//
// After the handshake, each decoded message goes to the PeerHandler. The link itself enforces:
// frames are binary and at most max_frame_bytes (Beast's read limit: a larger frame closes the
// link); a frame that does not decode is misbehaviour; at most max_msgs_per_sec messages per
// second per peer (token bucket, burst = 2 s worth); misbehaviour closes the link with a goodbye
// and bans the peer's key (and, for outbound peers, its address) for ban_seconds. The handler
// reports protocol-level misbehaviour (an invalid block, a bad signature) with Disconnect(.., ban).
//
// Outgoing: every link has a bounded queue (max_queue_msgs messages and max_queue_bytes bytes);
// Send/Broadcast never block: a message that does not fit is dropped and counted (consensus
// re-gossips, block sync re-requests). Persistent peers (outbound addresses from the config) are
// dialled at Start and redialled after a failure or a close with exponential backoff
// (backoff_min_ms doubling to backoff_max_ms, reset after a link lived for 10 s).
//
// Two links to one key (both nodes dialled each other): both sides keep the link whose dialer
// has the lexicographically smaller node key (two links from the same dialer: the newer) and
// close the other with goodbye "duplicate link". A persistent address whose key is connected
// through another link is not redialled until that link closes.
//
// Admission. A link is a priority link if this node dialled it (persistent peers), if its key is
// a persistent peer's (learned when dialling it), or if is_validator(key). Priority links always
// get a slot: past max_peers, one guest link is evicted for them (goodbye "evicted: ..."; from
// the IP with the most guest links, the newest), or, with no guest left, they are admitted above
// max_peers (so at most max_peers + validators + persistent peers links). Every other link is a
// guest: at most max_inbound_per_ip of them from one IP (an IPv6 /64), at most
// guest_msgs_per_sec messages a second (more is misbehaviour, as for max_msgs_per_sec), and its
// frames are read at most guest_bytes_per_sec (burst: one max_frame_bytes frame; the link is
// paused, not punished). Before the handshake: at most max_pending_per_ip inbound connections
// per IP in the upgrade or handshake, and at most handshakes_per_ip_per_sec new ones a second
// (burst 2 s worth), since each costs a signature and a verification. A connection refused
// before the upgrade gets "HTTP/1.1 503" with the reason as its body; after it, a goodbye.
//
// Bans: a key is banned only once it has proven itself (hello_ack verified), so that nobody can
// get an honest key banned by claiming it in a hello; misbehaviour before that bans only the
// address of an outbound peer. A frame over max_frame_bytes is refused by Beast itself, which
// closes with WebSocket code 1009 (too big) before a goodbye could be sent.
//
// Thread-safety: every public method is thread-safe. Handler callbacks run on the manager's I/O
// thread: they must be quick (post real work elsewhere) and may call Send/Broadcast/Disconnect
// (not Stop, which joins that thread). is_validator is called on that thread under the manager's
// lock: it must be quick, thread-safe, and must not call the manager.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/ed25519.h"
#include "crypto/status.h"
#include "ledger/p2p_messages.h"

namespace consent {

using PeerId = uint64_t;  // unique per link for the manager's lifetime (never reused)

struct PeerInfo {
  PeerId id = 0;
  PublicKey key{};
  std::string address;  // "ip:port" of the remote end
  bool outbound = false;
  uint64_t height = 0;  // from its hello and its latest status
  uint64_t msgs_in = 0, msgs_out = 0, dropped_out = 0;
};

struct PeerManagerOptions {
  std::string chain_id;
  Hash32 genesis_hash{};
  Seed32 node_seed{};  // the node key's seed (signs hello_ack)
  std::string listen_address = "127.0.0.1";
  uint16_t listen_port = 0;  // 0 = an ephemeral port (see listen_port())
  bool listen = true;
  std::vector<std::string> persistent_peers;  // "host:port", IP literals
  size_t max_peers = 50;                      // inbound + outbound links after handshake
  size_t max_frame_bytes = p2p::kMaxFrameBytes;
  size_t max_queue_msgs = 10000;
  size_t max_queue_bytes = 64u << 20;
  uint32_t max_msgs_per_sec = 20000;
  uint32_t ban_seconds = 60;
  uint32_t handshake_timeout_ms = 5000;
  uint32_t backoff_min_ms = 200;
  uint32_t backoff_max_ms = 10000;
  uint32_t idle_timeout_ms = 30000;  // websocket ping/timeout (Beast's suggested settings)
  // Inbound connections still in the HTTP upgrade or the handshake; more are closed at once.
  size_t max_pending_handshakes = 64;
  // Admission (see the file comment): which keys are the current validators' (empty = none).
  std::function<bool(const PublicKey&)> is_validator;
  size_t max_inbound_per_ip = 8;            // guest links past the handshake, per IP (IPv6: /64)
  size_t max_pending_per_ip = 8;            // inbound links in the upgrade or handshake, per IP
  double handshakes_per_ip_per_sec = 10;    // inbound connections accepted per IP; burst 2 s worth
  uint32_t guest_msgs_per_sec = 2000;       // a guest's message rate (priority: max_msgs_per_sec)
  uint64_t guest_bytes_per_sec = 4u << 20;  // a guest's frames are read at most this fast
  // The height this node reports in its hello.
  std::function<uint64_t()> current_height;
  // Optional: one line per notable event (refusals, misbehaviour, goodbyes received, dial
  // failures). Called on the manager's I/O thread or the thread calling Start/Stop.
  std::function<void(const std::string&)> log;
};

class PeerHandler {
 public:
  virtual ~PeerHandler() = default;
  virtual void OnPeerConnected(const PeerInfo& peer) = 0;
  // Any message but hello/hello_ack (the handshake is the manager's) and goodbye.
  virtual void OnPeerMessage(PeerId peer, p2p::Message message) = 0;
  virtual void OnPeerDisconnected(PeerId peer) = 0;
};

class PeerManagerImpl;  // net/peer_manager_impl.h, internal

class PeerManager {
 public:
  PeerManager(PeerManagerOptions options, PeerHandler* handler);
  ~PeerManager();  // Stop()
  PeerManager(const PeerManager&) = delete;
  PeerManager& operator=(const PeerManager&) = delete;

  // Binds the listener (an error names the address and the reason) and starts dialling.
  Status Start();
  // Closes every link (goodbye "shutting down"), stops the I/O thread. Idempotent. No handler
  // callback runs after Stop returns.
  void Stop();
  uint16_t listen_port() const;

  // Queue an encoded frame (p2p::Encode) for one peer / every peer (except `except`, 0 = none).
  void Send(PeerId peer, std::shared_ptr<const Bytes> frame);
  void Broadcast(std::shared_ptr<const Bytes> frame, PeerId except = 0);
  // Ends the link with a goodbye(reason); with `ban`, refuses the peer's key (and address, if
  // outbound) for ban_seconds.
  void Disconnect(PeerId peer, const std::string& reason, bool ban);
  // Records a height the peer reported (status), for Peers() and status pages.
  void SetPeerHeight(PeerId peer, uint64_t height);

  size_t peer_count() const;
  std::vector<PeerInfo> Peers() const;
  // Prometheus lines: consent_peers, consent_peer_messages_{in,out}_total,
  // consent_peer_dropped_total, consent_peer_bans_total, consent_peer_handshake_failures_total,
  // consent_peer_refused_total{reason=...}, consent_peer_evictions_total.
  std::string Metrics() const;

 private:
  std::unique_ptr<PeerManagerImpl> impl_;
};

}  // namespace consent
