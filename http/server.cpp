// Beast listener and connections. A connection lives as long as an asynchronous
// operation or a pending handler reply holds shared_from_this(). Each request
// gets a fresh parser with body and header limits and a read deadline; a
// keep-alive connection waits for the next one at most the idle timeout.
#include "http/server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <poll.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <deque>
#include <ctime>
#include <iostream>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace kinto::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;

class connection;

/// The Date header value, formatted at most once per second per thread.
std::string_view current_date() {
  thread_local std::time_t cached_second = 0;
  thread_local char text[64];
  const std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_second = now;
  }
  return text;
}

namespace {

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("-._~").find(c) != std::string_view::npos;
}

/// A Host value or the authority of an absolute-form target: uri-host
/// [":" port] (RFC 9110 §7.2), possibly empty. No user info, no spaces, no
/// path: it is echoed in absolute URLs (Location, the root view's `url`).
bool valid_authority(std::string_view host) {
  return std::all_of(host.begin(), host.end(), [](char c) {
    return is_token_char(c) || std::string_view("%!$&'()*+,;=:[]").find(c) != std::string_view::npos;
  });
}

/// Transfer-Encoding, when present, must name exactly one coding, chunked:
/// other codings are not supported, and lists such as "chunked, identity"
/// are framed differently by different servers (request smuggling). RFC
/// 9112 §6.1 asks for 400 and a close.
bool transfer_encoding_ok(const bhttp::fields& fields) {
  std::size_t codings = 0;
  for (auto [it, end] = fields.equal_range(bhttp::field::transfer_encoding); it != end; ++it) {
    std::string_view list = it->value();
    while (!list.empty()) {
      const std::size_t comma = list.find(',');
      std::string_view coding = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      while (!coding.empty() && (coding.front() == ' ' || coding.front() == '\t')) coding.remove_prefix(1);
      while (!coding.empty() && (coding.back() == ' ' || coding.back() == '\t')) coding.remove_suffix(1);
      if (coding.empty()) continue;
      if (!beast::iequals(coding, "chunked")) return false;
      ++codings;
    }
  }
  return codings <= 1;
}

/// HTTP/1.1 requests carry exactly one valid Host header (RFC 9112 §3.2);
/// HTTP/1.0 ones at most one.
bool host_ok(const bhttp::request_header<>& header) {
  auto [first, end] = header.equal_range(bhttp::field::host);
  const auto count = std::distance(first, end);
  if (count == 0) return header.version() < 11;
  return count == 1 && valid_authority(first->value());
}

/// Splits an absolute-form target ("http://host:port/path?query", RFC 9112
/// §3.2.2) into its authority and the origin-form target served. False when
/// `target` is not in absolute form.
bool split_absolute_form(std::string_view target, std::string& authority, std::string& origin_form) {
  const std::size_t scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos) return false;
  const std::string_view scheme = target.substr(0, scheme_end);
  if (!beast::iequals(scheme, "http") && !beast::iequals(scheme, "https")) return false;
  const std::string_view rest = target.substr(scheme_end + 3);
  const std::size_t path = rest.find_first_of("/?");
  authority = std::string(rest.substr(0, path));
  origin_form = path == std::string_view::npos ? "/" : std::string(rest.substr(path));
  if (origin_form.front() == '?') origin_form.insert(0, "/");
  return true;
}

} // namespace

struct server::impl : std::enable_shared_from_this<server::impl> {
  impl(server_options o, handler a, handler over, error_renderer e)
      : options(std::move(o)), app(std::move(a)), overloaded(std::move(over)), errors(std::move(e)), acceptor(ioc),
        accept_retry(ioc), signals(ioc, SIGINT, SIGTERM), guard(asio::make_work_guard(ioc)) {}

  void accept();
  void stop();
  void request_done();
  void track(const std::shared_ptr<connection>& s);

