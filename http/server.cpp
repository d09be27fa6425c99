// Beast listener and sessions. A session lives as long as an asynchronous
// operation or a pending handler reply holds shared_from_this(). Each request
// gets a fresh parser with body and header limits and a read deadline.
#include "http/server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <ctime>
#include <iostream>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

namespace kinto::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

class session;

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

struct server::impl : std::enable_shared_from_this<server::impl> {
  impl(server_options o, handler a, error_renderer e)
      : options(std::move(o)), app(std::move(a)), errors(std::move(e)), acceptor(ioc), signals(ioc, SIGINT, SIGTERM),
        guard(asio::make_work_guard(ioc)) {}

  void accept();
  void stop();
  void request_done();
  void track(const std::shared_ptr<session>& s);

  server_options options;
  handler app;
  error_renderer errors;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::signal_set signals;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> in_flight{0};
  std::mutex sessions_mutex;
  std::list<std::weak_ptr<session>> sessions;
};

class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket socket, std::shared_ptr<server::impl> srv) : stream_(std::move(socket)), srv_(std::move(srv)) {
    srv_->connections.fetch_add(1);
  }
  ~session() { srv_->connections.fetch_sub(1); }

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
  void close_if_idle() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) self->stream_.socket().close();
    });
  }

private:
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
    auto expect = req[bhttp::field::expect];
    if (!expect.empty() && beast::iequals(expect, "100-continue") && !parser_->is_done()) {
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
    keep_alive_ = msg.keep_alive();
    head_ = msg.method() == bhttp::verb::head;
    request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.headers.reserve(8);
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    req.host = std::string(msg[bhttp::field::host]);
    if (req.host.empty()) {
      beast::error_code lec;
      auto local = stream_.socket().local_endpoint(lec);
      if (!lec) req.host = local.address().to_string() + ":" + std::to_string(local.port());
    }
    req.body = std::move(msg.body());
    req.post = [self = shared_from_this()](std::function<void()> work) {
      asio::post(self->stream_.get_executor(), std::move(work));
    };
    busy_ = true;
    srv_->in_flight.fetch_add(1);
    stream_.expires_never();
    srv_->app(std::move(req), [self = shared_from_this()](response res) {
      asio::post(self->stream_.get_executor(),
                 [self, res = std::move(res)]() mutable { self->write(std::move(res), false); });
    });
  }

  void write(response res, bool server_error) {
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
    const bool counted = busy_;
    bhttp::async_write(stream_, *out, [self = shared_from_this(), out, close_after, counted](beast::error_code ec, std::size_t) {
      self->busy_ = false;
      if (counted) self->srv_->request_done();
      if (ec || close_after) return self->close();
      self->read_header();
    });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<server::impl> srv_;
  bool busy_ = false;
  bool keep_alive_ = true;
  bool head_ = false;
};

void server::impl::accept() {
  acceptor.async_accept(asio::make_strand(ioc), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (self->stopping || ec == asio::error::operation_aborted) return;
    } else {
      const bool reject = self->connections.load() >= self->options.max_connections;
      auto s = std::make_shared<session>(std::move(socket), self);
      self->track(s);
      s->start(reject);
    }
    if (!self->stopping) self->accept();
  });
}

void server::impl::track(const std::shared_ptr<session>& s) {
  std::lock_guard<std::mutex> lock(sessions_mutex);
  // Drop the entries of sessions that ended, so the list stays small.
  for (auto it = sessions.begin(); it != sessions.end();) it = it->expired() ? sessions.erase(it) : std::next(it);
  sessions.push_back(s);
}

void server::impl::stop() {
  if (stopping.exchange(true)) return;
  asio::post(ioc, [self = shared_from_this()] {
    beast::error_code ec;
    self->acceptor.close(ec);
    self->signals.cancel(ec);
    {
      std::lock_guard<std::mutex> lock(self->sessions_mutex);
      for (auto& weak : self->sessions)
        if (auto s = weak.lock()) s->close_if_idle();
    }
    if (self->in_flight.load() == 0) self->guard.reset();
  });
}

void server::impl::request_done() {
  if (in_flight.fetch_sub(1) == 1 && stopping) asio::post(ioc, [self = shared_from_this()] { self->guard.reset(); });
}

server::server(server_options options, handler app, error_renderer errors)
    : impl_(std::make_shared<impl>(std::move(options), std::move(app), std::move(errors))) {}

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
  std::vector<std::thread> pool;
  for (std::size_t i = 1; i < threads; ++i) pool.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : pool) t.join();
}

void server::stop() { impl_->stop(); }

} // namespace kinto::http
