// Integration tests of kintod's limits and overload behaviour (http/README.md):
// each limit setting is read, checked and enforced; slow, idle and surplus
// connections are closed or refused without keeping other clients waiting;
// past the bound on work in flight, requests get 503 with Retry-After.
// Concurrency is arranged by the protocol itself (an unread response, a
// slow password check), never by sleeping.
#include "harness.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace kintod_test;
using kinto::json::value;

namespace {

const std::string records = "/v1/buckets/b/collections/c/records";

/// How long a test waits for the server to answer or close, as the harness does.
constexpr int wait_ms = 30000;

/// A bare TCP client, for what http_connection does not do: send part of a
/// request, hold many connections, leave a response unread, wait for the
/// server to close.
class raw_client {
public:
  /// Connects to 127.0.0.1:`port`. A `receive_buffer` > 0 is set before
  /// connecting, which keeps the TCP window that small.
  explicit raw_client(int port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    if (receive_buffer > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      const int error = errno;
      ::close(fd_);
      throw std::runtime_error(std::string("connect: ") + std::strerror(error));
    }
  }
  ~raw_client() { ::close(fd_); }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;

  /// False when the server has closed the connection.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  /// True when the server sent something or closed within `ms` milliseconds.
  bool readable_within(int ms) {
    pollfd p{fd_, POLLIN, 0};
    int n;
    while ((n = ::poll(&p, 1, ms)) < 0 && errno == EINTR) {
    }
    return n > 0;
  }

  /// Reads what is there; false (and `closed` set) at the end of the stream.
  bool read_some(std::string& out, bool& closed) {
    if (!readable_within(wait_ms)) return false;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) {
      closed = true; // end of stream, or reset
      return false;
    }
    out.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  /// Everything the server sends until it closes the connection. `closed`
  /// is false when it did not close within the wait.
  std::string read_until_closed(bool& closed) {
    std::string out;
    closed = false;
    while (read_some(out, closed)) {
    }
    return out;
  }

  /// Reads until the end of a response's header.
  std::string read_header() {
    std::string out;
    bool closed = false;
    while (out.find("\r\n\r\n") == std::string::npos)
      if (!read_some(out, closed)) throw std::runtime_error("no response header, got: " + out);
    return out;
  }

  /// Reads one whole response (framed by Content-Length).
  http_response read_response() {
    std::string text = read_header();
    const std::size_t body_at = text.find("\r\n\r\n") + 4;
    const std::size_t length = content_length(text.substr(0, body_at));
    bool closed = false;
    while (text.size() < body_at + length)
      if (!read_some(text, closed)) throw std::runtime_error("response cut short: " + text.substr(0, body_at));
    return parse(text);
  }

  /// Parses a response read whole ("" gives status 0).
  static http_response parse(const std::string& text) {
    http_response r;
    const std::size_t end = text.find("\r\n\r\n");
    if (text.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) {
      r.transport_error = "no response";
      return r;
    }
    r.status = std::atoi(text.c_str() + 9);
    std::size_t line = text.find("\r\n") + 2;
    while (line < end) {
      const std::size_t next = text.find("\r\n", line);
      const std::string field = text.substr(line, next - line);
      const std::size_t colon = field.find(':');
      r.headers.emplace_back(field.substr(0, colon), field.substr(field.find_first_not_of(' ', colon + 1)));
      line = next + 2;
    }
    r.body = text.substr(end + 4);
    return r;
  }

