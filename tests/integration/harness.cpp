// Implementation of the integration-test harness: process control (fork/exec,
// pidfd, output draining) and an HTTP/1.1 client over Boost.Beast.
// The only integration-test file that includes Beast or Asio.
#include "harness.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <libpq-fe.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace kintod_test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto io_timeout = 30s;
constexpr auto start_deadline = 20s;
constexpr auto exit_deadline = 10s;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool verbose() {
  const char* v = std::getenv("KINTOD_TEST_VERBOSE");
  return v && *v && std::string_view(v) != "0";
}

// A client writing to a socket the server already closed must get EPIPE, not
// die of SIGPIPE. Children get the default disposition back before exec.
void ignore_sigpipe() {
  static std::once_flag once;
  std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
}

} // namespace

// ---- http_response ----------------------------------------------------------

std::string http_response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

bool http_response::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); });
}

std::vector<std::string> http_response::header_values(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) out.push_back(v);
  return out;
}

kinto::json::value http_response::json() const {
  std::string error;
  auto v = kinto::json::parse(body, error, 100000);
  if (!v) throw std::runtime_error("response body is not valid JSON (" + error + "):\n" + describe());
  return std::move(*v);
}

std::string http_response::describe() const {
  std::string out;
  if (status == 0) {
    out = "no response (" + transport_error + ")";
    return out;
  }
  out = "HTTP " + std::to_string(status) + "\n";
  for (const auto& [k, v] : headers) out += k + ": " + v + "\n";
  out += "\n";
  if (body.size() > 4000)
    out += body.substr(0, 4000) + "... (" + std::to_string(body.size()) + " bytes)";
  else
    out += body;
  return out;
}

// ---- http_connection ----------------------------------------------------------

struct http_connection::impl {
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  int port = 0;
  bool open = false;

  // Writes `bytes` and reads one response at the same time, so that a server
  // answering before it has read the whole body (413) is heard.
  http_response exchange(std::string_view bytes, bool head, bool close_write) {
    http_response out;
    if (!open) {
      out.transport_error = "connection already closed";
      return out;
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    parser.header_limit(1u << 20);
    if (head) parser.skip(true);

    bool write_done = false;
    bool read_done = false;
    beast::error_code write_ec;
    beast::error_code read_ec;
    stream.expires_after(io_timeout);
    net::async_write(stream, net::buffer(bytes.data(), bytes.size()), [&](beast::error_code ec, std::size_t) {
      write_done = true;
      write_ec = ec;
      if (!ec && close_write && !read_done) {
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
      }
    });
    http::async_read(stream, buffer, parser, [&](beast::error_code ec, std::size_t) {
      read_done = true;
      read_ec = ec;
      if (!write_done) stream.socket().cancel();
    });
    ioc.restart();
    ioc.run();

    if (read_ec) {
      out.transport_error = read_ec.message();
      if (write_ec) out.transport_error += " (while sending: " + write_ec.message() + ")";
      close();
      return out;
    }
    auto& msg = parser.get();
    out.status = static_cast<int>(msg.result_int());
    for (const auto& field : msg) out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    out.body = std::move(msg.body());
    if (write_ec || close_write || !msg.keep_alive()) close();
    return out;
  }

  void close() {
    open = false;
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
  }
};

http_connection::http_connection(int port) : impl_(std::make_unique<impl>()) {
  ignore_sigpipe();
  impl_->port = port;
  beast::error_code ec;
  impl_->stream.expires_after(io_timeout);
  impl_->stream.socket().connect(tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), static_cast<unsigned short>(port)),
                                 ec);
  if (ec) throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port) + ": " + ec.message());
  impl_->stream.socket().set_option(tcp::no_delay(true), ec);
  impl_->open = true;
}

http_connection::~http_connection() = default;

bool http_connection::is_open() const { return impl_->open; }

