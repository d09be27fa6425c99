// Integration tests of JSON-Schema validation (batch-and-plugins.md §4):
// records against the collection's schema and the bucket's record:schema,
// collections and groups against the bucket's schemas, the `schema` stamp.
#include "harness.hpp"

using namespace kintod_test;

namespace {

const std::string collection = "/v1/buckets/b/collections/c";
const std::string records = collection + "/records";

kintod_process validating_server() {
  return kintod_process({.settings = {{"kinto.experimental_collection_schema_validation", "true"}}});
}

} // namespace

TEST_CASE("records are validated against the collection schema and stamped with its version", "[schema]") {
  auto server = validating_server();
  CHECK(server.request("GET", "/v1/").json().find("capabilities")->find("schema"));
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
  auto c = must(server.request("PUT", collection,
                               R"({"data": {"schema": {"type": "object", "required": ["title"],
                                   "properties": {"title": {"type": "string"}, "size": {"type": "number"}}}}})",
                               owner()),
                201);
  const auto version = int_at(c, "data.last_modified");

  auto missing = server.request("POST", records, R"({"data": {"size": 1}})", owner());
  CHECK_THAT(missing, is_kinto_error(400, 107));
  CHECK(str_at(missing.json(), "message") == "'title' is a required property");
  CHECK(str_at(missing.json(), "details.0.name") == "title");

  auto wrong = server.request("POST", records, R"({"data": {"title": "t", "size": "hi!"}})", owner());
  CHECK_THAT(wrong, is_kinto_error(400, 107));
  CHECK(str_at(wrong.json(), "message") == "size in body: 'hi!' is not of type 'number'");

  auto ok = must(server.request("POST", records, R"({"data": {"title": "t", "size": 2}})", owner()), 201);
  CHECK(int_at(ok, "data.schema") == version);
  const std::string id = str_at(ok, "data.id");
  SECTION("a PATCH is validated on the resulting record") {
    CHECK_THAT(server.request("PATCH", records + "/" + id, R"({"data": {"size": "big"}})", owner()), is_kinto_error(400, 107));
    must(server.request("PATCH", records + "/" + id, R"({"data": {"size": 3}})", owner()), 200);
  }
}

TEST_CASE("the bucket's schemas apply to records, collections and groups", "[schema]") {
  auto server = validating_server();
  must(server.request("PUT", "/v1/buckets/b",
                      R"({"data": {"record:schema": {"required": ["a"]}, "collection:schema": {"required": ["kind"]},
                          "group:schema": {"properties": {"members": {"maxItems": 1}}}}})",
                      owner()),
       201);
  CHECK_THAT(server.request("PUT", collection, R"({"data": {}})", owner()), is_kinto_error(400, 107));
  must(server.request("PUT", collection, R"({"data": {"kind": "x"}})", owner()), 201);
  CHECK_THAT(server.request("PUT", records + "/r", R"({"data": {"b": 1}})", owner()), is_kinto_error(400, 107));
  must(server.request("PUT", records + "/r", R"({"data": {"a": 1}})", owner()), 201);
  CHECK_THAT(server.request("PUT", "/v1/buckets/b/groups/g", R"({"data": {"members": ["x", "y"]}})", owner()),
             is_kinto_error(400, 107));
  must(server.request("PUT", "/v1/buckets/b/groups/g", R"({"data": {"members": ["x"]}})", owner()), 201);
}

TEST_CASE("without the setting, records are not validated", "[schema]") {
  kintod_process server;
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
  must(server.request("PUT", collection, R"({"data": {"schema": {"required": ["title"]}}})", owner()), 201);
  auto r = must(server.request("POST", records, R"({"data": {"size": 1}})", owner()), 201);
  CHECK_FALSE(at(r, "data").find("schema"));
}