  server_options options;
  handler app;
  handler overloaded;
  error_renderer errors;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  // The acceptor's handlers and stop() run here, one at a time: closing the
  // acceptor while another I/O thread starts an accept is a data race.
  asio::strand<asio::io_context::executor_type> accept_strand{asio::make_strand(ioc)};
  asio::steady_timer accept_retry; // pause after an accept failure (out of descriptors)
  asio::signal_set signals;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::once_flag guard_released; // stop() and the last request may both release it, on different threads
  void release_guard() {
    std::call_once(guard_released, [this] { guard.reset(); });
  }
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> in_flight{0}; // requests admitted whose response is not yet written
  std::mutex tracked_mutex;
  std::list<std::weak_ptr<connection>> tracked;
};

struct streamed_body;
struct socket_body;

class connection : public std::enable_shared_from_this<connection> {
public:
  connection(tcp::socket socket, std::shared_ptr<server::impl> srv) : srv_(std::move(srv)), stream_(std::move(socket)) {
    srv_->connections.fetch_add(1);
  }
  ~connection() { release_connection(); }

  void start(bool reject) {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this(), reject] {
      if (reject) {
        self->write(self->srv_->errors(503), true);
      } else {
        self->read_header();
      }
    });
  }

  /// Closes the connection if it is waiting for a request (shutdown).
  void close_if_idle();
  /// Has the connection write what its stream queued.
  void post_chunks();
  /// Has the connection write what its socket queued.
  void post_messages();


