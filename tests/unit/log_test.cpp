// Unit tests for base/log: the mozlog JSON and text shapes of a record,
// escaping of what clients send, levels, and the writer thread's order and
// overflow. Output goes to a pipe read back by the test.
#include "base/log.hpp"

#include "parse_json.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <string>

namespace logs = kinto::log;

namespace {

logs::record request_record() {
  logs::record r;
  r.at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1765161646123));
  r.type = "request.summary";
  r.fields = {{"method", std::string("GET")}, {"path", std::string("/v1/buckets")}, {"code", std::int64_t(200)},
              {"uid", logs::value{}}};
  return r;
}

/// A pipe whose read end collects what the log writes to its write end.
struct pipe_output {
  int fds[2] = {-1, -1};
  pipe_output() {
    REQUIRE(::pipe(fds) == 0);
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    ::fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
  }
  ~pipe_output() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  std::string read_all() {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) return out;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
};

} // namespace

TEST_CASE("a JSON record has mozlog's fields, with the message as Fields.msg", "[log]") {
  auto r = request_record();
  const std::string line = logs::render(r, logs::format::json, "kinto", "host1", 42);
  REQUIRE(line.back() == '\n');
  REQUIRE(line.find('\n') == line.size() - 1);
  const auto v = kinto::test::parse(line.substr(0, line.size() - 1));
  CHECK(kinto::json::serialize(v) ==
        R"({"Timestamp":1765161646123000000,"Type":"request.summary","Logger":"kinto","Hostname":"host1",)"
        R"("EnvVersion":"2.0","Severity":6,"Pid":42,"Fields":{"method":"GET","path":"/v1/buckets","code":200,"uid":null}})");
  r.message = "listening";
  r.level = logs::severity::warning;
  const std::string with_message = logs::render(r, logs::format::json, "kinto", "host1", 42);
  CHECK(with_message.find(R"("Severity":4)") != std::string::npos);
  CHECK(with_message.find(R"("Fields":{"msg":"listening","method":"GET")") != std::string::npos);
}

TEST_CASE("a text record is one line: time, severity, type, message, then the fields", "[log]") {
  auto r = request_record();
  r.message = "GET /v1/buckets 200";
  CHECK(logs::render(r, logs::format::text, "kinto", "h", 1) ==
        "2025-12-08T02:40:46.123Z INFO request.summary: GET /v1/buckets 200 method=GET path=/v1/buckets code=200 uid=-\n");
}

TEST_CASE("what a client sends cannot break a line or pass for another field", "[log]") {
  logs::record r;
  r.message = "two\nlines";
  r.fields = {{"agent", std::string("evil\n2025-01-01T00:00:00.000Z INFO x: forged")},
              {"lang", std::string("fr uid=admin")},
              {"bytes", std::string("\xff\xfe")}};
  for (auto shape : {logs::format::text, logs::format::json}) {
    const std::string line = logs::render(r, shape, "kinto", "h", 1);
    CAPTURE(line);
    CHECK(line.find('\n') == line.size() - 1);
    if (shape == logs::format::json) (void)kinto::test::parse(line.substr(0, line.size() - 1));
  }
  const std::string text = logs::render(r, logs::format::text, "kinto", "h", 1);
  CHECK(text.find(R"(lang="fr uid=admin")") != std::string::npos);
  CHECK(text.find(R"(bytes="\ufffd\ufffd")") != std::string::npos);
}

TEST_CASE("level and format names parse as the settings give them", "[log]") {
  CHECK(logs::parse_severity("WARNING") == logs::severity::warning);
  CHECK(logs::parse_severity("debug") == logs::severity::debug);
  CHECK(logs::parse_severity("Notice") == logs::severity::notice);
  CHECK_FALSE(logs::parse_severity("loud"));
  CHECK(logs::parse_format("JSON") == logs::format::json);
  CHECK(logs::parse_format("text") == logs::format::text);
  CHECK_FALSE(logs::parse_format("xml"));
}

TEST_CASE("the writer thread writes every record in order, and nothing below the level", "[log]") {
  pipe_output out;
  logs::options o;
  o.shape = logs::format::json;
  o.level = logs::severity::info;
  o.fd = out.fds[1];
  logs::configure(o);
  logs::start();
  CHECK(logs::enabled(logs::severity::warning));
  CHECK_FALSE(logs::enabled(logs::severity::debug));
  for (int i = 0; i < 100; ++i) logs::info("record " + std::to_string(i));
  logs::write(logs::record{std::chrono::system_clock::now(), logs::severity::debug, "kintod", "hidden", {}});
  logs::stop();
  const std::string text = out.read_all();
  std::size_t at = 0;
  for (int i = 0; i < 100; ++i) {
    const auto found = text.find("\"record " + std::to_string(i) + "\"", at);
    REQUIRE(found != std::string::npos);
    at = found;
  }
  CHECK(text.find("hidden") == std::string::npos);
  // Stopped: written at once.
  logs::warning("after");
  CHECK(out.read_all().find("after") != std::string::npos);
  logs::configure({});
}

TEST_CASE("a queue past its bound drops records, counts them and says so", "[log]") {
  pipe_output out;
  logs::options o;
  o.fd = out.fds[1];
  o.max_queued = 4;
  const auto before = logs::dropped();
  logs::configure(o);
  logs::start();
  // The pipe holds far more than these lines, so the writer never blocks;
  // some records still find the queue full while it writes.
  for (int i = 0; i < 2000; ++i) logs::info("r");
  logs::stop();
  logs::configure({});
  const std::string text = out.read_all();
  const auto lost = logs::dropped() - before;
  std::size_t lines = 0, warnings = 0;
  for (char c : text) lines += c == '\n';
  for (auto at = text.find("log records dropped"); at != std::string::npos; at = text.find("log records dropped", at + 1))
    ++warnings;
  CHECK((lost > 0) == (warnings > 0));
  CHECK(lines == 2000 - lost + warnings);
}
