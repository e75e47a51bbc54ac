// One HTTP connection of the API server (internal to net/): reads requests with a fresh parser
// each (header and body limits from the options), answers them through the router, keeps the
// connection alive, answers a POST /v1/txs when the node has verified and admitted its batch
// (a DeferredResponse; no API thread waits for it; after kDeferredTimeoutMs without an answer,
// 503), answers ?wait=commit requests when their CommitWait completes or its timer fires, answers
// HEAD with the headers only, and hands a valid /v1/stream upgrade to a StreamSession. Timeouts: a
// connection waiting for a request's first byte gets idle_timeout_ms (request_timeout_ms for the
// first request) and is then closed without an answer; reading the rest of a request gets
// request_timeout_ms, after which the client is answered 408 (written within a short deadline) and
// the connection closed; writing a response gets request_timeout_ms. The read deadline is a timer
// of its own that cancels the read (the stream's own expiry would close the socket, leaving no way
// to answer). Thread-safety: everything runs on the session's strand; Shutdown may be called from
// any thread.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "net/server_state.h"

namespace consent {

class HttpSession : public Session, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket socket, std::shared_ptr<ServerState> state,
              std::shared_ptr<void> connection);
  ~HttpSession() override;
  void Start();
  // For a connection over a cap: answers 503 with `why` at once (no request is read), closes.
  void StartRejected(std::string why);
  void Shutdown() override;

 private:
  void WaitForRequest();
  void OnFirstBytes(boost::beast::error_code ec, size_t n);
  void ReadRequest();
  // Feeds the buffered bytes to the parser, then reads more unless the request is complete, an
  // error occurred or the read deadline passed.
  void ContinueRead();
  void OnReadSome(boost::beast::error_code ec, size_t n);
  void OnReadDeadline(uint64_t generation);
  // The request is complete (no error), or reading it failed (`ec`), or timed out.
  void OnRead(boost::beast::error_code ec, bool timed_out);
  void Dispatch();
  void StartDeferred(std::shared_ptr<DeferredResponse> deferred);
  void FinishDeferred(bool timed_out);
  void StartWait(std::shared_ptr<CommitWait> wait);
  void FinishWait(bool timed_out);
  void Upgrade(const StreamRequest& stream);
  // Writes `r` within `write_timeout_ms` (0: request_timeout_ms).
  void Send(HttpResponse r, uint32_t write_timeout_ms = 0);
  void OnWrite(bool close, boost::beast::error_code ec, size_t n);
  // Half-closes, then discards what the client still sends (bounded in time and bytes) before
  // closing, so that the client reads the answer instead of a reset.
  void Linger();
  void OnLinger(boost::beast::error_code ec, size_t n);
  void Close();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  boost::beast::http::request<boost::beast::http::string_body> request_;
  boost::beast::http::response<boost::beast::http::string_body> response_;
  std::shared_ptr<ServerState> state_;
  std::shared_ptr<void> connection_;
  std::string remote_;
  std::string client_key_;  // ClientKey(remote_)
  boost::asio::steady_timer wait_timer_;
  boost::asio::steady_timer read_timer_;  // the deadline of the request being read
  uint64_t read_generation_ = 0;          // which ReadRequest the armed read_timer_ is for
  bool reading_ = false;                  // a request is being read (ReadRequest .. OnRead)
  bool read_deadline_passed_ = false;
  std::shared_ptr<CommitWait> wait_;
  std::shared_ptr<DeferredResponse> deferred_;  // an answer the node has yet to give
  std::string route_;
  std::chrono::steady_clock::time_point started_;
  uint64_t id_ = 0;
  bool first_request_ = true;
  size_t lingered_bytes_ = 0;
  bool closed_ = false;
};

}  // namespace consent
