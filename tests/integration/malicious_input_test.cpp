// The malicious-input suite: bad encodings, NUL bytes, extreme numbers and
// nesting, duplicate keys, huge documents, header injection, request
// smuggling shapes, odd request forms and methods, Expect, path traversal.
// Each case gets a clean answer (a 4xx with the Kinto error where kintod
// writes the body, or what upstream semantics call for), never a 500, and
// after every case a fresh connection gets a healthy heartbeat.
#include "harness.hpp"

#include <filesystem>
#include <set>

using namespace kintod_test;
using kinto::json::value;

namespace {

const std::string records = "/v1/buckets/b/collections/c/records";

/// What a case expects back.
struct expected {
  int status;          ///< the response's status
  int kinto_errno = 0; ///< the Kinto error body's errno; 0: not an error
  bool closes = false; ///< the server closes the connection after answering
};

/// Bytes sent as they are on a fresh connection, and the answer expected.
struct wire_case {
  std::string name;
  std::string bytes;
  expected want;
};

/// A request as bytes: `request_line`, a Host header, `headers` (each line
/// ending in CRLF), then `body` after the blank line.
std::string wire(std::string_view request_line, std::string_view headers = {}, std::string_view body = {}) {
  return std::string(request_line) + "\r\nHost: 127.0.0.1\r\n" + std::string(headers) + "\r\n" + std::string(body);
}

std::string owner_header() {
  return "Authorization: " + basic("mat", "secret") + "\r\n";
}

/// `before`, a NUL byte, then `after`.
std::string with_nul(std::string_view before, std::string_view after) {
  return std::string(before) + '\0' + std::string(after);
}

/// A PUT of `body` to `target` as the owner, framed by Content-Length.
std::string put(std::string_view target, std::string_view body) {
  return wire("PUT " + std::string(target) + " HTTP/1.1",
              owner_header() + "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\n",
              body);
}

/// Checks what every case must satisfy, then that the server is healthy.
void check_answer(kintod_process& server, const http_response& r, const expected& want) {
  INFO(r.describe());
  CHECK(r.status == want.status);
  CHECK(r.status < 500);
  if (want.kinto_errno) CHECK_THAT(r, is_kinto_error(want.status, want.kinto_errno));
  CHECK(server.healthy());
}

void run_wire_cases(kintod_process& server, const std::vector<wire_case>& cases) {
  for (const auto& c : cases) {
    INFO("case: " << c.name);
    auto connection = server.connect();
    auto r = connection->exchange_raw(c.bytes);
    check_answer(server, r, c.want);
    if (c.want.closes) CHECK_FALSE(connection->is_open());
  }
}

/// `depth` nested arrays (or objects), closed or not.
std::string nested(std::size_t depth, bool objects, bool closed = true) {
  std::string out;
  for (std::size_t i = 0; i < depth; ++i) out += objects ? R"({"a":)" : "[";
  if (objects) out += "1";
  if (closed)
    for (std::size_t i = 0; i < depth; ++i) out += objects ? "}" : "]";
  return out;
}

} // namespace

// ---- encodings and bytes -----------------------------------------------------------

