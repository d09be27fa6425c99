// Integration tests of error responses (errors.md): the error body, 404/405/
// 406/415/500, validation messages, bad input of every kind and malformed HTTP,
// each followed by a check that the server is still healthy.
#include "harness.hpp"

using namespace kintod_test;
using kinto::json::value;

namespace {

const std::string records = "/v1/buckets/b/collections/c/records";

// The rule of errors.md §3 for building `message` from the first detail.
std::string expected_message(const value& body) {
  const auto& first = at(body, "details.0");
  std::string location = str_at(first, "location");
  std::string description = str_at(first, "description");
  const auto& name = at(first, "name");
  if (name.is_null()) return location + ": " + description;
  if (description.find(name.as_string()) != std::string::npos) return description;
  return name.as_string() + " in " + location + ": " + description;
}

std::string nested(std::size_t depth, bool closed) {
  std::string body = R"({"data": {"x": )";
  body += std::string(depth, '[');
  if (closed) body += std::string(depth, ']') + "}}";
  return body;
}

} // namespace

TEST_CASE("an unknown URL answers 404 with errno 111", "[errors]") {
  kintod_process server;
  std::string method = "GET", target;
  SECTION("one segment") { target = "/v1/unknown"; }
  SECTION("several segments") { target = "/v1/nothing/here"; }
  SECTION("below a record") { target = records + "/r/attachments"; }
  SECTION("a POST") {
    method = "POST";
    target = "/v1/unknown";
  }
  INFO(method << " " << target);
  auto r = server.request(method, target, {}, owner());
  CHECK_THAT(r, is_kinto_error(404, 111));
  CHECK(str_at(r.json(), "error") == "Not Found");
  CHECK(str_at(r.json(), "message") == "The resource you are looking for could not be found.");
}

TEST_CASE("a missing record answers 404 with errno 110, details and no message", "[errors]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto r = server.request("GET", records + "/nope", {}, owner());
  CHECK_THAT(r, is_kinto_error(404, 110));
  auto body = r.json();
  CHECK(find_path(body, "message") == nullptr);
  CHECK(at(body, "details") == parse_json(R"({"id": "nope", "resource_name": "record"})"));
}

TEST_CASE("an unsupported method answers 405 with an Allow header", "[errors]") {
  kintod_process server;
  create_collection(server, "b", "c");
  std::string method, target, allowed, refused;
  SECTION("PATCH on the buckets list") {
    method = "PATCH";
    target = "/v1/buckets";
    allowed = "POST";
  }
  SECTION("POST on a bucket") {
    method = "POST";
    target = "/v1/buckets/b";
    allowed = "PUT";
  }
  SECTION("PUT on a records list") {
    method = "PUT";
    target = records;
    allowed = "GET";
  }
  INFO(method << " " << target);
  auto r = server.request(method, target, R"({"data": {}})", owner());
  CHECK_THAT(r, is_kinto_error(405, 115));
  CHECK(str_at(r.json(), "error") == "Method Not Allowed");
  CHECK(str_at(r.json(), "message") == "Method not allowed on this endpoint.");
  std::string allow = r.header("Allow");
  CHECK(allow.find(allowed) != std::string::npos);
  CHECK(allow.find(method) == std::string::npos);
}

TEST_CASE("an Accept header excluding JSON is refused with 406 on resources", "[errors]") {
  kintod_process server;
  create_collection(server, "b", "c");
  must(server.request("PUT", records + "/r", R"({"data": {}})", owner()), 201);

  auto r = server.request("GET", records + "/r", {}, with(owner(), {{"Accept", "text/plain"}}));
  CHECK_THAT(r, is_kinto_error(406, 107));
  auto body = r.json();
  CHECK(str_at(body, "message") == "Accept header should be one of ['application/json']");
  CHECK(at(body, "details.0") == parse_json(R"({"location": "header", "name": "Accept",
                                               "description": "Accept header should be one of ['application/json']"})"));
}

