// One WebSocket stream of committed consent changes (GET /v1/stream), internal to net/.
//
// Order and completeness: the session keeps a cursor `next_` (the next log index to look at).
// It subscribes to the hub first, then catches up from a store snapshot up to that snapshot's
// log size, in batches paced by its queue; while catching up it ignores live blocks (they are
// already in, or will be in, a later snapshot, because the node notifies after it commits).
// Once a snapshot holds nothing past the cursor it goes live: each block's txs below the cursor
// are skipped (no duplicate) and a block that starts past the cursor sends it back to the store
// (no gap). Every change whose controller matches the filter is pushed as one JSON text message.
//
// Bounds: at most one write in flight; the queue of unsent messages is capped at
// ws_max_queue_bytes: a live consumer that lets it overflow is closed with code 4000 and a
// reason naming the last log index sent, from which it can resume. Client messages are read
// (so pings and close work) and discarded, each capped at ws_max_message_bytes (larger: closed
// with 1009 by Beast).
// Thread-safety: everything runs on the session's strand; Deliver and Shutdown may be called
// from any thread.
#pragma once

#include <atomic>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "net/log_reader.h"
#include "net/server_state.h"

namespace consent {

// WebSocket close codes of the stream (docs/api.md).
inline constexpr uint16_t kCloseSlowConsumer = 4000;
inline constexpr uint16_t kCloseStoreError = 4001;

class StreamSession : public Session,
                      public BlockSink,
                      public std::enable_shared_from_this<StreamSession> {
 public:
  StreamSession(boost::beast::tcp_stream stream, std::shared_ptr<ServerState> state,
                StreamRequest request, std::shared_ptr<void> connection);
  ~StreamSession() override;

  void Start(boost::beast::http::request<boost::beast::http::string_body> upgrade);
  void Deliver(const std::shared_ptr<const CommittedBlock>& block) override;
  void Shutdown() override;

 private:
  void OnAccept(boost::beast::error_code ec);
  void DoRead();
  void OnRead(boost::beast::error_code ec, size_t n);
  void CatchUp();
  void OnBlock(const std::shared_ptr<const CommittedBlock>& block);
  void Emit(const SignedTx& tx, const Hash32& tx_id, uint64_t height, uint64_t log_index);
  void DoWrite();
  void OnWrite(boost::beast::error_code ec, size_t n);
  void CloseWith(uint16_t code, const std::string& reason);
  std::string ResumeHint() const;
  void Finish();

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  std::shared_ptr<ServerState> state_;
  const StreamRequest request_;
  std::shared_ptr<void> connection_;
  boost::beast::flat_buffer read_buffer_;
  LogReader log_;

  struct Message {
    std::string text;
    uint64_t log_index;
  };
  std::deque<Message> queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool live_ = false;             // caught up: following commit notifications
  bool catch_up_posted_ = false;  // a CatchUp step is queued on the strand
  bool closing_ = false;
  bool finished_ = false;
  // The handshake's 101 is written by async_accept: a close asked for before it completed (a
  // server stopping right after a client connected) waits for OnAccept, since a close frame
  // written meanwhile would be a second write pending on the socket.
  bool accepted_ = false;
  std::optional<std::pair<uint16_t, std::string>> close_after_accept_;
  bool counted_ = false;                   // counted in the open-streams gauge
  uint64_t next_;                          // the next log index to look at
  std::optional<uint64_t> last_sent_;      // log index of the last message handed to the socket
  std::atomic<size_t> pending_blocks_{0};  // Deliver()ed, not yet handled on the strand
  std::atomic<bool> lagging_{false};       // a Deliver was dropped: go back to the store
  uint64_t id_ = 0;
};

}  // namespace consent
