// Implementation of HttpSession (net/http_session.h).
#include "net/http_session.h"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "net/stream_session.h"

namespace consent {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using Ms = std::chrono::milliseconds;

namespace {
// The deadline for writing an error answer to a client that stalled (at most
// request_timeout_ms): the answer is small, so only a client that does not read takes longer.
constexpr uint32_t kErrorWriteTimeoutMs = 1000;
// The longest a POST /v1/txs waits for the node to verify and admit its batch before it is
// answered 503 (the node's queue holds at most FairVerifyLimits::max_total_txs, seconds of work).
constexpr uint32_t kDeferredTimeoutMs = 60'000;
}  // namespace

HttpSession::HttpSession(asio::ip::tcp::socket socket, std::shared_ptr<ServerState> state,
                         std::shared_ptr<void> connection)
    : stream_(std::move(socket)),
      state_(std::move(state)),
      connection_(std::move(connection)),
      wait_timer_(stream_.get_executor()),
      read_timer_(stream_.get_executor()) {
  beast::error_code ec;
  auto ep = stream_.socket().remote_endpoint(ec);
  remote_ = ec ? "unknown" : ep.address().to_string();
  client_key_ = ec ? remote_ : ClientKey(remote_);
}

HttpSession::~HttpSession() {
  if (deferred_) deferred_->Cancel();
  if (id_ != 0) state_->Unregister(id_);
}

void HttpSession::Start() {
  id_ = state_->Register(weak_from_this());
  asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
    if (self->state_->stopping.load()) return self->Close();
    self->WaitForRequest();
  });
}

void HttpSession::StartRejected(std::string why) {
  asio::dispatch(stream_.get_executor(), [self = shared_from_this(), why = std::move(why)] {
    self->started_ = std::chrono::steady_clock::now();
    self->route_ = "unmatched";
    HttpResponse r = ErrorResponse(503, "unavailable", why);
    r.headers.emplace_back("Retry-After", "1");
    r.close = true;
    self->Send(std::move(r));
  });
}

void HttpSession::Shutdown() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] { self->Close(); });
}

// Waits for the first byte of the next request under the idle timeout, so that a keep-alive
// connection may rest longer than a request may take.
void HttpSession::WaitForRequest() {
  if (closed_) return;
  if (buffer_.size() > 0) return ReadRequest();  // a pipelined request is already here
  uint32_t ms =
      first_request_ ? state_->options.request_timeout_ms : state_->options.idle_timeout_ms;
  stream_.expires_after(Ms(ms));
  stream_.async_read_some(
      buffer_.prepare(4096),
      beast::bind_front_handler(&HttpSession::OnFirstBytes, shared_from_this()));
}

void HttpSession::OnFirstBytes(beast::error_code ec, size_t n) {
  if (ec) return Close();
  buffer_.commit(n);
  ReadRequest();
}

void HttpSession::ReadRequest() {
  if (closed_) return;
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(state_->options.max_header_bytes));
  parser_->body_limit(state_->options.max_body_bytes);
  parser_->eager(true);
  stream_.expires_never();  // the deadline is read_timer_'s: on expiry the client gets a 408
  reading_ = true;
  read_deadline_passed_ = false;
  const uint64_t generation = ++read_generation_;
  read_timer_.expires_after(Ms(state_->options.request_timeout_ms));
  read_timer_.async_wait([self = shared_from_this(), generation](beast::error_code ec) {
    if (ec) return;  // cancelled: the request was read first
    self->OnReadDeadline(generation);
  });
  ContinueRead();
}

void HttpSession::ContinueRead() {
  if (closed_) return;
  for (;;) {
    if (parser_->is_done()) return OnRead({}, false);
    if (buffer_.size() == 0) break;
    beast::error_code ec;
    const size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec == http::error::need_more) break;
    if (ec) return OnRead(ec, false);
    if (used == 0) break;
  }
  // Every read starts here, on the strand: once the deadline has passed none is started, so
  // the timer's cancel cannot be missed.
  if (read_deadline_passed_) return OnRead({}, true);
  const size_t size = beast::read_size(buffer_, 64 * 1024);
  if (size == 0) return OnRead(http::error::buffer_overflow, false);
  stream_.async_read_some(buffer_.prepare(size),
                          beast::bind_front_handler(&HttpSession::OnReadSome, shared_from_this()));
}

void HttpSession::OnReadSome(beast::error_code ec, size_t n) {
  if (closed_) return;
  buffer_.commit(n);
  if (ec == asio::error::operation_aborted && read_deadline_passed_) return OnRead({}, true);
  if (ec == asio::error::eof) {
    if (!parser_->got_some()) return OnRead(http::error::end_of_stream, false);
    ec = {};
    parser_->put_eof(ec);
    return OnRead(ec, false);  // complete (a body delimited by the end) or partial_message
  }
  if (ec) return OnRead(ec, false);
  ContinueRead();
}