TEST_CASE("malicious input: invalid UTF-8 is refused where kintod reads text", "[malicious]") {
  kintod_process server;
  create_collection(server, "b", "c");
  SECTION("in JSON bodies: 400 errno 107") {
    for (std::string text : {std::string("\xff"), std::string("\xc3\x28"), std::string("\xe2\x82"),
                             std::string("\xed\xa0\x80"), std::string("\xc0\x80"), std::string("\xf4\x90\x80\x80")}) {
      INFO("string bytes " << text.size());
      check_answer(server, server.request("PUT", records + "/r", R"({"data": {"s": ")" + text + R"("}})", owner()),
                   {400, 107});
      check_answer(server, server.request("PUT", records + "/r", R"({"data": {")" + text + R"(": 1}})", owner()),
                   {400, 107});
    }
  }
  SECTION("in URLs: 400 Bad Request") {
    for (std::string target :
         {"/v1/buckets/%FF", "/v1/buckets/b/collections/%C3%28", "/v1/buckets/\xff", "/v1/%ED%A0%80"}) {
      INFO(target);
      auto r = server.request("GET", target, {}, owner());
      check_answer(server, r, {400, 107});
      CHECK(str_at(r.json(), "message") == "Invalid URL path.");
    }
    check_answer(server, server.request("GET", records + "?_limit=%FF", {}, owner()), {400, 107});
  }
  SECTION("in headers kintod reads: the header's own error") {
    check_answer(server,
                 server.request("PUT", records + "/r", R"({"data": {}})", with(owner(), {{"If-Match", "\"\xff\""}})),
                 {400, 107});
    check_answer(
        server,
        server.request("PUT", records + "/r", R"({"data": {}})", with(owner(), {{"Content-Type", "\xff/\xfe"}})),
        {415, 107});
    check_answer(server, server.request("GET", records, {}, with(owner(), {{"Accept", "\xff"}})), {406, 107});
  }
  SECTION("in headers kintod ignores or cannot decode: no effect") {
    auto r = server.request("GET", "/v1/", {}, {{"Authorization", "Basic \xff\xfe"}, {"X-Anything", "\xc3\x28"}});
    check_answer(server, r, {200});
    CHECK(find_path(r.json(), "user") == nullptr); // anonymous
    check_answer(server, server.request("GET", "/v1/", {}, {{"Origin", "http://\xff.example"}}), {200});
  }
}

TEST_CASE("malicious input: NUL bytes are refused, except escaped inside JSON strings", "[malicious]") {
  kintod_process server;
  create_collection(server, "b", "c");
  SECTION("raw in a JSON body: 400 errno 107") {
    check_answer(server, server.request("PUT", records + "/r", with_nul(R"({"data": {"s": "a)", R"(b"}})"), owner()),
                 {400, 107});
    check_answer(server, server.request("PUT", records + "/r", with_nul("", R"({"data": {}})"), owner()), {400, 107});
  }
  SECTION("escaped in a JSON string: stored and returned as sent") {
    auto r = server.request("PUT", records + "/r", R"({"data": {"s": "a\u0000b"}})", owner());
    check_answer(server, r, {201});
    CHECK(r.body.find(R"("s":"a\u0000b")") != std::string::npos);
    CHECK(str_at(must(server.request("GET", records + "/r", {}, owner()), 200), "data.s") == std::string("a\0b", 3));
  }
  SECTION("in the URL") {
    run_wire_cases(server,
                   {
                       {"raw NUL in the path", wire(with_nul("GET /v1/buckets/a", "b HTTP/1.1")), {400, 107, true}},
                       {"%00 as an id", put("/v1/buckets/%00", "{}"), {400, 107}},
                       {"%00 in a record id", put(records + "/a%00b", "{}"), {400, 107}},
                       {"%00 in the query", wire("GET " + records + "?x=%00 HTTP/1.1", owner_header()), {400, 107}},
                   });
  }
  SECTION("in headers: 400 and close") {
    run_wire_cases(server, {
                               {"in a value", wire("GET /v1/ HTTP/1.1", with_nul("X-A: a", "b\r\n")), {400, 107, true}},
                               {"in a name", wire("GET /v1/ HTTP/1.1", with_nul("X", "A: b\r\n")), {400, 107, true}},
                           });
  }
}

// ---- numbers, keys, sizes, nesting ------------------------------------------------