http_response http_connection::request(std::string_view method, std::string_view target, std::string_view body,
                                       const header_list& headers) {
  std::string text;
  text.reserve(256 + body.size());
  text.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  bool has_host = false, has_type = false, has_length = false;
  for (const auto& [name, value] : headers) {
    if (iequals(name, "Host")) has_host = true;
    if (iequals(name, "Content-Length")) has_length = true;
    if (iequals(name, "Content-Type")) {
      has_type = true;
      if (value.empty()) continue;
    }
    text.append(name).append(": ").append(value).append("\r\n");
  }
  if (!has_host) text.append("Host: 127.0.0.1:").append(std::to_string(impl_->port)).append("\r\n");
  text.append("User-Agent: kintod-integration-tests\r\n");
  if (!has_type && !body.empty()) text.append("Content-Type: application/json\r\n");
  const bool body_method = method == "POST" || method == "PUT" || method == "PATCH";
  if (!has_length && (!body.empty() || body_method))
    text.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  text.append("\r\n").append(body);

  auto r = impl_->exchange(text, method == "HEAD", false);
  if (r.status == 0)
    throw std::runtime_error("request " + std::string(method) + " " + std::string(target) +
                             " got no response: " + r.transport_error);
  return r;
}

http_response http_connection::exchange_raw(std::string_view bytes, bool close_write) {
  return impl_->exchange(bytes, false, close_write);
}

// ---- event_stream ---------------------------------------------------------------

struct event_stream::impl {
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  std::function<std::size_t(std::uint64_t, std::string_view, beast::error_code&)> on_body; // chunk bodies into `text`
  http_response head;
  std::string text;                      // body text received, not yet parsed into events
  std::deque<event_stream::event> ready; // parsed, not yet returned
  std::size_t comments = 0;              // comment lines parsed, not yet waited for
  bool ended = false, timed_out = false, broken = false;

  /// Moves every complete event of `text` into `ready`.
  void parse_events() {
    for (;;) {
      const std::size_t end = text.find("\n\n");
      if (end == std::string::npos) return;
      const std::string block = text.substr(0, end + 1);
      text.erase(0, end + 2);
      event_stream::event e;
      bool any = false;
      std::size_t pos = 0;
      while (pos < block.size()) {
        const std::size_t nl = block.find('\n', pos);
        const std::string line = block.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.empty()) continue;
        if (line.front() == ':') {
          ++comments;
          continue;
        }
        const std::size_t colon = line.find(':');
        const std::string field = line.substr(0, colon);
        std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.erase(0, 1);
        any = true;
        if (field == "id") e.id = value;
        else if (field == "event") e.type = value;
        else if (field == "data") e.data += (e.data.empty() ? "" : "\n") + value;
      }
      if (any) {
        if (e.type.empty()) e.type = "message";
        ready.push_back(std::move(e));
      }
    }
  }

  /// Reads more of the body, for at most `timeout`; false when nothing more
  /// can come (ended, timed out, broken).
  bool read_more(std::chrono::milliseconds timeout) {
    if (ended || timed_out || broken) return false;
    beast::error_code ec;
    bool done = false;
    stream.expires_after(timeout);
    http::async_read_some(stream, buffer, parser, [&](beast::error_code e, std::size_t) {
      ec = e;
      done = true;
    });
    ioc.restart();
    ioc.run();
    if (ec == beast::error::timeout) {
      timed_out = true;
      return false;
    }
    if (ec) {
      broken = true;
      return false;
    }
    if (parser.is_done()) ended = true;
    parse_events();
    return true;
  }
};

