// Integration tests of the object tree (resources.md): ids, the envelope, PUT,
// POST, PATCH (json, merge-patch, json-patch), DELETE, tombstones, cascades and
// plural GET basics. Talks to a real kintod through harness.hpp only.
#include "harness.hpp"

#include <algorithm>
#include <regex>
#include <set>

using namespace kintod_test;
using kinto::json::value;

namespace {

const std::string records = "/v1/buckets/b/collections/c/records";

const header_list merge_patch{{"Content-Type", "application/merge-patch+json"}};
const header_list json_patch{{"Content-Type", "application/json-patch+json"}};

value invalid_path_id_details() {
  return parse_json(R"([{"location": "path", "name": null, "description": "Invalid object id"}])");
}

std::vector<std::string> ids_of(const value& list_body) {
  std::vector<std::string> ids;
  for (const auto& obj : at(list_body, "data").as_array()) ids.push_back(str_at(obj, "id"));
  return ids;
}

// The request target of an absolute Next-Page URL of `server`.
std::string target_of(const kintod_process& server, const std::string& next_page) {
  std::string prefix = server.url("");
  REQUIRE(next_page.starts_with(prefix + "/v1/"));
  return next_page.substr(prefix.size());
}

} // namespace

TEST_CASE("posting a record without id creates it with a random UUID4", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");

  auto r = server.request("POST", records, R"({"data": {"x": 1}})", owner());
  REQUIRE_THAT(r, is_json(201));
  auto body = r.json();
  std::string id = str_at(body, "data.id");
  CHECK(std::regex_match(id, std::regex("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")));
  CHECK(int_at(body, "data.x") == 1);
  CHECK(r.header("ETag") == etag_of(int_at(body, "data.last_modified")));
  CHECK(contains_string(body, "permissions.write", mat_id));

  auto second = must(server.request("POST", records, R"({"data": {"x": 2}})", owner()), 201);
  CHECK(str_at(second, "data.id") != id);

  auto fetched = must(server.request("GET", records + "/" + id, {}, owner()), 200);
  CHECK(at(fetched, "data") == at(body, "data"));
}

TEST_CASE("posting a container without id generates an 8-character name", "[resources]") {
  const std::string body = GENERATE(as<std::string>{}, "", R"({"data": {"title": "t"}})");
  kintod_process server;
  const std::regex name_id("^[a-zA-Z0-9][a-zA-Z0-9_-]{7}$");
  std::string plural;
  SECTION("bucket") { plural = "/v1/buckets"; }
  SECTION("collection") {
    must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
    plural = "/v1/buckets/b/collections";
  }
  SECTION("group") {
    must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
    plural = "/v1/buckets/b/groups";
  }
  INFO("POST " << plural << " " << body);
  auto r = server.request("POST", plural, body, owner());
  REQUIRE_THAT(r, is_json(201));
  auto created = r.json();
  CHECK(std::regex_match(str_at(created, "data.id"), name_id));
  CHECK(r.header("ETag") == etag_of(int_at(created, "data.last_modified")));
}

TEST_CASE("an object id that breaks the id syntax is rejected with 400", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  std::string method = "PUT";
  std::string target;
  SECTION("bucket with underscores") { target = "/v1/buckets/__beers__"; }
  SECTION("bucket with a space") { target = "/v1/buckets/in%20valid"; }
  SECTION("collection") { target = "/v1/buckets/b/collections/_c"; }
  SECTION("group") { target = "/v1/buckets/b/groups/-g"; }
  SECTION("record") { target = records + "/-r"; }
  SECTION("record read") {
    method = "GET";
    target = records + "/a.b";
  }
  SECTION("record deletion") {
    method = "DELETE";
    target = records + "/a~b";
  }
  INFO(method << " " << target);

  auto r = server.request(method, target, {}, owner());
  CHECK_THAT(r, is_kinto_error(400, 107));
  auto body = r.json();
  CHECK(str_at(body, "error") == "Invalid parameters");
  CHECK(str_at(body, "message") == "path: Invalid object id");
  CHECK(at(body, "details") == invalid_path_id_details());
}

TEST_CASE("a posted data.id that is not a valid id string is rejected", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  std::string body;
  SECTION("a float") { body = R"({"data": {"id": 3.14}})"; }
  SECTION("an integer") { body = R"({"data": {"id": 12}})"; }
  SECTION("a boolean") { body = R"({"data": {"id": true}})"; }
  SECTION("an empty string") { body = R"({"data": {"id": ""}})"; }
  SECTION("a string breaking the syntax") { body = R"({"data": {"id": "__bad"}})"; }
  INFO(body);

  auto r = server.request("POST", records, body, owner());
  CHECK_THAT(r, is_kinto_error(400, 107));
  CHECK(str_at(r.json(), "message") == "path: Invalid object id");
  CHECK(at(must(server.request("GET", records, {}, owner()), 200), "data").as_array().empty());
}