  static std::size_t content_length(const std::string& header) {
    return static_cast<std::size_t>(std::stoull(parse(header).header("Content-Length")));
  }

private:
  int fd_ = -1;
};

/// Raises this process's soft limit on open files to the hard limit; returns it.
rlim_t raise_own_open_files_limit() {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  ::getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

std::string request_text(std::string_view method, std::string_view target, const std::string& extra_headers = {}) {
  return std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers + "\r\n";
}

/// Runs kintod on the harness's default settings with `overrides`.
run_result run_with_settings(const std::map<std::string, std::string>& overrides) {
  temp_dir dir;
  auto settings = default_settings(dir.path());
  for (const auto& [name, value] : overrides) settings[name] = value;
  write_file(dir.path() + "/kinto.ini", ini_text(settings));
  return run_kintod({"--ini", dir.path() + "/kinto.ini", "--host", "127.0.0.1", "--port", "0"});
}

/// `{"data": {"x": [[...]]}}` nesting `depth` containers in all.
std::string nested_body(std::size_t depth) {
  return R"({"data": {"x": )" + std::string(depth - 2, '[') + std::string(depth - 2, ']') + "}}";
}

void check_overloaded(const http_response& r, std::string_view retry_after) {
  CHECK_THAT(r, is_kinto_error(503, 201));
  CHECK(r.header("Retry-After") == retry_after);
  if (r.status == 503) CHECK(str_at(r.json(), "error") == "Service Unavailable");
}

} // namespace

// ---- the size limits ---------------------------------------------------------

TEST_CASE("each size limit is a setting and answers with its Kinto error", "[limits]") {
  SECTION("max_body_bytes: 413 errno 113") {
    kintod_process server({.settings = {{"max_body_bytes", "1000"}}});
    create_collection(server, "b", "c");
    const std::string fits = R"({"data": {"x": ")" + std::string(900, 'a') + R"("}})";
    const std::string over = R"({"data": {"x": ")" + std::string(1000, 'a') + R"("}})";
    CHECK_THAT(server.request("PUT", records + "/small", fits, owner()), is_json(201));
    CHECK_THAT(server.request("PUT", records + "/big", over, owner()), is_kinto_error(413, 113));
  }
  SECTION("max_header_bytes: 431") {
    kintod_process server({.settings = {{"max_header_bytes", "2048"}}});
    CHECK_THAT(server.request("GET", "/v1/", {}, {{"X-Pad", std::string(1000, 'a')}}), is_json(200));
    auto r = server.request("GET", "/v1/", {}, {{"X-Pad", std::string(3000, 'a')}});
    CHECK_THAT(r, is_kinto_error(431, 107));
  }
  SECTION("max_url_bytes: 414") {
    kintod_process server({.settings = {{"max_url_bytes", "100"}}});
    CHECK_THAT(server.request("GET", "/v1/__heartbeat__?" + std::string(50, 'a')), is_json(200));
    CHECK_THAT(server.request("GET", "/v1/__heartbeat__?" + std::string(100, 'a')), is_kinto_error(414, 107));
  }
  SECTION("max_json_depth: 400 errno 107, Invalid JSON") {
    kintod_process server({.settings = {{"max_json_depth", "5"}}});
    create_collection(server, "b", "c");
    CHECK_THAT(server.request("PUT", records + "/five", nested_body(5), owner()), is_json(201));
    auto r = server.request("PUT", records + "/six", nested_body(6), owner());
    REQUIRE_THAT(r, is_kinto_error(400, 107));
    CHECK(str_at(r.json(), "message") == "Invalid JSON: Nesting too deep");
    // Brackets inside strings are not nesting.
    CHECK_THAT(server.request("PUT", records + "/text", R"({"data": {"x": "[[[[[[[[[["}})", owner()), is_json(201));
    // So is a batch, as a whole.
    auto batch = server.request("POST", "/v1/batch",
                                R"({"requests": [{"method": "PUT", "path": ")" + records + R"(/b", "body": )" +
                                    nested_body(3) + "}]}",
                                owner());
    CHECK_THAT(batch, is_kinto_error(400, 107));
  }
  SECTION("the default JSON depth is 512") {
    kintod_process server;
    create_collection(server, "b", "c");
    CHECK_THAT(server.request("PUT", records + "/deep", nested_body(512), owner()), is_json(201));
    auto r = server.request("PUT", records + "/deeper", nested_body(513), owner());
    REQUIRE_THAT(r, is_kinto_error(400, 107));
    CHECK(str_at(r.json(), "message") == "Invalid JSON: Nesting too deep");
    // What was accepted reads back.
    CHECK_THAT(server.request("GET", records + "/deep", {}, owner()), is_json(200));
    CHECK_THAT(server.request("GET", records, {}, owner()), is_json(200));
  }
  SECTION("batch_max_requests: 400 errno 107") {
    kintod_process server({.settings = {{"batch_max_requests", "2"}}});
    const std::string one = R"({"path": "/v1/__heartbeat__"})";
    CHECK_THAT(server.request("POST", "/v1/batch", R"({"requests": [)" + one + "," + one + "]}"), is_json(200));
    CHECK_THAT(server.request("POST", "/v1/batch", R"({"requests": [)" + one + "," + one + "," + one + "]}"),
               is_kinto_error(400, 107));
  }
}

namespace {

/// `depth` containers, alternately objects and arrays: {"a":[{"a":[... 1]}]}.
std::string alternating(std::size_t depth, std::string_view innermost = "1") {
  std::string open, close;
  for (std::size_t i = 0; i < depth; ++i) {
    open += i % 2 == 0 ? R"({"a":)" : "[";
    close.insert(0, i % 2 == 0 ? "}" : "]");
  }
  return open + std::string(innermost) + close;
}

/// `depth` objects, each holding the next under "a": {"a":{"a":... {"a":1}}}.
std::string objects(std::size_t depth, std::string_view innermost = R"({"a":1})") {
  std::string text;
  for (std::size_t i = 1; i < depth; ++i) text += R"({"a":)";
  return text + std::string(innermost) + std::string(depth - 1, '}');
}

/// A JSON schema describing alternating(depth) level by level.
std::string schema_of(std::size_t depth) {
  std::string open, close;
  for (std::size_t i = 0; i < depth; ++i) {
    open += i % 2 == 0 ? R"({"type":"object","properties":{"a":)" : R"({"type":"array","items":)";
    close.insert(0, i % 2 == 0 ? "}}" : "}");
  }
  return open + R"({"type":"integer"})" + close;
}

} // namespace

TEST_CASE("JSON nested 500 levels deep round-trips through every way kintod stores it", "[limits][depth]") {
  kintod_process server({.settings = {{"kinto.includes", "kinto.plugins.accounts kinto.plugins.history"},
                                      {"kinto.experimental_collection_schema_validation", "true"}}});
  create_collection(server, "b", "c");
  const std::string record = records + "/deep";
  // The record's data nests 501 levels, its body 502.
  const value mixed = parse_json(alternating(500)), chain = parse_json(objects(499));
  const std::string data = R"({"mixed":)" + alternating(500) + R"(,"objects":)" + objects(499) + "}";
  auto created = must(server.request("PUT", record, R"({"data":)" + data + "}", owner()), 201);
  CHECK(at(created, "data.mixed") == mixed);

  auto read = must(server.request("GET", record, {}, owner()), 200);
  CHECK(at(read, "data.mixed") == mixed);
  CHECK(at(read, "data.objects") == chain);
  CHECK(kinto::json::serialize(at(read, "data.mixed")) == alternating(500));
  auto listed = must(server.request("GET", records, {}, owner()), 200);
  REQUIRE(at(listed, "data").as_array().size() == 1);
  CHECK(at(listed, "data.0.mixed") == mixed);

  // A merge-patch reaching the innermost object, 499 levels down.
  const std::string patch = R"({"data":{"objects":)" + objects(499, R"({"a":2,"b":3})") + "}}";
  auto patched = must(server.request("PATCH", record, patch,
                                     with(owner(), {{"Content-Type", "application/merge-patch+json"}})),
                      200);
  const value merged = parse_json(objects(499, R"({"a":2,"b":3})"));
  CHECK(at(patched, "data.objects") == merged);
  CHECK(at(must(server.request("GET", record, {}, owner()), 200), "data.objects") == merged);
  CHECK(at(must(server.request("GET", record, {}, owner()), 200), "data.mixed") == mixed);

  // History entries hold the data two levels further down.
  auto history = must(server.request("GET", "/v1/buckets/b/history?resource_name=record", {}, owner()), 200);
  REQUIRE(at(history, "data").as_array().size() == 2);
  CHECK(str_at(history, "data.0.action") == "update");
  CHECK(at(history, "data.0.target.data.objects") == merged);
  CHECK(at(history, "data.1.target.data.mixed") == mixed);

  // Through a batch, whose body and response wrap it three levels more.
  auto batch = must(server.request("POST", "/v1/batch",
                                   R"({"requests":[{"method":"PUT","path":"/buckets/b/collections/c/records/together",)"
                                   R"("body":{"data":)" + data + "}}]}",
                                   owner()),
                    200);
  CHECK(int_at(batch, "responses.0.status") == 201);
  CHECK(at(batch, "responses.0.body.data.mixed") == mixed);

  // One level more than a body may nest is still refused.
  auto refused = server.request("PUT", record, R"({"data":{"x":)" + alternating(511) + "}}", owner());
  REQUIRE_THAT(refused, is_kinto_error(400, 107));
  CHECK(str_at(refused.json(), "message") == "Invalid JSON: Nesting too deep");
  CHECK(at(must(server.request("GET", record, {}, owner()), 200), "data.objects") == merged);
  CHECK(server.healthy());
}

TEST_CASE("a collection JSON schema nested as deep as a body may be validates records as deep", "[limits][depth]") {
  kintod_process server({.settings = {{"kinto.experimental_collection_schema_validation", "true"}}});
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
  // 338 levels of the record described in 508 levels of schema: the body,
  // {"data": {"schema": ...}}, nests 510.
  must(server.request("PUT", "/v1/buckets/b/collections/c", R"({"data":{"schema":)" + schema_of(338) + "}}", owner()),
       201);
  const std::string valid = alternating(338), invalid = alternating(338, R"("x")");
  auto created = must(server.request("PUT", records + "/ok", R"({"data":)" + valid + "}", owner()), 201);
  CHECK(at(created, "data.a") == at(parse_json(valid), "a"));
  auto refused = server.request("PUT", records + "/bad", R"({"data":)" + invalid + "}", owner());
  REQUIRE_THAT(refused, is_kinto_error(400, 107));
  CHECK(str_at(refused.json(), "details.0.description") == "'x' is not of type 'integer'");
  CHECK(server.request("GET", records + "/bad", {}, owner()).status == 404);
  // The schema reads back as it was written.
  auto collection = must(server.request("GET", "/v1/buckets/b/collections/c", {}, owner()), 200);
  CHECK(at(collection, "data.schema") == parse_json(schema_of(338)));
}

TEST_CASE("a limit setting out of range makes kintod exit with status 2", "[limits]") {
  std::map<std::string, std::string> setting;
  bool named = true; // the message names the setting
  SECTION("max_body_bytes = 0") {
    setting = {{"max_body_bytes", "0"}};
  }
  SECTION("max_header_bytes = -1") {
    setting = {{"max_header_bytes", "-1"}};
  }
  SECTION("max_url_bytes = 0") {
    setting = {{"max_url_bytes", "0"}};
  }
  SECTION("read_timeout_seconds = 0") {
    setting = {{"read_timeout_seconds", "0"}};
  }
  SECTION("idle_timeout_seconds = -5") {
    setting = {{"idle_timeout_seconds", "-5"}};
  }
  SECTION("max_connections = 0") {
    setting = {{"max_connections", "0"}};
  }
  SECTION("max_requests_in_flight = 0") {
    setting = {{"max_requests_in_flight", "0"}};
  }
  SECTION("max_json_depth = 0") {
    setting = {{"max_json_depth", "0"}};
  }
  SECTION("max_json_depth = 513") {
    setting = {{"max_json_depth", "513"}};
  }
  SECTION("bcrypt_max_queue = 0") {
    setting = {{"bcrypt_max_queue", "0"}};
  }
  SECTION("bcrypt_cost = 3") {
    setting = {{"kinto.bcrypt_cost", "3"}};
  }
  SECTION("bcrypt_cost = 32") {
    setting = {{"kinto.bcrypt_cost", "32"}};
  }
  SECTION("max_connections is not a number") {
    setting = {{"max_connections", "many"}};
    named = false;
  }
  const auto& [name, text] = *setting.begin();
  auto result = run_with_settings(setting);
  INFO(name << " = " << text);
  INFO(result.output);
  CHECK(result.exit_status == 2);
  if (named) CHECK(result.output.find(name.substr(name.rfind('.') + 1)) != std::string::npos);
}

TEST_CASE("bcrypt_cost sets the cost of account password hashes", "[limits][accounts]") {
  std::string cost;
  SECTION("4") {
    cost = "4";
  }
  SECTION("6") {
    cost = "6";
  }
  kintod_process server({.settings = {{"kinto.bcrypt_cost", cost}}});
  auto created = must(server.request("PUT", "/v1/accounts/alice", R"({"data": {"password": "pa55"}})"), 201);
  CHECK(str_at(created, "data.password").starts_with("$2b$0" + cost + "$"));
  CHECK(str_at(must(server.request("GET", "/v1/", {}, auth("alice", "pa55")), 200), "user.id") == "account:alice");
}

// ---- connections --------------------------------------------------------------

TEST_CASE("connections beyond max_connections get 503 with Retry-After and are closed", "[limits]") {
  kintod_process server({.settings = {{"max_connections", "2"},
                                      {"retry_after_seconds", "7"},
                                      {"kinto.includes", "kinto.plugins.accounts kinto.plugins.prometheus"}}});
  const std::string ping = request_text("GET", "/v1/__lbheartbeat__");
  raw_client first(server.port()), second(server.port());
  REQUIRE(first.send(ping));
  REQUIRE(first.read_response().status == 200);
  REQUIRE(second.send(ping));
  REQUIRE(second.read_response().status == 200);

  // The third is answered at once, without reading a request, and closed.
  raw_client third(server.port());
  bool closed = false;
  auto refused = raw_client::parse(third.read_until_closed(closed));
  CHECK(closed);
  check_overloaded(refused, "7");

  // Once a connection has closed, its place is free again.
  REQUIRE(first.send(request_text("GET", "/v1/__lbheartbeat__", "Connection: close\r\n")));
  first.read_until_closed(closed);
  REQUIRE(closed);
  CHECK(server.healthy());
  // The metrics count the refusal by its cause: asked on a connection that
  // is still open, as the one just closed may not be let go yet.
  REQUIRE(second.send(request_text("GET", "/v1/__metrics__")));
  CHECK_THAT(second.read_response().body,
             Catch::Contains("kinto_unavailable_responses_total{cause=\"connections\"} 1\n"));
}

TEST_CASE("a request that does not arrive within read_timeout_seconds is dropped", "[limits]") {
  kintod_process server({.settings = {{"read_timeout_seconds", "1"}, {"idle_timeout_seconds", "600"}}});
  raw_client slow(server.port());
  const std::string request = request_text("GET", "/v1/__heartbeat__", "X-Slow: " + std::string(10000, 'a') + "\r\n");
  std::size_t sent = 0;
  SECTION("a connection that sends nothing") {}
  SECTION("a request cut short, then silence") {
    REQUIRE(slow.send(request.substr(0, 30)));
    sent = 30;
  }
  SECTION("a request sent one byte at a time (slow loris)") {
    // A byte whenever the server has stayed silent for a while: the deadline
    // covers the whole request, not each byte, so it closes all the same.
    while (sent < request.size() && !slow.readable_within(100)) {
      if (!slow.send(request.substr(sent, 1))) break;
      ++sent;
    }
  }
  bool closed = false;
  const std::string answer = slow.read_until_closed(closed);
  INFO(sent << " bytes sent");
  CHECK(closed);
  CHECK(answer.empty()); // a transport event, not a Kinto error: no response
  CHECK(sent < request.size());
  CHECK(server.healthy());
}

TEST_CASE("a keep-alive connection idle for idle_timeout_seconds is closed", "[limits]") {
  kintod_process server({.settings = {{"idle_timeout_seconds", "1"}, {"read_timeout_seconds", "600"}}});
  raw_client client(server.port());
  REQUIRE(client.send(request_text("GET", "/v1/__heartbeat__")));
  REQUIRE(client.read_response().status == 200);
  bool closed = false;
  CHECK(client.read_until_closed(closed).empty());
  CHECK(closed);
  CHECK(server.healthy());
}

TEST_CASE("a thousand slow or idle connections do not keep other clients waiting", "[limits]") {
  constexpr std::size_t slow_count = 1000;
  if (raise_own_open_files_limit() < slow_count + 200) {
    WARN("the open files limit is too low for this test");
    return;
  }
  // A long read timeout: what is shown is that other clients are served
  // while these connections stay open, not that they are closed.
  kintod_process server({.settings = {{"read_timeout_seconds", "600"}}});
  create_collection(server, "b", "c");
  std::vector<std::unique_ptr<raw_client>> slow;
  for (std::size_t i = 0; i < slow_count; ++i) slow.push_back(std::make_unique<raw_client>(server.port()));

  const std::string partial = request_text("GET", "/v1/__heartbeat__");
  auto client = server.connect();
  for (std::size_t round = 0; round < 5; ++round) {
    // Every other connection sends one more byte of its request; the rest
    // send nothing at all.
    for (std::size_t i = 0; i < slow.size(); i += 2) REQUIRE(slow[i]->send(partial.substr(round, 1)));
    const std::string id = "/r" + std::to_string(round);
    CHECK_THAT(client->request("PUT", records + id, R"({"data": {"round": )" + std::to_string(round) + "}}", owner()),
               is_json(201));
    CHECK_THAT(client->request("GET", records + id, {}, owner()), is_json(200));
    CHECK_THAT(server.request("GET", "/v1/__heartbeat__"), is_json(200));
  }
  // None of them was answered or dropped meanwhile.
  std::size_t disturbed = 0;
  for (auto& s : slow) disturbed += s->readable_within(0) ? 1 : 0;
  CHECK(disturbed == 0);
}

TEST_CASE("kintod raises its soft limit on open files to the hard limit", "[limits]") {
  rlimit saved{};
  ::getrlimit(RLIMIT_NOFILE, &saved);
  constexpr std::size_t connections = 600;
  if (saved.rlim_max < connections + 200) {
    WARN("the hard limit on open files is too low for this test");
    return;
  }
  SECTION("connections beyond the soft limit kintod was started with are served") {
    // kintod inherits a soft limit far below what it will be asked to hold.
    rlimit low = saved;
    low.rlim_cur = 256;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    std::unique_ptr<kintod_process> server;
    try {
      server = std::make_unique<kintod_process>();
    } catch (...) {
      ::setrlimit(RLIMIT_NOFILE, &saved);
      throw;
    }
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
    raise_own_open_files_limit();
    std::vector<std::unique_ptr<raw_client>> held;
    for (std::size_t i = 0; i < connections; ++i) held.push_back(std::make_unique<raw_client>(server->port()));
    REQUIRE(held.back()->send(request_text("GET", "/v1/__lbheartbeat__")));
    CHECK(held.back()->read_response().status == 200);
    CHECK(server->healthy());
  }
  SECTION("a hard limit too low for max_connections is reported") {
    if (saved.rlim_max == RLIM_INFINITY) return;
    kintod_process server({.settings = {{"max_connections", std::to_string(saved.rlim_max + 1000)}}});
    CHECK(server.output().find("open files limit") != std::string::npos);
    CHECK(server.healthy());
  }
}

// ---- work in flight ------------------------------------------------------------

TEST_CASE("requests beyond max_requests_in_flight get 503 with Retry-After and errno 201", "[limits]") {
  kintod_process server({.settings = {{"max_requests_in_flight", "1"},
                                      {"retry_after_seconds", "7"},
                                      {"kinto.includes", "kinto.plugins.accounts kinto.plugins.prometheus"}}});
  // A request counts until its response is written, which may end after the
  // client has read it: one connection, which the server reads only once the
  // previous request is done, keeps the requests of this test apart.
  auto kept = server.connect();
  must(kept->request("PUT", "/v1/buckets/b", {}, owner()), 201);
  must(kept->request("PUT", "/v1/buckets/b/collections/c", {}, owner()), 201);
  // Three records of 7 MB: a listing of them is far more than socket buffers hold.
  for (int i = 0; i < 3; ++i)
    must(kept->request("PUT", records + "/big" + std::to_string(i),
                       R"({"data": {"x": ")" + std::string(7 << 20, 'a') + R"("}})", owner()),
         201);

  // A reader with a tiny window: the server cannot finish writing its
  // response, so that request stays in flight until the reader reads on.
  raw_client reader(server.port(), 4096);
  REQUIRE(reader.send(
      request_text("GET", records, "Authorization: " + basic("mat", "secret") + "\r\nConnection: close\r\n")));
  const std::string header = reader.read_header();
  REQUIRE(header.rfind("HTTP/1.1 200", 0) == 0);

  // Meanwhile every other request is refused at once, with the usual headers.
  check_overloaded(server.request("GET", "/v1/__heartbeat__"), "7");
  check_overloaded(server.request("PUT", records + "/small", R"({"data": {}})", owner()), "7");
  auto with_origin = server.request("GET", "/v1/", {}, {{"Origin", "http://app.example"}});
  check_overloaded(with_origin, "7");
  CHECK(with_origin.header("Access-Control-Allow-Origin") == "*");
  CHECK(with_origin.header("X-Content-Type-Options") == "nosniff");
  for (int i = 0; i < 10; ++i) check_overloaded(kept->request("GET", records, {}, owner()), "7");
  CHECK(kept->is_open()); // a refusal keeps the connection

  // The reader gets its whole response; the server closes the connection
  // after it, once the request no longer counts.
  bool closed = false;
  const std::string rest = reader.read_until_closed(closed);
  CHECK(closed);
  const std::size_t body_at = header.find("\r\n\r\n") + 4;
  CHECK(header.size() - body_at + rest.size() == raw_client::content_length(header.substr(0, body_at)));

  CHECK(server.healthy());
  CHECK_THAT(kept->request("PUT", records + "/small", R"({"data": {}})", owner()), is_json(201));
  CHECK_THAT(kept->request("GET", records + "/small", {}, owner()), is_json(200));
  // The metrics count the 13 refusals by their cause.
  CHECK_THAT(kept->request("GET", "/v1/__metrics__").body,
             Catch::Contains("kinto_unavailable_responses_total{cause=\"requests\"} 13\n"));
}

TEST_CASE("password checks beyond bcrypt_max_queue get 503 and the server recovers", "[limits][accounts]") {
  // A slow hash (about 0.3 s here) keeps checks queued while the others arrive.
  kintod_process server(
      {.settings = {{"kinto.bcrypt_cost", "12"}, {"bcrypt_max_queue", "1"}, {"retry_after_seconds", "5"}}});
  must(server.request("PUT", "/v1/accounts/alice", R"({"data": {"password": "pa55"}})"), 201);

  // Two checks run (the pool has two threads) and one waits; of twelve
  // logins sent together, the others are refused.
  constexpr int logins = 12;
  const std::string request = request_text("GET", "/v1/", "Authorization: " + basic("alice", "pa55") + "\r\n");
  std::vector<std::unique_ptr<raw_client>> clients;
  for (int i = 0; i < logins; ++i) clients.push_back(std::make_unique<raw_client>(server.port()));
  for (auto& c : clients) REQUIRE(c->send(request));
  int served = 0, refused = 0;
  for (auto& c : clients) {
    auto r = c->read_response();
    INFO(r.describe());
    if (r.status == 200) {
      CHECK(str_at(r.json(), "user.id") == "account:alice");
      ++served;
    } else {
      check_overloaded(r, "5");
      ++refused;
    }
  }
  CHECK(served >= 1);
  CHECK(refused >= 1);
  CHECK(served + refused == logins);
  CHECK(str_at(must(server.request("GET", "/v1/", {}, auth("alice", "pa55")), 200), "user.id") == "account:alice");
  CHECK(server.healthy());
}
