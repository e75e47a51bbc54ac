// Synchronous Beast HTTP client.
#include "tools/consentctl/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

namespace consent {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

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
  size_t colon = hostport.rfind(':');
  if (colon != std::string::npos && hostport.find(']') == std::string::npos) {
    u.host = hostport.substr(0, colon);
    u.port = hostport.substr(colon + 1);
  } else {
    u.host = hostport;
    u.port = "80";
  }
  if (u.host.empty()) return Status::Invalid("node URL \"" + url + "\" has no host");
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
  std::string where = "http://" + url.host + ":" + url.port;
  try {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    beast::error_code ec;
    auto results = resolver.resolve(url.host, url.port, ec);
    if (ec) return Status::Unavailable("cannot resolve " + url.host + ": " + ec.message());
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    stream.connect(results, ec);
    if (ec) return Status::Unavailable("cannot connect to " + where + ": " + ec.message());
    http::request<http::string_body> req(method == "POST" ? http::verb::post : http::verb::get,
                                         url.base_path + target, 11);
    req.set(http::field::host, url.host);
    req.set(http::field::user_agent, "consentctl");
    if (method == "POST") {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    http::write(stream, req, ec);
    if (ec) return Status::Unavailable("cannot send to " + where + ": " + ec.message());
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBytes);
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    http::read(stream, buffer, parser, ec);
    if (ec == beast::error::timeout) {
      return Status::Unavailable("no answer from " + where + " within " +
                                 std::to_string(timeout_ms / 1000) + " s");
    }
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