TEST_CASE("a body id that differs from the URL id is rejected", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  must(server.request("PUT", records + "/abc", R"({"data": {"v": 1}})", owner()), 201);
  std::string method;
  SECTION("PUT") { method = "PUT"; }
  SECTION("PATCH") { method = "PATCH"; }
  INFO(method);

  auto r = server.request(method, records + "/abc", R"({"data": {"id": "xyz", "v": 2}})", owner());
  CHECK_THAT(r, is_kinto_error(400, 107));
  auto body = r.json();
  // resources.md's checklist quotes "id in body: ...", but the general rule of
  // errors.md §3 gives the description alone, since the name "id" occurs in it.
  CHECK(str_at(body, "message") == "Object id does not match existing object");
  CHECK(at(body, "details.0") ==
        parse_json(R"({"location": "body", "name": "id", "description": "Object id does not match existing object"})"));
  CHECK(int_at(must(server.request("GET", records + "/abc", {}, owner()), 200), "data.v") == 1);
}

TEST_CASE("a body id equal to the URL id is accepted", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto r = server.request("PUT", records + "/abc", R"({"data": {"id": "abc", "v": 1}})", owner());
  REQUIRE_THAT(r, is_json(201));
  CHECK(str_at(r.json(), "data.id") == "abc");
}

TEST_CASE("a second PUT of an object replaces it with 200 and a later timestamp", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  std::string target;
  SECTION("record") { target = records + "/r1"; }
  SECTION("collection") { target = "/v1/buckets/b/collections/c2"; }
  SECTION("group") { target = "/v1/buckets/b/groups/g"; }
  SECTION("bucket") { target = "/v1/buckets/b2"; }
  INFO(target);

  auto first = server.request("PUT", target, R"({"data": {"title": "same"}})", owner());
  REQUIRE_THAT(first, is_json(201));
  auto second = server.request("PUT", target, R"({"data": {"title": "same"}})", owner());
  REQUIRE_THAT(second, is_json(200));
  auto t1 = int_at(first.json(), "data.last_modified");
  auto t2 = int_at(second.json(), "data.last_modified");
  CHECK(t2 > t1);
  CHECK(second.header("ETag") == etag_of(t2));
  CHECK(str_at(second.json(), "data.title") == "same");
}

TEST_CASE("PUT replacing an object drops the fields it does not send", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  must(server.request("PUT", records + "/r", R"({"data": {"a": 1, "b": 2}})", owner()), 201);

  auto r = server.request("PUT", records + "/r", R"({"data": {"b": 3}})", owner());
  REQUIRE_THAT(r, is_json(200));
  CHECK(keys_at(r.json(), "data") == std::vector<std::string>{"b", "id", "last_modified"});
  auto fetched = must(server.request("GET", records + "/r", {}, owner()), 200);
  CHECK(keys_at(fetched, "data") == std::vector<std::string>{"b", "id", "last_modified"});
  CHECK(int_at(fetched, "data.b") == 3);
}

TEST_CASE("PUT with only permissions keeps the stored data", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto created = must(server.request("PUT", records + "/r", R"({"data": {"a": 1}})", owner()), 201);

  auto r = server.request("PUT", records + "/r", R"({"permissions": {"read": ["system.Everyone"]}})", owner());
  REQUIRE_THAT(r, is_json(200));
  auto body = r.json();
  CHECK(int_at(body, "data.a") == 1);
  CHECK(int_at(body, "data.last_modified") > int_at(created, "data.last_modified"));
  CHECK(at(body, "permissions.read") == parse_json(R"(["system.Everyone"])"));
  CHECK(contains_string(body, "permissions.write", mat_id));
}

TEST_CASE("PUT without a body creates an object with only id and last_modified", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto r = server.request("PUT", records + "/empty", {}, owner());
  REQUIRE_THAT(r, is_json(201));
  CHECK(keys_at(r.json(), "data") == std::vector<std::string>{"id", "last_modified"});
}

TEST_CASE("posting an existing id returns the stored object unchanged with 200", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto stored = must(server.request("PUT", records + "/r", R"({"data": {"title": "walk dog"}})", owner()), 201);

  auto r = server.request("POST", records, R"({"data": {"id": "r", "title": "other"}})", owner());
  REQUIRE_THAT(r, is_json(200));
  auto body = r.json();
  CHECK(at(body, "data") == at(stored, "data"));
  CHECK(r.header("ETag") == etag_of(int_at(stored, "data.last_modified")));
  auto fetched = must(server.request("GET", records + "/r", {}, owner()), 200);
  CHECK(at(fetched, "data") == at(stored, "data"));
}

