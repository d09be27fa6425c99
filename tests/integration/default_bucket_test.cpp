// Integration tests of the default bucket plugin (batch-and-plugins.md §2):
// the personal bucket id, implicit creation, and anonymous refusal.
#include "harness.hpp"

using namespace kintod_test;

namespace {

kintod_process with_default_bucket() {
  return kintod_process({.settings = {{"kinto.includes", "kinto.plugins.accounts kinto.plugins.default_bucket"}}});
}

const std::string mat_bucket = "ddaf8694-fa9e-2949-ed0e-77198a7907fb";

} // namespace

TEST_CASE("the personal bucket id follows the reference's test vector", "[default_bucket]") {
  auto server = with_default_bucket();
  auto hello = server.request("GET", "/v1/", {}, {{"Authorization", basic("mat", "secret")}}).json();
  CHECK(hello.find("user")->find("bucket")->as_string() == mat_bucket);
  CHECK(hello.find("capabilities")->find("default_bucket"));
}

TEST_CASE("the default bucket and a named collection are created on first use", "[default_bucket]") {
  auto server = with_default_bucket();
  const header_list mat{{"Authorization", basic("mat", "secret")}};
  auto created = must(server.request("POST", "/v1/buckets/default/collections/notes/records", R"({"data": {"text": "hi"}})", mat), 201);
  CHECK(str_at(created, "data.text") == "hi");
  auto bucket = must(server.request("GET", "/v1/buckets/default", {}, mat), 200);
  CHECK(str_at(bucket, "data.id") == mat_bucket);
  must(server.request("GET", "/v1/buckets/" + mat_bucket + "/collections/notes", {}, mat), 200);
  auto listed = must(server.request("GET", "/v1/buckets/default/collections/notes/records", {}, mat), 200);
  CHECK(listed.find("data")->as_array().size() == 1);
  SECTION("through a batch too") {
    auto r = server.request("POST", "/v1/batch", R"({"requests": [{"method": "PUT", "path": "/buckets/default/collections/todo/records/x", "body": {"data": {}}}]})", mat);
    REQUIRE_THAT(r, is_json(200));
    CHECK(r.json().find("responses")->as_array()[0].find("status")->as_int64() == 201);
  }
}

TEST_CASE("the default bucket refuses anonymous callers and invalid collection ids", "[default_bucket]") {
  auto server = with_default_bucket();
  CHECK_THAT(server.request("GET", "/v1/buckets/default"), is_kinto_error(401, 104));
  CHECK_THAT(server.request("GET", "/v1/buckets/default/collections/_bad/records", {}, {{"Authorization", basic("mat", "secret")}}),
             is_kinto_error(400, 107));
}
