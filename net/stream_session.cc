// Implementation of StreamSession (net/stream_session.h).
#include "net/stream_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "ledger/queries.h"
#include "net/api_json.h"

namespace consent {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace asio = boost::asio;

namespace {
constexpr size_t kCatchUpBatch = 256;       // txs read from the store per step
constexpr size_t kMaxPendingBlocks = 1024;  // notifications queued on the strand
}  // namespace

StreamSession::StreamSession(beast::tcp_stream stream, std::shared_ptr<ServerState> state,
                             StreamRequest request, std::shared_ptr<void> connection)
    : ws_(std::move(stream)),
      state_(std::move(state)),
      request_(request),
      connection_(std::move(connection)),
      next_(request.from_log_index) {}

StreamSession::~StreamSession() {
  if (id_ != 0) state_->Unregister(id_);
  if (counted_) state_->metrics.StreamClosed();
}

void StreamSession::Start(beast::http::request<beast::http::string_body> upgrade) {
  id_ = state_->Register(weak_from_this());
  state_->metrics.StreamOpened();
  counted_ = true;
  websocket::stream_base::timeout t =
      websocket::stream_base::timeout::suggested(beast::role_type::server);
  t.handshake_timeout = std::chrono::milliseconds(state_->options.request_timeout_ms);
  ws_.set_option(t);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(beast::http::field::server, "consentd"); }));
  ws_.read_message_max(state_->options.ws_max_message_bytes);
  auto req = std::make_shared<beast::http::request<beast::http::string_body>>(std::move(upgrade));
  asio::dispatch(ws_.get_executor(), [self = shared_from_this(), req] {
    self->ws_.async_accept(*req, [self, req](beast::error_code ec) { self->OnAccept(ec); });
  });
}

void StreamSession::OnAccept(beast::error_code ec) {
  if (ec) return Finish();
  accepted_ = true;
  if (close_after_accept_) {
    auto [code, reason] = *close_after_accept_;
    return CloseWith(code, reason);
  }
  if (state_->stopping.load())
    return CloseWith(websocket::close_code::going_away, "server stopping");
  // Subscribe first, then read the store: a block committed in between is in a later snapshot
  // or arrives live; the cursor removes any overlap.
  state_->hub.AddSink(shared_from_this());
  DoRead();
  CatchUp();
}

void StreamSession::DoRead() {
  ws_.async_read(read_buffer_,
                 beast::bind_front_handler(&StreamSession::OnRead, shared_from_this()));
}

void StreamSession::OnRead(beast::error_code ec, size_t) {
  if (ec) return Finish();  // closed by the client, too large (1009 sent), or a socket error
  read_buffer_.clear();     // client messages carry nothing: discard
  DoRead();
}

void StreamSession::Deliver(const std::shared_ptr<const CommittedBlock>& block) {
  if (pending_blocks_.fetch_add(1) >= kMaxPendingBlocks) {
    pending_blocks_.fetch_sub(1);
    lagging_.store(true);  // the strand is far behind: it will read the store instead
    return;
  }
  asio::post(ws_.get_executor(), [self = shared_from_this(), block] {
    self->pending_blocks_.fetch_sub(1);
    self->OnBlock(block);
  });
}

void StreamSession::Shutdown() {
  asio::post(ws_.get_executor(), [self = shared_from_this()] {
    self->CloseWith(websocket::close_code::going_away, "server stopping");
  });
}

void StreamSession::CatchUp() {
  catch_up_posted_ = false;
  if (closing_ || finished_) return;
  lagging_.store(false);
  auto snap = state_->backend.Snapshot();
  auto head = GetHead(*snap);
  uint64_t end = 0;
  if (head.ok()) {
    end = head->header.log_size;
  } else if (head.status().code() != StatusCode::kNotFound) {
    return CloseWith(kCloseStoreError,
                     "store error; resume with from_log_index=" + std::to_string(next_));
  }
  if (next_ >= end) {
    live_ = true;
    return;
  }
  live_ = false;
  auto batch = log_.Read(*snap, next_, end, kCatchUpBatch);
  if (!batch.ok()) {
    return CloseWith(kCloseStoreError,
                     "store error; resume with from_log_index=" + std::to_string(next_));
  }
  for (const LoggedTx& t : *batch) Emit(t.tx, t.tx_id, t.height, t.log_index);
  if (next_ >= end) {
    // Caught up with this snapshot; anything newer was notified after it was taken.
    live_ = true;
    return;
  }
  if (queued_bytes_ < state_->options.ws_max_queue_bytes / 2) {
    catch_up_posted_ = true;
    asio::post(ws_.get_executor(), [self = shared_from_this()] { self->CatchUp(); });
  }
  // Else OnWrite resumes the catch-up once the queue has drained.
}

