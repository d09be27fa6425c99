// Harness of the integration tests: starts the real kintod on 127.0.0.1 with an
// ephemeral port and a temporary data directory, and speaks HTTP to it.
// Must not include Boost.Beast/Asio (only harness.cpp does), to keep test builds fast.
#pragma once

#include "base/json.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace kintod_test {

using header_list = std::vector<std::pair<std::string, std::string>>;

/// One HTTP response as read from the wire.
struct http_response {
  int status = 0;              ///< 0 when no complete response could be read
  header_list headers;         ///< in wire order, names as sent by the server
  std::string body;
  std::string transport_error; ///< why no response was read; empty when status != 0

  /// Value of the first header named `name` (case-insensitive), "" if absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  /// Values of every header named `name`, in wire order.
  std::vector<std::string> header_values(std::string_view name) const;
  /// The body parsed as JSON; throws std::runtime_error (failing the test)
  /// quoting the body when it is not valid JSON.
  kinto::json::value json() const;
  /// Status line, headers and body, for failure messages.
  std::string describe() const;
};

/// One client connection to a server on 127.0.0.1. Requests on it reuse the
/// connection (keep-alive); it never reconnects silently.
class http_connection {
public:
  /// Connects to 127.0.0.1:`port`; throws std::runtime_error on failure.
  explicit http_connection(int port);
  ~http_connection();
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  /// Sends one request and reads its response. The Host header is added;
  /// Content-Length is added when `body` is not empty or the method is POST,
  /// PUT or PATCH; `Content-Type: application/json` is added when the body is
  /// not empty and `headers` names no Content-Type (a Content-Type given with
  /// an empty value is not sent at all). The body is sent while the response
  /// is read, so an early answer (413) is seen. Throws std::runtime_error on a
  /// transport failure or a 30 s timeout.
  http_response request(std::string_view method, std::string_view target, std::string_view body = {},
                        const header_list& headers = {});

  /// Sends `bytes` exactly as given (then shuts down the sending side when
  /// `close_write`) and reads one response. Never throws for transport
  /// problems: a connection closed or reset before a complete response gives
  /// status 0 and `transport_error`.
  http_response exchange_raw(std::string_view bytes, bool close_write = false);

  /// False once the server closed the connection or a transfer failed.
  bool is_open() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A client of one Server-Sent Events stream: sends `GET target` with
/// `Accept: text/event-stream` (and `headers`) on a new connection, reads
/// the response's header, then the events as they come.
class event_stream {
public:
  struct event {
    std::string id;   ///< empty when the event has no id line
    std::string type; ///< `event:`, "message" when absent
    std::string data; ///< `data:` lines joined by newlines
  };

  /// `receive_buffer`: the socket's receive buffer in bytes (SO_RCVBUF,
  /// which also stops its growth); 0: the system's.
  event_stream(int port, std::string_view target, const header_list& headers = {}, int receive_buffer = 0);
  ~event_stream();
  event_stream(const event_stream&) = delete;
  event_stream& operator=(const event_stream&) = delete;