event_stream::event_stream(int port, std::string_view target, const header_list& headers, int receive_buffer)
    : impl_(std::make_unique<impl>()) {
  ignore_sigpipe();
  beast::error_code ec;
  if (receive_buffer > 0) {
    impl_->stream.socket().open(tcp::v4());
    impl_->stream.socket().set_option(net::socket_base::receive_buffer_size(receive_buffer));
  }
  impl_->stream.expires_after(io_timeout);
  impl_->stream.socket().connect(tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), static_cast<unsigned short>(port)),
                                 ec);
  if (ec) throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port) + ": " + ec.message());
  std::string request = "GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nAccept: text/event-stream\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  request += "\r\n";
  net::write(impl_->stream.socket(), net::buffer(request), ec);
  if (ec) throw std::runtime_error("cannot send the stream request: " + ec.message());
  auto& p = impl_->parser;
  p.body_limit(boost::none);
  impl_->on_body = [this](std::uint64_t, std::string_view body, beast::error_code&) -> std::size_t {
    impl_->text.append(body);
    return body.size();
  };
  p.on_chunk_body(impl_->on_body);
  beast::error_code rec;
  bool done = false;
  impl_->stream.expires_after(io_timeout);
  http::async_read_header(impl_->stream, impl_->buffer, p, [&](beast::error_code e, std::size_t) {
    rec = e;
    done = true;
  });
  impl_->ioc.run();
  if (rec) throw std::runtime_error("no stream response header: " + rec.message());
  auto& msg = p.get();
  impl_->head.status = static_cast<int>(msg.result_int());
  for (const auto& field : msg) impl_->head.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  if (!msg.chunked()) {
    // Not a stream: an error, read whole.
    beast::error_code bec;
    impl_->stream.expires_after(io_timeout);
    http::async_read(impl_->stream, impl_->buffer, p, [&](beast::error_code e, std::size_t) { bec = e; });
    impl_->ioc.restart();
    impl_->ioc.run();
    impl_->head.body = p.get().body();
    impl_->ended = true;
  }
}

event_stream::~event_stream() { close(); }

const http_response& event_stream::response() const { return impl_->head; }

std::optional<event_stream::event> event_stream::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (impl_->ready.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      impl_->timed_out = true;
      return std::nullopt;
    }
    if (!impl_->read_more(left)) {
      if (impl_->ready.empty()) return std::nullopt;
    }
  }
  auto e = std::move(impl_->ready.front());
  impl_->ready.pop_front();
  return e;
}

bool event_stream::next_comment(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (impl_->comments == 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !impl_->read_more(left)) return false;
  }
  --impl_->comments;
  return true;
}

bool event_stream::ended() const { return impl_->ended; }

bool event_stream::timed_out() const { return impl_->timed_out; }

void event_stream::close() {
  beast::error_code ignored;
  impl_->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  impl_->stream.socket().close(ignored);
}

// ---- WebSocket client -----------------------------------------------------------

struct change_socket::impl {
  net::io_context ioc;
  beast::websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  http_response head;
  bool open = false, closed = false;
  int code = 0;
};

change_socket::change_socket(int port, std::string_view target, const header_list& headers)
    : impl_(std::make_unique<impl>()) {
  ignore_sigpipe();
  beast::error_code ec;
  auto& tcp_layer = beast::get_lowest_layer(impl_->ws);
  tcp_layer.expires_after(io_timeout);
  tcp_layer.socket().connect(tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), static_cast<unsigned short>(port)), ec);
  if (ec) throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port) + ": " + ec.message());
  impl_->ws.set_option(beast::websocket::stream_base::decorator([headers](beast::websocket::request_type& req) {
    for (const auto& [name, value] : headers) req.set(name, value);
  }));
  beast::websocket::response_type res;
  bool done = false;
  impl_->ws.async_handshake(res, "127.0.0.1:" + std::to_string(port), std::string(target),
                            [&](beast::error_code e) {
                              ec = e;
                              done = true;
                            });
  impl_->ioc.run();
  impl_->head.status = static_cast<int>(res.result_int());
  for (const auto& field : res) impl_->head.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  impl_->head.body = res.body();
  impl_->open = !ec;
  tcp_layer.expires_never();
}

change_socket::~change_socket() {
  beast::error_code ignored;
  beast::get_lowest_layer(impl_->ws).socket().close(ignored);
}

const http_response& change_socket::response() const { return impl_->head; }

bool change_socket::send(std::string_view text) {
  if (!impl_->open) return false;
  beast::error_code ec;
  beast::get_lowest_layer(impl_->ws).expires_after(io_timeout);
  impl_->ws.async_write(net::buffer(text.data(), text.size()), [&](beast::error_code e, std::size_t) { ec = e; });
  impl_->ioc.restart();
  impl_->ioc.run();
  beast::get_lowest_layer(impl_->ws).expires_never();
  return !ec;
}

