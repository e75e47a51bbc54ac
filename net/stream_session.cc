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
constexpr size_t kCatchUpBatch = 256;       // matching txs kept per catch-up step
constexpr size_t kCatchUpScan = 4096;       // txs read from the store per catch-up step at most
constexpr size_t kMaxPendingBlocks = 1024;  // notifications queued on the strand
}  // namespace

StreamSession::StreamSession(beast::tcp_stream stream, std::shared_ptr<ServerState> state,
                             StreamRequest request, std::shared_ptr<void> connection,
                             std::shared_ptr<void> slot)
    : ws_(std::move(stream)),
      state_(std::move(state)),
      request_(request),
      connection_(std::move(connection)),
      slot_(std::move(slot)),
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
  // Pinged after half of it with nothing received; closed at the end of it (slot reclaimed).
  t.idle_timeout =
      std::chrono::milliseconds(std::max<uint32_t>(state_->options.ws_idle_timeout_ms, 2));
  t.keep_alive_pings = true;
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

void StreamSession::Deliver(const std::shared_ptr<const StreamBlock>& block) {
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
  if (closing_ || finished_ || step_running_) return;
  live_ = false;
  lagging_.store(false);
  step_running_ = true;
  state_->catchup.Post([self = shared_from_this(), from = next_] { self->ReadStep(from); });
}

void StreamSession::ReadStep(uint64_t from) {
  auto step = std::make_shared<Step>();
  step->next = from;
  auto snap = state_->backend.Snapshot();
  auto head = GetHead(*snap);
  if (head.ok()) {
    step->end = head->header.log_size;
  } else if (head.status().code() != StatusCode::kNotFound) {
    step->error = true;
  }
  size_t scanned = 0, bytes = 0;
  const size_t max_bytes = state_->options.ws_max_queue_bytes / 2;
  while (!step->error && step->next < step->end && scanned < kCatchUpScan &&
         step->messages.size() < kCatchUpBatch && bytes < max_bytes) {
    const size_t want = std::min(kCatchUpBatch, kCatchUpScan - scanned);
    auto batch = log_.Read(*snap, step->next, step->end, want);
    if (!batch.ok() || batch->empty()) {
      step->error = true;
      break;
    }
    for (const LoggedTx& t : *batch) {
      ++scanned;
      step->next = t.log_index + 1;
      if (request_.controller && ControllerOf(t.tx.body) != *request_.controller) continue;
      auto text = std::make_shared<const std::string>(
          json::Dump(StreamEventJson(t.tx, t.tx_id, t.height, t.log_index)));
      const std::string* p = text.get();
      bytes += p->size();
      step->messages.push_back(Message{std::move(text), p, t.log_index});
      if (step->messages.size() >= kCatchUpBatch || bytes >= max_bytes) break;
    }
  }
  asio::post(ws_.get_executor(), [self = shared_from_this(), step] { self->OnStep(step); });
}

void StreamSession::OnStep(const std::shared_ptr<Step>& step) {
  step_running_ = false;
  if (closing_ || finished_) return;
  if (step->error) {
    return CloseWith(kCloseStoreError,
                     "store error; resume with from_log_index=" + std::to_string(next_));
  }
  for (Message& m : step->messages) {
    if (!queue_.empty() && queued_bytes_ + m.text->size() > state_->options.ws_max_queue_bytes) {
      // Catching up is paced by the queue, never closed for it: the rest is read again later.
      next_ = m.log_index;
      return;  // OnWrite resumes the catch-up once the queue has drained
    }
    if (!Push(std::move(m))) return;
  }
  next_ = std::max(next_, step->next);
  if (next_ >= step->end && heard_end_ <= next_ && !lagging_.load()) {
    // Caught up with this snapshot and with every block heard of meanwhile: go live.
    live_ = true;
    return;
  }
  if (queued_bytes_ < state_->options.ws_max_queue_bytes / 2) return CatchUp();
  // Else OnWrite resumes the catch-up once the queue has drained.
}

void StreamSession::OnBlock(const std::shared_ptr<const StreamBlock>& sb) {
  if (closing_ || finished_) return;
  const CommittedBlock& block = sb->block();
  uint64_t first = block.first_log_index;
  uint64_t end = first + block.txs.size();
  if (!live_) {  // catching up: a later snapshot has it; remember that it exists
    heard_end_ = std::max(heard_end_, end);
    return;
  }
  if (lagging_.load() || first > next_) {
    // A gap: some notification was missed. The store has everything up to this block.
    heard_end_ = std::max(heard_end_, end);
    return CatchUp();
  }
  if (end <= next_) return;  // already sent during catch-up
  for (uint64_t i = next_; i < end; ++i) {
    next_ = i + 1;
    const size_t k = i - first;
    if (request_.controller && sb->Controller(k) != *request_.controller) continue;
    const std::string& text = sb->Text(k);
    if (!Push(Message{sb, &text, i})) return;
  }
}

bool StreamSession::Push(Message m) {
  if (queued_bytes_ + m.text->size() > state_->options.ws_max_queue_bytes) {
    state_->metrics.SlowConsumerDropped();
    CloseWith(kCloseSlowConsumer, "slow consumer: queue over " +
                                      std::to_string(state_->options.ws_max_queue_bytes) +
                                      " bytes; " + ResumeHint());
    return false;
  }
  queued_bytes_ += m.text->size();
  queue_.push_back(std::move(m));
  if (!writing_) DoWrite();
  return true;
}

void StreamSession::DoWrite() {
  if (queue_.empty() || finished_) return;
  writing_ = true;
  last_sent_ = queue_.front().log_index;
  ws_.text(true);
  ws_.async_write(asio::buffer(*queue_.front().text),
                  beast::bind_front_handler(&StreamSession::OnWrite, shared_from_this()));
}

void StreamSession::OnWrite(beast::error_code ec, size_t) {
  writing_ = false;
  if (!queue_.empty()) {
    queued_bytes_ -= queue_.front().text->size();
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
    queued_bytes_ -= queue_.back().text->size();
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