TEST_CASE("PATCH without data or permissions is rejected naming data", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  must(server.request("PUT", records + "/r", R"({"data": {"a": 1}})", owner()), 201);
  std::string body;
  SECTION("empty body") { body = ""; }
  SECTION("empty object") { body = "{}"; }
  INFO("body: " << body);

  auto r = server.request("PATCH", records + "/r", body, owner());
  CHECK_THAT(r, is_kinto_error(400, 107));
  CHECK(at(r.json(), "details.0") ==
        parse_json(R"({"location": "body", "name": "data", "description": "Provide at least one of data or permissions"})"));
}

TEST_CASE("a null field is stored by a JSON PATCH and removed by a merge-patch", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  must(server.request("PUT", records + "/r", R"({"data": {"f": 1, "g": 2}})", owner()), 201);

  SECTION("application/json stores null") {
    auto r = server.request("PATCH", records + "/r", R"({"data": {"f": null}})", owner());
    REQUIRE_THAT(r, is_json(200));
    auto fetched = must(server.request("GET", records + "/r", {}, owner()), 200);
    REQUIRE(find_path(fetched, "data.f") != nullptr);
    CHECK(at(fetched, "data.f").is_null());
    CHECK(int_at(fetched, "data.g") == 2);
  }
  SECTION("application/merge-patch+json removes the key") {
    auto r = server.request("PATCH", records + "/r", R"({"data": {"f": null}})", with(owner(), merge_patch));
    REQUIRE_THAT(r, is_json(200));
    CHECK(find_path(r.json(), "data.f") == nullptr);
    auto fetched = must(server.request("GET", records + "/r", {}, owner()), 200);
    CHECK(find_path(fetched, "data.f") == nullptr);
    CHECK(int_at(fetched, "data.g") == 2);
  }
}

TEST_CASE("the patch formats are recognised whatever the case of their media type", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  must(server.request("PUT", records + "/r", R"({"data": {"f": 1, "g": 2}})", owner()), 201);
  SECTION("merge-patch removes the key") {
    auto r = server.request("PATCH", records + "/r", R"({"data": {"f": null}})",
                            with(owner(), {{"Content-Type", "Application/Merge-Patch+JSON; Charset=UTF-8"}}));
    REQUIRE_THAT(r, is_json(200));
    CHECK(find_path(r.json(), "data.f") == nullptr);
    CHECK(int_at(r.json(), "data.g") == 2);
  }
  SECTION("JSON-Patch applies its operations") {
    auto r = server.request("PATCH", records + "/r", R"([{"op": "remove", "path": "/data/f"}])",
                            with(owner(), {{"Content-Type", "APPLICATION/JSON-PATCH+JSON"}}));
    REQUIRE_THAT(r, is_json(200));
    CHECK(find_path(r.json(), "data.f") == nullptr);
    CHECK(int_at(r.json(), "data.g") == 2);
  }
  SECTION("plain JSON stores null") {
    auto r = server.request("PATCH", records + "/r", R"({"data": {"f": null}})",
                            with(owner(), {{"Content-Type", "Application/Json"}}));
    REQUIRE_THAT(r, is_json(200));
    REQUIRE(find_path(r.json(), "data.f") != nullptr);
    CHECK(at(r.json(), "data.f").is_null());
  }
}

TEST_CASE("merge-patch merges nested objects while a JSON PATCH replaces them", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  must(server.request("PUT", records + "/r", R"({"data": {"a": {"b": 1}, "x": 1}})", owner()), 201);

  SECTION("merge-patch") {
    auto r = server.request("PATCH", records + "/r", R"({"data": {"a": {"c": 2}}})", with(owner(), merge_patch));
    REQUIRE_THAT(r, is_json(200));
    CHECK(at(r.json(), "data.a") == parse_json(R"({"b": 1, "c": 2})"));
    CHECK(int_at(r.json(), "data.x") == 1);
  }
  SECTION("application/json") {
    auto r = server.request("PATCH", records + "/r", R"({"data": {"a": {"c": 2}}})", owner());
    REQUIRE_THAT(r, is_json(200));
    CHECK(at(r.json(), "data.a") == parse_json(R"({"c": 2})"));
    CHECK(int_at(r.json(), "data.x") == 1);
  }
  auto fetched = must(server.request("GET", records + "/r", {}, owner()), 200);
  CHECK(int_at(fetched, "data.a.c") == 2);
}