std::optional<std::string> change_socket::next(std::chrono::milliseconds timeout) {
  if (!impl_->open) return std::nullopt;
  beast::error_code ec;
  beast::get_lowest_layer(impl_->ws).expires_after(timeout);
  impl_->ws.async_read(impl_->buffer, [&](beast::error_code e, std::size_t) { ec = e; });
  impl_->ioc.restart();
  impl_->ioc.run();
  beast::get_lowest_layer(impl_->ws).expires_never();
  // A close frame came: answered (closed), or the server failed the
  // connection at once after it (its answer then finds the socket gone).
  if (ec == beast::websocket::error::closed || impl_->ws.reason().code != beast::websocket::close_code::none) {
    impl_->open = false;
    impl_->closed = true;
    impl_->code = impl_->ws.reason().code;
    return std::nullopt;
  }
  if (ec) {
    // A timeout spoils the stream's state: the socket is unusable after it.
    impl_->open = false;
    return std::nullopt;
  }
  std::string text = beast::buffers_to_string(impl_->buffer.data());
  impl_->buffer.consume(impl_->buffer.size());
  return text;
}

bool change_socket::closed() const { return impl_->closed; }

int change_socket::close_code() const { return impl_->code; }

void change_socket::close() {
  if (!impl_->open) return;
  impl_->open = false;
  beast::error_code ec;
  beast::get_lowest_layer(impl_->ws).expires_after(io_timeout);
  impl_->ws.async_close(beast::websocket::close_code::normal, [&](beast::error_code e) { ec = e; });
  impl_->ioc.restart();
  impl_->ioc.run();
}

// ---- small helpers ------------------------------------------------------------

std::string basic(std::string_view user, std::string_view password) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string in = std::string(user) + ":" + std::string(password);
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned n = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    out += alphabet[n >> 18 & 63];
    out += alphabet[n >> 12 & 63];
    out += alphabet[n >> 6 & 63];
    out += alphabet[n & 63];
  }
  if (i + 1 == in.size()) {
    unsigned n = (unsigned char)in[i] << 16;
    out += alphabet[n >> 18 & 63];
    out += alphabet[n >> 12 & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned n = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    out += alphabet[n >> 18 & 63];
    out += alphabet[n >> 12 & 63];
    out += alphabet[n >> 6 & 63];
    out += '=';
  }
  return "Basic " + out;
}

header_list auth(std::string_view user, std::string_view password) {
  return {{"Authorization", basic(user, password)}};
}

header_list with(header_list a, const header_list& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

temp_dir::temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/kintod-it-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
  path_ = tmpl;
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void write_file(const std::string& path, std::string_view content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

namespace {

std::string_view bare_name(std::string_view name) {
  if (name.starts_with("kinto.")) name.remove_prefix(6);
  return name;
}

void erase_setting(std::map<std::string, std::string>& settings, std::string_view name) {
  for (auto it = settings.begin(); it != settings.end();) {
    if (bare_name(it->first) == bare_name(name))
      it = settings.erase(it);
    else
      ++it;
  }
}

} // namespace

// ---- storage engine under test ---------------------------------------------------

namespace {

/// The libpq URI of the test cluster's `postgres` database, from the state
/// file tests/postgresql/cluster wrote (KINTOD_TEST_POSTGRESQL).
std::string cluster_url() {
  const char* state = std::getenv("KINTOD_TEST_POSTGRESQL");
  if (!state || !*state) throw std::runtime_error("KINTOD_TEST_POSTGRESQL: no cluster state file");
  std::ifstream in(state);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("url=", 0) == 0) return line.substr(4);
  throw std::runtime_error(std::string("no url= line in ") + state + " (is the test cluster running?)");
}

/// Runs `sql` on the cluster's `postgres` database: the rows it answered.
/// Throws when it fails.
int run_on_cluster(const std::string& sql) {
  PGconn* c = PQconnectdb(cluster_url().c_str());
  std::string error;
  int rows = 0;
  if (PQstatus(c) != CONNECTION_OK) {
    error = PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) error = PQresultErrorMessage(r);
    rows = PQntuples(r);
    PQclear(r);
  }
  PQfinish(c);
  if (!error.empty()) throw std::runtime_error("test cluster: " + sql + ": " + error);
  return rows;
}

/// The database that stands for the data directory `data_dir`: one per
/// directory, so that a server restarted on a directory finds its data.
std::string database_for(const std::string& data_dir) {
  char name[32];
  std::snprintf(name, sizeof name, "kt_%016zx", std::hash<std::string>{}(data_dir));
  return name;
}

/// The URI of the database `name` (a plain identifier) of the test cluster,
/// created when missing.
std::string database_url(const std::string& name) {
  const std::string url = cluster_url();
  const auto slash = url.find("/postgres?");
  if (slash == std::string::npos) throw std::runtime_error("unexpected test cluster URL " + url);
  if (run_on_cluster("SELECT 1 FROM pg_database WHERE datname = '" + name + "'") == 0)
    run_on_cluster("CREATE DATABASE " + name);
  return url.substr(0, slash) + "/" + name + url.substr(slash + 9);
}

} // namespace