TEST_CASE("Accept headers that admit JSON are served", "[errors]") {
  kintod_process server;
  create_collection(server, "b", "c");
  must(server.request("PUT", records + "/r", R"({"data": {}})", owner()), 201);
  std::string accept;
  SECTION("*/*") { accept = "*/*"; }
  SECTION("application/*") { accept = "application/*"; }
  SECTION("with a q-value") { accept = "application/json; q=0.9"; }
  SECTION("among others") { accept = "text/html, application/json;q=0.1"; }
  INFO("Accept: " << accept);
  auto r = server.request("GET", records + "/r", {}, with(owner(), {{"Accept", accept}}));
  CHECK_THAT(r, is_json(200));
}

TEST_CASE("utility endpoints do not check Accept", "[errors]") {
  kintod_process server;
  CHECK_THAT(server.request("GET", "/v1/", {}, {{"Accept", "text/plain"}}), is_json(200));
  CHECK_THAT(server.request("GET", "/v1/__heartbeat__", {}, {{"Accept", "text/plain"}}), is_json(200));
}

TEST_CASE("a body with an unsupported Content-Type is refused with 415", "[errors]") {
  kintod_process server;
  create_collection(server, "b", "c");
  std::string method, target;
  SECTION("PUT") {
    method = "PUT";
    target = records + "/r";
  }
  SECTION("POST") {
    method = "POST";
    target = records;
  }
  INFO(method);
  auto r = server.request(method, target, R"({"data": {}})", with(owner(), {{"Content-Type", "text/plain"}}));
  CHECK_THAT(r, is_kinto_error(415, 107));
  auto body = r.json();
  CHECK(str_at(body, "message") == "Content-Type header should be one of ['application/json']");
  CHECK(str_at(body, "details.0.location") == "header");
  CHECK(str_at(body, "details.0.name") == "Content-Type");
  CHECK(at(must(server.request("GET", records, {}, owner()), 200), "data").as_array().empty());
}

TEST_CASE("a JSON body is accepted with a charset parameter or without Content-Type", "[errors]") {
  kintod_process server;
  create_collection(server, "b", "c");
  std::string type;
  SECTION("charset parameter") { type = "application/json; charset=utf-8"; }
  SECTION("upper case") { type = "Application/JSON"; }
  SECTION("no Content-Type") { type = ""; }
  INFO("Content-Type: " << type);
  auto r = server.request("PUT", records + "/r", R"({"data": {"v": 1}})", with(owner(), {{"Content-Type", type}}));
  REQUIRE_THAT(r, is_json(201));
  CHECK(int_at(r.json(), "data.v") == 1);
}

TEST_CASE("an invalid JSON body answers 400 with a message starting with Invalid JSON", "[errors]") {
  kintod_process server;
  create_collection(server, "b", "c");
  std::string body;
  SECTION("truncated") { body = R"({"data": )"; }
  SECTION("single quotes") { body = R"({'data': {}})"; }
  SECTION("trailing content") { body = R"({"data": {}} x)"; }
  SECTION("a bare word") { body = "hello"; }
  INFO(body);
  auto r = server.request("PUT", records + "/r", body, owner());
  CHECK_THAT(r, is_kinto_error(400, 107));
  auto json = r.json();
  CHECK(str_at(json, "error") == "Invalid parameters");
  CHECK(str_at(json, "message").starts_with("Invalid JSON"));
  CHECK(str_at(json, "details.0.location") == "body");
}

TEST_CASE("a validation message is built from the first detail", "[errors]") {
  kintod_process server;
  create_collection(server, "b", "c");
  std::string body, name_prefix;
  SECTION("data is a string") {
    body = R"({"data": "text"})";
    name_prefix = "data";
  }
  SECTION("data is an array") {
    body = R"({"data": [1, 2]})";
    name_prefix = "data";
  }
  SECTION("a permission is not a list") {
    body = R"({"permissions": {"read": "book"}})";
    name_prefix = "permissions";
  }
  INFO(body);
  auto r = server.request("PUT", records + "/r", body, owner());
  CHECK_THAT(r, is_kinto_error(400, 107));
  auto json = r.json();
  CHECK(str_at(json, "error") == "Invalid parameters");
  CHECK(str_at(json, "details.0.location") == "body");
  CHECK(str_at(json, "details.0.name").starts_with(name_prefix));
  CHECK(str_at(json, "message") == expected_message(json));
}