TEST_CASE("malicious input: extreme numbers are kept as written, malformed ones refused", "[malicious]") {
  kintod_process server;
  create_collection(server, "b", "c");
  const std::string digits(400, '9');
  const std::string body =
      R"({"data": {"big": 1e999999, "tiny": 1e-99999999999999999999, "minus_zero": -0, "long": )" + digits + "}}";
  check_answer(server, server.request("PUT", records + "/n", body, owner()), {201});
  auto fetched = must(server.request("GET", records + "/n", {}, owner()), 200);
  // Upstream's Python would turn 1e999999 into infinity (and write the
  // invalid `Infinity`); kintod keeps every literal as it came.
  CHECK(at(fetched, "data.big").as_string() == "1e999999");
  CHECK(at(fetched, "data.tiny").as_string() == "1e-99999999999999999999");
  CHECK(at(fetched, "data.minus_zero").as_string() == "-0");
  CHECK(at(fetched, "data.long").as_string() == digits);
  // Sorting and filtering on them works.
  for (std::string query : std::vector<std::string>{"?_sort=big", "?_sort=-long", "?gt_big=1e999999", "?long=" + digits,
                                                    "?in_minus_zero=0,-0", "?lt_tiny=1e-400"})
    check_answer(server, server.request("GET", records + query, {}, owner()), {200});
  SECTION("malformed numbers: 400 errno 107") {
    for (std::string n : {"01", "1.", ".5", "+1", "0x10", "NaN", "Infinity", "-Infinity", "1e", "-", "1e+", "--1"}) {
      INFO(n);
      check_answer(server, server.request("PUT", records + "/m", R"({"data": {"n": )" + n + "}}", owner()), {400, 107});
    }
  }
  SECTION("numbers where kintod needs an integer: 400 errno 107") {
    for (std::string query :
         std::vector<std::string>{"?_limit=" + digits, "?_since=1e999999", "?_before=" + digits, "?_limit=-0x1"})
      check_answer(server, server.request("GET", records + query, {}, owner()), {400, 107});
  }
}

TEST_CASE("malicious input: with duplicate JSON keys the last one wins, as in upstream", "[malicious]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto r = must(server.request("PUT", records + "/d", R"({"data": {"a": 1, "b": 0, "a": 2}})", owner()), 201);
  CHECK(at(r, "data") == parse_json(R"({"a": 2, "b": 0, "id": "d", "last_modified": )" +
                                    std::to_string(int_at(r, "data.last_modified")) + "}"));
  r = must(server.request("PUT", records + "/e", R"({"data": {"a": 1}, "data": {"b": 2}})", owner()), 201);
  CHECK(keys_at(r, "data") == std::vector<std::string>{"b", "id", "last_modified"});
  r = must(server.request("PUT", records + "/f", R"({"permissions": {"read": ["x"], "read": ["y"]}})", owner()), 201);
  CHECK(at(r, "permissions.read") == parse_json(R"(["y"])"));
  // The id that counts is the last one too.
  check_answer(server, server.request("PUT", records + "/g", R"({"data": {"id": "other", "id": "g"}})", owner()),
               {201});
  check_answer(server, server.request("PUT", records + "/h", R"({"data": {"id": "h", "id": "other"}})", owner()),
               {400, 107});
}

TEST_CASE("malicious input: huge arrays and objects within the body limit are served", "[malicious]") {
  kintod_process server;
  create_collection(server, "b", "c");
  SECTION("an array of a million elements") {
    std::string array = "[0";
    for (int i = 1; i < 1000000; ++i) array += ",0";
    array += "]";
    check_answer(server, server.request("PUT", records + "/a", R"({"data": {"a": )" + array + "}}", owner()), {201});
    CHECK(at(must(server.request("GET", records + "/a", {}, owner()), 200), "data.a").as_array().size() == 1000000);
  }
  SECTION("an object of 300,000 members") {
    std::string object = "{";
    for (int i = 0; i < 300000; ++i) object += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":" + std::to_string(i);
    object += "}";
    check_answer(server, server.request("PUT", records + "/o", R"({"data": {"o": )" + object + "}}", owner()), {201});
    CHECK(at(must(server.request("GET", records + "/o", {}, owner()), 200), "data.o").as_object().size() == 300000);
  }
}