bool on_postgresql() {
  const char* state = std::getenv("KINTOD_TEST_POSTGRESQL");
  return state && *state;
}

std::map<std::string, std::string> default_settings(const std::string& data_dir) {
  std::map<std::string, std::string> settings{
      {"kinto.includes", "kinto.plugins.accounts"},
      {"multiauth.policies", "account basicauth"},
      {"multiauth.policy.account.use", "kinto.plugins.accounts.AccountsPolicy"},
      {"multiauth.policy.basicauth.use", "kinto.core.authentication.BasicAuthAuthenticationPolicy"},
      {"kinto.account_create_principals", "system.Everyone"},
      {"kinto.account_write_principals", "account:admin"},
      {"kinto.bcrypt_cost", "4"},
      {"kinto.userid_hmac_secret", ""},
  };
  if (!on_postgresql()) {
    settings["kinto.storage_url"] = data_dir;
    return settings;
  }
  const std::string url = database_url(database_for(data_dir));
  settings["kinto.storage_backend"] = "kinto.core.storage.postgresql";
  settings["kinto.storage_url"] = url;
  settings["kinto.permission_backend"] = "kinto.core.permission.postgresql";
  settings["kinto.permission_url"] = url;
  return settings;
}

std::string ini_text(const std::map<std::string, std::string>& settings) {
  std::string out = "[app:main]\n";
  for (const auto& [name, value] : settings) {
    std::string v = value;
    for (std::size_t pos = 0; (pos = v.find('\n', pos)) != std::string::npos; pos += 5) v.replace(pos, 1, "\n    ");
    out += name + " = " + v + "\n";
  }
  return out;
}

// ---- child processes ---------------------------------------------------------