TEST_CASE("a JSON-Patch add under /permissions/read grants the principal without a value", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  must(server.request("PUT", records + "/r", R"({"data": {"title": "t"}})", owner()), 201);

  auto r = server.request("PATCH", records + "/r",
                          R"([{"op": "add", "path": "/permissions/read/account:x"},
                              {"op": "replace", "path": "/data/title", "value": "new"}])",
                          with(owner(), json_patch));
  REQUIRE_THAT(r, is_json(200));
  auto body = r.json();
  CHECK(contains_string(body, "permissions.read", "account:x"));
  CHECK(contains_string(body, "permissions.write", mat_id));
  CHECK(str_at(body, "data.title") == "new");
}

TEST_CASE("a failing JSON-Patch test operation returns 400 and changes nothing", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto stored = must(server.request("PUT", records + "/r", R"({"data": {"title": "t"}})", owner()), 201);

  auto r = server.request("PATCH", records + "/r",
                          R"([{"op": "test", "path": "/data/title", "value": "other"},
                              {"op": "replace", "path": "/data/title", "value": "changed"}])",
                          with(owner(), json_patch));
  CHECK_THAT(r, is_kinto_error(400, 107));
  CHECK(str_at(r.json(), "details.0.description").starts_with("JSON Patch operation failed"));
  CHECK(str_at(r.json(), "details.0.location") == "body");
  auto fetched = must(server.request("GET", records + "/r", {}, owner()), 200);
  CHECK(at(fetched, "data") == at(stored, "data"));
}

TEST_CASE("PATCH with an unsupported Content-Type returns 415 listing the three patch types", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  must(server.request("PUT", records + "/r", R"({"data": {"a": 1}})", owner()), 201);

  auto r = server.request("PATCH", records + "/r", R"({"data": {"a": 2}})",
                          with(owner(), {{"Content-Type", "text/plain"}}));
  CHECK_THAT(r, is_kinto_error(415, 107));
  auto body = r.json();
  CHECK(str_at(body, "details.0.location") == "header");
  CHECK(str_at(body, "details.0.name") == "Content-Type");
  std::string description = str_at(body, "details.0.description");
  CHECK(description.find("application/json") != std::string::npos);
  CHECK(description.find("application/merge-patch+json") != std::string::npos);
  CHECK(description.find("application/json-patch+json") != std::string::npos);
  CHECK(int_at(must(server.request("GET", records + "/r", {}, owner()), 200), "data.a") == 1);
}

TEST_CASE("Response-Behavior selects how much of the patched object is returned", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  must(server.request("PUT", records + "/r", R"({"data": {"a": 1, "b": 2, "c": 3}})", owner()), 201);
  const std::string patch = R"({"data": {"a": 1, "b": 20}})";

  SECTION("light returns only the keys that changed") {
    auto r = server.request("PATCH", records + "/r", patch, with(owner(), {{"Response-Behavior", "light"}}));
    REQUIRE_THAT(r, is_json(200));
    CHECK(at(r.json(), "data") == parse_json(R"({"b": 20})"));
  }
  SECTION("full returns the whole object") {
    auto r = server.request("PATCH", records + "/r", patch, with(owner(), {{"Response-Behavior", "full"}}));
    REQUIRE_THAT(r, is_json(200));
    CHECK(keys_at(r.json(), "data") == std::vector<std::string>{"a", "b", "c", "id", "last_modified"});
  }
  SECTION("an unknown value is rejected") {
    auto r = server.request("PATCH", records + "/r", patch, with(owner(), {{"Response-Behavior", "bogus"}}));
    CHECK_THAT(r, is_kinto_error(400, 107));
    CHECK(str_at(r.json(), "details.0.location") == "header");
    CHECK(str_at(r.json(), "details.0.name") == "Response-Behavior");
    CHECK(int_at(must(server.request("GET", records + "/r", {}, owner()), 200), "data.b") == 2);
  }
}

TEST_CASE("every PATCH bumps last_modified even when nothing changes", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto t0 = int_at(must(server.request("PUT", records + "/r", R"({"data": {"a": 1}})", owner()), 201),
                   "data.last_modified");
  auto first = server.request("PATCH", records + "/r", R"({"data": {"a": 1}})", owner());
  auto second = server.request("PATCH", records + "/r", R"({"data": {"a": 1}})", owner());
  REQUIRE_THAT(first, is_json(200));
  REQUIRE_THAT(second, is_json(200));
  auto t1 = int_at(first.json(), "data.last_modified");
  auto t2 = int_at(second.json(), "data.last_modified");
  CHECK(t1 > t0);
  CHECK(t2 > t1);
  CHECK(second.header("ETag") == etag_of(t2));
}

