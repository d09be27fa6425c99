// The HTTP request and response as the handlers see them: plain data, free of
// Beast (only http/server.cpp includes Beast) and of CAF.
#pragma once

#include <cstdint>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kinto::http {

struct list_follower;

struct request {
  std::string method;                                       ///< upper case: GET, PUT...
  std::string target;                                       ///< as sent: path and query
  std::vector<std::pair<std::string, std::string>> headers; ///< names lower-cased
  std::string body;
  std::string host;                                         ///< Host header, or the local address
  /// Runs work on the connection's I/O executor. Answers from actors come
  /// back through it, so that no actor does an HTTP handler's work. Empty:
  /// run inline (in-process use).
  std::function<void(std::function<void()>)> post;
  /// Set when the caller's identity was established already (the requests
  /// of a batch): authentication takes it instead of checking credentials.
  std::optional<std::string> authenticated_as;
  /// A WebSocket opening handshake (RFC 6455 §4.2.1) the server can
  /// accept: an answer with `response::socket` set upgrades the connection.
  bool websocket = false;
  /// Set on the reads a WebSocket subscription makes (/v1/changes): a list
  /// followed hands its subscription there, instead of answering with
  /// Server-Sent Events.
  std::shared_ptr<list_follower> follower;

  /// The first header with that (lower-case) name, or nullopt.
  std::optional<std::string_view> header(std::string_view lower_name) const;
};

/// The body of a response written as it comes (Server-Sent Events), in
/// chunks after the header. Thread-safe.
class body_stream {
public:
  virtual ~body_stream() = default;
  /// Queues `chunk`; false once the stream is over.
  virtual bool write(std::string chunk) = 0;
  /// Bytes queued and not yet written to the socket.
  virtual std::size_t queued() const = 0;
  /// Ends the body after what is queued, then the connection.
  virtual void end() = 0;
  /// False once the stream is over: ended, the client gone, the server
  /// stopping, or a chunk not taken within the read timeout.
  virtual bool open() const = 0;
};

/// How a streamed response is written: the server calls `opened` once the
/// header is out, `drained` when its queue empties after having held
/// `high_water` bytes or more, and `closed` once, when the stream is over.
struct stream_handler {
  std::function<void(std::shared_ptr<body_stream>)> opened;
  std::function<void()> drained;
  std::function<void()> closed;
  std::size_t high_water = 0;
};

/// A WebSocket the server accepted: text messages out, from any thread.
class socket_channel {
public:
  virtual ~socket_channel() = default;
  /// Queues a text message; false once the socket is closing or closed.
  virtual bool send(std::string text) = 0;
  /// Bytes queued and not yet written to the socket.
  virtual std::size_t queued() const = 0;
  /// Closes the socket once what is queued is written, with a close code
  /// (RFC 6455 §7.4) and reason.
  virtual void close(std::uint16_t code, std::string reason) = 0;
  /// False once the socket is closing or closed.
  virtual bool open() const = 0;
};

/// How an upgraded connection is served: the server calls `opened` once the
/// handshake is done, `message` with each text message received (a binary
/// one, or one longer than `max_message` bytes, closes the socket),
/// `drained` when its queue empties after having held `high_water` bytes or
/// more, and `closed` once, when the socket is closed. All on the
/// connection's executor, one at a time.
struct socket_handler {
  std::function<void(std::shared_ptr<socket_channel>)> opened;
  std::function<void(std::string)> message;
  std::function<void()> drained;
  std::function<void()> closed;
  std::size_t high_water = 0;
  std::size_t max_message = 64 * 1024;
};

struct response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool close = false; ///< close the connection after this response
  /// Set: the body is `stream`'s chunks (`body` is not sent), and the
  /// connection ends with it. Such a response no longer counts as a request
  /// in flight once its header is written.
  std::shared_ptr<stream_handler> stream;
  /// Set in the answer to a request with `websocket`: the connection becomes
  /// this WebSocket (status and headers are the handshake's), and no longer
  /// counts as a request in flight once it is open.
  std::shared_ptr<socket_handler> socket;
  /// An error response's Kinto errno (0 otherwise), and for a 503 what ran
  /// out: for the log and the metrics, not sent.
  int error_number = 0;
  std::string_view unavailable_cause;

  void set(std::string name, std::string value);
  /// The header with that name (case-insensitive), or nullopt.
  std::optional<std::string_view> get(std::string_view name) const;
};

/// A media type (RFC 9110 §8.3.1) as a Content-Type value, or an item of
/// Accept, gives it. Type, subtype and parameter names are case-insensitive
/// and kept lower-cased; parameter values are kept as sent, unquoted.
struct media_type {
  std::string type;    ///< "application"
  std::string subtype; ///< "json", "merge-patch+json"
  std::vector<std::pair<std::string, std::string>> parameters; ///< in order

  /// True when `type/subtype` is `essence`, given in lower case
  /// ("application/json").
  bool is(std::string_view essence) const;
  /// The value of the first parameter named `lower_name`, or nullopt.
  std::optional<std::string_view> parameter(std::string_view lower_name) const;
};

/// Parses a media type: `type "/" subtype *( OWS ";" OWS [ name "=" value ] )`
/// with type, subtype and names tokens, values tokens or quoted strings
/// (whitespace around `=` and empty parameters are tolerated; a malformed
/// parameter ends the list, as upstream reads only what precedes the first
/// ';'). nullopt when `type/subtype` is not one ("", "json", "application/",
/// "a/b c"). The one
/// parser of media types: every check of a request's Content-Type or Accept
/// goes through it.
std::optional<media_type> parse_media_type(std::string_view text);

/// Whether an Accept header value has one of the media ranges `ranges`
/// (lower case: "application/json", "application/*", "*/*") with a non-zero
/// quality. Items that are not media types are skipped.
bool accepts_any(std::string_view accept, std::initializer_list<std::string_view> ranges);

/// How a handler answers: exactly once, from any thread.
using responder = std::function<void(response)>;
/// The application: takes a request and answers it through the responder.
using handler = std::function<void(request, responder)>;

} // namespace kinto::http