TEST_CASE("a URL path with invalid UTF-8 answers 400 Bad Request", "[errors]") {
  kintod_process server;
  create_collection(server, "b", "c");
  std::string target;
  SECTION("in an object id") { target = "/v1/buckets/%FF"; }
  SECTION("a truncated sequence") { target = "/v1/buckets/b/collections/caf%C3"; }
  SECTION("on an unknown route") { target = "/v1/%C3%28"; }
  INFO(target);
  auto r = server.request("GET", target, {}, owner());
  REQUIRE_THAT(r, is_json(400));
  auto body = r.json();
  CHECK(int_at(body, "code") == 400);
  CHECK(at(body, "errno").is_integer());
  CHECK(str_at(body, "error") == "Bad Request");
  CHECK(str_at(body, "message") == "Invalid URL path.");
  CHECK(find_path(body, "details") == nullptr);
  CHECK(server.healthy());
}

TEST_CASE("bad input is answered with a Kinto error and the server stays healthy", "[errors]") {
  kintod_process server;
  create_collection(server, "b", "c");
  std::string method = "PUT", body;
  header_list headers = owner();
  int status = 400, kinto_errno = 107;

  SECTION("malformed JSON") { body = R"({"data": {"a": 1,}})"; }
  SECTION("a JSON string") { body = R"("text")"; }
  SECTION("a JSON number") { body = "42"; }
  SECTION("a JSON array") { body = "[1, 2]"; }
  SECTION("JSON null") { body = "null"; }
  SECTION("data is a string") { body = R"({"data": "x"})"; }
  SECTION("data is a number") { body = R"({"data": 1})"; }
  SECTION("permissions is a list") { body = R"({"permissions": ["read"]})"; }
  SECTION("permissions is a string") { body = R"({"permissions": "read"})"; }
  SECTION("a permission holds a number") { body = R"({"permissions": {"read": [1]}})"; }
  SECTION("an unknown permission") { body = R"({"permissions": {"destroy": ["x"]}})"; }
  SECTION("an extra top-level key") { body = R"({"data": {}, "extra": 1})"; }
  SECTION("an invalid id in a POST") {
    method = "POST";
    body = R"({"data": {"id": "a b"}})";
  }
  SECTION("deeply nested arrays") { body = nested(10000, true); }
  SECTION("deeply nested, unterminated") { body = nested(10000, false); }
  SECTION("invalid UTF-8 in a string") { body = "{\"data\": {\"x\": \"\xff\xfe\"}}"; }
  SECTION("invalid UTF-8 in a key") { body = "{\"data\": {\"\xc3\x28\": 1}}"; }
  SECTION("an overlong UTF-8 encoding") { body = "{\"data\": {\"x\": \"\xc0\xaf\"}}"; }
  SECTION("a NUL byte") { body = std::string("{\"data\": {\"x\": 1}}\0", 19); }
  SECTION("a bad If-Match") {
    body = R"({"data": {}})";
    headers = with(owner(), {{"If-Match", "abc"}});
  }
  SECTION("a bad Content-Type") {
    body = R"({"data": {}})";
    headers = with(owner(), {{"Content-Type", "text/html"}});
    status = 415;
  }
  SECTION("an Accept without JSON") {
    body = R"({"data": {}})";
    headers = with(owner(), {{"Accept", "text/plain"}});
    status = 406;
  }
  SECTION("a body over the size limit") {
    body = R"({"data": {"x": ")" + std::string(12 * 1024 * 1024, 'a') + R"("}})";
    status = 413;
    kinto_errno = 113;
  }

  INFO(method << " " << (body.size() > 200 ? body.substr(0, 200) + "..." : body));
  auto r = server.request(method, method == "POST" ? records : records + "/r", body, headers);
  CHECK_THAT(r, is_kinto_error(status, kinto_errno));
  CHECK(server.healthy());
  CHECK_THAT(server.request("GET", records + "/r", {}, owner()), is_kinto_error(404, 110));
  CHECK(at(must(server.request("GET", records, {}, owner()), 200), "data").as_array().empty());
}