TEST_CASE("DELETE of an object returns a tombstone without permissions", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  std::string target;
  SECTION("record") { target = records + "/r"; }
  SECTION("group") { target = "/v1/buckets/b/groups/g"; }
  SECTION("collection") { target = "/v1/buckets/b/collections/c2"; }
  SECTION("bucket") { target = "/v1/buckets/b2"; }
  INFO(target);
  auto created = must(server.request("PUT", target, R"({"data": {"title": "x"}})", owner()), 201);

  auto r = server.request("DELETE", target, {}, owner());
  REQUIRE_THAT(r, is_json(200));
  auto body = r.json();
  CHECK(keys_at(body) == std::vector<std::string>{"data"});
  CHECK(keys_at(body, "data") == std::vector<std::string>{"deleted", "id", "last_modified"});
  CHECK(at(body, "data.deleted") == value(true));
  CHECK(str_at(body, "data.id") == str_at(created, "data.id"));
  auto tombstone_ts = int_at(body, "data.last_modified");
  CHECK(tombstone_ts > int_at(created, "data.last_modified"));
  CHECK(r.header("ETag") == etag_of(tombstone_ts));
}

TEST_CASE("a deleted object is reported missing with errno 110", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  std::string target, id, resource_name, method = "GET";
  SECTION("record") {
    target = records + "/r";
    id = "r";
    resource_name = "record";
    SECTION("read") {}
    SECTION("patched") { method = "PATCH"; }
    SECTION("deleted again") { method = "DELETE"; }
  }
  SECTION("group") {
    target = "/v1/buckets/b/groups/g";
    id = "g";
    resource_name = "group";
  }
  SECTION("collection") {
    target = "/v1/buckets/b/collections/c2";
    id = "c2";
    resource_name = "collection";
  }
  INFO(method << " " << target);
  must(server.request("PUT", target, R"({"data": {"title": "x"}})", owner()), 201);
  must(server.request("DELETE", target, {}, owner()), 200);

  auto r = server.request(method, target, method == "PATCH" ? R"({"data": {"a": 1}})" : "", owner());
  CHECK_THAT(r, is_kinto_error(404, 110));
  auto body = r.json();
  CHECK(find_path(body, "message") == nullptr);
  value expected = value::object();
  expected.set("id", id);
  expected.set("resource_name", resource_name);
  CHECK(at(body, "details") == expected);
}

TEST_CASE("a deleted object can be re-created with If-None-Match: *", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  must(server.request("PUT", records + "/r", R"({"data": {"v": 1}})", owner()), 201);
  auto tombstone = must(server.request("DELETE", records + "/r", {}, owner()), 200);

  auto r = server.request("PUT", records + "/r", R"({"data": {"v": 2}})", with(owner(), {{"If-None-Match", "*"}}));
  REQUIRE_THAT(r, is_json(201));
  CHECK(int_at(r.json(), "data.v") == 2);
  CHECK(int_at(r.json(), "data.last_modified") > int_at(tombstone, "data.last_modified"));
}

TEST_CASE("deleting a bucket removes its children for good", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  must(server.request("PUT", "/v1/buckets/b/groups/g", R"({"data": {"members": []}})", owner()), 201);
  must(server.request("PUT", records + "/r", R"({"data": {"v": 1}})", owner()), 201);
  must(server.request("PUT", "/v1/buckets/b/collections/c2", {}, owner()), 201);
  must(server.request("DELETE", "/v1/buckets/b/collections/c2", {}, owner()), 200);

  must(server.request("DELETE", "/v1/buckets/b", {}, owner()), 200);
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);

  CHECK_THAT(server.request("GET", "/v1/buckets/b/collections/c", {}, owner()), is_kinto_error(404, 110));
  CHECK_THAT(server.request("GET", "/v1/buckets/b/groups/g", {}, owner()), is_kinto_error(404, 110));
  auto list = server.request("GET", records, {}, owner());
  CHECK_THAT(list, is_kinto_error(404, 111));
  CHECK(at(list.json(), "details") == parse_json(R"({"id": "c", "resource_name": "collection"})"));
  CHECK_THAT(server.request("GET", records + "/r", {}, owner()), is_kinto_error(404, 111));

  auto collections = server.request("GET", "/v1/buckets/b/collections?_since=0", {}, owner());
  REQUIRE_THAT(collections, is_json(200));
  CHECK(at(collections.json(), "data").as_array().empty());
  auto groups = server.request("GET", "/v1/buckets/b/groups?_since=0", {}, owner());
  REQUIRE_THAT(groups, is_json(200));
  CHECK(at(groups.json(), "data").as_array().empty());
}

