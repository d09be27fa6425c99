// The load engine of kinto-bench: keep-alive HTTP/1.1 connections on client
// threads, each asking a workload for its next request and handing it the
// response, timed into a run_result. The interface hides Beast; only
// bench_client.cpp includes it.
#pragma once

#include "bench_stats.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kinto::bench {

/// One request of a connection. Workloads fill it; the engine adds Host,
/// Authorization, Content-Length, and Content-Type: application/json when
/// there is a body.
struct request {
  std::string method = "GET";
  std::string target; ///< path and query, prefix included ("/v1/buckets/...")
  std::string body;
  std::string if_match;      ///< sent as If-Match when not empty
  std::string if_none_match; ///< sent as If-None-Match when not empty

  void clear() {
    method = "GET";
    target.clear();
    body.clear();
    if_match.clear();
    if_none_match.clear();
  }
};

/// A response as the workload sees it; the views live until done() returns.
struct response {
  int status = 0;        ///< 0: transport error, see `error`
  std::string_view etag; ///< the ETag header, quotes included
  std::string_view body;
  std::string_view error; ///< what failed when status is 0
};

/// What the connections do. next() and done() of one connection are called
/// on one thread, one after the other; different connections may call them
/// concurrently from different client threads, so shared state must be
/// atomic or locked.
class workload {
public:
  virtual ~workload() = default;
  /// Fills `req` (cleared before) with connection `conn`'s next request;
  /// false when this connection has nothing more to do.
  virtual bool next(std::size_t conn, request& req) = 0;
  /// The answer to the request next() gave. Returns false when a 2xx
  /// response's content shows a failure (counted as `rejected`).
  virtual bool done(std::size_t conn, const request& req, const response& res) = 0;
};

/// Where and how to connect.
struct client_target {
  std::string host;
  std::uint16_t port = 80;
  std::string authorization; ///< full Authorization header value; empty: none sent
};

/// Bounds of one run.
struct run_limits {
  std::size_t connections = 1;
  std::size_t threads = 1;
  /// Seconds before measuring starts (connections are opened in it).
  double warmup = 0;
  /// Seconds measured; 0: run until every connection's next() returns false
  /// and measure everything.
  double duration = 0;
  std::chrono::seconds request_timeout{30};
};

/// Runs `work` over `limits.connections` keep-alive connections spread over
/// `limits.threads` threads (one io_context each; the calling thread is one
/// of them). A connection that fails (connect, reset, timeout) counts an
/// error, tells the workload (status 0) and reconnects for its next
/// request, after a 10 ms pause when the connect itself failed. A response
/// with `Connection: close` closes the connection; the next request opens a
/// new one. A timed run stops at its end even with requests in flight (they
/// are not counted). Also stops, without error, once `*stop` becomes true
/// (checked every 50 ms), e.g. from a SIGINT handler.
/// Host resolution failure is reported as one transport error.
run_result run_load(const client_target& target, workload& work, const run_limits& limits,
                    const std::atomic<bool>* stop = nullptr);

} // namespace kinto::bench