private:
  /// Writes the header of a streamed response, then its chunks as they are
  /// queued (chunked transfer coding), until it ends or the client goes.
  void start_stream(response res);
  /// Writes what the stream has queued, one chunk at a time.
  void write_chunks();
  /// The stream is over: the last chunk when it ended, then the connection.
  void finish_stream(bool ended);
  /// Reads (and drops) what the client of a stream sends, until it goes.
  void watch_client(std::shared_ptr<std::array<char, 512>> sink);

  /// Accepts the WebSocket handshake of the request just read, answering
  /// with the headers of `res`, then serves the socket with its handler.
  void start_socket(response res);
  /// Reads the socket's next message.
  void read_message();
  /// Writes the socket's queued messages one at a time, then its close.
  void write_messages();
  /// The socket is over: the connection closes, the handler is told.
  void finish_socket();

  /// Between the requests of a keep-alive connection: waits at most the idle
  /// timeout for the first byte of the next request, which then gets the
  /// whole read timeout.
  void await_request() {
    if (srv_->stopping) return close();
    if (buffer_.size() > 0) return read_header(); // pipelined: already here
    stream_.expires_after(srv_->options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      if (ec) return self->close();
      self->buffer_.commit(n);
      self->read_header();
    });
  }

  /// Reads the next request's header; header and body must both arrive
  /// before the read deadline, however slowly the bytes come.
  void read_header() {
    if (srv_->stopping) return close();
    parser_.emplace();
    parser_->body_limit(srv_->options.body_limit);
    parser_->header_limit(static_cast<std::uint32_t>(srv_->options.header_limit));
    stream_.expires_after(srv_->options.read_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_error(ec);
    auto& req = parser_->get();
    if (req.target().size() > srv_->options.url_limit) return write(srv_->errors(414), true);
    // What a proxy in front could frame or address differently is refused,
    // and the connection closed.
    if (!transfer_encoding_ok(req) || !host_ok(req)) return write(srv_->errors(400), true);
    target_ = std::string(req.target());
    host_ = std::string(req[bhttp::field::host]);
    if (std::string authority; split_absolute_form(req.target(), authority, target_)) {
      // The target's authority replaces the Host header (RFC 9112 §3.2.2).
      if (!valid_authority(authority)) return write(srv_->errors(400), true);
      host_ = std::move(authority);
    }
    // HTTP/1.0 clients do not know 100 Continue: they just send the body.
    auto expect = req[bhttp::field::expect];
    if (req.version() >= 11 && beast::iequals(expect, "100-continue") && !parser_->is_done()) {
      auto interim = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, 11);
      bhttp::async_write(stream_, *interim, [self = shared_from_this(), interim](beast::error_code wec, std::size_t) {
        if (wec) return self->close();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_error(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) return write(srv_->errors(413), true);
    if (ec == bhttp::error::header_limit) return write(srv_->errors(431), true);
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof || ec == bhttp::error::partial_message ||
        ec == asio::error::bad_descriptor)
      return close();
    if (ec.category() == beast::error_code(bhttp::error::bad_method).category()) return write(srv_->errors(400), true);
    close();
  }

  void on_read(beast::error_code ec) {
    if (ec) return on_error(ec);
    auto msg = parser_->release();
    if (websocket::is_upgrade(msg)) upgrade_.emplace(msg);
    else upgrade_.reset();
    keep_alive_ = msg.keep_alive();
    head_ = msg.method() == bhttp::verb::head;
    http10_ = msg.version() < 11;
    request req;
    req.method = std::string(msg.method_string());
    req.target = std::move(target_);
    req.headers.reserve(8);
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    req.host = std::move(host_);
    if (req.host.empty()) {
      beast::error_code lec;
      auto local = stream_.socket().local_endpoint(lec);
      if (!lec) req.host = local.address().to_string() + ":" + std::to_string(local.port());
    }
    req.body = std::move(msg.body());
    req.websocket = upgrade_.has_value();
    req.post = [self = shared_from_this()](std::function<void()> work) {
      asio::post(self->stream_.get_executor(), std::move(work));
    };
    busy_ = true;
    stream_.expires_never();
    responder reply = [self = shared_from_this()](response res) {
      asio::post(self->stream_.get_executor(),
                 [self, res = std::move(res)]() mutable { self->write(std::move(res), false); });
    };
    if (srv_->in_flight.fetch_add(1) >= srv_->options.max_requests_in_flight) {
      // Over the bound: answered 503 at once, and not counted while that
      // small answer is written.
      srv_->request_done();
      return srv_->overloaded(std::move(req), std::move(reply));
    }
    counted_ = true;
    srv_->app(std::move(req), std::move(reply));
  }

  void write(response res, bool server_error) {
    if (res.socket && upgrade_ && !server_error) return start_socket(std::move(res));
    if (res.stream && !head_) return start_stream(std::move(res));
    auto out = std::make_shared<bhttp::response<bhttp::string_body>>();
    out->version(11);
    out->result(static_cast<unsigned>(res.status));
    out->set(bhttp::field::date, current_date());
    for (auto& [name, value] : res.headers) out->insert(name, value);
    const bool close_after = server_error || res.close || !keep_alive_ || srv_->stopping;
    out->keep_alive(!close_after);
    if (head_ && !server_error) {
      out->content_length(res.body.size());
    } else {
      out->body() = std::move(res.body);
      out->prepare_payload();
    }
    stream_.expires_after(srv_->options.read_timeout);
    const bool counted = std::exchange(counted_, false);
    bhttp::async_write(stream_, *out, [self = shared_from_this(), out, close_after, counted](beast::error_code ec, std::size_t) {
      self->busy_ = false;
      if (counted) self->srv_->request_done();
      if (ec || close_after) return self->close();
      self->await_request();
    });
  }

  /// Gives the connection's place back (max_connections). Done as the
  /// connection closes, so a client that saw the close may connect again
  /// at once.
  void release_connection() {
    if (std::exchange(released_, true)) return;
    srv_->connections.fetch_sub(1);
  }

  void close() {
    release_connection();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  // Declared first, destroyed last: the last connection can outlive the server
  // (an answer still held by an actor) and then owns the io_context, which
  // the stream's timer and socket need while they are destroyed.
  std::shared_ptr<server::impl> srv_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string target_;   // origin-form target of the request being read
  std::string host_;     // its Host, or the authority of an absolute-form target
  bool busy_ = false;    // a request is being handled or answered
  bool counted_ = false; // ... and counts in in_flight
  bool released_ = false;
  bool keep_alive_ = true;
  bool head_ = false;
  bool http10_ = false; // an HTTP/1.0 client: a streamed body is not chunked, the close ends it
  std::shared_ptr<streamed_body> body_; // a streamed response being written
  std::optional<bhttp::request<bhttp::string_body>> upgrade_; // the request, when a WebSocket handshake
  std::optional<websocket::stream<beast::tcp_stream&>> ws_;   // once upgraded
  beast::flat_buffer ws_buffer_;
  std::shared_ptr<socket_body> socket_;
};

/// The body_stream of a streamed response: chunks queued from any thread,
/// written by the connection on its executor.
struct streamed_body : body_stream, std::enable_shared_from_this<streamed_body> {
  streamed_body(std::weak_ptr<connection> c, std::shared_ptr<stream_handler> h)
      : conn(std::move(c)), handler(std::move(h)), high_water(handler->high_water) {}

  bool write(std::string chunk) override;
  std::size_t queued() const override {
    std::lock_guard<std::mutex> lock(mutex);
    return queued_bytes;
  }
  void end() override;
  bool open() const override {
    std::lock_guard<std::mutex> lock(mutex);
    return !over;
  }

  /// Takes what is queued, as one chunk; empty when nothing is.
  std::string take() {
    std::lock_guard<std::mutex> lock(mutex);
    std::string all;
    for (auto& c : pending) all += c;
    pending.clear();
    return all;
  }
  /// `n` bytes were written: true when the queue is empty (writing stops).
  bool written(std::size_t n, bool& drained) {
    std::lock_guard<std::mutex> lock(mutex);
    queued_bytes -= n;
    drained = false;
    if (!pending.empty()) return false;
    writing = false;
    drained = reached_high_water;
    reached_high_water = false;
    return true;
  }
  /// Marks the stream over; true the first time.
  bool close() {
    std::lock_guard<std::mutex> lock(mutex);
    return !std::exchange(over, true);
  }

  std::weak_ptr<connection> conn;
  std::shared_ptr<stream_handler> handler; // used on the connection's executor only
  const std::size_t high_water;
  mutable std::mutex mutex;
  std::vector<std::string> pending;
  std::size_t queued_bytes = 0;
  bool writing = false;            // the connection is writing chunks
  bool ending = false;             // end() was asked
  bool over = false;
  bool reached_high_water = false;
};

bool streamed_body::write(std::string chunk) {
  bool start = false;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (over || ending) return false;
    queued_bytes += chunk.size();
    if (high_water && queued_bytes >= high_water) reached_high_water = true;
    pending.push_back(std::move(chunk));
    start = !std::exchange(writing, true);
  }
  if (start) {
    if (auto c = conn.lock()) c->post_chunks();
  }
  return true;
}

void streamed_body::end() {
  bool finish = false;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (over || ending) return;
    ending = true;
    finish = !writing;
    writing = true;
  }
  if (finish) {
    if (auto c = conn.lock()) c->post_chunks();
  }
}

