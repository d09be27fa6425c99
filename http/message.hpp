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

struct response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool close = false; ///< close the connection after this response
  /// Set: the body is `stream`'s chunks (`body` is not sent), and the
  /// connection ends with it. Such a response no longer counts as a request
  /// in flight once its header is written.
  std::shared_ptr<stream_handler> stream;

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