  /// The status and headers; the whole body when the answer is not a
  /// stream (an error).
  const http_response& response() const;
  /// The next event, waiting at most `timeout`; nullopt when the stream
  /// ended (ended()) or nothing came in time (timed_out()).
  std::optional<event> next(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  /// Waits at most `timeout` for a comment line (`: ...`), skipping events
  /// (kept for next()); true when one came.
  bool next_comment(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  /// The server ended the body properly (the last chunk).
  bool ended() const;
  bool timed_out() const;
  /// Closes the connection (the server sees the client go).
  void close();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A WebSocket client (Beast): the handshake on `target`, then text
/// messages both ways.
class change_socket {
public:
  /// Connects and sends the opening handshake; response() says how it was
  /// answered (101 when upgraded, else the error and its body).
  change_socket(int port, std::string_view target = "/v1/changes", const header_list& headers = {});
  ~change_socket();
  change_socket(const change_socket&) = delete;
  change_socket& operator=(const change_socket&) = delete;

  const http_response& response() const;
  /// Sends a text message; false when the socket is closed.
  bool send(std::string_view text);
  /// The next message, waiting at most `timeout`; nullopt when the socket
  /// was closed (closed()) or nothing came in time.
  std::optional<std::string> next(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  /// The server closed the socket; with this close code.
  bool closed() const;
  int close_code() const;
  /// Closes the socket from this side (a close frame, then the connection).
  void close();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// "Basic " + base64("user:password").
std::string basic(std::string_view user, std::string_view password);
/// {{"Authorization", basic(user, password)}}.
header_list auth(std::string_view user, std::string_view password);
/// `a` followed by `b`.
header_list with(header_list a, const header_list& b);

/// A fresh directory under $TMPDIR (or /tmp), removed with its content when destroyed.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

void write_file(const std::string& path, std::string_view content);

/// Whether the servers of this run store their data in PostgreSQL rather
/// than LMDB: KINTOD_TEST_POSTGRESQL names the state file of the test
/// cluster (tests/postgresql/cluster) they use.
bool on_postgresql();

/// The settings the harness writes unless a test overrides them: on
/// PostgreSQL, a database of the test cluster stands for `data_dir` (one per
/// directory, created when missing).
std::map<std::string, std::string> default_settings(const std::string& data_dir);
/// An ini text with `settings` in an `[app:main]` section.
std::string ini_text(const std::map<std::string, std::string>& settings);

struct kintod_options {
  /// `[app:main]` entries; a name replaces the default of the same name,
  /// with or without the `kinto.` prefix.
  std::map<std::string, std::string> settings = {};
  /// Default settings not to write at all (names as in default_settings()).
  std::vector<std::string> omit = {};
  /// Environment variables added for the server (KINTO_* variables of the
  /// test process are never passed on).
  std::map<std::string, std::string> env = {};
  /// Data directory (`kinto.storage_url`); empty: a fresh temporary directory
  /// owned by the process object.
  std::string data_dir = {};
  /// False: start kintod without --ini (built-in defaults, cwd = a temp dir).
  bool write_ini = true;
  /// Not empty: the whole ini file, written as given (`settings` and `omit`
  /// are then not used), e.g. a stock upstream configuration.
  std::string ini = {};
};

/// A running kintod. The constructor starts it and waits for its
/// "listening on" line; the destructor stops it (SIGTERM, then SIGKILL after
/// 10 s, reported on stderr) and removes the temporary directories it owns.
/// Start and stop it from the main thread.
class kintod_process {
public:
  explicit kintod_process(kintod_options options = {});
  ~kintod_process();
  kintod_process(const kintod_process&) = delete;
  kintod_process& operator=(const kintod_process&) = delete;

  /// Starts the server again (after stop() or kill_hard()) on the same data
  /// directory; the port changes. Throws std::runtime_error with the server's
  /// output when it exits or does not listen within 20 s.
  void start();
  /// SIGTERM, then waits up to 10 s. Returns the exit status, 128 + signal
  /// number when killed by a signal, or -1 when it had to be SIGKILLed.
  int stop();
  /// SIGKILL and wait.
  void kill_hard();
  /// Sends `signal_number` and waits as stop() does.
  int signal_and_wait(int signal_number);

  bool running() const { return pid_ > 0; }
  /// The options the next start() uses: a test may change `settings`,
  /// `omit` or `env` between a stop (or kill_hard) and a start, e.g. to
  /// restart under another clock. `data_dir` and `write_ini` are fixed at
  /// construction.
  kintod_options& options() { return options_; }
  int port() const { return port_; }
  /// "http://127.0.0.1:<port>" + path.
  std::string url(std::string_view path) const;
  const std::string& data_dir() const { return data_dir_; }
  /// Everything the server wrote to stdout and stderr so far.
  std::string output() const;

  /// One request on a new connection (see http_connection::request).
  http_response request(std::string_view method, std::string_view target, std::string_view body = {},
                        const header_list& headers = {});
  /// A new keep-alive connection to this server.
  std::unique_ptr<http_connection> connect() const;
  /// True when GET /v1/__heartbeat__ answers 200.
  bool healthy();

private:
  void drain_output(int fd);
  int wait_exit(int signal_number);

  kintod_options options_;
  std::unique_ptr<temp_dir> work_dir_; // cwd of the server, ini file, default data dir
  std::string data_dir_;
  std::string ini_path_;
  int pid_ = -1;
  int pidfd_ = -1;
  int port_ = 0;
  std::thread drain_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string output_; // guarded by mutex_
  bool output_closed_ = false; // guarded by mutex_
};

/// How a kintod run that should exit by itself ended.
struct run_result {
  int exit_status = -1; ///< -1 when it was still running after 20 s and was killed
  std::string output;   ///< stdout and stderr
};

/// Runs kintod with exactly `args` (cwd: a fresh temporary directory, plus
/// `env`) and waits up to 20 s for it to exit.
run_result run_kintod(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {});

// ---- setup helpers -------------------------------------------------------

/// Credentials of the basicauth user who owns the tests' data ("mat:secret",
/// user id mat_id below).
header_list owner();
/// `r.json()` when `r.status == status`; otherwise throws std::runtime_error
/// quoting the response. For setup steps whose failure makes the rest moot.
kinto::json::value must(const http_response& r, int status);
/// Creates bucket `bid` and collection `cid` in it (201 expected for each).
void create_collection(kintod_process& server, std::string_view bid, std::string_view cid,
                       const header_list& as = owner());

// ---- JSON helpers ---------------------------------------------------------

/// Parses `text`; throws std::runtime_error quoting it when invalid.
kinto::json::value parse_json(std::string_view text);
/// The value at a dotted path ("data.id", "details.0.name"), nullptr if absent.
const kinto::json::value* find_path(const kinto::json::value& v, std::string_view path);
/// As find_path, but throws std::runtime_error naming the path when absent.
const kinto::json::value& at(const kinto::json::value& v, std::string_view path);
/// The string at `path`; throws when absent or not a string.
std::string str_at(const kinto::json::value& v, std::string_view path);
/// The integer at `path`; throws when absent or not a 64-bit integer.
std::int64_t int_at(const kinto::json::value& v, std::string_view path);
/// True when the array at `path` contains the string `s`.
bool contains_string(const kinto::json::value& v, std::string_view path, std::string_view s);
/// Member names of the object at `path` ("" = v itself), sorted.
std::vector<std::string> keys_at(const kinto::json::value& v, std::string_view path = {});

/// The ETag text of a timestamp: "\"<ts>\"".
std::string etag_of(std::int64_t timestamp);
/// The ETag header parsed back to a timestamp; throws when not `"<digits>"`.
std::int64_t etag_value(const http_response& r);
/// An HTTP-date (IMF-fixdate, GMT) for a millisecond timestamp, truncated to the second.
std::string http_date(std::int64_t timestamp_ms);

/// User ids of the basicauth test vectors (empty userid_hmac_secret).
inline constexpr std::string_view mat_id =
    "basicauth:8a931a10fc88ab2f6d1cc02a07d3a81b5d4768f6f13e85c5d8d4180419acb1b4";
inline constexpr std::string_view alice_basic_id =
    "basicauth:d5b0026601f1b251974e09548d44155e16812e3c64ff7ae053fe3542e2ca1570";
inline constexpr std::string_view admin_basic_id =
    "basicauth:bb7fe7b98e759578ef0de85b546dd57d21fe1e399390ad8dafc9886043a00e5c";

// ---- Catch2 matchers --------------------------------------------------------

/// Matches a Kinto error response: the given status, `Content-Type:
/// application/json`, and a JSON object body whose `code` is the status,
/// `errno` is `kinto_errno` and `error` is a string.
class kinto_error_matcher : public Catch::MatcherBase<http_response> {
public:
  kinto_error_matcher(int status, int kinto_errno) : status_(status), errno_(kinto_errno) {}
  bool match(const http_response& r) const override;
  std::string describe() const override;

private:
  int status_;
  int errno_;
};
inline kinto_error_matcher is_kinto_error(int status, int kinto_errno) { return {status, kinto_errno}; }

/// Matches a response with this status and a JSON body.
class json_status_matcher : public Catch::MatcherBase<http_response> {
public:
  explicit json_status_matcher(int status) : status_(status) {}
  bool match(const http_response& r) const override;
  std::string describe() const override;

private:
  int status_;
};
inline json_status_matcher is_json(int status) { return json_status_matcher(status); }

/// Matches a refusal that reveals nothing: status 401 or 403 with exactly the
/// standard body (errno 104 "Please authenticate yourself to use this
/// endpoint." / errno 121 "This user cannot access this resource."), or no
/// body at all when `head`; at least one `WWW-Authenticate` challenge on 401
/// (none on 403); and no `ETag`, `Last-Modified`, `Total-Objects`,
/// `Total-Records` or `Next-Page` header.
class denial_matcher : public Catch::MatcherBase<http_response> {
public:
  denial_matcher(int status, bool head) : status_(status), head_(head) {}
  bool match(const http_response& r) const override;
  std::string describe() const override;

private:
  int status_;
  bool head_;
};
inline denial_matcher is_denied(int status, bool head = false) { return denial_matcher(status, head); }

} // namespace kintod_test

namespace Catch {
template <> struct StringMaker<kintod_test::http_response> {
  static std::string convert(const kintod_test::http_response& r) { return r.describe(); }
};
template <> struct StringMaker<kinto::json::value> {
  static std::string convert(const kinto::json::value& v) { return kinto::json::serialize(v); }
};
} // namespace Catch