void StreamSession::OnBlock(const std::shared_ptr<const CommittedBlock>& block) {
  if (closing_ || finished_ || !live_) return;  // catching up: a later snapshot has it
  uint64_t first = block->first_log_index;
  uint64_t end = first + block->txs.size();
  if (lagging_.load() || first > next_) {
    // A gap: some notification was missed. The store has everything up to this block.
    live_ = false;
    return CatchUp();
  }
  if (end <= next_) return;  // already sent during catch-up
  for (uint64_t i = next_; i < end; ++i) {
    const SignedTx& tx = block->txs[i - first];
    Emit(tx, tx.Id(), block->header.height, i);
    if (closing_) return;
  }
  if (queued_bytes_ > state_->options.ws_max_queue_bytes) {
    state_->metrics.SlowConsumerDropped();
    return CloseWith(kCloseSlowConsumer, "slow consumer: queue over " +
                                             std::to_string(state_->options.ws_max_queue_bytes) +
                                             " bytes; " + ResumeHint());
  }
}

void StreamSession::Emit(const SignedTx& tx, const Hash32& tx_id, uint64_t height,
                         uint64_t log_index) {
  next_ = log_index + 1;
  if (request_.controller && ControllerOf(tx.body) != *request_.controller) return;
  std::string text = json::Dump(StreamEventJson(tx, tx_id, height, log_index));
  queued_bytes_ += text.size();
  queue_.push_back(Message{std::move(text), log_index});
  if (!writing_) DoWrite();
}

void StreamSession::DoWrite() {
  if (queue_.empty() || finished_) return;
  writing_ = true;
  last_sent_ = queue_.front().log_index;
  ws_.text(true);
  ws_.async_write(asio::buffer(queue_.front().text),
                  beast::bind_front_handler(&StreamSession::OnWrite, shared_from_this()));
}

void StreamSession::OnWrite(beast::error_code ec, size_t) {
  writing_ = false;
  if (!queue_.empty()) {
    queued_bytes_ -= queue_.front().text.size();
    queue_.pop_front();
  }
  if (ec) return Finish();
  if (closing_) return;
  DoWrite();
  if (!live_ && !catch_up_posted_ && queued_bytes_ < state_->options.ws_max_queue_bytes / 2) {
    CatchUp();
  }
}

std::string StreamSession::ResumeHint() const {
  if (!last_sent_)
    return "none sent; resume with from_log_index=" + std::to_string(request_.from_log_index);
  return "last sent log_index=" + std::to_string(*last_sent_) +
         "; resume with from_log_index=" + std::to_string(*last_sent_ + 1);
}

void StreamSession::CloseWith(uint16_t code, const std::string& reason) {
  if (closing_ || finished_) return;
  if (!accepted_) {  // OnAccept closes once the handshake's write is done
    if (!close_after_accept_) close_after_accept_.emplace(code, reason);
    return;
  }
  closing_ = true;
  state_->hub.RemoveSink(this);
  // Drop what is not yet on the socket; the message being written (if any) stays.
  while (queue_.size() > (writing_ ? 1u : 0u)) {
    queued_bytes_ -= queue_.back().text.size();
    queue_.pop_back();
  }
  websocket::close_reason cr(static_cast<websocket::close_code>(code), reason.substr(0, 123));
  ws_.async_close(cr, [self = shared_from_this()](beast::error_code) { self->Finish(); });
}

void StreamSession::Finish() {
  if (finished_) return;
  finished_ = true;
  closing_ = true;
  state_->hub.RemoveSink(this);
  queue_.clear();
  queued_bytes_ = 0;
  beast::error_code ec;
  beast::get_lowest_layer(ws_).socket().close(ec);
}

}  // namespace consent