TEST_CASE("malicious input: deep nesting is refused wherever kintod reads JSON", "[malicious]") {
  kintod_process server;
  create_collection(server, "b", "c");
  must(server.request("PUT", records + "/r", R"({"data": {}})", owner()), 201);
  const header_list merge = with(owner(), {{"Content-Type", "application/merge-patch+json"}});
  const header_list json_patch = with(owner(), {{"Content-Type", "application/json-patch+json"}});
  struct deep_case {
    std::string name, method, target, body;
    header_list headers;
  };
  const std::vector<deep_case> cases{
      {"10,000 arrays", "PUT", records + "/r", R"({"data": {"a": )" + nested(10000, false) + "}}", owner()},
      {"10,000 objects", "PUT", records + "/r", R"({"data": {"a": )" + nested(10000, true) + "}}", owner()},
      {"10,000 unclosed arrays", "PUT", records + "/r", R"({"data": {"a": )" + nested(10000, false, false), owner()},
      {"a PATCH", "PATCH", records + "/r", R"({"data": {"a": )" + nested(10000, false) + "}}", owner()},
      {"a merge patch", "PATCH", records + "/r", R"({"data": {"a": )" + nested(10000, true) + "}}", merge},
      {"a JSON patch", "PATCH", records + "/r",
       R"([{"op": "add", "path": "/data/a", "value": )" + nested(10000, false) + "}]", json_patch},
      {"a batch", "POST", "/v1/batch",
       R"({"requests": [{"method": "PUT", "path": ")" + records + R"(/r", "body": {"data": {"a": )" +
           nested(10000, false) + "}}}]}",
       owner()},
      {"a collection schema", "PUT", "/v1/buckets/b/collections/s",
       R"({"data": {"schema": )" + nested(10000, true) + "}}", owner()},
      // One level deeper than max_json_depth (512), counting what wraps
      // the nested part; the deepest accepted is in limits_test.cpp.
      {"513 levels of arrays", "PUT", records + "/r", R"({"data": {"a": )" + nested(511, false) + "}}", owner()},
      {"513 levels of objects", "PUT", records + "/r", R"({"data": {"a": )" + nested(511, true) + "}}", owner()},
      {"a merge patch of 513 levels", "PATCH", records + "/r", R"({"data": {"a": )" + nested(511, true) + "}}", merge},
      {"a JSON patch of 513 levels", "PATCH", records + "/r",
       R"([{"op": "add", "path": "/data/a", "value": )" + nested(511, false) + "}]", json_patch},
      {"a batch of 513 levels", "POST", "/v1/batch",
       R"({"requests": [{"method": "PUT", "path": ")" + records + R"(/r", "body": {"data": {"a": )" +
           nested(508, false) + "}}}]}",
       owner()},
      {"a collection schema of 513 levels", "PUT", "/v1/buckets/b/collections/s",
       R"({"data": {"schema": )" + nested(511, true) + "}}", owner()},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    check_answer(server, server.request(c.method, c.target, c.body, c.headers), {400, 107});
  }
  // Brackets inside a string are text.
  check_answer(
      server,
      server.request("PUT", records + "/s", R"({"data": {"a": ")" + std::string(10000, '[') + R"("}})", owner()),
      {201});
  // Nothing of the refused writes was kept.
  CHECK(keys_at(must(server.request("GET", records + "/r", {}, owner()), 200), "data") ==
        std::vector<std::string>{"id", "last_modified"});
}

// ---- header injection ---------------------------------------------------------------