/// The socket_channel of a WebSocket: messages queued from any thread,
/// written by the connection on its executor.
struct socket_body : socket_channel {
  socket_body(std::weak_ptr<connection> c, std::shared_ptr<socket_handler> h)
      : conn(std::move(c)), handler(std::move(h)), high_water(handler->high_water) {}

  bool send(std::string text) override {
    bool start = false;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (over || closing) return false;
      queued_bytes += text.size();
      if (high_water && queued_bytes >= high_water) reached_high_water = true;
      pending.push_back(std::move(text));
      start = !std::exchange(writing, true);
    }
    if (start)
      if (auto c = conn.lock()) c->post_messages();
    return true;
  }
  std::size_t queued() const override {
    std::lock_guard<std::mutex> lock(mutex);
    return queued_bytes;
  }
  void close(std::uint16_t code, std::string reason) override {
    bool start = false;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (over || closing) return;
      closing = true;
      close_reason = websocket::close_reason(static_cast<websocket::close_code>(code), std::string_view(reason).substr(0, 120));
      start = !std::exchange(writing, true);
    }
    if (start)
      if (auto c = conn.lock()) c->post_messages();
  }
  bool open() const override {
    std::lock_guard<std::mutex> lock(mutex);
    return !over && !closing;
  }

  /// What to write next: a message, or (nullopt) the close when `closing`,
  /// or nothing, and writing stops.
  std::optional<std::string> next(bool& close_now) {
    std::lock_guard<std::mutex> lock(mutex);
    close_now = false;
    if (!pending.empty()) {
      std::string m = std::move(pending.front());
      pending.pop_front();
      return m;
    }
    if (closing) close_now = true;
    else writing = false;
    return std::nullopt;
  }
  /// `n` bytes were written: true when the queue emptied after having held
  /// `high_water` bytes.
  bool written(std::size_t n) {
    std::lock_guard<std::mutex> lock(mutex);
    queued_bytes -= n;
    if (!pending.empty() || !reached_high_water) return false;
    reached_high_water = false;
    return true;
  }
  /// Marks the socket over; true the first time.
  bool finish() {
    std::lock_guard<std::mutex> lock(mutex);
    closing = true;
    return !std::exchange(over, true);
  }

  std::weak_ptr<connection> conn;
  std::shared_ptr<socket_handler> handler; // used on the connection's executor only
  const std::size_t high_water;
  mutable std::mutex mutex;
  std::deque<std::string> pending;
  std::size_t queued_bytes = 0;
  websocket::close_reason close_reason;
  bool writing = false;
  bool closing = false;
  bool over = false;
  bool reached_high_water = false;
};

