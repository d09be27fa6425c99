// The HTTP/1.1 server: a listener and keep-alive connections on N io threads,
// with size limits, read and idle timeouts, a cap on connections and one on
// requests in flight. Hands each request to a handler and writes its
// response. The only file that includes Beast.
#pragma once

#include "http/message.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace kinto::http {

struct server_options {
  std::string host = "127.0.0.1";
  unsigned short port = 8888;
  std::size_t io_threads = 0;               ///< 0 = one per core
  std::size_t body_limit = 8 * 1024 * 1024; ///< bytes; beyond: 413
  std::size_t header_limit = 16 * 1024;     ///< bytes; beyond: 431
  std::size_t url_limit = 8 * 1024;         ///< bytes of request target; beyond: 414
  std::chrono::seconds read_timeout{30};    ///< a request (header and body) must arrive in this time
  std::chrono::seconds idle_timeout{120};   ///< keep-alive connections idle this long close
  std::size_t max_connections = 10000;      ///< beyond: new connections are refused with 503
  /// Requests handed to the application whose response is not yet written
  /// (a slow reader holds its response in memory). Beyond: 503 at once.
  std::size_t max_requests_in_flight = 4096;
  /// Called once, when the server stops accepting (a signal, or stop()),
  /// before the requests in flight are finished.
  std::function<void()> stopping;
};

/// Renders a response for errors the server detects itself (limits, parse
/// failures) before any handler runs: status and Kinto JSON body.
using error_renderer = std::function<response(int status)>;

class server {
public:
  /// `app` answers the requests admitted; `overloaded` answers, at once, those
  /// that arrive while max_requests_in_flight are in flight (503).
  server(server_options options, handler app, handler overloaded, error_renderer errors);
  ~server();

  /// Binds the listening socket; false with `error` set when it cannot.
  [[nodiscard]] bool listen(std::string& error);
  /// The bound port (after listen()).
  unsigned short port() const;
  /// Connections open, and requests admitted whose response is not yet
  /// written (metrics).
  std::size_t open_connections() const;
  std::size_t requests_in_flight() const;
  /// Serves, on `io_threads` threads it starts, until SIGINT/SIGTERM or
  /// stop(): stops accepting, lets requests in flight finish, then returns.
  void run();
  void stop();
  /// Waits on the server's threads: `ready` runs once, on one of them,
  /// when the socket `fd` is readable or failed. The storage engine waits
  /// for its database through it (storage::readiness).
  std::function<void(int fd, std::function<void()> ready)> readiness();

  struct impl;

private:
  std::shared_ptr<impl> impl_;
};

} // namespace kinto::http
