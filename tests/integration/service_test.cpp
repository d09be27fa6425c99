// Integration tests of the service endpoints and HTTP plumbing
// (service-endpoints.md): root view, heartbeats, __version__, redirects,
// security and CORS headers, HEAD, keep-alive and big integers.
#include "harness.hpp"

#include <algorithm>
#include <cctype>

using namespace kintod_test;
using kinto::json::value;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The comma-separated items of a header, trimmed and lower-cased.
std::vector<std::string> header_items(const http_response& r, std::string_view name) {
  std::vector<std::string> items;
  std::string value = r.header(name);
  std::size_t start = 0;
  while (start <= value.size()) {
    auto comma = value.find(',', start);
    std::string item = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto first = item.find_first_not_of(" \t");
    auto last = item.find_last_not_of(" \t");
    if (first != std::string::npos) items.push_back(lower(item.substr(first, last - first + 1)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

bool lists(const http_response& r, std::string_view header, std::string_view item) {
  auto items = header_items(r, header);
  return std::find(items.begin(), items.end(), lower(std::string(item))) != items.end();
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

const header_list origin{{"Origin", "http://a.example"}};

} // namespace

TEST_CASE("the root view describes the server to anonymous callers", "[service]") {
  kintod_process server;
  auto r = server.request("GET", "/v1/");
  REQUIRE_THAT(r, is_json(200));
  auto body = r.json();
  CHECK(str_at(body, "project_name") == "kinto");
  CHECK(at(body, "project_version").is_string());
  CHECK(str_at(body, "http_api_version") == "1.23");
  CHECK(str_at(body, "project_docs") == "https://kinto.readthedocs.io/");
  CHECK(str_at(body, "url") == server.url("/v1/"));
  CHECK(at(body, "settings") ==
        parse_json(R"({"batch_max_requests": 25, "readonly": false, "explicit_permissions": true})"));
  CHECK(at(body, "capabilities").is_object());
  CHECK(str_at(body, "capabilities.accounts.description").size() > 0);
  CHECK(at(body, "capabilities.accounts.url").is_string());
  CHECK(find_path(body, "config") != nullptr);
  CHECK(find_path(body, "user") == nullptr);
  CHECK_FALSE(r.has_header("Cache-Control"));
}

TEST_CASE("the root view shows the authenticated user and principals", "[service]") {
  kintod_process server;
  auto r = server.request("GET", "/v1/", {}, owner());
  REQUIRE_THAT(r, is_json(200));
  auto body = r.json();
  CHECK(str_at(body, "user.id") == mat_id);
  CHECK(str_at(body, "user.principals.0") == mat_id);
  CHECK(contains_string(body, "user.principals", "system.Everyone"));
  CHECK(contains_string(body, "user.principals", "system.Authenticated"));
}

TEST_CASE("the heartbeat reports every backend healthy", "[service]") {
  kintod_process server;
  auto r = server.request("GET", "/v1/__heartbeat__");
  REQUIRE_THAT(r, is_json(200));
  auto body = r.json();
  for (const char* check : {"storage", "permission", "cache"}) {
    INFO(check);
    REQUIRE(find_path(body, check) != nullptr);
    CHECK(at(body, check) == value(true));
  }
}

TEST_CASE("the load-balancer heartbeat answers an empty object", "[service]") {
  kintod_process server;
  auto r = server.request("GET", "/v1/__lbheartbeat__");
  REQUIRE_THAT(r, is_json(200));
  CHECK(r.json() == value::object());
}

TEST_CASE("__version__ serves the configured version file", "[service]") {
  temp_dir dir;
  const std::string file = dir.path() + "/version.json";
  const std::string content = R"({"name": "kintod", "version": "0.1.0", "source": "x", "commit": "abc"})";
  write_file(file, content);
  kintod_process server({.settings = {{"kinto.version_json_path", file}}});
  auto r = server.request("GET", "/v1/__version__");
  REQUIRE_THAT(r, is_json(200));
  CHECK(r.json() == parse_json(content));
}

TEST_CASE("a path without the version prefix is redirected under /v1", "[service]") {
  kintod_process server;
  std::string method = "GET", target, expected;
  SECTION("plural") {
    target = "/buckets";
    expected = "/v1/buckets";
  }
  SECTION("query string kept") {
    target = "/buckets?_limit=2&_sort=id";
    expected = "/v1/buckets?_limit=2&_sort=id";
  }
  SECTION("root") {
    target = "/";
    expected = "/v1/";
  }
  SECTION("a POST") {
    method = "POST";
    target = "/buckets";
    expected = "/v1/buckets";
  }
  INFO(method << " " << target);
  auto r = server.request(method, target, {}, owner());
  CHECK(r.status == 307);
  CHECK(r.header("Location") == server.url(expected));
}

TEST_CASE("GET /v1 is redirected to /v1/", "[service]") {
  kintod_process server;
  auto r = server.request("GET", "/v1");
  CHECK(r.status == 307);
  CHECK(r.header("Location") == server.url("/v1/"));
}

TEST_CASE("another API version prefix answers 404 with errno 116", "[service]") {
  kintod_process server;
  auto r = server.request("GET", "/v2/buckets", {}, owner());
  CHECK_THAT(r, is_kinto_error(404, 116));
  CHECK(str_at(r.json(), "message") == "The requested API version is not available on this server.");
}

TEST_CASE("a trailing slash is redirected away with a cacheable 307", "[service]") {
  kintod_process server;
  std::string target, expected;
  SECTION("plural") {
    target = "/v1/buckets/";
    expected = "/v1/buckets";
  }
  SECTION("with a query string") {
    target = "/v1/buckets/b/collections/?_limit=1";
    expected = "/v1/buckets/b/collections?_limit=1";
  }
  INFO(target);
  auto r = server.request("GET", target, {}, owner());
  CHECK(r.status == 307);
  CHECK(r.header("Location") == server.url(expected));
  CHECK(r.header("Cache-Control") == "max-age=3600");
  CHECK(r.has_header("Expires"));
}

TEST_CASE("with trailing-slash redirects disabled a trailing slash is an unknown URL", "[service]") {
  kintod_process server({.settings = {{"kinto.trailing_slash_redirect_enabled", "false"}}});
  auto r = server.request("GET", "/v1/buckets/", {}, owner());
  CHECK_THAT(r, is_kinto_error(404, 111));
}

TEST_CASE("every response carries the security headers", "[service]") {
  kintod_process server;
  create_collection(server, "b", "c");
  http_response r;
  SECTION("root") { r = server.request("GET", "/v1/"); }
  SECTION("object") { r = server.request("GET", "/v1/buckets/b", {}, owner()); }
  SECTION("unknown URL") { r = server.request("GET", "/v1/nothing/here"); }
  SECTION("invalid id") { r = server.request("PUT", "/v1/buckets/__x__", {}, owner()); }
  SECTION("redirect") { r = server.request("GET", "/buckets"); }
  SECTION("unauthorized") { r = server.request("GET", "/v1/accounts"); }
  SECTION("not modified") {
    auto tag = server.request("GET", "/v1/buckets/b", {}, owner()).header("ETag");
    r = server.request("GET", "/v1/buckets/b", {}, with(owner(), {{"If-None-Match", tag}}));
    REQUIRE(r.status == 304);
  }
  SECTION("pre-flight") {
    r = server.request("OPTIONS", "/v1/buckets", {},
                       with(origin, {{"Access-Control-Request-Method", "GET"}}));
  }
  INFO(r.describe());
  CHECK(r.header("X-Content-Type-Options") == "nosniff");
  CHECK(trimmed(r.header("Content-Security-Policy")) ==
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none';");
}

TEST_CASE("a request with an Origin gets Access-Control-Allow-Origin on successes and errors", "[service][cors]") {
  kintod_process server;
  create_collection(server, "b", "c");
  http_response r;
  SECTION("root") { r = server.request("GET", "/v1/", {}, origin); }
  SECTION("object") { r = server.request("GET", "/v1/buckets/b", {}, with(owner(), origin)); }
  SECTION("missing object") {
    r = server.request("GET", "/v1/buckets/b/collections/c/records/nope", {}, with(owner(), origin));
    REQUIRE(r.status == 404);
  }
  SECTION("unauthorized") {
    r = server.request("GET", "/v1/accounts", {}, origin);
    REQUIRE(r.status == 401);
  }
  SECTION("invalid input") {
    r = server.request("PUT", "/v1/buckets/b", "{", with(owner(), origin));
    REQUIRE(r.status == 400);
  }
  INFO(r.describe());
  CHECK(r.header("Access-Control-Allow-Origin") == "*");
  for (const char* exposed : {"Alert", "Backoff", "Retry-After", "Content-Length", "Content-Type"}) {
    INFO(exposed);
    CHECK(lists(r, "Access-Control-Expose-Headers", exposed));
  }
  CHECK_FALSE(r.has_header("Access-Control-Allow-Credentials"));
}

TEST_CASE("plural responses expose their paging and caching headers to browsers", "[service][cors]") {
  kintod_process server;
  create_collection(server, "b", "c");
  SECTION("GET") {
    auto r = server.request("GET", "/v1/buckets/b/collections", {}, with(owner(), origin));
    REQUIRE_THAT(r, is_json(200));
    CHECK(lists(r, "Access-Control-Expose-Headers", "Next-Page"));
    CHECK(lists(r, "Access-Control-Expose-Headers", "ETag"));
    CHECK(lists(r, "Access-Control-Expose-Headers", "Last-Modified"));
  }
  SECTION("HEAD") {
    auto r = server.request("HEAD", "/v1/buckets/b/collections", {}, with(owner(), origin));
    REQUIRE(r.status == 200);
    CHECK(r.body.empty());
    CHECK(lists(r, "Access-Control-Expose-Headers", "Total-Objects"));
    CHECK(lists(r, "Access-Control-Expose-Headers", "ETag"));
  }
  SECTION("GET of an object") {
    auto r = server.request("GET", "/v1/buckets/b", {}, with(owner(), origin));
    REQUIRE_THAT(r, is_json(200));
    CHECK(lists(r, "Access-Control-Expose-Headers", "ETag"));
    CHECK(lists(r, "Access-Control-Expose-Headers", "Last-Modified"));
    CHECK_FALSE(lists(r, "Access-Control-Expose-Headers", "Next-Page"));
  }
}

TEST_CASE("a CORS pre-flight is answered without authentication", "[service][cors]") {
  kintod_process server;
  SECTION("plural endpoint") {
    auto r = server.request("OPTIONS", "/v1/buckets", {},
                            with(origin, {{"Access-Control-Request-Method", "GET"},
                                          {"Access-Control-Request-Headers", "authorization"}}));
    CHECK(r.status == 200);
    CHECK(r.header("Access-Control-Allow-Origin") == "*");
    CHECK(lists(r, "Access-Control-Allow-Methods", "GET"));
    CHECK(lists(r, "Access-Control-Allow-Methods", "POST"));
    CHECK_FALSE(lists(r, "Access-Control-Allow-Methods", "PATCH"));
    CHECK(lists(r, "Access-Control-Allow-Headers", "authorization"));
    CHECK(r.header("Access-Control-Max-Age") == "3600");
  }
  SECTION("object endpoint") {
    auto r = server.request("OPTIONS", "/v1/buckets/b/collections/c/records/r", {},
                            with(origin, {{"Access-Control-Request-Method", "PUT"}}));
    CHECK(r.status == 200);
    for (const char* method : {"GET", "PUT", "PATCH", "DELETE"}) {
      INFO(method);
      CHECK(lists(r, "Access-Control-Allow-Methods", method));
    }
  }
  SECTION("without Access-Control-Request-Method") {
    auto r = server.request("OPTIONS", "/v1/buckets", {}, origin);
    CHECK(r.status == 400);
  }
  SECTION("a method the endpoint does not support") {
    auto r = server.request("OPTIONS", "/v1/buckets", {}, with(origin, {{"Access-Control-Request-Method", "PATCH"}}));
    CHECK(r.status == 400);
  }
  CHECK(server.healthy());
}

TEST_CASE("HEAD on an object answers the GET headers without a body", "[service]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto get = server.request("GET", "/v1/buckets/b/collections/c", {}, owner());
  auto head = server.request("HEAD", "/v1/buckets/b/collections/c", {}, owner());
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(head.header("ETag") == get.header("ETag"));
  CHECK(head.header("Last-Modified") == get.header("Last-Modified"));
}

TEST_CASE("several requests share one keep-alive connection", "[service]") {
  kintod_process server;
  auto connection = server.connect();
  CHECK_THAT(connection->request("GET", "/v1/"), is_json(200));
  CHECK(connection->is_open());
  CHECK_THAT(connection->request("PUT", "/v1/buckets/b", {}, owner()), is_json(201));
  CHECK(connection->is_open());
  CHECK_THAT(connection->request("PUT", "/v1/buckets/b/collections/c", R"({"data": {"x": 1}})", owner()),
             is_json(201));
  CHECK(connection->is_open());
  CHECK_THAT(connection->request("GET", "/v1/nothing/here"), is_kinto_error(404, 111));
  CHECK(connection->is_open());
  auto r = connection->request("GET", "/v1/buckets/b/collections/c", {}, owner());
  REQUIRE_THAT(r, is_json(200));
  CHECK(int_at(r.json(), "data.x") == 1);
  CHECK(connection->is_open());
}

TEST_CASE("integers beyond 64 bits and floats round-trip exactly", "[service]") {
  kintod_process server;
  create_collection(server, "b", "c");
  const std::string target = "/v1/buckets/b/collections/c/records/r";
  auto put = server.request("PUT", target,
                            R"({"data": {"big": 36893488147419103232, "neg": -36893488147419103232, "half": 1.5,
                                         "max": 9223372036854775807}})",
                            owner());
  REQUIRE_THAT(put, is_json(201));
  for (const auto& r : {put, server.request("GET", target, {}, owner())}) {
    auto body = r.json();
    CHECK(at(body, "data.big").as_string() == "36893488147419103232");
    CHECK(at(body, "data.neg").as_string() == "-36893488147419103232");
    CHECK(at(body, "data.max").as_string() == "9223372036854775807");
    CHECK(at(body, "data.half").as_double() == 1.5);
  }
}

TEST_CASE("the flush endpoint removes everything when the plugin is enabled", "[service]") {
  SECTION("enabled") {
    kintod_process server({.settings = {{"kinto.includes", "kinto.plugins.accounts kinto.plugins.flush"},
                                        {"kinto.flush_endpoint_enabled", "true"}}});
    create_collection(server, "b", "c");
    CHECK(server.request("GET", "/v1/").json().find("capabilities")->find("flush_endpoint"));
    auto flushed = server.request("POST", "/v1/__flush__");
    REQUIRE(flushed.status == 202);
    CHECK(flushed.json() == kinto::json::value::object());
    CHECK(server.request("GET", "/v1/buckets/b", {}, owner()).status == 403);
    CHECK(server.request("PUT", "/v1/buckets/b", {}, owner()).status == 201);
  }
  SECTION("not enabled") {
    kintod_process server;
    CHECK_THAT(server.request("POST", "/v1/__flush__"), is_kinto_error(404, 111));
    CHECK_FALSE(server.request("GET", "/v1/").json().find("capabilities")->find("flush_endpoint"));
  }
}

TEST_CASE("the OpenAPI document lists exactly the enabled routes and their methods", "[service]") {
  kintod_process server;
  auto api = server.request("GET", "/v1/__api__").json();
  const auto* paths = api.find("paths");
  REQUIRE(paths);
  const auto* records = paths->find("/buckets/{bucket_id}/collections/{collection_id}/records/{id}");
  REQUIRE(records);
  for (const char* method : {"get", "head", "put", "patch", "delete"}) CHECK(records->find(method));
  CHECK_FALSE(records->find("post"));
  const auto* buckets = paths->find("/buckets");
  REQUIRE(buckets);
  CHECK(buckets->find("post"));
  CHECK_FALSE(buckets->find("put"));
  CHECK(paths->find("/accounts"));
  CHECK(paths->find("/batch"));
  CHECK_FALSE(paths->find("/__flush__"));
  CHECK_FALSE(paths->find("/permissions"));
  kintod_process flushing({.settings = {{"kinto.includes", "kinto.plugins.flush"}, {"kinto.flush_endpoint_enabled", "true"},
                                        {"kinto.experimental_permissions_endpoint", "true"}}});
  auto more = flushing.request("GET", "/v1/__api__").json();
  CHECK(more.find("paths")->find("/__flush__"));
  CHECK(more.find("paths")->find("/permissions"));
  CHECK_FALSE(more.find("paths")->find("/accounts"));
}