namespace {

struct child {
  pid_t pid = -1;
  int output_fd = -1; // read end of the child's stdout+stderr
  int pidfd = -1;
};

// Everything the child needs is prepared before fork(): between fork and
// exec only async-signal-safe calls are made (other threads may hold locks).
child spawn(const std::vector<std::string>& args, const std::string& cwd,
            const std::map<std::string, std::string>& extra_env) {
  ignore_sigpipe();
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    if (name.starts_with("KINTO_") || extra_env.count(std::string(name))) continue;
    env_strings.emplace_back(entry);
  }
  for (const auto& [k, v] : extra_env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> arg_strings = args;
  std::vector<char*> argv;
  for (auto& s : arg_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  sigset_t no_signals;
  sigemptyset(&no_signals);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  const char exec_failed[] = "kintod harness: exec failed\n";
  const pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // A test process that crashes must not leave servers behind. The signal
    // fires when the forking thread ends: servers are started from the main thread.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(125);
    ::dup2(devnull, 0);
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::sigprocmask(SIG_SETMASK, &no_signals, nullptr);
    ::sigaction(SIGPIPE, &default_action, nullptr);
#ifdef SYS_close_range
    if (::syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
#endif
      for (int fd = 3; fd < 4096; ++fd) ::close(fd);
    ::execve(argv[0], argv.data(), envp.data());
    ssize_t ignored = ::write(2, exec_failed, sizeof exec_failed - 1);
    (void)ignored;
    ::_exit(127);
  }
  ::close(fds[1]);
  ::close(devnull);
  child c;
  c.pid = pid;
  c.output_fd = fds[0];
  c.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (c.pidfd < 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ::close(fds[0]);
    throw std::runtime_error("pidfd_open failed: " + std::string(std::strerror(errno)));
  }
  return c;
}

// Waits until the process behind `pidfd` exits or `deadline` passes.
bool wait_pidfd(int pidfd, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) left = 0ms;
    pollfd p{pidfd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

int reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

} // namespace

// ---- kintod_process -----------------------------------------------------------

kintod_process::kintod_process(kintod_options options) : options_(std::move(options)) {
  work_dir_ = std::make_unique<temp_dir>();
  if (options_.data_dir.empty()) {
    data_dir_ = work_dir_->path() + "/data";
    std::filesystem::create_directory(data_dir_);
  } else {
    data_dir_ = options_.data_dir;
  }
  ini_path_ = work_dir_->path() + "/kinto.ini";
  start();
}

kintod_process::~kintod_process() {
  if (pid_ > 0) stop();
  // A database standing for a directory of this process's own goes with it.
  if (on_postgresql() && options_.data_dir.empty()) {
    try {
      run_on_cluster("DROP DATABASE IF EXISTS " + database_for(data_dir_) + " WITH (FORCE)");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
    }
  }
}

std::string kintod_process::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

std::string kintod_process::output() const {
  std::lock_guard lock(mutex_);
  return output_;
}

void kintod_process::drain_output(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (verbose()) {
      ssize_t ignored = ::write(2, buf, static_cast<std::size_t>(n));
      (void)ignored;
    }
    std::lock_guard lock(mutex_);
    output_.append(buf, static_cast<std::size_t>(n));
    changed_.notify_all();
  }
  ::close(fd);
  std::lock_guard lock(mutex_);
  output_closed_ = true;
  changed_.notify_all();
}

void kintod_process::start() {
  if (pid_ > 0) throw std::logic_error("kintod_process::start: already running");
  std::vector<std::string> args{KINTOD_BINARY};
  if (options_.write_ini) {
    auto settings = default_settings(data_dir_);
    for (const auto& name : options_.omit) erase_setting(settings, name);
    for (const auto& [name, value] : options_.settings) {
      erase_setting(settings, name);
      settings[name] = value;
    }
    write_file(ini_path_, options_.ini.empty() ? ini_text(settings) : options_.ini);
    args.insert(args.end(), {"--ini", ini_path_});
  }
  args.insert(args.end(), {"--host", "127.0.0.1", "--port", "0"});

  std::size_t from;
  {
    std::lock_guard lock(mutex_);
    if (!output_.empty()) output_ += "\n--- restarted ---\n";
    from = output_.size();
    output_closed_ = false;
  }
  child c = spawn(args, work_dir_->path(), options_.env);
  pid_ = c.pid;
  pidfd_ = c.pidfd;
  drain_ = std::thread(&kintod_process::drain_output, this, c.output_fd);

  const auto deadline = std::chrono::steady_clock::now() + start_deadline;
  std::unique_lock lock(mutex_);
  for (;;) {
    static constexpr std::string_view marker = "listening on http://";
    auto at = output_.find(marker, from);
    if (at != std::string::npos) {
      auto colon = output_.find_first_of(" \n)", at + marker.size());
      std::string_view authority(output_);
      if (colon != std::string::npos) {
        authority = authority.substr(at + marker.size(), colon - at - marker.size());
        auto sep = authority.rfind(':');
        if (sep != std::string_view::npos) {
          port_ = std::atoi(std::string(authority.substr(sep + 1)).c_str());
          if (port_ > 0) return;
        }
      }
    }
    if (output_closed_) break;
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) break;
  }
  std::string log = output_;
  lock.unlock();
  kill_hard();
  throw std::runtime_error("kintod did not start listening:\n" + log);
}

int kintod_process::wait_exit(int signal_number) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signal_number);
  bool exited = wait_pidfd(pidfd_, std::chrono::steady_clock::now() + exit_deadline);
  if (!exited) {
    // Visible in the test log even when no test checks the exit status.
    std::fprintf(stderr, "kintod harness: kintod (pid %d) still running %lld s after signal %d; sending SIGKILL\n",
                 pid_, static_cast<long long>(exit_deadline.count()), signal_number);
    ::kill(pid_, SIGKILL);
  }
  int status = reap(pid_);
  if (drain_.joinable()) drain_.join();
  ::close(pidfd_);
  pidfd_ = -1;
  pid_ = -1;
  port_ = 0;
  // In a sanitizer build, a report (even one at exit, such as a leak, which
  // no request notices) fails the test that ran this server.
  for (std::string_view marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                                  "runtime error:"}) {
    if (output().find(marker) != std::string::npos) {
      FAIL_CHECK("kintod wrote a sanitizer report:\n" << output());
      break;
    }
  }
  return exited ? status : -1;
}