void connection::start_socket(response res) {
  ws_.emplace(stream_);
  // The WebSocket keeps its own deadlines (handshake, idle with pings).
  stream_.expires_never();
  ws_->set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws_->set_option(websocket::stream_base::decorator([headers = std::move(res.headers)](websocket::response_type& out) {
    for (const auto& [name, value] : headers) out.insert(name, value);
  }));
  ws_->read_message_max(res.socket->max_message);
  socket_ = std::make_shared<socket_body>(weak_from_this(), std::move(res.socket));
  ws_->async_accept(*upgrade_, [self = shared_from_this()](beast::error_code ec) {
    // An open socket is not a request in flight: it may last for hours.
    if (std::exchange(self->counted_, false)) self->srv_->request_done();
    self->upgrade_.reset();
    if (ec) return self->finish_socket();
    if (auto opened = std::exchange(self->socket_->handler->opened, nullptr)) opened(self->socket_);
    self->read_message();
  });
}

void connection::read_message() {
  ws_->async_read(ws_buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) return self->finish_socket();
    if (!self->ws_->got_text()) {
      self->socket_->close(static_cast<std::uint16_t>(websocket::close_code::unknown_data), "text messages only");
      return;
    }
    std::string text = beast::buffers_to_string(self->ws_buffer_.data());
    self->ws_buffer_.consume(self->ws_buffer_.size());
    if (self->socket_->handler->message) self->socket_->handler->message(std::move(text));
    self->read_message();
  });
}

void connection::post_messages() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] { self->write_messages(); });
}

void connection::write_messages() {
  if (!socket_ || !ws_) return;
  bool close_now = false;
  auto message = socket_->next(close_now);
  if (message) {
    auto data = std::make_shared<std::string>(std::move(*message));
    ws_->text(true);
    ws_->async_write(asio::buffer(*data), [self = shared_from_this(), data](beast::error_code ec, std::size_t) {
      if (ec) return self->finish_socket();
      if (self->socket_->written(data->size()) && self->socket_->handler->drained) self->socket_->handler->drained();
      self->write_messages();
    });
    return;
  }
  if (!close_now) return;
  // A client that does not answer the close is not waited for long.
  stream_.expires_after(srv_->options.read_timeout);
  websocket::close_reason reason;
  {
    std::lock_guard<std::mutex> lock(socket_->mutex);
    reason = socket_->close_reason;
  }
  ws_->async_close(reason, [self = shared_from_this()](beast::error_code) { self->finish_socket(); });
}

void connection::finish_socket() {
  auto socket = socket_;
  if (!socket || !socket->finish()) return;
  close();
  // The handler's callbacks may hold the socket: let them go with it.
  auto handler = std::exchange(socket->handler, std::make_shared<socket_handler>());
  if (handler->closed) handler->closed();
}

void connection::close_if_idle() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] {
    if (self->socket_) return self->socket_->close(static_cast<std::uint16_t>(websocket::close_code::going_away), "");
    if (self->body_) return self->body_->end();
    if (!self->busy_) self->stream_.socket().close();
  });
}

