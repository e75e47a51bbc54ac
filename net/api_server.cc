// The ApiServer: one io_context run by options.threads threads, an acceptor whose accepted
// sockets each get their own strand, the connection cap (a connection over it is answered 503
// at once and closed, as is one over the per-address cap), and Stop (stop accepting, close every
// session, streams with "going away", wait for them briefly, then stop the io_context and join).
// Out of file descriptors (EMFILE), accepting backs off for kAcceptBackoffMs instead of spinning.
#include <pthread.h>

#include <cerrno>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "net/api_server.h"
#include "net/http_session.h"
#include "net/readiness.h"
#include "net/server_state.h"

namespace consent {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class ApiServerImpl : public ApiServer {
 public:
  ApiServerImpl(const ApiServerOptions& options, ApiBackend& backend)
      : state_(std::make_shared<ServerState>(options, backend)),
        acceptor_(asio::make_strand(ioc_)) {}

  ~ApiServerImpl() override { Stop(); }

  Status Listen() {
    const ApiServerOptions& o = state_->options;
    boost::system::error_code ec;
    auto address = asio::ip::make_address(o.listen_address, ec);
    if (ec) return Status::Invalid("listen address '" + o.listen_address + "': " + ec.message());
    tcp::endpoint ep(address, o.port);
    std::string where = o.listen_address + ":" + std::to_string(o.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (ec) return Status::IoError("cannot listen on " + where + ": " + ec.message());
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::IoError("cannot listen on " + where + ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    if (o.threads == 0) return Status::Invalid("threads must be at least 1");
    state_->catchup.Start();
    DoAccept();
    WatchReadiness();
    for (size_t i = 0; i < o.threads; ++i) {
      threads_.emplace_back([this] {
        pthread_setname_np(pthread_self(), "consent-api");
        ioc_.run();
      });
    }
    return Status::Ok();
  }

  uint16_t port() const override { return port_; }

  void Stop() override {
    if (stopped_) return;
    stopped_ = true;
    state_->stopping.store(true);
    state_->hub.Detach();  // no more notifications into an io_context about to go away
    asio::post(acceptor_.get_executor(), [this] {
      boost::system::error_code ec;
      backoff_.cancel();
      acceptor_.close(ec);
    });
    asio::post(ioc_, [this] { watch_timer_.cancel(); });
    state_->ShutdownAll();
    state_->catchup.Stop();  // no catch-up step runs past here
    // Give sessions a moment to say goodbye (WebSocket close frames), then stop.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (state_->live_sessions() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    state_->gate->Close();  // no deferred answer is posted into ioc_ from here on
    ioc_.stop();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void DoAccept() {
    acceptor_.async_accept(asio::make_strand(ioc_),
                           [this](boost::system::error_code ec, tcp::socket socket) {
                             OnAccept(ec, std::move(socket));
                           });
  }

  // Every kWatchMs, judges readiness as /readyz would and logs what ReadinessWatch lets through,
  // so that an operator hears of a cut-off node even when nothing probes /readyz.
  static constexpr auto kWatchMs = std::chrono::milliseconds(5'000);
  void WatchReadiness() {
    watch_timer_.expires_after(kWatchMs);
    watch_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || state_->stopping.load()) return;
      const uint64_t now = WallClockMs();
      const Readiness r =
          JudgeReadiness(state_->backend.Status(), now, state_->options.ready_max_head_age_ms);
      if (auto line = watch_.Observe(r, now); line && state_->options.warn) {
        state_->options.warn(*line);
      }
      WatchReadiness();
    });
  }

  void OnAccept(boost::system::error_code ec, tcp::socket socket) {
    if (state_->stopping.load() || !acceptor_.is_open()) return;
    if (!ec) {
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      boost::system::error_code ep_ec;
      auto ep = socket.remote_endpoint(ep_ec);
      const std::string key = ep_ec ? "unknown" : ClientKey(ep.address().to_string());
      if (auto slot = state_->OpenConnection(key)) {
        std::make_shared<HttpSession>(std::move(socket), state_, std::move(slot))->Start();
      } else {
        state_->metrics.ConnectionRefused();
        const bool all =
            state_->clients.total(ClientTable::kConnection) >= state_->options.max_connections;
        std::string why = all ? "too many connections (" +
                                    std::to_string(state_->options.max_connections) +
                                    "); retry later"
                              : "too many connections from this address (" +
                                    std::to_string(state_->options.max_connections_per_ip) +
                                    ", max_connections_per_ip); retry later";
        std::make_shared<HttpSession>(std::move(socket), state_, nullptr)
            ->StartRejected(std::move(why));
      }
    }
    if (ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_memory ||
        ec == asio::error::no_buffer_space) {
      // Out of file descriptors (EMFILE/ENFILE) or memory: accepting again at once would spin.
      // Back off; the connections already open go on being served, and the waiting ones stay
      // in the kernel's backlog until then.
      state_->metrics.ConnectionRefused();
      backoff_.expires_after(std::chrono::milliseconds(kAcceptBackoffMs));
      backoff_.async_wait([this](boost::system::error_code wait_ec) {
        if (!wait_ec && !state_->stopping.load()) DoAccept();
      });
      return;
    }
    DoAccept();  // also after another error: keep serving
  }

  static constexpr uint32_t kAcceptBackoffMs = 100;

  // Destroyed last: handlers still queued in the io_context hold sessions, which hold state_.
  asio::io_context ioc_;
  std::shared_ptr<ServerState> state_;
  tcp::acceptor acceptor_;
  asio::steady_timer watch_timer_{ioc_};  // on ioc_ (one handler at a time: its own chain)
  ReadinessWatch watch_;                  // touched only by the watch_timer_ handler
  asio::steady_timer backoff_{acceptor_.get_executor()};  // accept backoff on EMFILE
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  bool stopped_ = false;
};

}  // namespace

Result<std::unique_ptr<ApiServer>> ApiServer::Start(const ApiServerOptions& options,
                                                    ApiBackend& backend) {
  auto server = std::make_unique<ApiServerImpl>(options, backend);
  Status st = server->Listen();
  if (!st.ok()) return st;
  return std::unique_ptr<ApiServer>(std::move(server));
}

}  // namespace consent
