// One HTTP connection of the API server (internal to net/): reads requests with a fresh parser
// each (header and body limits from the options), answers them through the router, keeps the
// connection alive, answers ?wait=commit requests when their CommitWait completes or its timer
// fires, answers HEAD with the headers only, and hands a valid /v1/stream upgrade to a
// StreamSession. Timeouts: a connection waiting for a request's first byte gets idle_timeout_ms
// (request_timeout_ms for the first request); reading the rest of a request and writing a
// response each get request_timeout_ms.
// Thread-safety: everything runs on the session's strand; Shutdown may be called from any thread.
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
  // For a connection over the cap: answers 503 at once (no request is read) and closes.
  void StartRejected();
  void Shutdown() override;

 private:
  void WaitForRequest();
  void OnFirstBytes(boost::beast::error_code ec, size_t n);
  void ReadRequest();
  void OnRead(boost::beast::error_code ec, size_t n);
  void Dispatch();
  void StartWait(std::shared_ptr<CommitWait> wait);
  void FinishWait(bool timed_out);
  void Upgrade(const StreamRequest& stream);
  void Send(HttpResponse r);
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
  boost::asio::steady_timer wait_timer_;
  std::shared_ptr<CommitWait> wait_;
  std::string route_;
  std::chrono::steady_clock::time_point started_;
  uint64_t id_ = 0;
  bool first_request_ = true;
  size_t lingered_bytes_ = 0;
  bool closed_ = false;
};

}  // namespace consent