TEST_CASE("a body announced over the size limit is refused before it is sent", "[errors]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto connection = server.connect();
  auto r = connection->exchange_raw("PUT " + records + "/r HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                    "Authorization: " + basic("mat", "secret") + "\r\n"
                                    "Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n");
  CHECK_THAT(r, is_kinto_error(413, 113));
  CHECK(server.healthy());
}

TEST_CASE("malformed HTTP is refused or dropped and the server stays healthy", "[errors]") {
  kintod_process server;
  std::string bytes;
  bool close_write = false;
  SECTION("garbage") { bytes = "HELLO\r\n\r\n"; }
  SECTION("a bad request line") { bytes = "GET\r\n\r\n"; }
  SECTION("a header line without colon") { bytes = "GET /v1/ HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"; }
  SECTION("a bad Content-Length") { bytes = "PUT /v1/buckets/b HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"; }
  SECTION("headers over the limit") {
    bytes = "GET /v1/ HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(256 * 1024, 'a') + "\r\n\r\n";
  }
  SECTION("a body cut short") {
    bytes = "PUT /v1/buckets/b HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"data\"";
    close_write = true;
  }
  SECTION("binary noise") {
    for (int i = 0; i < 4096; ++i) bytes += static_cast<char>((i * 131 + 7) % 256);
    bytes += "\r\n\r\n";
  }

  auto connection = server.connect();
  auto r = connection->exchange_raw(bytes, close_write);
  INFO(r.describe());
  CHECK((r.status == 0 || (r.status >= 400 && r.status < 500)));
  if (r.status != 0) CHECK(r.header("Content-Type").starts_with("application/json"));
  CHECK(server.healthy());
}

// ---- signalling headers (errors.md §5) ------------------------------------------

TEST_CASE("the backoff setting adds Backoff to successes, 304s and errors", "[errors]") {
  kintod_process server({.settings = {{"kinto.backoff", "10"}}});
  create_collection(server, "b", "c");
  auto ok = server.request("GET", records, {}, owner());
  REQUIRE(ok.status == 200);
  CHECK(ok.header("Backoff") == "10");
  auto not_modified = server.request("GET", records, {}, with(owner(), {{"If-None-Match", ok.header("ETag")}}));
  REQUIRE(not_modified.status == 304);
  CHECK(not_modified.header("Backoff") == "10");
  auto missing = server.request("GET", "/v1/unknown");
  REQUIRE(missing.status == 404);
  CHECK(missing.header("Backoff") == "10");
}

TEST_CASE("an end-of-service date in the past answers 410 with a hard-eol Alert", "[errors]") {
  kintod_process server({.settings = {{"kinto.eos", "2000-01-01"}, {"kinto.eos_message", "Bye"}}});
  auto r = server.request("GET", "/v1/");
  CHECK_THAT(r, is_kinto_error(410, 202));
  std::string err;
  auto alert = kinto::json::parse(r.header("Alert"), err);
  REQUIRE(alert);
  CHECK(alert->find("code")->as_string() == "hard-eol");
  CHECK(alert->find("message")->as_string() == "Bye");
}

TEST_CASE("an end-of-service date in the future adds a soft-eol Alert and shows in the root view", "[errors]") {
  kintod_process server({.settings = {{"kinto.eos", "2999-01-01"}}});
  auto r = server.request("GET", "/v1/");
  REQUIRE(r.status == 200);
  std::string err;
  auto alert = kinto::json::parse(r.header("Alert"), err);
  REQUIRE(alert);
  CHECK(alert->find("code")->as_string() == "soft-eol");
  CHECK(alert->find("message")->is_null());
  CHECK(r.json().find("eos")->as_string() == "2999-01-01");
}

TEST_CASE("a request target longer than the URL limit gets 414 with a Kinto error body", "[errors]") {
  kintod_process server;
  auto r = server.request("GET", "/v1/buckets?" + std::string(10000, 'a'));
  CHECK(r.status == 414);
  CHECK(r.json().find("code")->as_int64() == 414);
  CHECK(server.request("GET", "/v1/__heartbeat__").status == 200);
}
