// The log: one `request.summary` line per request with upstream's fields,
// as mozlog JSON or text (`log_format`), start-up and shutdown in the same
// shape, `log_level`, and no credentials ever written. The server is
// stopped before its output is read: stopping writes what the log holds.
#include "harness.hpp"

#include <sstream>
#include <string>
#include <vector>

using namespace kintod_test;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

/// Every line of a JSON log, parsed; fails on a line that is not JSON.
std::vector<kinto::json::value> json_lines(const std::string& text) {
  std::vector<kinto::json::value> records;
  for (const auto& line : lines_of(text)) {
    INFO(line);
    records.push_back(parse_json(line));
  }
  return records;
}

std::vector<kinto::json::value> summaries(const std::vector<kinto::json::value>& records) {
  std::vector<kinto::json::value> out;
  for (const auto& r : records)
    if (str_at(r, "Type") == "request.summary") out.push_back(r);
  return out;
}

const header_list client_headers{{"User-Agent", "kintod-tests/1.0 (log)"}, {"Accept-Language", "fr-CA"}};

} // namespace

TEST_CASE("with log_format = json every line is a mozlog record, one request.summary per request", "[log]") {
  kintod_process server({.settings = {{"log_format", "json"}}});
  must(server.request("GET", "/v1/", {}, client_headers), 200);
  must(server.request("PUT", "/v1/buckets/logged", {}, with(owner(), client_headers)), 201);
  CHECK(server.request("GET", "/v1/buckets/logged/collections/missing?_token=abc", {}, owner()).status == 404);
  must(server.request("POST", "/v1/batch",
                      R"({"requests": [{"method": "GET", "path": "/"}, {"method": "GET", "path": "/buckets"}]})", owner()),
       200);
  REQUIRE(server.stop() == 0);

  const auto records = json_lines(server.output());
  REQUIRE_FALSE(records.empty());
  for (const auto& r : records) {
    CHECK(at(r, "Timestamp").is_integer());
    CHECK(str_at(r, "Logger") == "kinto");
    CHECK(str_at(r, "EnvVersion") == "2.0");
    CHECK(at(r, "Hostname").is_string());
    CHECK(at(r, "Pid").is_integer());
    CHECK(at(r, "Severity").is_integer());
    CHECK(at(r, "Fields").is_object());
  }
  // Start-up and shutdown, in the same shape.
  bool listening = false, stopped = false;
  for (const auto& r : records) {
    if (str_at(r, "Type") != "kintod" || !find_path(r, "Fields.msg")) continue;
    const std::string msg = str_at(r, "Fields.msg");
    listening = listening || (msg.find("listening on http://127.0.0.1:") == 0 && int_at(r, "Severity") == 5);
    stopped = stopped || msg.find("stopped accepting") != std::string::npos;
  }
  CHECK(listening);
  CHECK(stopped);

  // The batch is one request: its requests are not logged on their own.
  const auto requests = summaries(records);
  REQUIRE(requests.size() == 4);
  const auto& hello = requests[0];
  CHECK(str_at(hello, "Fields.method") == "GET");
  CHECK(str_at(hello, "Fields.path") == "/v1/");
  CHECK(int_at(hello, "Fields.code") == 200);
  CHECK(int_at(hello, "Fields.errno") == 0);
  CHECK(at(hello, "Fields.t").is_integer());
  CHECK(at(hello, "Fields.uid").is_null());
  CHECK(str_at(hello, "Fields.agent") == "kintod-tests/1.0 (log)");
  CHECK(str_at(hello, "Fields.lang") == "fr-CA");
  CHECK(int_at(hello, "Severity") == 6);

  const auto& created = requests[1];
  CHECK(str_at(created, "Fields.method") == "PUT");
  CHECK(str_at(created, "Fields.path") == "/v1/buckets/logged");
  CHECK(int_at(created, "Fields.code") == 201);
  CHECK(str_at(created, "Fields.uid") == mat_id);

  const auto& missing = requests[2];
  CHECK(str_at(missing, "Fields.path") == "/v1/buckets/logged/collections/missing");
  CHECK(int_at(missing, "Fields.code") == 404);
  CHECK(int_at(missing, "Fields.errno") == 110);

  CHECK(str_at(requests[3], "Fields.path") == "/v1/batch");

  // Neither the credentials nor the query string.
  const std::string out = server.output();
  const std::string authorization = owner().front().second;
  CHECK(out.find(authorization.substr(authorization.find(' ') + 1)) == std::string::npos);
  CHECK(out.find("_token") == std::string::npos);
}

TEST_CASE("the text log gives each request a line of its fields", "[log]") {
  kintod_process server;
  must(server.request("GET", "/v1/", {}, client_headers), 200);
  CHECK(server.request("GET", "/v1/buckets/nowhere", {}, {{"Authorization", "Basic bm90OnRoaXM="}}).status == 403);
  REQUIRE(server.stop() == 0);
  const std::string out = server.output();
  CHECK(out.find(" INFO request.summary: method=GET path=/v1/ code=200 t=") != std::string::npos);
  CHECK(out.find(R"~(errno=0 agent="kintod-tests/1.0 (log)" lang=fr-CA)~") != std::string::npos);
  CHECK(out.find("path=/v1/buckets/nowhere code=403") != std::string::npos);
  CHECK(out.find("errno=121") != std::string::npos);
  CHECK(out.find("bm90OnRoaXM") == std::string::npos);
  CHECK(out.find(" NOTICE kintod: listening on http://") != std::string::npos);
  CHECK(out.find(" NOTICE kintod: stopped accepting") != std::string::npos);
}

TEST_CASE("log_level = notice leaves requests out and keeps warnings and start-up", "[log]") {
  kintod_process server({.settings = {{"log_level", "notice"}, {"log_format", "json"}, {"kintod_unknown_setting", "1"}}});
  must(server.request("GET", "/v1/"), 200);
  REQUIRE(server.stop() == 0);
  const auto records = json_lines(server.output());
  CHECK(summaries(records).empty());
  bool warned = false;
  for (const auto& r : records) {
    CHECK(int_at(r, "Severity") <= 5);
    if (find_path(r, "Fields.msg") && str_at(r, "Fields.msg").find("kintod_unknown_setting") != std::string::npos)
      warned = int_at(r, "Severity") == 4;
  }
  CHECK(warned);
}