TEST_CASE("a re-created collection starts a fresh records list", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto first = must(server.request("PUT", records + "/r", R"({"data": {"v": 1}})", owner()), 201);
  // A timestamp an hour ahead: a fresh list cannot get it from the clock, so
  // only a list timestamp kept across the deletion would show it again.
  auto ahead = int_at(first, "data.last_modified") + 3600000;
  must(server.request("PUT", records + "/later", R"({"data": {"last_modified": )" + std::to_string(ahead) + "}}",
                      owner()),
       201);
  auto before = server.request("GET", records, {}, owner());
  REQUIRE_THAT(before, is_json(200));
  REQUIRE(etag_value(before) == ahead);

  must(server.request("DELETE", "/v1/buckets/b/collections/c", {}, owner()), 200);
  must(server.request("PUT", "/v1/buckets/b/collections/c", {}, owner()), 201);

  auto after = server.request("GET", records, {}, owner());
  REQUIRE_THAT(after, is_json(200));
  CHECK(at(after.json(), "data").as_array().empty());
  CHECK(after.header("ETag") != before.header("ETag"));
  CHECK_THAT(server.request("GET", records + "/r", {}, owner()), is_kinto_error(404, 110));
}

TEST_CASE("a group cannot contain system.Everyone or another group", "[resources]") {
  kintod_process server;
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
  std::string member;
  SECTION("system.Everyone") { member = "system.Everyone"; }
  SECTION("a group URI") { member = "/buckets/b/groups/other"; }
  INFO(member);

  auto r = server.request("PUT", "/v1/buckets/b/groups/g", R"({"data": {"members": [")" + member + R"("]}})",
                          owner());
  CHECK_THAT(r, is_kinto_error(400, 107));
  auto body = r.json();
  CHECK(str_at(body, "details.0.location") == "body");
  CHECK(str_at(body, "details.0.name") == "data.members.0");
  CHECK(str_at(body, "details.0.description") == "'" + member + "' is not a valid user ID.");
  CHECK_THAT(server.request("GET", "/v1/buckets/b/groups/g", {}, owner()), is_kinto_error(404, 110));
}

TEST_CASE("a group may contain system.Authenticated and user ids", "[resources]") {
  kintod_process server;
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
  auto r = server.request("PUT", "/v1/buckets/b/groups/g",
                          R"({"data": {"members": ["system.Authenticated", "account:alice"]}})", owner());
  REQUIRE_THAT(r, is_json(201));
  CHECK(at(r.json(), "data.members") == parse_json(R"(["system.Authenticated", "account:alice"])"));
}

TEST_CASE("a group created with empty data has an empty members list", "[resources]") {
  kintod_process server;
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
  auto r = server.request("PUT", "/v1/buckets/b/groups/g", R"({"data": {}})", owner());
  REQUIRE_THAT(r, is_json(201));
  CHECK(at(r.json(), "data.members") == value::array());
  auto fetched = must(server.request("GET", "/v1/buckets/b/groups/g", {}, owner()), 200);
  CHECK(at(fetched, "data.members") == value::array());
}

TEST_CASE("a collection's cache_expires must be an integer", "[resources]") {
  kintod_process server;
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);

  auto bad = server.request("PUT", "/v1/buckets/b/collections/c", R"({"data": {"cache_expires": "soon"}})", owner());
  CHECK_THAT(bad, is_kinto_error(400, 107));
  CHECK(str_at(bad.json(), "details.0.location") == "body");
  CHECK_THAT(server.request("GET", "/v1/buckets/b/collections/c", {}, owner()), is_kinto_error(404, 110));

  auto good = server.request("PUT", "/v1/buckets/b/collections/c", R"({"data": {"cache_expires": 3600}})", owner());
  REQUIRE_THAT(good, is_json(201));
  CHECK(int_at(good.json(), "data.cache_expires") == 3600);
}

TEST_CASE("a collection's schema must be a valid JSON schema", "[resources]") {
  kintod_process server;
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);

  auto bad = server.request("PUT", "/v1/buckets/b/collections/c", R"({"data": {"schema": {"type": "Washmachine"}}})",
                            owner());
  CHECK_THAT(bad, is_kinto_error(400, 107));
  CHECK(str_at(bad.json(), "details.0.location") == "body");

  auto good = server.request("PUT", "/v1/buckets/b/collections/c",
                             R"({"data": {"schema": {"type": "object", "properties": {"t": {"type": "string"}}}}})",
                             owner());
  REQUIRE_THAT(good, is_json(201));
  CHECK(str_at(good.json(), "data.schema.type") == "object");
}