void connection::start_stream(response res) {
  auto header = std::make_shared<bhttp::response<bhttp::empty_body>>();
  header->version(11);
  header->result(static_cast<unsigned>(res.status));
  header->set(bhttp::field::date, current_date());
  for (auto& [name, value] : res.headers) header->insert(name, value);
  header->keep_alive(false);
  if (!http10_) header->chunked(true);
  body_ = std::make_shared<streamed_body>(weak_from_this(), res.stream);
  auto serializer = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*header);
  stream_.expires_after(srv_->options.read_timeout);
  bhttp::async_write_header(stream_, *serializer, [self = shared_from_this(), header, serializer](beast::error_code ec, std::size_t) {
    // A stream is not a request in flight: it may last for hours.
    if (std::exchange(self->counted_, false)) self->srv_->request_done();
    if (ec) return self->finish_stream(false);
    self->stream_.expires_never();
    // The client sends nothing more on this connection: a read that ends
    // tells it went away. The pending read keeps the connection alive.
    self->watch_client(std::make_shared<std::array<char, 512>>());
    // Called once; what it holds (the writer of the events) is let go.
    if (auto opened = std::exchange(self->body_->handler->opened, nullptr)) opened(self->body_);
  });
}

void connection::watch_client(std::shared_ptr<std::array<char, 512>> sink) {
  stream_.socket().async_read_some(asio::buffer(*sink), asio::bind_executor(stream_.get_executor(),
    [self = shared_from_this(), sink](beast::error_code ec, std::size_t) {
      if (ec) return self->finish_stream(false);
      self->watch_client(sink);
    }));
}

void connection::post_chunks() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] { self->write_chunks(); });
}

void connection::write_chunks() {
  if (!body_ || !body_->open()) return;
  auto data = std::make_shared<std::string>(body_->take());
  if (data->empty()) {
    bool drained = false;
    if (body_->written(0, drained)) {
      std::unique_lock<std::mutex> lock(body_->mutex);
      if (body_->ending) {
        lock.unlock();
        return finish_stream(true);
      }
    }
    return;
  }
  stream_.expires_after(srv_->options.read_timeout);
  auto written = [self = shared_from_this(), data](beast::error_code ec, std::size_t) {
    if (ec || !self->body_) return self->finish_stream(false);
    self->stream_.expires_never();
    bool drained = false;
    if (!self->body_->written(data->size(), drained)) return self->write_chunks();
    if (drained && self->body_->handler->drained) self->body_->handler->drained();
    std::unique_lock<std::mutex> lock(self->body_->mutex);
    const bool ending = self->body_->ending;
    lock.unlock();
    if (ending) {
      {
        std::lock_guard<std::mutex> relock(self->body_->mutex);
        self->body_->writing = true;
      }
      self->finish_stream(true);
    }
  };
  if (http10_) asio::async_write(stream_, asio::buffer(*data), std::move(written));
  else asio::async_write(stream_, bhttp::make_chunk(asio::buffer(*data)), std::move(written));
}

void connection::finish_stream(bool ended) {
  auto body = body_;
  if (!body || !body->close()) return;
  auto done = [self = shared_from_this(), body] {
    self->close();
    // The handler's callbacks hold the events' writer, which holds the
    // body: let them go with the stream.
    auto handler = std::exchange(body->handler, std::make_shared<stream_handler>());
    if (handler->closed) handler->closed();
  };
  if (!ended || http10_) return done();
  auto last = std::make_shared<decltype(bhttp::make_chunk_last())>(bhttp::make_chunk_last());
  stream_.expires_after(srv_->options.read_timeout);
  asio::async_write(stream_, *last, [last, done](beast::error_code, std::size_t) { done(); });
}

void server::impl::accept() {
  acceptor.async_accept(asio::make_strand(ioc), asio::bind_executor(accept_strand, [self = shared_from_this()](
                                                                       beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (self->stopping || ec == asio::error::operation_aborted) return;
      // Out of file descriptors (EMFILE, ENFILE) or memory: accepting again
      // at once would spin. The pending connection waits in the backlog.
      self->accept_retry.expires_after(std::chrono::milliseconds(100));
      self->accept_retry.async_wait(asio::bind_executor(self->accept_strand, [self](beast::error_code wec) {
        if (!wec && !self->stopping) self->accept();
      }));
      return;
    }
    const bool reject = self->connections.load() >= self->options.max_connections;
    auto s = std::make_shared<connection>(std::move(socket), self);
    self->track(s);
    s->start(reject);
    if (!self->stopping) self->accept();
  }));
}