void HttpSession::OnReadDeadline(uint64_t generation) {
  if (closed_ || !reading_ || generation != read_generation_) return;
  read_deadline_passed_ = true;
  beast::error_code ec;
  stream_.socket().cancel(ec);  // a pending read completes with operation_aborted
}

void HttpSession::OnRead(beast::error_code ec, bool timed_out) {
  if (closed_) return;
  reading_ = false;
  read_timer_.cancel();
  started_ = std::chrono::steady_clock::now();
  first_request_ = false;
  if (timed_out) {
    // Part of a request came and then nothing more: say so (a client with nothing sent at all
    // is closed silently in WaitForRequest). The route is known once the request line parsed.
    route_ = RouteLabel(std::string(parser_->get().target()));
    HttpResponse r = ErrorResponse(408, "request_timeout",
                                   "the request was not received in full within " +
                                       std::to_string(state_->options.request_timeout_ms) +
                                       " ms (request_timeout_ms)");
    r.close = true;
    return Send(std::move(r),
                std::min<uint32_t>(kErrorWriteTimeoutMs, state_->options.request_timeout_ms));
  }
  if (ec == http::error::end_of_stream) return Close();
  if (ec == http::error::header_limit) {
    route_ = "unmatched";
    HttpResponse r = ErrorResponse(
        431, "header_too_large",
        "request header is over " + std::to_string(state_->options.max_header_bytes) + " bytes");
    r.close = true;
    return Send(std::move(r));
  }
  if (ec == http::error::body_limit) {
    route_ = RouteLabel(std::string(parser_->get().target()));  // known from the header
    HttpResponse r = ErrorResponse(
        413, "payload_too_large",
        "request body is over " + std::to_string(state_->options.max_body_bytes) + " bytes");
    r.close = true;
    return Send(std::move(r));
  }
  if (ec) {
    if (ec.category() != http::make_error_code(http::error::bad_target).category()) {
      return Close();  // a socket error: nobody to answer
    }
    // The target is known when the request line parsed (a bad Content-Length, say).
    route_ = RouteLabel(std::string(parser_->get().target()));
    HttpResponse r =
        ErrorResponse(400, "invalid_request", "malformed HTTP request: " + ec.message());
    r.close = true;
    return Send(std::move(r));
  }
  request_ = parser_->release();
  Dispatch();
}

void HttpSession::Dispatch() {
  HttpRequest req;
  req.method = std::string(request_.method_string());
  req.target = std::string(request_.target());
  req.body = std::move(request_.body());
  req.remote = remote_;
  req.version = request_.version();
  auto header = [this](http::field field) {
    std::optional<std::string> value;
    for (auto [it, end] = request_.equal_range(field); it != end; ++it) {
      value = value ? *value + ", " + std::string(it->value()) : std::string(it->value());
    }
    return value;
  };
  req.websocket.host = request_.count(http::field::host) > 0;
  req.websocket.connection = header(http::field::connection);
  req.websocket.upgrade = header(http::field::upgrade);
  req.websocket.key = header(http::field::sec_websocket_key);
  req.websocket.version = header(http::field::sec_websocket_version);
  HttpResponse r = Handle(req, state_->Router());
  route_ = r.route;
  if (r.upgrade) return Upgrade(*r.upgrade);
  if (r.deferred) return StartDeferred(std::move(r.deferred));
  if (r.wait) return StartWait(std::move(r.wait));
  Send(std::move(r));
}

void HttpSession::StartDeferred(std::shared_ptr<DeferredResponse> deferred) {
  deferred_ = std::move(deferred);
  // The timer's handler also keeps this session alive while the node works.
  wait_timer_.expires_after(Ms(kDeferredTimeoutMs));
  wait_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec) return;  // cancelled: answered first
    self->FinishDeferred(true);
  });
  // The answer comes on a verify worker of the node: hop onto the strand, through the gate.
  std::weak_ptr<HttpSession> weak = weak_from_this();
  auto executor = stream_.get_executor();
  std::shared_ptr<PostGate> gate = state_->gate;
  deferred_->OnReady([weak, executor, gate] {
    gate->Run([&] {
      asio::post(executor, [weak] {
        if (auto self = weak.lock()) self->FinishDeferred(false);
      });
    });
  });
}

void HttpSession::FinishDeferred(bool timed_out) {
  if (!deferred_ || closed_) return;
  std::shared_ptr<DeferredResponse> deferred = std::move(deferred_);
  deferred_.reset();
  wait_timer_.cancel();
  if (timed_out) {
    deferred->Cancel();
    if (deferred->wait) state_->hub.RemoveWait(deferred->wait);
    HttpResponse r = ErrorResponse(503, "unavailable",
                                   "the node did not verify this batch within " +
                                       std::to_string(kDeferredTimeoutMs) +
                                       " ms; retry later (a retry of an admitted transaction is "
                                       "answered 'duplicate')");
    r.headers.emplace_back("Retry-After", "1");
    return Send(std::move(r));
  }
  HttpResponse r = deferred->Render(&state_->hub);
  if (r.wait) return StartWait(std::move(r.wait));
  Send(std::move(r));
}

