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

TEST_CASE("constraints on the id property apply to the record's id on create and update", "[schema]") {
  auto server = validating_server();
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
  must(server.request("PUT", collection, {}, owner()), 201);
  // Written before the schema, which does not re-validate what exists.
  must(server.request("PUT", records + "/OLD", R"({"data": {}})", owner()), 201);
  must(server.request("PUT", collection,
                      R"({"data": {"schema": {"type": "object", "required": ["id"],
                          "properties": {"id": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8}}}}})",
                      owner()),
       200);
  auto refused_id = [](const http_response& r) {
    CHECK_THAT(r, is_kinto_error(400, 107));
    CHECK(str_at(r.json(), "details.0.location") == "body");
    CHECK(str_at(r.json(), "details.0.name") == "id");
  };
  SECTION("POST with an id") {
    refused_id(server.request("POST", records, R"({"data": {"id": "ABC"}})", owner()));
    must(server.request("POST", records, R"({"data": {"id": "abc"}})", owner()), 201);
  }
  SECTION("POST without an id is validated without one, as upstream: a required id refuses it") {
    refused_id(server.request("POST", records, R"({"data": {}})", owner()));
  }
  SECTION("PUT creating") {
    refused_id(server.request("PUT", records + "/NEW", R"({"data": {}})", owner()));
    auto long_id = server.request("PUT", records + "/abcdefghi", R"({"data": {}})", owner());
    refused_id(long_id);
    CHECK(str_at(long_id.json(), "message") == "id in body: 'abcdefghi' is too long");
    must(server.request("PUT", records + "/fine", R"({"data": {}})", owner()), 201);
  }
  SECTION("PUT and PATCH updating") {
    refused_id(server.request("PUT", records + "/OLD", R"({"data": {"x": 1}})", owner()));
    refused_id(server.request("PATCH", records + "/OLD", R"({"data": {"x": 1}})", owner()));
    must(server.request("PUT", records + "/fine", R"({"data": {}})", owner()), 201);
    must(server.request("PATCH", records + "/fine", R"({"data": {"x": 1}})", owner()), 200);
    must(server.request("PUT", records + "/fine", R"({"data": {"x": 2}})", owner()), 200);
  }
  auto old = must(server.request("GET", records + "/OLD", {}, owner()), 200);
  CHECK_FALSE(find_path(old, "data.x"));
}

TEST_CASE("an id enum, type or required id is checked against the object's id", "[schema]") {
  auto server = validating_server();
  must(server.request("PUT", "/v1/buckets/b", R"({"data": {"collection:schema": {"properties": {"id": {"enum": ["c", "d"]}}}}})",
                      owner()),
       201);
  CHECK_THAT(server.request("PUT", "/v1/buckets/b/collections/e", {}, owner()), is_kinto_error(400, 107));
  must(server.request("PUT", collection, {}, owner()), 201);
  SECTION("type") {
    must(server.request("PATCH", collection, R"({"data": {"schema": {"properties": {"id": {"type": "integer"}}}}})", owner()),
         200);
    auto r = server.request("PUT", records + "/1", R"({"data": {}})", owner());
    CHECK_THAT(r, is_kinto_error(400, 107));
    CHECK(str_at(r.json(), "message") == "id in body: '1' is not of type 'integer'");
  }
  SECTION("length; a generated id is not validated, as upstream validates before generating it") {
    must(server.request("PATCH", collection,
                        R"({"data": {"schema": {"properties": {"id": {"type": "string", "minLength": 40}}}}})", owner()),
         200);
    CHECK_THAT(server.request("PUT", records + "/short", R"({"data": {}})", owner()), is_kinto_error(400, 107));
    CHECK_THAT(server.request("POST", records, R"({"data": {"id": "short"}})", owner()), is_kinto_error(400, 107));
    auto created = must(server.request("POST", records, R"({"data": {}})", owner()), 201);
    CHECK(str_at(created, "data.id").size() == 36);
    // Once it exists, the generated id is the object's id like any other.
    CHECK_THAT(server.request("PATCH", records + "/" + str_at(created, "data.id"), R"({"data": {"x": 1}})", owner()),
               is_kinto_error(400, 107));
  }
  SECTION("a schema that does not describe the id ignores it, even when required") {
    must(server.request("PATCH", collection, R"({"data": {"schema": {"required": ["id"], "additionalProperties": false}}})",
                        owner()),
         200);
    must(server.request("PUT", records + "/anything", R"({"data": {}})", owner()), 201);
    must(server.request("POST", records, R"({"data": {}})", owner()), 201);
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