TEST_CASE("malicious input: CR and LF never reach a response header", "[malicious]") {
  kintod_process server({.settings = {{"cors_origins", "http://app.example"}}});
  create_collection(server, "b", "c");
  SECTION("in request header values: 400 and close") {
    run_wire_cases(
        server,
        {
            {"CR in a value", wire("GET /v1/ HTTP/1.1", "X-A: a\rInjected: 1\r\n"), {400, 107, true}},
            {"CR in Origin", wire("GET /v1/ HTTP/1.1", "Origin: http://app.example\rX: 1\r\n"), {400, 107, true}},
        });
  }
  SECTION("in ids, which error bodies and Location would echo: refused, escaped") {
    for (std::string target :
         std::vector<std::string>{"/v1/buckets/a%0D%0ASet-Cookie:%20x=1", records + "/a%0D%0ALocation:%20evil"}) {
      INFO(target);
      auto r = server.request("PUT", target, R"({"data": {}})", owner());
      check_answer(server, r, {400, 107});
      CHECK_FALSE(r.has_header("Set-Cookie"));
    }
    auto r = server.request("POST", "/v1/buckets", R"({"data": {"id": "a\r\nSet-Cookie: x=1"}})", owner());
    check_answer(server, r, {400, 107});
    CHECK_FALSE(r.has_header("Set-Cookie"));
  }
  SECTION("in redirects: the Location keeps the percent-encoding") {
    auto r = server.request("GET", "/v1/buckets/%0D%0ASet-Cookie:%20x=1/");
    check_answer(server, r, {307});
    CHECK(r.header("Location").find_first_of("\r\n") == std::string::npos);
    CHECK(r.header("Location").ends_with("/v1/buckets/%0D%0ASet-Cookie:%20x=1"));
    CHECK_FALSE(r.has_header("Set-Cookie"));
    // Unprefixed paths with CR or LF are not redirected at all.
    check_answer(server, server.request("GET", "/buckets%0D%0ASet-Cookie:%20x=1"), {404, 116});
  }
  SECTION("folded header lines are unfolded into one value") {
    auto connection = server.connect();
    auto r = connection->exchange_raw(wire("OPTIONS /v1/buckets HTTP/1.1",
                                           "Origin: http://app.example\r\nAccess-Control-Request-Method: GET\r\n"
                                           "Access-Control-Request-Headers: x-a\r\n Set-Cookie: x=1\r\n"));
    check_answer(server, r, {200});
    CHECK_FALSE(r.has_header("Set-Cookie"));
    CHECK(r.header("Access-Control-Allow-Headers").starts_with("x-a Set-Cookie: x=1,"));
  }
  SECTION("in Host, echoed in absolute URLs: 400 and close") {
    run_wire_cases(
        server,
        {
            {"a folded Host", "GET /buckets HTTP/1.1\r\nHost: a\r\n Set-Cookie: x=1\r\n\r\n", {400, 107, true}},
            {"a Host with a path", "GET /buckets HTTP/1.1\r\nHost: evil.example/x\r\n\r\n", {400, 107, true}},
            {"a Host with user info", "GET /buckets HTTP/1.1\r\nHost: user@evil.example\r\n\r\n", {400, 107, true}},
        });
  }
  SECTION("in a batch's requests: they stay inside its JSON body") {
    auto r = server.request("POST", "/v1/batch",
                            R"({"requests": [{"path": "/buckets/\r\nSet-Cookie: x=1"},
                                             {"path": "/buckets", "headers": {"Origin": "http://app.example\r\nSet-Cookie: x=1"}}]})",
                            owner());
    check_answer(server, r, {200});
    CHECK_FALSE(r.has_header("Set-Cookie"));
    CHECK(at(r.json(), "responses").as_array().size() == 2);
  }
}

// ---- framing: request smuggling shapes --------------------------------------------------

