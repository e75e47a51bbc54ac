// One WebSocket stream of committed consent changes (GET /v1/stream), internal to net/.
//
// Order and completeness: the session keeps a cursor `next_` (the next log index to look at).
// It subscribes to the hub first, then catches up from store snapshots in steps run on the
// server's CatchUpWorker thread (never on an API thread): each step reads at most
// kCatchUpScan txs of the log (and keeps at most kCatchUpBatch matching ones), serialises them
// there, and hands them to the session's strand, which queues them and asks for the next step
// while its queue is under half of ws_max_queue_bytes (else once it has drained). Live blocks
// that arrive while catching up are not sent, only remembered (their end); once a step reaches
// the end of its snapshot and no later block was heard of, the session goes live: each block's
// txs below the cursor are skipped (no duplicate) and a block that starts past the cursor sends
// it back to the store (no gap). Every change whose controller matches the filter is pushed as
// one JSON text message; live messages are the hub's StreamBlock texts, serialised once and
// shared by every stream.
//
// Bounds: at most one write in flight; the queue of unsent messages is capped at
// ws_max_queue_bytes, checked before a message is queued: a live consumer whose next message
// would pass it is closed with code 4000 and a reason naming the last log index sent, from which
// it can resume. The server pings a client that has sent nothing for ws_idle_timeout_ms / 2 and
// closes the stream (reclaiming its slot) when it has still sent nothing (no pong either) at
// ws_idle_timeout_ms. Client messages are read (so pings and close work) and discarded, each
// capped at ws_max_message_bytes (larger: closed with 1009 by Beast).
// Thread-safety: everything runs on the session's strand, except ReadStep, which runs on the
// CatchUpWorker and touches only log_, request_ and state_ (at most one step is in flight);
// Deliver and Shutdown may be called from any thread.
#pragma once

#include <atomic>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
  // `connection` and `slot` are the connection's and the stream's ClientTable tokens.
  StreamSession(boost::beast::tcp_stream stream, std::shared_ptr<ServerState> state,
                StreamRequest request, std::shared_ptr<void> connection,
                std::shared_ptr<void> slot);
  ~StreamSession() override;

  void Start(boost::beast::http::request<boost::beast::http::string_body> upgrade);
  void Deliver(const std::shared_ptr<const StreamBlock>& block) override;
  void Shutdown() override;

 private:
  void OnAccept(boost::beast::error_code ec);
  void DoRead();
  void OnRead(boost::beast::error_code ec, size_t n);
  struct Message {
    std::shared_ptr<const void> owner;  // keeps *text alive (a StreamBlock or a string)
    const std::string* text;
    uint64_t log_index;
  };
  struct Step {  // the result of one catch-up step
    std::vector<Message> messages;
    uint64_t next = 0;  // the cursor after the step
    uint64_t end = 0;   // the log size of the step's snapshot
    bool error = false;
  };
  void CatchUp();
  void ReadStep(uint64_t from);                    // on the CatchUpWorker
  void OnStep(const std::shared_ptr<Step>& step);  // on the strand
  void OnBlock(const std::shared_ptr<const StreamBlock>& block);
  // Queues one message; false if the stream was closed instead (the queue would overflow).
  bool Push(Message m);
  void DoWrite();
  void OnWrite(boost::beast::error_code ec, size_t n);
  void CloseWith(uint16_t code, const std::string& reason);
  std::string ResumeHint() const;
  void Finish();

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  std::shared_ptr<ServerState> state_;
  const StreamRequest request_;
  std::shared_ptr<void> connection_;
  std::shared_ptr<void> slot_;
  boost::beast::flat_buffer read_buffer_;
  LogReader log_;  // used by ReadStep only

  std::deque<Message> queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool live_ = false;             // caught up: following commit notifications
  bool catch_up_posted_ = false;  // a CatchUp is queued on the strand
  bool step_running_ = false;     // a ReadStep is queued on or running on the CatchUpWorker
  uint64_t heard_end_ = 0;        // the end of the latest block heard of while catching up
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
