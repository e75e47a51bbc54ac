// Blocking Beast HTTP client: each step is an async operation run to completion on a private
// io_context, so that the tcp_stream's deadline (expires_after) applies to it; name resolution
// runs on a thread of its own, waited for until the connection's deadline.
#include "tools/consentctl/http_client.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace consent {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

namespace {

// "35 s", or "1500 ms" when not a whole number of seconds.
std::string Duration(uint32_t ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

// Resolves url.host by the deadline. getaddrinfo cannot be interrupted (and asio's async_resolve
// runs it on a thread that the io_context's destructor joins), so it runs on a detached thread of
// its own: past the deadline the caller gives up and that thread finishes, or dies with the
// process, on its own.
Status Resolve(const HttpUrl& url, std::chrono::steady_clock::time_point deadline,
               uint32_t timeout_ms, std::vector<asio::ip::tcp::endpoint>* out) {
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    beast::error_code ec;
    asio::ip::tcp::resolver::results_type results;
  };
  out->clear();
  {
    // An IP address (the usual node URL) needs no lookup, and no thread. (ParseHttpUrl checked
    // that the port is 1..65535.)
    beast::error_code ec;
    const asio::ip::address addr = asio::ip::make_address(url.host, ec);
    if (!ec) {
      out->emplace_back(addr, static_cast<uint16_t>(std::stoul(url.port)));
      return Status::Ok();
    }
  }
  auto shared = std::make_shared<Shared>();
  try {
    std::thread([shared, host = url.host, port = url.port] {
      beast::error_code ec;
      asio::ip::tcp::resolver::results_type results;
      try {
        asio::io_context ioc;
        asio::ip::tcp::resolver resolver(ioc);
        results = resolver.resolve(host, port, ec);
      } catch (const std::exception&) {
        ec = asio::error::no_memory;
      }
      std::lock_guard<std::mutex> lock(shared->mu);
      shared->ec = ec;
      shared->results = std::move(results);
      shared->done = true;
      shared->cv.notify_all();
    }).detach();
  } catch (const std::system_error& e) {
    return Status::Unavailable("cannot resolve " + url.host + ": " + e.what());
  }
  std::unique_lock<std::mutex> lock(shared->mu);
  if (!shared->cv.wait_until(lock, deadline, [&] { return shared->done; })) {
    return Status::Unavailable("cannot resolve " + url.host + " within " + Duration(timeout_ms));
  }
  if (shared->ec) {
    return Status::Unavailable("cannot resolve " + url.host + ": " + shared->ec.message());
  }
  for (const auto& entry : shared->results) out->push_back(entry.endpoint());
  return Status::Ok();
}

}  // namespace

std::string HttpUrl::Authority() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
}

Result<HttpUrl> ParseHttpUrl(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) {
    return Status::Invalid("node URL \"" + url + "\" must start with http://");
  }
  std::string rest = url.substr(scheme.size());
  HttpUrl u;
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) u.base_path = rest.substr(slash);
  while (!u.base_path.empty() && u.base_path.back() == '/') u.base_path.pop_back();
  std::string port_part;  // what follows the host: "" or ":port"
  if (!hostport.empty() && hostport[0] == '[') {
    size_t close = hostport.find(']');
    if (close == std::string::npos) {
      return Status::Invalid("node URL \"" + url + "\" has a '[' without its ']'");
    }
    u.host = hostport.substr(1, close - 1);
    port_part = hostport.substr(close + 1);
    if (u.host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos ||
        u.host.find(':') == std::string::npos) {
      return Status::Invalid("node URL \"" + url + "\" has no IPv6 address in its brackets");
    }
  } else {
    if (std::count(hostport.begin(), hostport.end(), ':') > 1) {
      return Status::Invalid("node URL \"" + url +
                             "\": an IPv6 address goes in brackets (http://[::1]:7800)");
    }
    size_t colon = hostport.find(':');
    u.host = hostport.substr(0, colon);
    if (colon != std::string::npos) port_part = hostport.substr(colon);
    if (u.host.find_first_of("[]") != std::string::npos) {
      return Status::Invalid("node URL \"" + url + "\" has a stray bracket");
    }
  }
  if (u.host.empty()) return Status::Invalid("node URL \"" + url + "\" has no host");
  if (port_part.empty()) {
    u.port = "80";
  } else if (port_part[0] != ':') {
    return Status::Invalid("node URL \"" + url + "\": expected ':' and a port after the host");
  } else {
    u.port = port_part.substr(1);
  }
  if (u.port.empty() || u.port.size() > 5 ||
      u.port.find_first_not_of("0123456789") != std::string::npos || std::stoi(u.port) > 65535 ||
      std::stoi(u.port) == 0) {
    return Status::Invalid("node URL \"" + url + "\" has an invalid port");
  }
  return u;
}

Result<HttpResponse> HttpCall(const HttpUrl& url, const std::string& method,
                              const std::string& target, const std::string& body,
                              uint32_t timeout_ms) {
  const std::string where = "http://" + url.Authority();
  const auto timeout = std::chrono::milliseconds(timeout_ms);
  try {
    // Name resolution and the connection share one deadline.
    const auto connect_deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<asio::ip::tcp::endpoint> results;
    RETURN_IF_ERROR(Resolve(url, connect_deadline, timeout_ms, &results));
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    beast::error_code ec;
    // Runs the one pending operation to completion (or until the stream's deadline cancels it).
    auto run = [&] {
      ioc.restart();
      ioc.run();
    };
    stream.expires_at(connect_deadline);
    stream.async_connect(results,
                         [&](beast::error_code e, const asio::ip::tcp::endpoint&) { ec = e; });
    run();
    if (ec == beast::error::timeout) {
      return Status::Unavailable("cannot connect to " + where + " within " + Duration(timeout_ms));
    }
    if (ec) return Status::Unavailable("cannot connect to " + where + ": " + ec.message());
    http::request<http::string_body> req(method == "POST" ? http::verb::post : http::verb::get,
                                         url.base_path + target, 11);
    req.set(http::field::host, url.Authority());
    req.set(http::field::user_agent, "consentctl");
    if (method == "POST") {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    auto no_answer = [&] {
      return Status::Unavailable("no answer from " + where + " within " + Duration(timeout_ms));
    };
    stream.expires_after(timeout);
    http::async_write(stream, req, [&](beast::error_code e, size_t) { ec = e; });
    run();
    if (ec == beast::error::timeout) return no_answer();
    if (ec) return Status::Unavailable("cannot send to " + where + ": " + ec.message());
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBytes);
    stream.expires_after(timeout);
    http::async_read(stream, buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
    run();
    if (ec == beast::error::timeout) return no_answer();
    if (ec) return Status::Unavailable("bad answer from " + where + ": " + ec.message());
    auto res = parser.release();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    if (auto it = res.find(http::field::retry_after); it != res.end()) {
      out.retry_after = std::string(it->value());
    }
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    return out;
  } catch (const std::exception& e) {
    return Status::Unavailable("request to " + where + " failed: " + e.what());
  }
}

}  // namespace consent