TEST_CASE("malicious input: request smuggling shapes are refused and the connection closed", "[malicious]") {
  kintod_process server;
  const std::string batch = "POST /v1/batch HTTP/1.1";
  const std::string empty_batch = R"({"requests": []})";
  run_wire_cases(
      server, {
                  {"Content-Length and Transfer-Encoding",
                   wire(batch, "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"),
                   {400, 107, true}},
                  {"two different Content-Lengths",
                   wire(batch, "Content-Length: 16\r\nContent-Length: 17\r\n", empty_batch),
                   {400, 107, true}},
                  {"a Content-Length list of different values",
                   wire(batch, "Content-Length: 16, 17\r\n", empty_batch),
                   {400, 107, true}},
                  {"Transfer-Encoding: chunked, identity",
                   wire(batch, "Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n"),
                   {400, 107, true}},
                  {"Transfer-Encoding: identity",
                   wire(batch, "Transfer-Encoding: identity\r\n", "0\r\n\r\n"),
                   {400, 107, true}},
                  {"Transfer-Encoding: gzip, chunked",
                   wire(batch, "Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"),
                   {400, 107, true}},
                  {"Transfer-Encoding twice",
                   wire(batch, "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"),
                   {400, 107, true}},
                  {"a chunk size that overflows",
                   wire(batch, "Transfer-Encoding: chunked\r\n", "FFFFFFFFFFFFFFFFFFFF\r\nx\r\n"),
                   {400, 107, true}},
                  {"a chunk size that is not hex",
                   wire(batch, "Transfer-Encoding: chunked\r\n", "zz\r\nab\r\n0\r\n\r\n"),
                   {400, 107, true}},
                  {"a negative chunk size",
                   wire(batch, "Transfer-Encoding: chunked\r\n", "-1\r\nab\r\n0\r\n\r\n"),
                   {400, 107, true}},
                  {"a chunk size followed by garbage",
                   wire(batch, "Transfer-Encoding: chunked\r\n", "5 x\r\nabcde\r\n0\r\n\r\n"),
                   {400, 107, true}},
                  {"a chunk over the body limit",
                   wire(batch, "Transfer-Encoding: chunked\r\n", "7FFFFFFF\r\nab"),
                   {413, 113, true}},
                  {"Content-Length with a sign", wire(batch, "Content-Length: +16\r\n", empty_batch), {400, 107, true}},
                  {"Content-Length in hex", wire(batch, "Content-Length: 0x10\r\n", empty_batch), {400, 107, true}},
                  {"a negative Content-Length", wire(batch, "Content-Length: -1\r\n", empty_batch), {400, 107, true}},
                  {"a Content-Length that overflows",
                   wire(batch, "Content-Length: 99999999999999999999999\r\n", empty_batch),
                   {400, 107, true}},
                  {"bare LF line endings", "GET /v1/ HTTP/1.1\nHost: 127.0.0.1\n\n", {400, 107, true}},
                  {"a bare CR", "GET /v1/ HTTP/1.1\rHost: 127.0.0.1\r\n\r\n", {400, 107, true}},
                  {"a space before the colon", "GET /v1/ HTTP/1.1\r\nHost : 127.0.0.1\r\n\r\n", {400, 107, true}},
                  {"a first header line starting with a space",
                   "GET /v1/ HTTP/1.1\r\n Host: 127.0.0.1\r\n\r\n",
                   {400, 107, true}},
              });
}

TEST_CASE("malicious input: message framing is read exactly as RFC 9112 says", "[malicious]") {
  kintod_process server;
  const std::string empty_batch = R"({"requests": []})";
  const std::string next = "GET /v1/__lbheartbeat__ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  std::string first;
  SECTION("a folded line cannot smuggle Transfer-Encoding: Content-Length frames the body") {
    first =
        wire("POST /v1/batch HTTP/1.1", "X-A: a\r\n Transfer-Encoding: chunked\r\nContent-Length: 16\r\n", empty_batch);
  }
  SECTION("the same Content-Length twice") {
    first = wire("POST /v1/batch HTTP/1.1", "Content-Length: 16\r\nContent-Length: 16\r\n", empty_batch);
  }
  SECTION("the same Content-Length as a list") {
    first = wire("POST /v1/batch HTTP/1.1", "Content-Length: 16, 16\r\n", empty_batch);
  }
  SECTION("Transfer-Encoding names are case-insensitive") {
    first = wire("POST /v1/batch HTTP/1.1", "Transfer-Encoding: CHUNKED\r\n", "10\r\n" + empty_batch + "\r\n0\r\n\r\n");
  }
  SECTION("a body on a GET is read and ignored") {
    first = wire("GET /v1/__heartbeat__ HTTP/1.1", "Content-Length: 5\r\n", "hello");
  }
  // The request is answered, then the one pipelined after it: nothing of the
  // first was taken for the start of another.
  auto connection = server.connect();
  auto r = connection->exchange_raw(first + next);
  check_answer(server, r, {200});
  REQUIRE(connection->is_open());
  auto second = connection->exchange_raw("");
  check_answer(server, second, {200});
  CHECK(second.body == "{}");
}

