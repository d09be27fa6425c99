// Integration tests of POST /v1/batch (batch-and-plugins.md §1): defaults,
// ordered responses, sub-requests seeing earlier ones, per-request
// authorization, and the payload errors.
#include "harness.hpp"

using namespace kintod_test;

TEST_CASE("a batch runs its requests in order with the defaults merged in", "[batch]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto r = server.request("POST", "/v1/batch",
                          R"({"defaults": {"method": "POST", "path": "/buckets/b/collections/c/records"},
                              "requests": [{"body": {"data": {"title": "one"}}},
                                           {"method": "PUT", "path": "/buckets/b/collections/c/records/two",
                                            "body": {"data": {"title": "two"}}},
                                           {"method": "GET", "path": "/v1/buckets/b/collections/c/records/two"},
                                           {"method": "GET", "path": "/buckets/b/collections/missing/records/x"},
                                           {"method": "DELETE", "path": "/buckets/b/collections/c/records/two"}]})",
                          owner());
  REQUIRE_THAT(r, is_json(200));
  auto body = r.json();
  const auto& responses = body.find("responses")->as_array();
  REQUIRE(responses.size() == 5);
  CHECK(responses[0].find("status")->as_int64() == 201);
  CHECK(responses[0].find("path")->as_string() == "/v1/buckets/b/collections/c/records");
  CHECK(responses[0].find("body")->find("data")->find("title")->as_string() == "one");
  CHECK(responses[1].find("status")->as_int64() == 201);
  CHECK(responses[2].find("status")->as_int64() == 200);
  CHECK(responses[2].find("body")->find("data")->find("title")->as_string() == "two");
  CHECK(responses[2].find("headers")->find("ETag"));
  CHECK(responses[3].find("status")->as_int64() == 404);
  CHECK(responses[3].find("body")->find("errno")->as_int64() == 111);
  CHECK(responses[4].find("body")->find("data")->find("deleted")->as_bool());
}

TEST_CASE("each sub-request is authorized on its own", "[batch]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto r = server.request("POST", "/v1/batch", R"({"requests": [{"path": "/buckets/b"}]})");
  REQUIRE_THAT(r, is_json(200));
  CHECK(r.json().find("responses")->as_array()[0].find("status")->as_int64() == 401);
}

TEST_CASE("invalid batch payloads are rejected with 400", "[batch]") {
  kintod_process server({.settings = {{"kinto.batch_max_requests", "2"}}});
  for (const std::string payload : {R"({"requests": {}})", R"({"requests": [{"path": "/batch"}]})",
                                    R"({"requests": [{"path": "/a"}, {"path": "/b"}, {"path": "/c"}]})",
                                    R"({"requests": [{"path": "x"}]})", R"({"requests": [{"path": "/a", "method": "get"}]})",
                                    R"({"requests": [{"path": "/a", "body": []}]})", R"({"requests": [], "other": 1})",
                                    R"({"defaults": {}})", "[1"}) {
    INFO(payload);
    CHECK_THAT(server.request("POST", "/v1/batch", payload, owner()), is_kinto_error(400, 107));
  }
  auto limited = server.request("POST", "/v1/batch", R"({"requests": [{"path": "/a"}, {"path": "/b"}, {"path": "/c"}]})", owner());
  // As upstream answers it (the name occurs in the description).
  CHECK(str_at(limited.json(), "message") == "Number of requests is limited to 2");
  CHECK_THAT(server.request("GET", "/v1/batch", {}, owner()), is_kinto_error(405, 115));
}

TEST_CASE("a sub-request answered with a redirect is followed once", "[batch]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto r = server.request("POST", "/v1/batch", R"({"requests": [{"path": "/buckets/b/collections/"}]})", owner());
  REQUIRE_THAT(r, is_json(200));
  auto entry = r.json().find("responses")->as_array()[0];
  CHECK(entry.find("status")->as_int64() == 200);
  CHECK(entry.find("path")->as_string() == "/v1/buckets/b/collections");
  CHECK(entry.find("body")->find("data")->as_array().size() == 1);
}

TEST_CASE("only the batch endpoint itself is refused as a sub-request", "[batch]") {
  kintod_process server;
  for (const std::string path : {"/batch", "/v1/batch", "/batch/", "/v1/batch/", "/v1/batch?x=1", "/batch//",
                                 "/v1/%62atch"}) {
    INFO(path);
    auto r = server.request("POST", "/v1/batch", R"({"requests": [{"method": "POST", "path": ")" + path + R"("}]})",
                            owner());
    CHECK_THAT(r, is_kinto_error(400, 107));
    CHECK(str_at(r.json(), "message") == "requests in body: Recursive call on /batch endpoint is forbidden.");
  }
  SECTION("as a default path too") {
    auto r = server.request("POST", "/v1/batch", R"({"defaults": {"path": "/batch"}, "requests": [{}]})", owner());
    CHECK_THAT(r, is_kinto_error(400, 107));
  }
}

TEST_CASE("ids and paths that merely contain batch are served in a batch", "[batch]") {
  kintod_process server;
  auto r = server.request("POST", "/v1/batch",
                          R"({"requests": [{"method": "PUT", "path": "/buckets/batch-jobs"},
                                           {"method": "PUT", "path": "/buckets/batch-jobs/collections/batch"},
                                           {"method": "PUT", "path": "/buckets/batch-jobs/collections/batch/records/batch",
                                            "body": {"data": {"n": 1}}},
                                           {"method": "GET", "path": "/v1/buckets/batch-jobs/collections/batch/records?_sort=-batch"},
                                           {"method": "GET", "path": "/batchy"}]})",
                          owner());
  REQUIRE_THAT(r, is_json(200));
  const auto body = r.json();
  const auto& responses = body.find("responses")->as_array();
  REQUIRE(responses.size() == 5);
  CHECK(responses[0].find("status")->as_int64() == 201);
  CHECK(responses[1].find("status")->as_int64() == 201);
  CHECK(responses[2].find("status")->as_int64() == 201);
  CHECK(responses[3].find("status")->as_int64() == 200);
  CHECK(responses[3].find("body")->find("data")->as_array().size() == 1);
  CHECK(responses[4].find("status")->as_int64() == 404);
  must(server.request("GET", "/v1/buckets/batch-jobs/collections/batch/records/batch", {}, owner()), 200);
}

TEST_CASE("a batch takes its JSON Content-Type in any case, and nothing else", "[batch]") {
  kintod_process server;
  const std::string payload = R"({"requests": [{"path": "/"}]})";
  for (const std::string type : {"application/json", "Application/JSON; Charset=UTF-8", "APPLICATION/JSON;charset=utf-8"}) {
    INFO(type);
    auto r = server.request("POST", "/v1/batch", payload, with(owner(), {{"Content-Type", type}}));
    REQUIRE_THAT(r, is_json(200));
    CHECK(r.json().find("responses")->as_array()[0].find("status")->as_int64() == 200);
  }
  for (const std::string type : {"text/plain", "application/jsonx", "application/json-patch+json", "application"}) {
    INFO(type);
    auto r = server.request("POST", "/v1/batch", payload, with(owner(), {{"Content-Type", type}}));
    CHECK_THAT(r, is_kinto_error(415, 107));
    CHECK(str_at(r.json(), "details.0.name") == "Content-Type");
  }
}