TEST_CASE("a permission name the resource does not have is rejected", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  std::string target, body;
  SECTION("record:create on a bucket") {
    target = "/v1/buckets/b2";
    body = R"({"permissions": {"record:create": ["x"]}})";
  }
  SECTION("record:create on a record") {
    target = records + "/r";
    body = R"({"permissions": {"record:create": ["x"]}})";
  }
  SECTION("collection:create on a collection") {
    target = "/v1/buckets/b/collections/c2";
    body = R"({"permissions": {"collection:create": ["x"]}})";
  }
  INFO(target << " " << body);

  auto r = server.request("PUT", target, body, owner());
  CHECK_THAT(r, is_kinto_error(400, 107));
  CHECK(str_at(r.json(), "details.0.location") == "body");
  CHECK(str_at(r.json(), "details.0.name").starts_with("permissions"));
}

TEST_CASE("each resource accepts its own permission names", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto bucket = server.request("PUT", "/v1/buckets/b2",
                               R"({"permissions": {"collection:create": ["x"], "group:create": ["y"]}})", owner());
  REQUIRE_THAT(bucket, is_json(201));
  CHECK(contains_string(bucket.json(), "permissions.collection:create", "x"));
  CHECK(contains_string(bucket.json(), "permissions.group:create", "y"));
  auto collection =
      server.request("PUT", "/v1/buckets/b/collections/c2", R"({"permissions": {"record:create": ["z"]}})", owner());
  REQUIRE_THAT(collection, is_json(201));
  CHECK(contains_string(collection.json(), "permissions.record:create", "z"));
}

TEST_CASE("the creator is listed in permissions.write of what it creates", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  std::string method = "PUT", target;
  SECTION("bucket") { target = "/v1/buckets/b2"; }
  SECTION("collection") { target = "/v1/buckets/b/collections/c2"; }
  SECTION("group") { target = "/v1/buckets/b/groups/g"; }
  SECTION("record by PUT") { target = records + "/r"; }
  SECTION("record by POST") {
    method = "POST";
    target = records;
  }
  INFO(method << " " << target);

  auto r = server.request(method, target, R"({"data": {}})", owner());
  REQUIRE_THAT(r, is_json(201));
  CHECK(at(r.json(), "permissions.write") == parse_json("[\"" + std::string(mat_id) + "\"]"));
  std::string id = str_at(r.json(), "data.id");
  std::string object = method == "POST" ? target + "/" + id : target;
  auto fetched = must(server.request("GET", object, {}, owner()), 200);
  CHECK(contains_string(fetched, "permissions.write", mat_id));
}

TEST_CASE("a writer stays in permissions.write even when the request sets another list", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  must(server.request("PUT", records + "/r", R"({"data": {}})", owner()), 201);
  std::string method, body;
  SECTION("PUT") {
    method = "PUT";
    body = R"({"data": {}, "permissions": {"write": ["account:other"]}})";
  }
  SECTION("PATCH") {
    method = "PATCH";
    body = R"({"permissions": {"write": ["account:other"]}})";
  }
  SECTION("PATCH with an empty list") {
    method = "PATCH";
    body = R"({"permissions": {"write": []}})";
  }
  INFO(method << " " << body);

  auto r = server.request(method, records + "/r", body, owner());
  REQUIRE_THAT(r, is_json(200));
  CHECK(contains_string(r.json(), "permissions.write", mat_id));
  if (body.find("account:other") != std::string::npos)
    CHECK(contains_string(r.json(), "permissions.write", "account:other"));
}

TEST_CASE("records of an unknown collection are reported as a missing collection", "[resources]") {
  kintod_process server;
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
  std::string method = "GET", target = "/v1/buckets/b/collections/unknown/records", body;
  SECTION("list") {}
  SECTION("create") {
    method = "POST";
    body = R"({"data": {"x": 1}})";
  }
  SECTION("read one") { target += "/r"; }
  SECTION("create one") {
    method = "PUT";
    target += "/r";
  }
  INFO(method << " " << target);

  auto r = server.request(method, target, body, owner());
  CHECK_THAT(r, is_kinto_error(404, 111));
  auto json = r.json();
  CHECK(find_path(json, "message") == nullptr);
  CHECK(at(json, "details") == parse_json(R"({"id": "unknown", "resource_name": "collection"})"));
}

TEST_CASE("an unknown top-level key in the body is rejected", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto r = server.request("PUT", records + "/r", R"({"data": {}, "datta": {}})", owner());
  CHECK_THAT(r, is_kinto_error(400, 107));
  std::string message = str_at(r.json(), "message");
  CHECK(message.find("Unrecognized keys in mapping") != std::string::npos);
  CHECK(message.find("datta") != std::string::npos);
  CHECK_THAT(server.request("GET", records + "/r", {}, owner()), is_kinto_error(404, 110));
}