// ---- request forms, versions, methods, Expect -------------------------------------------

TEST_CASE("malicious input: odd request targets, versions and methods get clean answers", "[malicious]") {
  kintod_process server;
  run_wire_cases(
      server,
      {
          {"HTTP/1.0 without Host is served", "GET /v1/__heartbeat__ HTTP/1.0\r\n\r\n", {200, 0, true}},
          {"HTTP/1.1 without Host", "GET /v1/__heartbeat__ HTTP/1.1\r\n\r\n", {400, 107, true}},
          {"two Host headers", "GET /v1/ HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", {400, 107, true}},
          {"an absolute-form target is served", wire("GET http://kinto.example/v1/__heartbeat__ HTTP/1.1"), {200}},
          {"an absolute-form target with user info",
           wire("GET http://user@kinto.example/v1/ HTTP/1.1"),
           {400, 107, true}},
          {"an absolute-form target of another scheme", wire("GET ftp://kinto.example/v1/ HTTP/1.1"), {400, 107}},
          {"an authority-form target", wire("CONNECT kinto.example:443 HTTP/1.1"), {400, 107}},
          {"an asterisk-form target", wire("OPTIONS * HTTP/1.1"), {400, 107}},
          {"HTTP/2.0 in a request line", wire("GET /v1/ HTTP/2.0"), {400, 107, true}},
          {"HTTP/1.2", wire("GET /v1/ HTTP/1.2"), {400, 107, true}},
          {"HTTP/0.9 without a version", "GET /v1/\r\n\r\n", {400, 107, true}},
          {"a giant method", wire(std::string(10000, 'A') + " /v1/ HTTP/1.1"), {405, 115}},
          {"a method longer than the header limit", wire(std::string(20000, 'A') + " /v1/ HTTP/1.1"), {431, 107, true}},
          {"a lower-case method (methods are case-sensitive)", wire("get /v1/ HTTP/1.1"), {405, 115}},
          {"a method with a separator", wire("G(T /v1/ HTTP/1.1"), {400, 107, true}},
          {"an empty method", wire(" /v1/ HTTP/1.1"), {400, 107, true}},
          {"a tab in the target", wire("GET /v1/\tx HTTP/1.1"), {400, 107, true}},
          {"a control character in the target", wire("GET /v1/\x01 HTTP/1.1"), {400, 107, true}},
          {"a thousand headers",
           wire("GET /v1/ HTTP/1.1",
                [] {
                  std::string h;
                  for (int i = 0; i < 1000; ++i) h += "X-H" + std::to_string(i) + ": v\r\n";
                  return h;
                }()),
           {200}},
      });
  SECTION("the absolute-form target's authority is the host kintod names") {
    auto connection = server.connect();
    auto r = connection->exchange_raw(wire("GET http://kinto.example:8080/v1/ HTTP/1.1"));
    check_answer(server, r, {200});
    CHECK(str_at(r.json(), "url") == "http://kinto.example:8080/v1/");
  }
}