void HttpSession::StartWait(std::shared_ptr<CommitWait> wait) {
  wait_ = std::move(wait);
  wait_timer_.expires_after(Ms(state_->options.wait_commit_timeout_ms));
  wait_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec) return;  // cancelled: the wait completed first
    self->FinishWait(true);
  });
  // The completion may come on the node's commit thread: hop onto the strand.
  std::weak_ptr<HttpSession> weak = weak_from_this();
  auto executor = stream_.get_executor();
  wait_->OnComplete([weak, executor] {
    asio::post(executor, [weak] {
      if (auto self = weak.lock()) self->FinishWait(false);
    });
  });
}

void HttpSession::FinishWait(bool timed_out) {
  if (!wait_ || closed_) return;
  std::shared_ptr<CommitWait> wait = std::move(wait_);
  wait_.reset();
  wait_timer_.cancel();
  state_->hub.RemoveWait(wait);
  HttpResponse r = wait->Render(timed_out, state_->options.wait_commit_timeout_ms);
  Send(std::move(r));
}

void HttpSession::Upgrade(const StreamRequest& stream) {
  std::shared_ptr<void> slot = state_->clients.TryOpen(client_key_, ClientTable::kStream,
                                                       state_->options.ws_max_streams_per_ip,
                                                       state_->options.ws_max_streams);
  if (!slot) {
    const bool all = state_->clients.total(ClientTable::kStream) >= state_->options.ws_max_streams;
    HttpResponse r =
        ErrorResponse(503, "unavailable",
                      all ? "too many open streams (" +
                                std::to_string(state_->options.ws_max_streams) + "); retry later"
                          : "too many open streams from this address (" +
                                std::to_string(state_->options.ws_max_streams_per_ip) +
                                ", ws_max_streams_per_ip); retry later");
    r.headers.emplace_back("Retry-After", "1");
    return Send(std::move(r));
  }
  state_->metrics.Record(route_, 101, 0);
  closed_ = true;  // the stream session owns the socket from here
  stream_.expires_never();
  auto session = std::make_shared<StreamSession>(std::move(stream_), state_, stream,
                                                 std::move(connection_), std::move(slot));
  session->Start(std::move(request_));
}

void HttpSession::Send(HttpResponse r, uint32_t write_timeout_ms) {
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  state_->metrics.Record(route_.empty() ? "unmatched" : route_, r.status, seconds);
  bool close = r.close || state_->stopping.load() || !request_.keep_alive();
  response_ = {};
  response_.version(request_.version() == 10 ? 10 : 11);
  response_.result(static_cast<http::status>(r.status));
  response_.set(http::field::server, "consentd");
  response_.set(http::field::content_type, r.content_type);
  for (const auto& [name, value] : r.headers) response_.set(name, value);
  response_.body() = std::move(r.body);
  response_.keep_alive(!close);
  response_.prepare_payload();
  if (request_.method() == http::verb::head) {
    // The headers GET would have, Content-Length included; no body (RFC 9110 section 9.3.2).
    const size_t length = response_.body().size();
    response_.body().clear();
    response_.content_length(length);
  }
  stream_.expires_after(
      Ms(write_timeout_ms != 0 ? write_timeout_ms : state_->options.request_timeout_ms));
  http::async_write(stream_, response_,
                    beast::bind_front_handler(&HttpSession::OnWrite, shared_from_this(), close));
}

void HttpSession::OnWrite(bool close, beast::error_code ec, size_t) {
  if (ec) return Close();
  if (close) return Linger();
  request_ = {};
  WaitForRequest();
}

void HttpSession::Linger() {
  if (closed_) return;
  beast::error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  if (ec) return Close();
  stream_.expires_after(Ms(std::min<uint32_t>(1000, state_->options.request_timeout_ms)));
  buffer_.clear();
  stream_.async_read_some(buffer_.prepare(16 * 1024),
                          beast::bind_front_handler(&HttpSession::OnLinger, shared_from_this()));
}

void HttpSession::OnLinger(beast::error_code ec, size_t n) {
  lingered_bytes_ += n;
  if (ec || closed_ || lingered_bytes_ > (1u << 20)) return Close();
  stream_.async_read_some(buffer_.prepare(16 * 1024),
                          beast::bind_front_handler(&HttpSession::OnLinger, shared_from_this()));
}

void HttpSession::Close() {
  if (closed_) return;
  closed_ = true;
  wait_timer_.cancel();
  read_timer_.cancel();
  if (wait_) {
    state_->hub.RemoveWait(wait_);
    wait_.reset();
  }
  if (deferred_) {
    deferred_->Cancel();
    if (deferred_->wait) state_->hub.RemoveWait(deferred_->wait);
    deferred_.reset();
  }
  beast::error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  stream_.close();
}

}  // namespace consent