TEST_CASE("the same id in different parents names different objects", "[resources]") {
  kintod_process server;
  create_collection(server, "b", "c");
  must(server.request("PUT", "/v1/buckets/b/collections/groups", {}, owner()), 201);
  must(server.request("PUT", "/v1/buckets/b/groups/groups", R"({"data": {"members": []}})", owner()), 201);
  must(server.request("PUT", records + "/r", R"({"data": {"in": "c"}})", owner()), 201);
  must(server.request("PUT", "/v1/buckets/b/collections/groups/records/r", R"({"data": {"in": "groups"}})", owner()),
       201);

  CHECK(str_at(must(server.request("GET", records + "/r", {}, owner()), 200), "data.in") == "c");
  CHECK(str_at(must(server.request("GET", "/v1/buckets/b/collections/groups/records/r", {}, owner()), 200),
               "data.in") == "groups");
  must(server.request("DELETE", "/v1/buckets/b/groups/groups", {}, owner()), 200);
  CHECK_THAT(server.request("GET", "/v1/buckets/b/collections/groups", {}, owner()), is_json(200));
}

TEST_CASE("a plural GET lists objects newest first without permissions", "[resources][plural]") {
  kintod_process server;
  create_collection(server, "b", "c");
  std::vector<std::string> created;
  std::int64_t newest = 0;
  for (int i = 0; i < 5; ++i) {
    auto r = must(server.request("PUT", records + "/r" + std::to_string(i), R"({"data": {"n": 1}})", owner()), 201);
    created.push_back(str_at(r, "data.id"));
    newest = int_at(r, "data.last_modified");
  }
  auto r = server.request("GET", records, {}, owner());
  REQUIRE_THAT(r, is_json(200));
  auto body = r.json();
  CHECK(keys_at(body) == std::vector<std::string>{"data"});
  std::reverse(created.begin(), created.end());
  CHECK(ids_of(body) == created);
  std::int64_t previous = INT64_MAX;
  for (const auto& obj : at(body, "data").as_array()) {
    CHECK(int_at(obj, "last_modified") < previous);
    previous = int_at(obj, "last_modified");
    CHECK(find_path(obj, "permissions") == nullptr);
  }
  CHECK(etag_value(r) == newest);
  CHECK_FALSE(r.has_header("Next-Page"));
}

TEST_CASE("_limit pages through a list with absolute Next-Page URLs, each object once", "[resources][plural]") {
  kintod_process server;
  create_collection(server, "b", "c");
  int count = 0;
  std::vector<std::size_t> expected_pages;
  SECTION("a partial last page") {
    count = 7;
    expected_pages = {3, 3, 1};
  }
  SECTION("an exact multiple of the page size") {
    count = 6;
    expected_pages = {3, 3};
  }
  INFO(count << " records");
  std::set<std::string> created;
  for (int i = 0; i < count; ++i)
    created.insert(str_at(must(server.request("POST", records, R"({"data": {"i": )" + std::to_string(i) + "}}",
                                              owner()),
                               201),
                          "data.id"));

  std::vector<std::string> seen;
  std::vector<std::size_t> pages;
  std::string target = records + "?_limit=3";
  std::string first_etag;
  for (int guard = 0; guard < 10; ++guard) {
    auto r = server.request("GET", target, {}, owner());
    REQUIRE_THAT(r, is_json(200));
    if (first_etag.empty()) first_etag = r.header("ETag");
    CHECK(r.header("ETag") == first_etag);
    auto ids = ids_of(r.json());
    pages.push_back(ids.size());
    seen.insert(seen.end(), ids.begin(), ids.end());
    if (!r.has_header("Next-Page")) break;
    std::string next = r.header("Next-Page");
    CHECK(next.find("_limit=3") != std::string::npos);
    CHECK(next.find("_token=") != std::string::npos);
    target = target_of(server, next);
  }
  CHECK(pages == expected_pages);
  CHECK(seen.size() == created.size());
  CHECK(std::set<std::string>(seen.begin(), seen.end()) == created);
}

TEST_CASE("the paginate_by setting caps every page", "[resources][plural]") {
  kintod_process server({.settings = {{"kinto.paginate_by", "2"}}});
  create_collection(server, "b", "c");
  for (int i = 0; i < 5; ++i) must(server.request("POST", records, R"({"data": {}})", owner()), 201);
  std::string query;
  std::size_t expected = 0;
  SECTION("no _limit") {
    query = "";
    expected = 2;
  }
  SECTION("a larger _limit") {
    query = "?_limit=10";
    expected = 2;
  }
  SECTION("a smaller _limit") {
    query = "?_limit=1";
    expected = 1;
  }
  INFO("query: " << query);
  auto r = server.request("GET", records + query, {}, owner());
  REQUIRE_THAT(r, is_json(200));
  CHECK(at(r.json(), "data").as_array().size() == expected);
  CHECK(r.header("Next-Page").starts_with(server.url("/v1/buckets/b/collections/c/records?")));
}
