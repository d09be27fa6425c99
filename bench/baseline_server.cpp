// baseline-server: the HTTP ceiling kintod is measured against. Same I/O model
// as http/server.cpp (one io_context run by N threads, a strand per
// connection, a fresh parser per request with kintod's limits and read
// timeout, keep-alive), but every request gets the same 200-byte JSON body.
// Beast only; nothing of kintod is linked.
#include "bench_support.hpp"
#include "version.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using kinto::bench::count_arg;
using kinto::bench::refuse;

constexpr std::string_view program = "baseline-server";
constexpr std::string_view usage = "usage: baseline-server [--port N] [--threads N] [--host H]\n"
                                   "  --port N     port to listen on; 0 (default) picks a free one\n"
                                   "  --threads N  I/O threads running the one io_context (default: core count)\n"
                                   "  --host H     address to bind (default 127.0.0.1)\n"
                                   "Prints the port as the first line of stdout, then serves until SIGINT/SIGTERM.\n";

// kintod's defaults (http/server.hpp), so requests are read the same way.
constexpr std::size_t body_limit = 8 * 1024 * 1024;
constexpr std::uint32_t header_limit = 16 * 1024;
constexpr auto read_timeout = std::chrono::seconds(30);

/// A JSON object of exactly 200 bytes, shaped like a small Kinto record.
std::string fixed_body() {
  std::string body = "{\"data\":{\"id\":\"baseline\",\"last_modified\":1700000000000,\"title\":\"fixed answer\","
                     "\"note\":\"";
  const std::string tail = "\"}}";
  body.append(200 - body.size() - tail.size(), 'x');
  return body + tail;
}

const std::string body_text = fixed_body();

/// The Date header, formatted at most once per second per thread (as kintod does).
std::string_view current_date() {
  thread_local std::time_t cached = 0;
  thread_local char text[64];
  const std::time_t now = std::time(nullptr);
  if (now != cached) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached = now;
  }
  return text;
}

class session : public std::enable_shared_from_this<session> {
public:
  explicit session(tcp::socket socket) : stream_(std::move(socket)) {}

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

private:
  void read() {
    parser_.emplace();
    parser_->body_limit(body_limit);
    parser_->header_limit(header_limit);
    stream_.expires_after(read_timeout);
    // Header first, then the body, as kintod reads (it checks the target
    // length and Expect between the two).
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) {
                               if (ec) return self->close();
                               self->read_body();
                             });
  }

  void read_body() {
    bhttp::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->respond();
    });
  }

  void respond() {
    const bool keep_alive = parser_->get().keep_alive();
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(bhttp::status::ok, 11);
    res->set(bhttp::field::date, current_date());
    res->set(bhttp::field::content_type, "application/json");
    res->keep_alive(keep_alive);
    res->body() = body_text;
    res->prepare_payload();
    bhttp::async_write(stream_, *res, [self = shared_from_this(), res, keep_alive](beast::error_code ec, std::size_t) {
      if (ec || !keep_alive) return self->close();
      self->read();
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
};

void accept(tcp::acceptor& acceptor, asio::io_context& ioc) {
  acceptor.async_accept(asio::make_strand(ioc), [&acceptor, &ioc](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<session>(std::move(socket))->start();
    accept(acceptor, ioc);
  });
}

int serve(int argc, char** argv) {
  std::string host = "127.0.0.1";
  std::size_t port = 0;
  std::size_t threads = std::max(1u, std::thread::hardware_concurrency());
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      return 0;
    } else if (arg == "--port") {
      port = count_arg(program, usage, arg, next, 0, 65535), ++i;
    } else if (arg == "--threads") {
      threads = count_arg(program, usage, arg, next, 1, 256), ++i;
    } else if (arg == "--host") {
      if (!next || !*next) refuse(program, usage, "--host needs a value");
      host = next, ++i;
    } else {
      refuse(program, usage, "unknown argument '" + std::string(arg) + "'");
    }
  }

  asio::io_context ioc(static_cast<int>(threads));
  tcp::acceptor acceptor(ioc);
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) refuse(program, usage, "--host: not an IP address: '" + host + "'");
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  if (acceptor.open(endpoint.protocol(), ec) || acceptor.set_option(asio::socket_base::reuse_address(true), ec) ||
      acceptor.bind(endpoint, ec) || acceptor.listen(asio::socket_base::max_listen_connections, ec)) {
    std::cerr << program << ": cannot listen on " << host << ":" << port << ": " << ec.message() << "\n";
    return 1;
  }
  std::cout << acceptor.local_endpoint().port() << std::endl;
  std::cerr << program << ": listening on " << host << ":" << acceptor.local_endpoint().port() << " with " << threads
            << (threads == 1 ? " I/O thread\n" : " I/O threads\n");

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) { ioc.stop(); });
  accept(acceptor, ioc);
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  if (kinto::bench::print_version(argc, argv)) return 0;
  try {
    return serve(argc, argv);
  } catch (const kinto::bench::stop& s) {
    return s.code;
  }
}