int kintod_process::signal_and_wait(int signal_number) { return wait_exit(signal_number); }

int kintod_process::stop() { return wait_exit(SIGTERM); }

void kintod_process::kill_hard() { wait_exit(SIGKILL); }

http_response kintod_process::request(std::string_view method, std::string_view target, std::string_view body,
                                      const header_list& headers) {
  http_connection c(port_);
  return c.request(method, target, body, headers);
}

std::unique_ptr<http_connection> kintod_process::connect() const { return std::make_unique<http_connection>(port_); }

bool kintod_process::healthy() {
  try {
    return request("GET", "/v1/__heartbeat__").status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

run_result run_kintod(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  temp_dir cwd;
  std::vector<std::string> full{KINTOD_BINARY};
  full.insert(full.end(), args.begin(), args.end());
  child c = spawn(full, cwd.path(), env);
  run_result result;
  const auto deadline = std::chrono::steady_clock::now() + start_deadline;
  bool killed = false;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 && !killed) {
      ::kill(c.pid, SIGKILL);
      killed = true;
    }
    pollfd p{c.output_fd, POLLIN, 0};
    int n = ::poll(&p, 1, killed ? 1000 : static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    ssize_t got = ::read(c.output_fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    result.output.append(buf, static_cast<std::size_t>(got));
  }
  ::close(c.output_fd);
  int status = reap(c.pid);
  ::close(c.pidfd);
  result.exit_status = killed ? -1 : status;
  return result;
}

// ---- setup helpers ---------------------------------------------------------------

header_list owner() { return auth("mat", "secret"); }

kinto::json::value must(const http_response& r, int status) {
  if (r.status != status)
    throw std::runtime_error("setup step expected status " + std::to_string(status) + ", got:\n" + r.describe());
  return r.json();
}

void create_collection(kintod_process& server, std::string_view bid, std::string_view cid, const header_list& as) {
  std::string bucket = "/v1/buckets/" + std::string(bid);
  must(server.request("PUT", bucket, {}, as), 201);
  must(server.request("PUT", bucket + "/collections/" + std::string(cid), {}, as), 201);
}

// ---- JSON helpers ---------------------------------------------------------------

kinto::json::value parse_json(std::string_view text) {
  std::string error;
  auto v = kinto::json::parse(text, error, 100000);
  if (!v) throw std::runtime_error("invalid JSON (" + error + "): " + std::string(text));
  return std::move(*v);
}

const kinto::json::value* find_path(const kinto::json::value& v, std::string_view path) {
  const kinto::json::value* cur = &v;
  while (!path.empty()) {
    auto dot = path.find('.');
    std::string_view key = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
    if (cur->is_object()) {
      cur = cur->find(key);
    } else if (cur->is_array()) {
      std::size_t index = 0;
      if (key.empty() || key.find_first_not_of("0123456789") != std::string_view::npos) return nullptr;
      index = std::stoul(std::string(key));
      if (index >= cur->as_array().size()) return nullptr;
      cur = &cur->as_array()[index];
    } else {
      return nullptr;
    }
    if (!cur) return nullptr;
  }
  return cur;
}

const kinto::json::value& at(const kinto::json::value& v, std::string_view path) {
  const auto* found = find_path(v, path);
  if (!found) throw std::runtime_error("no '" + std::string(path) + "' in " + kinto::json::serialize(v));
  return *found;
}

std::string str_at(const kinto::json::value& v, std::string_view path) {
  const auto& found = at(v, path);
  if (!found.is_string())
    throw std::runtime_error("'" + std::string(path) + "' is not a string in " + kinto::json::serialize(v));
  return found.as_string();
}

std::int64_t int_at(const kinto::json::value& v, std::string_view path) {
  const auto& found = at(v, path);
  auto n = found.is_number() ? found.as_int64() : std::nullopt;
  if (!n || !found.is_integer())
    throw std::runtime_error("'" + std::string(path) + "' is not an integer in " + kinto::json::serialize(v));
  return *n;
}

bool contains_string(const kinto::json::value& v, std::string_view path, std::string_view s) {
  const auto* found = find_path(v, path);
  if (!found || !found->is_array()) return false;
  return std::any_of(found->as_array().begin(), found->as_array().end(),
                     [&](const kinto::json::value& e) { return e.is_string() && e.as_string() == s; });
}

std::vector<std::string> keys_at(const kinto::json::value& v, std::string_view path) {
  const auto& obj = path.empty() ? v : at(v, path);
  std::vector<std::string> keys;
  if (obj.is_object())
    for (const auto& m : obj.as_object()) keys.push_back(m.key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::string etag_of(std::int64_t timestamp) { return "\"" + std::to_string(timestamp) + "\""; }

std::int64_t etag_value(const http_response& r) {
  std::string tag = r.header("ETag");
  if (tag.size() < 3 || tag.front() != '"' || tag.back() != '"' ||
      tag.find_first_not_of("0123456789", 1) != tag.size() - 1)
    throw std::runtime_error("ETag is not a quoted integer: '" + tag + "' in\n" + r.describe());
  return std::stoll(tag.substr(1, tag.size() - 2));
}

std::string http_date(std::int64_t timestamp_ms) {
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t seconds = static_cast<std::time_t>(timestamp_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
                months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

// ---- matchers ----------------------------------------------------------------------

bool kinto_error_matcher::match(const http_response& r) const {
  if (r.status != status_) return false;
  if (!r.header("Content-Type").starts_with("application/json")) return false;
  std::string error;
  auto body = kinto::json::parse(r.body, error);
  if (!body || !body->is_object()) return false;
  const auto* code = body->find("code");
  const auto* number = body->find("errno");
  const auto* title = body->find("error");
  return code && code->is_integer() && code->as_int64() == status_ && number && number->is_integer() &&
         number->as_int64() == errno_ && title && title->is_string();
}

std::string kinto_error_matcher::describe() const {
  return "is a Kinto error with status " + std::to_string(status_) + " and errno " + std::to_string(errno_);
}

bool json_status_matcher::match(const http_response& r) const {
  if (r.status != status_) return false;
  if (!r.header("Content-Type").starts_with("application/json")) return false;
  std::string error;
  return kinto::json::parse(r.body, error, 100000).has_value();
}

std::string json_status_matcher::describe() const {
  return "has status " + std::to_string(status_) + " and a JSON body";
}

bool denial_matcher::match(const http_response& r) const {
  static const std::string unauthorized =
      R"({"code":401,"errno":104,"error":"Unauthorized","message":"Please authenticate yourself to use this endpoint."})";
  static const std::string forbidden =
      R"({"code":403,"errno":121,"error":"Forbidden","message":"This user cannot access this resource."})";
  if (r.status != status_ || (status_ != 401 && status_ != 403)) return false;
  if (!r.header("Content-Type").starts_with("application/json")) return false;
  if (head_) {
    if (!r.body.empty()) return false;
  } else {
    std::string error;
    auto body = kinto::json::parse(r.body, error);
    if (!body || *body != parse_json(status_ == 401 ? unauthorized : forbidden)) return false;
  }
  for (std::string_view leak : {"ETag", "Last-Modified", "Total-Objects", "Total-Records", "Next-Page"}) {
    if (r.has_header(leak)) return false;
  }
  auto challenges = r.header_values("WWW-Authenticate");
  if (status_ == 403) return challenges.empty();
  if (challenges.empty()) return false;
  for (const auto& c : challenges) {
    if (!c.starts_with("Basic realm=") && !c.starts_with("Bearer realm=")) return false;
  }
  return true;
}

std::string denial_matcher::describe() const {
  return "is the standard " + std::to_string(status_) + (head_ ? " refusal to a HEAD (no body" : " refusal (exact body") +
         ", no ETag, Last-Modified, counts or paging)";
}

} // namespace kintod_test