TEST_CASE("malicious input: Expect is honoured only where it helps", "[malicious]") {
  kintod_process server;
  const std::string creds = owner_header();
  SECTION("100-continue before a body: 100, then the answer") {
    auto connection = server.connect();
    auto interim = connection->exchange_raw(
        wire("PUT /v1/buckets/e HTTP/1.1", creds + "Expect: 100-continue\r\nContent-Length: 2\r\n"));
    CHECK(interim.status == 100);
    auto r = connection->exchange_raw("{}");
    check_answer(server, r, {201});
  }
  SECTION("100-continue from an HTTP/1.0 client is ignored") {
    auto connection = server.connect();
    auto r = connection->exchange_raw("PUT /v1/buckets/e HTTP/1.0\r\n" + creds +
                                      "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n{}");
    check_answer(server, r, {201});
  }
  SECTION("100-continue with a body over the limit: 413 without 100") {
    auto connection = server.connect();
    auto r = connection->exchange_raw(
        wire("PUT /v1/buckets/e HTTP/1.1", creds + "Expect: 100-continue\r\nContent-Length: 104857600\r\n"));
    check_answer(server, r, {413, 113});
  }
  SECTION("100-continue without a body: just the answer") {
    auto connection = server.connect();
    check_answer(server, connection->exchange_raw(wire("GET /v1/__heartbeat__ HTTP/1.1", "Expect: 100-continue\r\n")),
                 {200});
  }
  SECTION("other expectations are ignored (RFC 9110 allows 417 or proceeding)") {
    auto connection = server.connect();
    auto r = connection->exchange_raw(
        wire("PUT /v1/buckets/e HTTP/1.1", creds + "Expect: 200-ok\r\nContent-Length: 2\r\n", "{}"));
    check_answer(server, r, {201});
  }
}

// ---- path traversal -----------------------------------------------------------------

TEST_CASE("malicious input: path traversal shapes get clean 4xx and touch no file", "[malicious]") {
  kintod_process server;
  create_collection(server, "b", "c");
  const auto work_dir = std::filesystem::path(server.data_dir()).parent_path();
  auto listing = [&] {
    std::set<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(work_dir)) names.insert(entry.path().filename());
    return names;
  };
  const auto before = listing();
  struct traversal {
    std::string method, target;
    int status, kinto_errno;
  };
  const std::vector<traversal> cases{
      {"GET", "/v1/buckets/..%2F..%2Fetc", 404, 111},
      {"GET", "/v1/../../etc/passwd", 404, 111},
      {"GET", "/v1/buckets/../../../../etc/passwd", 404, 111},
      {"GET", "/v1/__version__/../../etc/passwd", 404, 111},
      {"GET", "/../../etc/passwd", 307, 0}, // redirected under /v1, where it is a 404 as above
      {"PUT", "/v1/buckets/%00", 400, 107},
      {"PUT", "/v1/buckets/..", 400, 107},
      {"PUT", "/v1/buckets/%2E%2E", 400, 107},
      {"PUT", "/v1/buckets/..%5C..%5Cetc", 400, 107},
      {"PUT", "/v1/buckets/..\\..\\etc", 400, 107},
      {"PUT", "/v1/buckets/b/collections/..%2F..%2Fx", 404, 111},
      {"PUT", records + "/..%2F..%2F..%2Fdata.mdb", 404, 111},
      {"PUT", records + "/..", 400, 107},
      {"PUT", records + "/%2Fetc%2Fpasswd", 404, 111},
      {"PUT", records + "/~root", 400, 107},
      {"PUT", "/v1/accounts/..", 400, 107},
      {"PUT", "/v1/accounts/%2E%2E%2Fx", 404, 111},
      {"DELETE", "/v1/__user_data__/..%2F..%2Fetc", 403, 121},
  };
  for (const auto& c : cases) {
    INFO(c.method << " " << c.target);
    auto r = server.request(c.method, c.target, c.method == "PUT" ? R"({"data": {}})" : "", owner());
    check_answer(server, r, {c.status, c.kinto_errno});
  }
  CHECK(listing() == before);
  CHECK(at(must(server.request("GET", "/v1/buckets", {}, owner()), 200), "data").as_array().size() == 1);
}