void server::impl::track(const std::shared_ptr<connection>& s) {
  std::lock_guard<std::mutex> lock(tracked_mutex);
  // Drop the entries of connections that ended, so the list stays small.
  for (auto it = tracked.begin(); it != tracked.end();) it = it->expired() ? tracked.erase(it) : std::next(it);
  tracked.push_back(s);
}

void server::impl::stop() {
  if (stopping.exchange(true)) return;
  if (options.stopping) options.stopping();
  asio::post(accept_strand, [self = shared_from_this()] {
    beast::error_code ec;
    self->acceptor.close(ec);
    self->signals.cancel(ec);
    {
      std::lock_guard<std::mutex> lock(self->tracked_mutex);
      for (auto& weak : self->tracked)
        if (auto s = weak.lock()) s->close_if_idle();
    }
    if (self->in_flight.load() == 0) self->release_guard();
  });
}

void server::impl::request_done() {
  if (in_flight.fetch_sub(1) == 1 && stopping) asio::post(ioc, [self = shared_from_this()] { self->release_guard(); });
}

server::server(server_options options, handler app, handler overloaded, error_renderer errors)
    : impl_(std::make_shared<impl>(std::move(options), std::move(app), std::move(overloaded), std::move(errors))) {}

server::~server() = default;

bool server::listen(std::string& error) {
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->options.host, ec);
  if (ec) {
    // A host name: resolve it.
    tcp::resolver resolver(impl_->ioc);
    auto results = resolver.resolve(impl_->options.host, std::to_string(impl_->options.port), ec);
    if (ec || results.empty()) {
      error = "cannot resolve host " + impl_->options.host;
      return false;
    }
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(address, impl_->options.port);
  auto& acc = impl_->acceptor;
  if (acc.open(endpoint.protocol(), ec) || acc.set_option(asio::socket_base::reuse_address(true), ec) ||
      acc.bind(endpoint, ec) || acc.listen(asio::socket_base::max_listen_connections, ec)) {
    error = "cannot listen on " + impl_->options.host + ":" + std::to_string(impl_->options.port) + ": " + ec.message();
    return false;
  }
  return true;
}

std::size_t server::open_connections() const { return impl_->connections.load(std::memory_order_relaxed); }
std::size_t server::requests_in_flight() const { return impl_->in_flight.load(std::memory_order_relaxed); }

unsigned short server::port() const {
  beast::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void server::run() {
  impl_->signals.async_wait([weak = std::weak_ptr<impl>(impl_)](beast::error_code ec, int) {
    if (ec) return;
    if (auto self = weak.lock()) self->stop();
  });
  impl_->accept();
  std::size_t threads = impl_->options.io_threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  // Every I/O thread is a new one, with the stack size the process gives
  // its threads; the calling thread only waits.
  std::vector<std::thread> pool;
  for (std::size_t i = 0; i < threads; ++i) pool.emplace_back([this] { impl_->ioc.run(); });
  for (auto& t : pool) t.join();
}

void server::stop() { impl_->stop(); }

std::function<void(int fd, std::function<void()> ready)> server::readiness() {
  return [impl = impl_](int fd, std::function<void()> ready) {
    // A descriptor of its own for each wait, on a strand of its own: the
    // wait and the check below never run at once. The socket is not the
    // descriptor's: it is released, not closed, when the wait ends.
    auto strand = asio::make_strand(impl->ioc);
    auto watched = std::make_shared<asio::posix::stream_descriptor>(strand);
    asio::dispatch(strand, [fd, watched, ready = std::move(ready)]() mutable {
      boost::system::error_code ec;
      watched->assign(fd, ec);
      if (ec) return asio::post(watched->get_executor(), std::move(ready));
      watched->async_wait(asio::posix::descriptor_base::wait_read,
                          [watched, ready = std::move(ready)](boost::system::error_code) {
                            (void)watched->release();
                            ready();
                          });
      // What arrived before the wait began may not wake it (the reactor is
      // edge-triggered): if the socket is readable already, the wait ends now.
      pollfd readable{fd, POLLIN, 0};
      if (::poll(&readable, 1, 0) != 0) watched->cancel(ec);
    });
  };
}

} // namespace kinto::http
