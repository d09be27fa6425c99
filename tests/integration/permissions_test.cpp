// Integration tests of authorization (auth-permissions.md): user ids and
// principals, the inheritance table, settings-granted permissions, 401/403/404,
// lists restricted to shared objects, /permissions and user data deletion.
#include "harness.hpp"

#include <algorithm>
#include <set>

using namespace kintod_test;
using kinto::json::value;

namespace {

using acl = std::map<std::string, std::set<std::string>>;

const std::string bucket = "/v1/buckets/b";
const std::string group = "/v1/buckets/b/groups/g";
const std::string collection = "/v1/buckets/b/collections/c";
const std::string record = "/v1/buckets/b/collections/c/records/r";
const std::string groups = "/v1/buckets/b/groups";
const std::string collections = "/v1/buckets/b/collections";
const std::string records = "/v1/buckets/b/collections/c/records";

// alice:secret and admin:secret have known ids (harness.hpp); bob's is asked of the server.
const header_list alice = auth("alice", "secret");
const header_list admin = auth("admin", "secret");
const header_list bob = auth("bob", "secret");
const header_list anonymous = {};

const value no_permissions = value::object();

std::string user_id(kintod_process& server, const header_list& as) {
  auto hello = must(server.request("GET", "/v1/", {}, as), 200);
  const auto* id = find_path(hello, "user.id");
  return id ? id->as_string() : std::string();
}

value user_principals(kintod_process& server, const header_list& as) {
  return at(must(server.request("GET", "/v1/", {}, as), 200), "user.principals");
}

// The owner's bucket b holding group g (no members), collection c and record r.
void seed_tree(kintod_process& server) {
  must(server.request("PUT", bucket, {}, owner()), 201);
  must(server.request("PUT", group, R"({"data": {"members": []}})", owner()), 201);
  must(server.request("PUT", collection, {}, owner()), 201);
  must(server.request("PUT", record, R"({"data": {"n": 1}})", owner()), 201);
}

std::string permissions_body(const acl& permissions) {
  value perms = value::object();
  for (const auto& [name, principals] : permissions) {
    kinto::json::array_t list;
    for (const auto& p : principals) list.emplace_back(p);
    perms.set(name, value(std::move(list)));
  }
  value body = value::object();
  body.set("permissions", std::move(perms));
  return kinto::json::serialize(body);
}

// Adds `principal` to the ACE `perm` of the owner's object at `path`.
void grant(kintod_process& server, const std::string& path, const std::string& perm, std::string_view principal) {
  auto current = must(server.request("GET", path, {}, owner()), 200);
  std::set<std::string> principals{std::string(principal)};
  if (const auto* existing = at(current, "permissions").find(perm)) {
    for (const auto& p : existing->as_array()) principals.insert(p.as_string());
  }
  must(server.request("PATCH", path, permissions_body({{perm, principals}}), owner()), 200);
}

acl acl_of(const value& body) {
  acl out;
  for (const auto& m : at(body, "permissions").as_object()) {
    auto& principals = out[m.key];
    for (const auto& p : m.val.as_array()) principals.insert(p.as_string());
  }
  return out;
}

std::vector<std::string> listed_ids(const http_response& r) {
  std::vector<std::string> ids;
  const value body = r.json();
  for (const auto& obj : at(body, "data").as_array()) ids.push_back(str_at(obj, "id"));
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

bool holds(const value& principal_list, std::string_view principal) {
  const auto& items = principal_list.as_array();
  return std::any_of(items.begin(), items.end(), [&](const value& v) { return v.as_string() == principal; });
}

std::string target_of(const kintod_process& server, const std::string& next_page) {
  std::string prefix = server.url("");
  REQUIRE(next_page.starts_with(prefix + "/v1/"));
  return next_page.substr(prefix.size());
}

// Every object of the list at `target`, following Next-Page links; each page must be 200.
std::vector<value> all_pages(kintod_process& server, std::string target, const header_list& as) {
  std::vector<value> out;
  for (int page = 0; page < 50; ++page) {
    auto r = server.request("GET", target, {}, as);
    REQUIRE_THAT(r, is_json(200));
    const value body = r.json();
    for (const auto& obj : at(body, "data").as_array()) out.push_back(obj);
    if (!r.has_header("Next-Page")) return out;
    target = target_of(server, r.header("Next-Page"));
  }
  FAIL("Next-Page links did not end after 50 pages");
  return out;
}

} // namespace

// ---- authentication and principals (§1, §2) -----------------------------------

TEST_CASE("basicauth user ids are the HMAC-SHA256 of user:password under an empty secret", "[permissions]") {
  auto [user, expected] = GENERATE(table<std::string, std::string>(
      {{"mat", std::string(mat_id)}, {"alice", std::string(alice_basic_id)}, {"admin", std::string(admin_basic_id)}}));
  kintod_process server(
      {.settings = {{"multiauth.policies", "basicauth"}}, .omit = {"kinto.includes", "multiauth.policy.account.use"}});
  INFO(user << ":secret");
  auto hello = must(server.request("GET", "/v1/", {}, auth(user, "secret")), 200);
  CHECK(str_at(hello, "user.id") == expected);
  CHECK(find_path(hello, "capabilities.basicauth") != nullptr);
  CHECK(user_id(server, auth(user, "other")) != expected);
}

TEST_CASE("the hello view never asks for credentials and has no user for anonymous callers", "[permissions]") {
  const std::string authorization =
      GENERATE(as<std::string>{}, "", "Basic !!!not-base64", "Bearer opaque-token", "Basic bm9jb2xvbg==");
  kintod_process server;
  INFO("Authorization: " << authorization);
  header_list headers;
  if (!authorization.empty()) headers.emplace_back("Authorization", authorization);
  auto r = server.request("GET", "/v1/", {}, headers);
  REQUIRE_THAT(r, is_json(200));
  CHECK(find_path(r.json(), "user") == nullptr);
  CHECK_THAT(server.request("GET", "/v1/buckets", {}, headers), is_denied(401));
}

TEST_CASE("basic credentials with an empty username are anonymous", "[permissions]") {
  const std::string password = GENERATE(as<std::string>{}, "secret", "");
  kintod_process server;
  INFO("password '" << password << "'");
  auto r = server.request("GET", "/v1/", {}, auth("", password));
  REQUIRE_THAT(r, is_json(200));
  CHECK(find_path(r.json(), "user") == nullptr);
  CHECK_THAT(server.request("GET", "/v1/buckets", {}, auth("", password)), is_denied(401));
  CHECK_THAT(server.request("PUT", "/v1/buckets/x", {}, auth("", password)), is_denied(401));
}

TEST_CASE("an authenticated user's principals are their id, Everyone, Authenticated and their groups",
          "[permissions]") {
  kintod_process server;
  auto before = user_principals(server, alice);
  CHECK(before.as_array().size() == 3);
  CHECK(str_at(before, "0") == alice_basic_id);
  CHECK(holds(before, "system.Everyone"));
  CHECK(holds(before, "system.Authenticated"));

  must(server.request("PUT", bucket, {}, owner()), 201);
  must(server.request("PUT", group, R"({"data": {"members": [")" + std::string(alice_basic_id) + R"("]}})", owner()),
       201);
  auto after = user_principals(server, alice);
  CHECK(str_at(after, "0") == alice_basic_id);
  CHECK(holds(after, "/buckets/b/groups/g"));
  CHECK(after.as_array().size() == 4);
  CHECK_FALSE(holds(user_principals(server, bob), "/buckets/b/groups/g"));
}

// ---- lists of buckets (§6, settings) --------------------------------------------

TEST_CASE("anonymous callers may list buckets only when a bucket grants system.Everyone", "[permissions]") {
  kintod_process server;
  CHECK_THAT(server.request("GET", "/v1/buckets"), is_denied(401));
  must(server.request("PUT", "/v1/buckets/private", {}, owner()), 201);
  CHECK_THAT(server.request("GET", "/v1/buckets"), is_denied(401));
  CHECK_THAT(server.request("HEAD", "/v1/buckets"), is_denied(401, true));

  must(server.request("PUT", "/v1/buckets/public", R"({"permissions": {"read": ["system.Everyone"]}})", owner()), 201);
  auto r = server.request("GET", "/v1/buckets");
  REQUIRE_THAT(r, is_json(200));
  CHECK(listed_ids(r) == std::vector<std::string>{"public"});
  auto head = server.request("HEAD", "/v1/buckets");
  CHECK(head.status == 200);
  CHECK(head.header("Total-Objects") == "1");
}

TEST_CASE("an authenticated user without buckets lists an empty bucket list", "[permissions]") {
  kintod_process server;
  auto empty = server.request("GET", "/v1/buckets", {}, alice);
  REQUIRE_THAT(empty, is_json(200));
  CHECK(empty.json() == parse_json(R"({"data": []})"));

  must(server.request("PUT", "/v1/buckets/b1", {}, owner()), 201);
  must(server.request("PUT", "/v1/buckets/b2", {}, owner()), 201);
  auto r = server.request("GET", "/v1/buckets", {}, alice);
  REQUIRE_THAT(r, is_json(200));
  CHECK(r.json() == parse_json(R"({"data": []})"));
  auto head = server.request("HEAD", "/v1/buckets", {}, alice);
  CHECK(head.status == 200);
  CHECK(head.header("Total-Objects") == "0");
}

TEST_CASE("only bucket_create_principals may create buckets, and others list buckets only if shared", "[permissions]") {
  kintod_process server({.settings = {{"kinto.bucket_create_principals", std::string(admin_basic_id)}}});
  CHECK_THAT(server.request("GET", "/v1/buckets", {}, alice), is_denied(403));
  CHECK_THAT(server.request("HEAD", "/v1/buckets", {}, alice), is_denied(403, true));
  CHECK_THAT(server.request("PUT", "/v1/buckets/x", {}, alice), is_denied(403));
  CHECK_THAT(server.request("POST", "/v1/buckets", R"({"data": {"id": "x"}})", alice), is_denied(403));
  CHECK_THAT(server.request("GET", "/v1/buckets"), is_denied(401));

  auto created = server.request("PUT", "/v1/buckets/x", {}, admin);
  REQUIRE_THAT(created, is_json(201));
  CHECK(acl_of(created.json()) == acl{{"write", {std::string(admin_basic_id)}}});
  auto listed = server.request("GET", "/v1/buckets", {}, admin);
  REQUIRE_THAT(listed, is_json(200));
  CHECK(listed_ids(listed) == std::vector<std::string>{"x"});

  must(server.request("PATCH", "/v1/buckets/x", permissions_body({{"read", {std::string(alice_basic_id)}}}), admin),
       200);
  auto shared = server.request("GET", "/v1/buckets", {}, alice);
  REQUIRE_THAT(shared, is_json(200));
  CHECK(listed_ids(shared) == std::vector<std::string>{"x"});
  CHECK_THAT(server.request("GET", "/v1/buckets", {}, bob), is_denied(403));
}

TEST_CASE("bucket_read_principals and bucket_write_principals grant every bucket", "[permissions]") {
  kintod_process server({.settings = {{"kinto.bucket_read_principals", std::string(alice_basic_id)},
                                      {"kinto.bucket_write_principals", std::string(admin_basic_id)}}});
  must(server.request("PUT", "/v1/buckets/b1", {}, owner()), 201);
  must(server.request("PUT", "/v1/buckets/b2", {}, owner()), 201);

  SECTION("the read setting lists and reads every bucket but writes none") {
    auto listed = server.request("GET", "/v1/buckets", {}, alice);
    REQUIRE_THAT(listed, is_json(200));
    CHECK(listed_ids(listed) == std::vector<std::string>{"b1", "b2"});
    CHECK(server.request("HEAD", "/v1/buckets", {}, alice).header("Total-Objects") == "2");
    auto read = server.request("GET", "/v1/buckets/b1", {}, alice);
    REQUIRE_THAT(read, is_json(200));
    CHECK(at(read.json(), "permissions") == no_permissions);
    auto missing = server.request("GET", "/v1/buckets/nope", {}, alice);
    CHECK_THAT(missing, is_kinto_error(404, 110));
    CHECK(at(missing.json(), "details") == parse_json(R"({"id": "nope", "resource_name": "bucket"})"));
    CHECK_THAT(server.request("DELETE", "/v1/buckets/nope", {}, alice), is_kinto_error(404, 110));
    CHECK_THAT(server.request("PATCH", "/v1/buckets/b1", R"({"data": {"x": 1}})", alice), is_denied(403));
    CHECK_THAT(server.request("DELETE", "/v1/buckets/b1", {}, alice), is_denied(403));
  }
  SECTION("the write setting modifies and deletes every bucket") {
    auto read = server.request("GET", "/v1/buckets/b1", {}, admin);
    REQUIRE_THAT(read, is_json(200));
    CHECK(at(read.json(), "permissions") == no_permissions);
    CHECK_THAT(server.request("PATCH", "/v1/buckets/b1", R"({"data": {"x": 1}})", admin), is_json(200));
    // A missing bucket is 404 only to those who may list all buckets (§5.2).
    CHECK_THAT(server.request("DELETE", "/v1/buckets/nope", {}, admin), is_denied(403));
    auto deleted = server.request("DELETE", "/v1/buckets", {}, admin);
    REQUIRE_THAT(deleted, is_json(200));
    CHECK(listed_ids(deleted) == std::vector<std::string>{"b1", "b2"});
  }
  SECTION("others see none of them") {
    auto listed = server.request("GET", "/v1/buckets", {}, bob);
    REQUIRE_THAT(listed, is_json(200));
    CHECK(listed_ids(listed).empty());
    CHECK_THAT(server.request("GET", "/v1/buckets/b1", {}, bob), is_denied(403));
    CHECK_THAT(server.request("GET", "/v1/buckets/nope", {}, bob), is_denied(403));
  }
}

TEST_CASE("the bucket list holds exactly the buckets shared with the caller", "[permissions]") {
  kintod_process server;
  for (std::string b : {"b1", "b2", "b3", "b4", "b5", "b6"})
    must(server.request("PUT", "/v1/buckets/" + b, {}, owner()), 201);
  grant(server, "/v1/buckets/b1", "read", alice_basic_id);
  grant(server, "/v1/buckets/b2", "write", alice_basic_id);
  grant(server, "/v1/buckets/b3", "collection:create", alice_basic_id);
  grant(server, "/v1/buckets/b4", "group:create", alice_basic_id);
  must(server.request("PUT", "/v1/buckets/b5/collections/c", {}, owner()), 201);
  grant(server, "/v1/buckets/b5/collections/c", "read", alice_basic_id);
  const std::vector<std::string> shared{"b1", "b2", "b3", "b4"};

  auto listed = server.request("GET", "/v1/buckets", {}, alice);
  REQUIRE_THAT(listed, is_json(200));
  CHECK(listed_ids(listed) == shared);
  CHECK(server.request("HEAD", "/v1/buckets", {}, alice).header("Total-Objects") == "4");
  CHECK(server.request("HEAD", "/v1/buckets?in_id=b1,b2,b5,b6", {}, alice).header("Total-Objects") == "2");

  auto first = server.request("GET", "/v1/buckets?_limit=3", {}, alice);
  REQUIRE_THAT(first, is_json(200));
  CHECK(at(first.json(), "data").as_array().size() == 3);
  CHECK(first.has_header("Next-Page"));
  std::vector<std::string> paged;
  for (const auto& obj : all_pages(server, "/v1/buckets?_limit=3", alice)) paged.push_back(str_at(obj, "id"));
  CHECK(sorted(paged) == shared);

  auto deleted = server.request("DELETE", "/v1/buckets", {}, alice);
  REQUIRE_THAT(deleted, is_json(200));
  CHECK(listed_ids(deleted) == std::vector<std::string>{"b2"});
  auto left = server.request("GET", "/v1/buckets", {}, owner());
  CHECK(listed_ids(left) == std::vector<std::string>{"b1", "b3", "b4", "b5", "b6"});
}

// ---- inheritance (§4.1) ----------------------------------------------------------

TEST_CASE("a bucket reader reads everything in the bucket and writes nothing", "[permissions]") {
  kintod_process server;
  seed_tree(server);
  grant(server, bucket, "read", alice_basic_id);
  std::map<std::string, value> before;
  for (const auto& path : {bucket, group, collection, record})
    before[path] = must(server.request("GET", path, {}, owner()), 200);

  for (const auto& path : {bucket, group, collection, record}) {
    INFO("GET " << path);
    auto r = server.request("GET", path, {}, alice);
    REQUIRE_THAT(r, is_json(200));
    CHECK(at(r.json(), "data") == at(before[path], "data"));
    CHECK(at(r.json(), "permissions") == no_permissions);
    CHECK(server.request("HEAD", path, {}, alice).status == 200);
  }
  const std::vector<std::pair<std::string, std::string>> lists{{groups, "g"}, {collections, "c"}, {records, "r"}};
  for (const auto& [plural, id] : lists) {
    INFO("GET " << plural);
    auto r = server.request("GET", plural, {}, alice);
    REQUIRE_THAT(r, is_json(200));
    CHECK(listed_ids(r) == std::vector<std::string>{id});
  }

  const std::vector<std::tuple<std::string, std::string, std::string>> writes{
      {"PUT", bucket, ""},
      {"PATCH", bucket, R"({"data": {"x": 1}})"},
      {"DELETE", bucket, ""},
      {"PUT", group, R"({"data": {"members": []}})"},
      {"PATCH", group, R"({"data": {"x": 1}})"},
      {"DELETE", group, ""},
      {"POST", groups, R"({"data": {"id": "g2"}})"},
      {"PUT", groups + "/g2", ""},
      {"DELETE", groups, ""},
      {"PUT", collection, ""},
      {"PATCH", collection, R"({"data": {"x": 1}})"},
      {"DELETE", collection, ""},
      {"POST", collections, R"({"data": {"id": "c2"}})"},
      {"PUT", collections + "/c2", ""},
      {"DELETE", collections, ""},
      {"PUT", record, R"({"data": {"n": 2}})"},
      {"PATCH", record, R"({"data": {"n": 2}})"},
      {"DELETE", record, ""},
      {"POST", records, R"({"data": {"n": 2}})"},
      {"PUT", records + "/r2", ""},
      {"DELETE", records, ""},
  };
  for (const auto& [method, path, body] : writes) {
    INFO(method << " " << path << " " << body);
    CHECK_THAT(server.request(method, path, body, alice), is_denied(403));
  }
  for (const auto& path : {bucket, group, collection, record}) {
    INFO("owner's GET " << path << " after the refused writes");
    CHECK(must(server.request("GET", path, {}, owner()), 200) == before[path]);
  }
  CHECK(listed_ids(server.request("GET", groups, {}, owner())) == std::vector<std::string>{"g"});
  CHECK(listed_ids(server.request("GET", collections, {}, owner())) == std::vector<std::string>{"c"});
  CHECK(listed_ids(server.request("GET", records, {}, owner())) == std::vector<std::string>{"r"});
}

TEST_CASE("a bucket writer creates, modifies and deletes anything in the bucket", "[permissions]") {
  kintod_process server;
  seed_tree(server);
  grant(server, bucket, "write", alice_basic_id);
  const std::string alice_id(alice_basic_id), mat(mat_id);

  auto inherited = server.request("GET", collection, {}, alice);
  REQUIRE_THAT(inherited, is_json(200));
  CHECK(at(inherited.json(), "permissions") == no_permissions);

  auto patched = server.request("PATCH", collection, R"({"data": {"title": "t"}})", alice);
  REQUIRE_THAT(patched, is_json(200));
  CHECK(acl_of(patched.json()) == acl{{"write", {mat, alice_id}}});

  auto new_group = server.request("PUT", groups + "/g2", R"({"data": {"members": []}})", alice);
  REQUIRE_THAT(new_group, is_json(201));
  CHECK(acl_of(new_group.json()) == acl{{"write", {alice_id}}});
  CHECK_THAT(server.request("PATCH", group, R"({"data": {"members": ["x"]}})", alice), is_json(200));
  CHECK_THAT(server.request("PUT", collections + "/c2", {}, alice), is_json(201));
  CHECK_THAT(server.request("POST", records, R"({"data": {"n": 2}})", alice), is_json(201));
  CHECK_THAT(server.request("PATCH", record, R"({"data": {"n": 3}})", alice), is_json(200));
  CHECK_THAT(server.request("PATCH", bucket, R"({"data": {"title": "t"}})", alice), is_json(200));

  CHECK_THAT(server.request("DELETE", record, {}, alice), is_json(200));
  auto rest = server.request("DELETE", records, {}, alice);
  REQUIRE_THAT(rest, is_json(200));
  CHECK(at(rest.json(), "data").as_array().size() == 1);
  CHECK_THAT(server.request("DELETE", group, {}, alice), is_json(200));
  CHECK_THAT(server.request("DELETE", collections + "/c2", {}, alice), is_json(200));
  CHECK_THAT(server.request("DELETE", collections, {}, alice), is_json(200));
  CHECK_THAT(server.request("DELETE", bucket, {}, alice), is_json(200));
  CHECK_THAT(server.request("GET", bucket, {}, owner()), is_denied(403));
}

TEST_CASE("a collection writer owns the collection's records but nothing else in the bucket", "[permissions]") {
  kintod_process server;
  seed_tree(server);
  must(server.request("PUT", "/v1/buckets/b/collections/other", {}, owner()), 201);
  must(server.request("PUT", "/v1/buckets/b/collections/other/records/o", {}, owner()), 201);
  grant(server, collection, "write", alice_basic_id);

  CHECK_THAT(server.request("GET", collection, {}, alice), is_json(200));
  CHECK_THAT(server.request("PATCH", collection, R"({"data": {"x": 1}})", alice), is_json(200));
  CHECK_THAT(server.request("GET", bucket, {}, alice), is_denied(403));
  CHECK_THAT(server.request("GET", group, {}, alice), is_denied(403));
  CHECK_THAT(server.request("GET", "/v1/buckets/b/collections/other", {}, alice), is_denied(403));
  CHECK_THAT(server.request("GET", "/v1/buckets/b/collections/other/records", {}, alice), is_denied(403));
  CHECK_THAT(server.request("PUT", collections + "/c3", {}, alice), is_denied(403));

  auto listed = server.request("GET", collections, {}, alice);
  REQUIRE_THAT(listed, is_json(200));
  CHECK(listed_ids(listed) == std::vector<std::string>{"c"});

  CHECK_THAT(server.request("GET", record, {}, alice), is_json(200));
  CHECK_THAT(server.request("PATCH", record, R"({"data": {"n": 5}})", alice), is_json(200));
  CHECK_THAT(server.request("POST", records, R"({"data": {"id": "mine"}})", alice), is_json(201));
  auto all = server.request("GET", records, {}, alice);
  CHECK(listed_ids(all) == std::vector<std::string>{"mine", "r"});
  auto deleted = server.request("DELETE", records, {}, alice);
  REQUIRE_THAT(deleted, is_json(200));
  CHECK(listed_ids(deleted) == std::vector<std::string>{"mine", "r"});
  CHECK_THAT(server.request("GET", "/v1/buckets/b/collections/other/records/o", {}, owner()), is_json(200));
}

TEST_CASE("collection:create lets one read the bucket and create collections but not read its children",
          "[permissions]") {
  kintod_process server;
  seed_tree(server);
  grant(server, bucket, "collection:create", alice_basic_id);

  auto attributes = server.request("GET", bucket, {}, alice);
  REQUIRE_THAT(attributes, is_json(200));
  CHECK(at(attributes.json(), "permissions") == no_permissions);
  auto none_yet = server.request("GET", collections, {}, alice);
  REQUIRE_THAT(none_yet, is_json(200));
  CHECK(listed_ids(none_yet).empty());

  auto created = server.request("PUT", collections + "/mine", {}, alice);
  REQUIRE_THAT(created, is_json(201));
  CHECK(acl_of(created.json()) == acl{{"write", {std::string(alice_basic_id)}}});
  auto listed = server.request("GET", collections, {}, alice);
  REQUIRE_THAT(listed, is_json(200));
  CHECK(listed_ids(listed) == std::vector<std::string>{"mine"});
  CHECK(server.request("HEAD", collections, {}, alice).header("Total-Objects") == "1");

  CHECK_THAT(server.request("GET", collection, {}, alice), is_denied(403));
  CHECK_THAT(server.request("GET", records, {}, alice), is_denied(403));
  CHECK_THAT(server.request("GET", groups, {}, alice), is_denied(403));
  CHECK_THAT(server.request("GET", group, {}, alice), is_denied(403));
  CHECK_THAT(server.request("PUT", groups + "/g2", {}, alice), is_denied(403));
  CHECK_THAT(server.request("PATCH", bucket, R"({"data": {"x": 1}})", alice), is_denied(403));
}

TEST_CASE("record:create lets one read the collection and create records but not list others' records",
          "[permissions]") {
  kintod_process server;
  seed_tree(server);
  grant(server, collection, "record:create", alice_basic_id);

  auto attributes = server.request("GET", collection, {}, alice);
  REQUIRE_THAT(attributes, is_json(200));
  CHECK(at(attributes.json(), "permissions") == no_permissions);
  auto none_yet = server.request("GET", records, {}, alice);
  REQUIRE_THAT(none_yet, is_json(200));
  CHECK(none_yet.json() == parse_json(R"({"data": []})"));
  CHECK(server.request("HEAD", records, {}, alice).header("Total-Objects") == "0");

  auto created = server.request("POST", records, R"({"data": {"id": "mine", "n": 2}})", alice);
  REQUIRE_THAT(created, is_json(201));
  CHECK(acl_of(created.json()) == acl{{"write", {std::string(alice_basic_id)}}});
  auto listed = server.request("GET", records, {}, alice);
  REQUIRE_THAT(listed, is_json(200));
  CHECK(listed_ids(listed) == std::vector<std::string>{"mine"});
  CHECK(server.request("HEAD", records, {}, alice).header("Total-Objects") == "1");

  CHECK_THAT(server.request("GET", record, {}, alice), is_denied(403));
  CHECK_THAT(server.request("PATCH", record, R"({"data": {"n": 9}})", alice), is_denied(403));
  CHECK_THAT(server.request("DELETE", record, {}, alice), is_denied(403));
  CHECK_THAT(server.request("GET", bucket, {}, alice), is_denied(403));
  CHECK_THAT(server.request("PATCH", collection, R"({"data": {"x": 1}})", alice), is_denied(403));

  auto deleted = server.request("DELETE", records, {}, alice);
  REQUIRE_THAT(deleted, is_json(200));
  CHECK(listed_ids(deleted) == std::vector<std::string>{"mine"});
  CHECK(listed_ids(server.request("GET", records, {}, owner())) == std::vector<std::string>{"r"});
}

TEST_CASE("group:create lets one create groups but not read existing ones", "[permissions]") {
  kintod_process server;
  seed_tree(server);
  grant(server, bucket, "group:create", alice_basic_id);

  CHECK_THAT(server.request("GET", bucket, {}, alice), is_json(200));
  auto none_yet = server.request("GET", groups, {}, alice);
  REQUIRE_THAT(none_yet, is_json(200));
  CHECK(listed_ids(none_yet).empty());
  CHECK_THAT(server.request("GET", group, {}, alice), is_denied(403));
  CHECK_THAT(server.request("PUT", group, R"({"data": {"members": []}})", alice), is_denied(403));
  CHECK_THAT(server.request("GET", collections, {}, alice), is_denied(403));

  CHECK_THAT(server.request("PUT", groups + "/mine", R"({"data": {"members": []}})", alice), is_json(201));
  auto listed = server.request("GET", groups, {}, alice);
  REQUIRE_THAT(listed, is_json(200));
  CHECK(listed_ids(listed) == std::vector<std::string>{"mine"});
}

TEST_CASE("a reader of one record lists exactly that record", "[permissions]") {
  kintod_process server;
  seed_tree(server);
  for (std::string id : {"r2", "r3"}) must(server.request("PUT", records + "/" + id, {}, owner()), 201);
  grant(server, records + "/r2", "read", alice_basic_id);

  auto listed = server.request("GET", records, {}, alice);
  REQUIRE_THAT(listed, is_json(200));
  CHECK(listed_ids(listed) == std::vector<std::string>{"r2"});
  auto head = server.request("HEAD", records, {}, alice);
  CHECK(head.status == 200);
  CHECK(head.header("Total-Objects") == "1");
  CHECK(head.body.empty());
  CHECK_THAT(server.request("GET", records + "/r2", {}, alice), is_json(200));
  CHECK_THAT(server.request("GET", records + "/r3", {}, alice), is_denied(403));
  CHECK_THAT(server.request("GET", collection, {}, alice), is_denied(403));
  CHECK_THAT(server.request("DELETE", records + "/r2", {}, alice), is_denied(403));
}

TEST_CASE("deleting a records list deletes only the records the caller may write", "[permissions]") {
  kintod_process server;
  seed_tree(server);
  for (std::string id : {"r2", "r3"}) must(server.request("PUT", records + "/" + id, {}, owner()), 201);
  grant(server, records + "/r2", "write", alice_basic_id);
  grant(server, records + "/r3", "read", alice_basic_id);

  auto deleted = server.request("DELETE", records, {}, alice);
  REQUIRE_THAT(deleted, is_json(200));
  REQUIRE(at(deleted.json(), "data").as_array().size() == 1);
  CHECK(str_at(deleted.json(), "data.0.id") == "r2");
  CHECK(at(deleted.json(), "data.0.deleted") == value(true));
  CHECK(listed_ids(server.request("GET", records, {}, owner())) == std::vector<std::string>{"r", "r3"});
  CHECK(listed_ids(server.request("GET", records, {}, alice)) == std::vector<std::string>{"r3"});
}

TEST_CASE("shared lists are filtered, counted, paginated and deleted within what is shared", "[permissions]") {
  kintod_process server;
  seed_tree(server);
  for (int n = 1; n <= 6; ++n) {
    must(server.request("PUT", records + "/s" + std::to_string(n), R"({"data": {"n": )" + std::to_string(n) + "}}",
                        owner()),
         201);
  }
  for (std::string id : {"s1", "s2", "s3"}) grant(server, records + "/" + id, "read", alice_basic_id);
  grant(server, records + "/s4", "write", alice_basic_id);
  const std::vector<std::string> visible{"s1", "s2", "s3", "s4"};

  CHECK(listed_ids(server.request("GET", records, {}, alice)) == visible);
  CHECK(server.request("HEAD", records, {}, alice).header("Total-Objects") == "4");
  CHECK(server.request("HEAD", records + "?min_n=3", {}, alice).header("Total-Objects") == "2");
  CHECK(listed_ids(server.request("GET", records + "?min_n=3", {}, alice)) == std::vector<std::string>{"s3", "s4"});

  auto first = server.request("GET", records + "?_limit=3&_sort=n", {}, alice);
  REQUIRE_THAT(first, is_json(200));
  CHECK(listed_ids(first) == std::vector<std::string>{"s1", "s2", "s3"});
  REQUIRE(first.has_header("Next-Page"));
  auto second = server.request("GET", target_of(server, first.header("Next-Page")), {}, alice);
  REQUIRE_THAT(second, is_json(200));
  CHECK(listed_ids(second) == std::vector<std::string>{"s4"});
  CHECK_FALSE(second.has_header("Next-Page"));

  auto exact = server.request("GET", records + "?_limit=4", {}, alice);
  CHECK(listed_ids(exact) == visible);
  CHECK_FALSE(exact.has_header("Next-Page"));

  auto deleted = server.request("DELETE", records + "?max_n=4", {}, alice);
  REQUIRE_THAT(deleted, is_json(200));
  CHECK(listed_ids(deleted) == std::vector<std::string>{"s4"});
  CHECK(listed_ids(server.request("GET", records, {}, owner())) ==
        std::vector<std::string>{"r", "s1", "s2", "s3", "s5", "s6"});
}

// ---- principals of groups ------------------------------------------------------------

TEST_CASE("a group member holds the group's permissions from the next request until removed", "[permissions]") {
  kintod_process server;
  seed_tree(server);
  must(server.request("PATCH", record, R"({"permissions": {"read": ["/buckets/b/groups/g"]}})", owner()), 200);
  CHECK_THAT(server.request("GET", record, {}, alice), is_denied(403));

  const std::string add_alice = R"({"data": {"members": [")" + std::string(alice_basic_id) + R"("]}})";
  must(server.request("PATCH", group, add_alice, owner()), 200);
  CHECK_THAT(server.request("GET", record, {}, alice), is_json(200));
  CHECK(listed_ids(server.request("GET", records, {}, alice)) == std::vector<std::string>{"r"});
  CHECK_THAT(server.request("GET", record, {}, bob), is_denied(403));

  SECTION("removed from members") {
    must(server.request("PATCH", group, R"({"data": {"members": []}})", owner()), 200);
    CHECK_THAT(server.request("GET", record, {}, alice), is_denied(403));
    CHECK_THAT(server.request("GET", records, {}, alice), is_denied(403));
    must(server.request("PATCH", group, add_alice, owner()), 200);
    CHECK_THAT(server.request("GET", record, {}, alice), is_json(200));
  }
  SECTION("the group deleted") {
    must(server.request("DELETE", group, {}, owner()), 200);
    CHECK_THAT(server.request("GET", record, {}, alice), is_denied(403));
  }
}

TEST_CASE("a group in a bucket's write ACE gives its members write on the whole bucket", "[permissions]") {
  kintod_process server;
  seed_tree(server);
  must(server.request("PATCH", bucket, R"({"permissions": {"write": ["/buckets/b/groups/g"]}})", owner()), 200);
  CHECK_THAT(server.request("PUT", collections + "/c2", {}, alice), is_denied(403));

  must(server.request("PATCH", group, R"({"data": {"members": [")" + std::string(alice_basic_id) + R"("]}})", owner()),
       200);
  CHECK_THAT(server.request("PUT", collections + "/c2", {}, alice), is_json(201));
  CHECK_THAT(server.request("PATCH", record, R"({"data": {"n": 2}})", alice), is_json(200));

  must(server.request("PATCH", group, R"({"data": {"members": []}})", owner()), 200);
  CHECK_THAT(server.request("PUT", collections + "/c3", {}, alice), is_denied(403));
  CHECK_THAT(server.request("PATCH", collection, R"({"data": {"x": 1}})", alice), is_denied(403));
  CHECK_THAT(server.request("DELETE", group, {}, alice), is_denied(403));
  // Her earlier writes made her an explicit writer of what she touched.
  CHECK_THAT(server.request("PATCH", record, R"({"data": {"n": 3}})", alice), is_json(200));
}

TEST_CASE("system.Authenticated as a group member gives the group to every authenticated user", "[permissions]") {
  kintod_process server;
  seed_tree(server);
  must(server.request("PATCH", group, R"({"data": {"members": ["system.Authenticated"]}})", owner()), 200);
  must(server.request("PATCH", bucket, R"({"permissions": {"read": ["/buckets/b/groups/g"]}})", owner()), 200);
  CHECK_THAT(server.request("GET", bucket, {}, alice), is_json(200));
  CHECK_THAT(server.request("GET", record, {}, bob), is_json(200));
  CHECK_THAT(server.request("GET", bucket), is_denied(401));
  CHECK_THAT(server.request("GET", record), is_denied(401));
}

// ---- creation and the author's write (§3, resources.md §6) ----------------------------

TEST_CASE("creating an object puts its creator, and only them, in permissions.write", "[permissions]") {
  auto [plural, id] = GENERATE(
      table<std::string, std::string>({{"/v1/buckets", "b2"}, {groups, "g2"}, {collections, "c2"}, {records, "r2"}}));
  const std::string method = GENERATE(as<std::string>{}, "PUT", "POST");
  kintod_process server;
  seed_tree(server);
  grant(server, bucket, "write", alice_basic_id);
  const header_list& creator = plural == "/v1/buckets" ? owner() : alice;
  const std::string creator_id(plural == "/v1/buckets" ? mat_id : alice_basic_id);
  INFO(method << " " << plural << " " << id);
  auto r = method == "PUT" ? server.request("PUT", plural + "/" + id, {}, creator)
                           : server.request("POST", plural, R"({"data": {"id": ")" + id + R"("}})", creator);
  REQUIRE_THAT(r, is_json(201));
  CHECK(acl_of(r.json()) == acl{{"write", {creator_id}}});
  CHECK(acl_of(must(server.request("GET", plural + "/" + id, {}, creator), 200)) == acl{{"write", {creator_id}}});
}

TEST_CASE("the author of a write always keeps write on the object", "[permissions]") {
  kintod_process server;
  seed_tree(server);
  const std::string mat(mat_id), alice_id(alice_basic_id);
  auto patched = server.request("PATCH", bucket, permissions_body({{"write", {alice_id}}}), owner());
  REQUIRE_THAT(patched, is_json(200));
  CHECK(acl_of(patched.json()) == acl{{"write", {mat, alice_id}}});

  SECTION("a replacement with an empty write list") {
    auto replaced = server.request("PUT", bucket, R"({"permissions": {"write": []}})", owner());
    REQUIRE_THAT(replaced, is_json(200));
    CHECK(acl_of(replaced.json()) == acl{{"write", {mat}}});
  }
  SECTION("a merge-patch clearing write") {
    auto merged = server.request("PATCH", bucket, R"({"permissions": {"write": null}})",
                                 {{"Content-Type", "application/merge-patch+json"}, owner().front()});
    REQUIRE_THAT(merged, is_json(200));
    CHECK(acl_of(merged.json()) == acl{{"write", {mat}}});
  }
  SECTION("another writer replacing the ACL") {
    auto replaced = server.request("PATCH", bucket, R"({"permissions": {"write": []}})", alice);
    REQUIRE_THAT(replaced, is_json(200));
    CHECK(acl_of(replaced.json()) == acl{{"write", {alice_id}}});
    CHECK_THAT(server.request("GET", bucket, {}, owner()), is_denied(403));
  }
}

TEST_CASE("with explicit_permissions off a creation keeps exactly the given permissions", "[permissions]") {
  kintod_process server({.settings = {{"kinto.explicit_permissions", "false"}}});
  CHECK(at(must(server.request("GET", "/v1/", {}, owner()), 200), "settings.explicit_permissions") == value(false));
  const std::string mat(mat_id), alice_id(alice_basic_id);

  auto created = server.request(
      "PUT", bucket, permissions_body({{"write", {alice_id, mat}}, {"read", {"system.Authenticated"}}}), owner());
  REQUIRE_THAT(created, is_json(201));
  CHECK(acl_of(created.json()) == acl{{"write", {alice_id, mat}}, {"read", {"system.Authenticated"}}});

  auto bare = server.request("PUT", collection, {}, owner());
  REQUIRE_THAT(bare, is_json(201));
  CHECK(at(bare.json(), "permissions") == no_permissions);

  auto only_alice = server.request("PUT", "/v1/buckets/b2", permissions_body({{"write", {alice_id}}}), owner());
  REQUIRE_THAT(only_alice, is_json(201));
  CHECK(at(only_alice.json(), "permissions") == no_permissions);
  CHECK(acl_of(must(server.request("GET", "/v1/buckets/b2", {}, alice), 200)) == acl{{"write", {alice_id}}});
  CHECK_THAT(server.request("GET", "/v1/buckets/b2", {}, owner()), is_denied(403));

  auto updated = server.request("PATCH", bucket, permissions_body({{"write", {alice_id}}}), owner());
  REQUIRE_THAT(updated, is_json(200));
  CHECK(at(updated.json(), "permissions") == no_permissions);
  CHECK(acl_of(must(server.request("GET", bucket, {}, alice), 200)) ==
        acl{{"write", {alice_id}}, {"read", {"system.Authenticated"}}});
}

// ---- 404 versus 403, 412, POST of an existing id (§5) ----------------------------------

TEST_CASE("a missing object is 404 to who may read its parent and 403 or 401 to others", "[permissions]") {
  kintod_process server;
  seed_tree(server);
  grant(server, bucket, "read", alice_basic_id);
  const std::string missing_group = groups + "/unknown";

  for (const std::string method : {"GET", "PATCH", "DELETE"}) {
    INFO(method << " " << missing_group);
    auto r = server.request(method, missing_group, method == "PATCH" ? R"({"data": {}})" : "", alice);
    CHECK_THAT(r, is_kinto_error(404, 110));
    CHECK(r.json() == parse_json(R"({"code": 404, "errno": 110, "error": "Not Found",
                                     "details": {"id": "unknown", "resource_name": "group"}})"));
    CHECK_THAT(server.request(method, missing_group, method == "PATCH" ? R"({"data": {}})" : "", bob), is_denied(403));
    auto anonymous_r = server.request(method, missing_group, method == "PATCH" ? R"({"data": {}})" : "");
    CHECK_THAT(anonymous_r, is_denied(401));
    CHECK(anonymous_r.header_values("WWW-Authenticate") ==
          std::vector<std::string>{R"(Basic realm="Realm")", R"(Basic realm="Realm")"});
  }
  CHECK_THAT(server.request("GET", collections + "/unknown", {}, alice), is_kinto_error(404, 110));
  CHECK_THAT(server.request("GET", records + "/unknown", {}, alice), is_kinto_error(404, 110));
  CHECK_THAT(server.request("DELETE", records + "/unknown", {}, alice), is_kinto_error(404, 110));
  CHECK_THAT(server.request("DELETE", records + "/unknown", {}, bob), is_denied(403));

  // Nobody may list all buckets by default, so even a bucket creator gets 403 on an unknown one.
  CHECK_THAT(server.request("GET", "/v1/buckets/unknown", {}, owner()), is_denied(403));
  CHECK_THAT(server.request("DELETE", "/v1/buckets/unknown", {}, owner()), is_denied(403));
  CHECK_THAT(server.request("DELETE", "/v1/buckets/unknown"), is_denied(401));
}

TEST_CASE("If-None-Match: * on an existing group is 412 to a group creator and 403 to a reader", "[permissions]") {
  kintod_process server;
  seed_tree(server);
  grant(server, bucket, "group:create", alice_basic_id);
  const std::string bob_id = user_id(server, bob);
  grant(server, bucket, "read", bob_id);
  auto before = must(server.request("GET", group, {}, owner()), 200);
  const header_list if_none_match{{"If-None-Match", "*"}};

  CHECK_THAT(server.request("PUT", group, R"({"data": {"members": ["x"]}})", with(if_none_match, alice)),
             is_kinto_error(412, 114));
  CHECK_THAT(server.request("PUT", group, R"({"data": {"members": ["x"]}})", with(if_none_match, bob)), is_denied(403));
  CHECK(must(server.request("GET", group, {}, owner()), 200) == before);
  CHECK_THAT(server.request("PUT", groups + "/fresh", R"({"data": {"members": []}})", with(if_none_match, alice)),
             is_json(201));
}

TEST_CASE("POST of an existing id answers 200 to a reader of it and 403 to a creator who cannot read it",
          "[permissions]") {
  auto [plural, id, create_on, create_perm] = GENERATE(
      table<std::string, std::string, std::string, std::string>({{records, "r", collection, "record:create"},
                                                                 {groups, "g", bucket, "group:create"},
                                                                 {collections, "c", bucket, "collection:create"}}));
  kintod_process server;
  seed_tree(server);
  grant(server, create_on, create_perm, alice_basic_id);
  const std::string bob_id = user_id(server, bob);
  grant(server, plural + "/" + id, "read", bob_id);
  auto before = must(server.request("GET", plural + "/" + id, {}, owner()), 200);
  const std::string body = R"({"data": {"id": ")" + id + R"(", "changed": true}})";
  INFO("POST " << plural << " " << body);

  auto as_reader = server.request("POST", plural, body, bob);
  REQUIRE_THAT(as_reader, is_json(200));
  CHECK(at(as_reader.json(), "data") == at(before, "data"));
  CHECK(at(as_reader.json(), "permissions") == no_permissions);
  CHECK_THAT(server.request("POST", plural, body, alice), is_denied(403));
  CHECK(must(server.request("GET", plural + "/" + id, {}, owner()), 200) == before);
  CHECK_THAT(server.request("POST", plural, R"({"data": {"id": "fresh"}})", alice), is_json(201));
  CHECK_THAT(server.request("POST", plural, R"({"data": {"id": "fresh2"}})", bob), is_denied(403));
}

// ---- permissions granted by settings (§4.2) ----------------------------------------------

TEST_CASE("record_read_principals = system.Everyone opens records but not collections", "[permissions]") {
  kintod_process server({.settings = {{"kinto.record_read_principals", "system.Everyone"}}});
  seed_tree(server);
  must(server.request("PUT", "/v1/buckets/b/collections/c2", {}, owner()), 201);
  must(server.request("PUT", "/v1/buckets/b/collections/c2/records/x", {}, owner()), 201);

  auto listed = server.request("GET", records);
  REQUIRE_THAT(listed, is_json(200));
  CHECK(listed_ids(listed) == std::vector<std::string>{"r"});
  CHECK(server.request("HEAD", records).header("Total-Objects") == "1");
  CHECK(listed_ids(server.request("GET", "/v1/buckets/b/collections/c2/records")) == std::vector<std::string>{"x"});
  auto one = server.request("GET", record);
  REQUIRE_THAT(one, is_json(200));
  CHECK(at(one.json(), "permissions") == no_permissions);
  CHECK_THAT(server.request("GET", record, {}, alice), is_json(200));

  CHECK_THAT(server.request("GET", collection), is_denied(401));
  CHECK_THAT(server.request("GET", collection, {}, alice), is_denied(403));
  CHECK_THAT(server.request("GET", bucket), is_denied(401));
  CHECK_THAT(server.request("GET", collections), is_denied(401));
  CHECK_THAT(server.request("PATCH", record, R"({"data": {"n": 2}})"), is_denied(401));
  CHECK_THAT(server.request("POST", records, R"({"data": {"n": 2}})"), is_denied(401));
}

TEST_CASE("a principal listed in record_read_principals among others is granted", "[permissions]") {
  kintod_process server({.settings = {{"kinto.record_read_principals",
                                       std::string(admin_basic_id) + " " + std::string(alice_basic_id)}}});
  seed_tree(server);
  CHECK_THAT(server.request("GET", record, {}, alice), is_json(200));
  CHECK_THAT(server.request("GET", record, {}, admin), is_json(200));
  CHECK_THAT(server.request("GET", record, {}, bob), is_denied(403));
}

TEST_CASE("collection_create_principals lets its principals create collections in any bucket", "[permissions]") {
  kintod_process server({.settings = {{"kinto.collection_create_principals", std::string(alice_basic_id)}}});
  seed_tree(server);
  must(server.request("PUT", "/v1/buckets/b2", {}, owner()), 201);

  auto none_yet = server.request("GET", collections, {}, alice);
  REQUIRE_THAT(none_yet, is_json(200));
  CHECK(listed_ids(none_yet).empty());
  auto created = server.request("PUT", collections + "/mine", {}, alice);
  REQUIRE_THAT(created, is_json(201));
  CHECK(acl_of(created.json()) == acl{{"write", {std::string(alice_basic_id)}}});
  CHECK_THAT(server.request("POST", "/v1/buckets/b2/collections", R"({"data": {"id": "mine"}})", alice), is_json(201));
  CHECK(listed_ids(server.request("GET", collections, {}, alice)) == std::vector<std::string>{"mine"});

  CHECK_THAT(server.request("GET", collection, {}, alice), is_denied(403));
  CHECK_THAT(server.request("PUT", collections + "/theirs", {}, bob), is_denied(403));
  CHECK_THAT(server.request("PUT", collections + "/theirs"), is_denied(401));
  CHECK_THAT(server.request("PUT", groups + "/g2", {}, alice), is_denied(403));
}

// ---- the /permissions endpoint (§8) ---------------------------------------------------------

namespace {

const kintod_options permissions_endpoint_on{.settings = {{"kinto.experimental_permissions_endpoint", "true"}}};

// The entries of GET /v1/permissions (all pages) by uri.
std::map<std::string, value> permission_entries(kintod_process& server, const header_list& as,
                                                const std::string& query = {}) {
  std::map<std::string, value> out;
  for (auto& entry : all_pages(server, "/v1/permissions" + query, as)) {
    std::string uri = str_at(entry, "uri");
    CHECK(out.count(uri) == 0);
    out[uri] = std::move(entry);
  }
  return out;
}

std::set<std::string> names_of(const value& entry) {
  std::set<std::string> out;
  for (const auto& p : at(entry, "permissions").as_array()) out.insert(p.as_string());
  return out;
}

std::set<std::string> uris_of(const std::map<std::string, value>& entries) {
  std::set<std::string> out;
  for (const auto& [uri, entry] : entries) out.insert(uri);
  return out;
}

} // namespace

TEST_CASE("the permissions endpoint exists and is advertised only when enabled", "[permissions]") {
  SECTION("disabled by default") {
    kintod_process server;
    CHECK(find_path(must(server.request("GET", "/v1/"), 200), "capabilities.permissions_endpoint") == nullptr);
    CHECK_THAT(server.request("GET", "/v1/permissions", {}, owner()), is_kinto_error(404, 111));
  }
  SECTION("enabled by experimental_permissions_endpoint") {
    kintod_process server(permissions_endpoint_on);
    auto hello = must(server.request("GET", "/v1/"), 200);
    CHECK(at(hello, "capabilities.permissions_endpoint.description").is_string());
    CHECK(at(hello, "capabilities.permissions_endpoint.url").is_string());
    CHECK_THAT(server.request("GET", "/v1/permissions", {}, owner()), is_json(200));
  }
}

TEST_CASE("the permissions endpoint lists the root and a created bucket with its implied permissions",
          "[permissions]") {
  kintod_process server(permissions_endpoint_on);
  must(server.request("PUT", "/v1/buckets/ab", {}, alice), 201);

  auto entries = permission_entries(server, alice);
  CHECK(uris_of(entries) == std::set<std::string>{"/", "/buckets/ab"});
  REQUIRE(entries.count("/") == 1);
  // The harness's settings let everybody create accounts (account_create_principals = system.Everyone).
  CHECK(keys_at(entries["/"]) == std::vector<std::string>{"permissions", "resource_name", "uri"});
  CHECK(str_at(entries["/"], "resource_name") == "root");
  CHECK(names_of(entries["/"]) == std::set<std::string>{"bucket:create", "account:create"});
  REQUIRE(entries.count("/buckets/ab") == 1);
  const auto& b = entries["/buckets/ab"];
  CHECK(keys_at(b) == std::vector<std::string>{"bucket_id", "id", "permissions", "resource_name", "uri"});
  CHECK(str_at(b, "resource_name") == "bucket");
  CHECK(str_at(b, "id") == "ab");
  CHECK(str_at(b, "bucket_id") == "ab");
  CHECK(names_of(b) == std::set<std::string>{"write", "read", "read:attributes", "collection:create", "group:create"});

  CHECK(uris_of(permission_entries(server, bob)) == std::set<std::string>{"/"});
  auto for_anonymous = server.request("GET", "/v1/permissions");
  REQUIRE_THAT(for_anonymous, is_json(200));
  CHECK(for_anonymous.json() ==
        parse_json(R"({"data": [{"uri": "/", "resource_name": "root", "permissions": ["account:create"]}]})"));
}

TEST_CASE("without accounts the root entry of the permissions endpoint holds bucket:create only", "[permissions]") {
  kintod_process server(
      {.settings = {{"kinto.experimental_permissions_endpoint", "true"}, {"multiauth.policies", "basicauth"}},
       .omit = {"kinto.includes", "multiauth.policy.account.use", "kinto.account_create_principals",
                "kinto.account_write_principals"}});
  auto r = server.request("GET", "/v1/permissions", {}, alice);
  REQUIRE_THAT(r, is_json(200));
  CHECK(r.json() ==
        parse_json(R"({"data": [{"uri": "/", "resource_name": "root", "permissions": ["bucket:create"]}]})"));
  auto for_anonymous = server.request("GET", "/v1/permissions");
  REQUIRE_THAT(for_anonymous, is_json(200));
  CHECK(for_anonymous.json() == parse_json(R"({"data": []})"));
}

TEST_CASE("the permissions endpoint lists objects held directly with the permissions they imply", "[permissions]") {
  kintod_process server(permissions_endpoint_on);
  seed_tree(server);
  const std::string bob_id = user_id(server, bob);

  auto mine = permission_entries(server, owner());
  CHECK(uris_of(mine) == std::set<std::string>{"/", "/buckets/b", "/buckets/b/groups/g", "/buckets/b/collections/c",
                                               "/buckets/b/collections/c/records/r"});
  CHECK(names_of(mine["/buckets/b/collections/c"]) ==
        std::set<std::string>{"write", "read", "read:attributes", "record:create"});
  CHECK(keys_at(mine["/buckets/b/collections/c"]) ==
        std::vector<std::string>{"bucket_id", "collection_id", "id", "permissions", "resource_name", "uri"});
  CHECK(str_at(mine["/buckets/b/collections/c"], "collection_id") == "c");
  CHECK(names_of(mine["/buckets/b/groups/g"]) == std::set<std::string>{"write", "read"});
  CHECK(str_at(mine["/buckets/b/groups/g"], "group_id") == "g");
  CHECK(str_at(mine["/buckets/b/groups/g"], "resource_name") == "group");
  const auto& r = mine["/buckets/b/collections/c/records/r"];
  CHECK(names_of(r) == std::set<std::string>{"write", "read"});
  CHECK(keys_at(r) == std::vector<std::string>{"bucket_id", "collection_id", "id", "permissions", "record_id",
                                               "resource_name", "uri"});
  CHECK(str_at(r, "record_id") == "r");
  CHECK(str_at(r, "resource_name") == "record");

  SECTION("a bucket writer gets no entries for the bucket's children") {
    grant(server, bucket, "write", alice_basic_id);
    auto entries = permission_entries(server, alice);
    CHECK(uris_of(entries) == std::set<std::string>{"/", "/buckets/b"});
    CHECK(names_of(entries["/buckets/b"]) ==
          std::set<std::string>{"write", "read", "read:attributes", "collection:create", "group:create"});
  }
  SECTION("a bucket reader through a group") {
    must(server.request("PATCH", group, R"({"data": {"members": [")" + bob_id + R"("]}})", owner()), 200);
    grant(server, bucket, "read", "/buckets/b/groups/g");
    auto entries = permission_entries(server, bob);
    CHECK(uris_of(entries) == std::set<std::string>{"/", "/buckets/b"});
    CHECK(names_of(entries["/buckets/b"]) == std::set<std::string>{"read", "read:attributes"});
  }
  SECTION("create permissions") {
    grant(server, collection, "record:create", alice_basic_id);
    grant(server, bucket, "group:create", alice_basic_id);
    auto entries = permission_entries(server, alice);
    CHECK(uris_of(entries) == std::set<std::string>{"/", "/buckets/b", "/buckets/b/collections/c"});
    CHECK(names_of(entries["/buckets/b/collections/c"]) == std::set<std::string>{"record:create", "read:attributes"});
    CHECK(names_of(entries["/buckets/b"]) == std::set<std::string>{"group:create", "read:attributes"});
  }
}

TEST_CASE("the permissions endpoint adds the permissions granted by settings", "[permissions]") {
  const std::string alice_id(alice_basic_id);
  kintod_process server({.settings = {{"kinto.experimental_permissions_endpoint", "true"},
                                      {"kinto.bucket_write_principals", alice_id},
                                      {"kinto.collection_create_principals", alice_id},
                                      {"kinto.record_create_principals", alice_id},
                                      {"kinto.record_read_principals", alice_id}}});
  seed_tree(server);
  must(server.request("PUT", "/v1/buckets/b2", {}, owner()), 201);

  auto entries = permission_entries(server, alice);
  CHECK(uris_of(entries) == std::set<std::string>{"/", "/buckets/b", "/buckets/b2", "/buckets/b/collections/c"});
  for (const std::string b : {"/buckets/b", "/buckets/b2"}) {
    INFO(b);
    CHECK(names_of(entries[b]).count("write") == 1);
    CHECK(names_of(entries[b]).count("collection:create") == 1);
  }
  CHECK(names_of(entries["/buckets/b/collections/c"]).count("record:create") == 1);
  CHECK(uris_of(permission_entries(server, bob)) == std::set<std::string>{"/"});
}

TEST_CASE("the permissions endpoint filters, sorts, pages and counts its entries", "[permissions]") {
  kintod_process server(permissions_endpoint_on);
  seed_tree(server);
  const std::vector<std::string> descending{"/buckets/b/groups/g", "/buckets/b/collections/c/records/r",
                                            "/buckets/b/collections/c", "/buckets/b", "/"};
  auto uris = [](const http_response& r) {
    std::vector<std::string> out;
    const value body = r.json();
    for (const auto& entry : at(body, "data").as_array()) out.push_back(str_at(entry, "uri"));
    return out;
  };

  auto all = server.request("GET", "/v1/permissions", {}, owner());
  REQUIRE_THAT(all, is_json(200));
  CHECK(uris(all) == descending);
  auto ascending = server.request("GET", "/v1/permissions?_sort=uri", {}, owner());
  REQUIRE_THAT(ascending, is_json(200));
  CHECK(uris(ascending) == std::vector<std::string>(descending.rbegin(), descending.rend()));

  auto buckets_only = server.request("GET", "/v1/permissions?resource_name=bucket", {}, owner());
  REQUIRE_THAT(buckets_only, is_json(200));
  CHECK(uris(buckets_only) == std::vector<std::string>{"/buckets/b"});
  auto records_of_c = server.request("GET", "/v1/permissions?collection_id=c&resource_name=record", {}, owner());
  CHECK(uris(records_of_c) == std::vector<std::string>{"/buckets/b/collections/c/records/r"});

  auto head = server.request("HEAD", "/v1/permissions", {}, owner());
  CHECK(head.status == 200);
  CHECK(head.header("Total-Objects") == "5");
  CHECK(server.request("HEAD", "/v1/permissions?resource_name=bucket", {}, owner()).header("Total-Objects") == "1");

  auto first = server.request("GET", "/v1/permissions?_limit=2", {}, owner());
  REQUIRE_THAT(first, is_json(200));
  CHECK(uris(first) == std::vector<std::string>{descending[0], descending[1]});
  CHECK(first.has_header("Next-Page"));
  std::vector<std::string> walked;
  for (const auto& entry : all_pages(server, "/v1/permissions?_limit=2", owner()))
    walked.push_back(str_at(entry, "uri"));
  CHECK(walked == descending);

  auto unknown = server.request("GET", "/v1/permissions?movie=x", {}, owner());
  CHECK_THAT(unknown, is_kinto_error(400, 107));
  CHECK_THAT(server.request("GET", "/v1/permissions?_sort=movie", {}, owner()), is_kinto_error(400, 107));
}

// ---- user data deletion (batch-and-plugins.md §7) -----------------------------------------

namespace {

const std::string alice_data = "/v1/__user_data__/" + std::string(alice_basic_id);
const kintod_options user_data_operator{
    .settings = {{"kinto.user-data_delete_principals", std::string(admin_basic_id)}}};

} // namespace

TEST_CASE("only the principals of user-data_delete_principals may delete a user's data", "[permissions]") {
  SECTION("with an operator configured") {
    kintod_process server(user_data_operator);
    CHECK_THAT(server.request("DELETE", alice_data), is_denied(401));
    CHECK_THAT(server.request("DELETE", alice_data, {}, alice), is_denied(403));
    CHECK_THAT(server.request("DELETE", alice_data, {}, owner()), is_denied(403));
    auto r = server.request("DELETE", alice_data, {}, admin);
    REQUIRE_THAT(r, is_json(200));
    CHECK(r.json() == parse_json(R"({"data": {"principal": ")" + std::string(alice_basic_id) + R"("}})"));
  }
  SECTION("by default nobody") {
    kintod_process server;
    CHECK_THAT(server.request("DELETE", alice_data, {}, admin), is_denied(403));
    CHECK_THAT(server.request("DELETE", alice_data), is_denied(401));
  }
}

TEST_CASE("deleting a user's data removes what only they could write and every grant to them", "[permissions]") {
  kintod_process server(user_data_operator);
  const std::string mat(mat_id), alice_id(alice_basic_id);
  const std::string bob_id = user_id(server, bob);
  must(server.request("PUT", "/v1/buckets/ab", {}, alice), 201);
  must(server.request("PUT", "/v1/buckets/ab/collections/ac", {}, alice), 201);
  must(server.request("PUT", "/v1/buckets/ab/collections/ac/records/ar", {}, alice), 201);

  must(server.request("PUT", bucket, permissions_body({{"write", {alice_id}}, {"read", {alice_id, bob_id}}}), owner()),
       201);
  must(server.request("PUT", group, R"({"data": {"members": [")" + alice_id + R"(", ")" + bob_id + R"("]}})", owner()),
       201);
  must(server.request("PUT", collection, {}, owner()), 201);
  must(server.request("PUT", record, permissions_body({{"read", {alice_id}}}), owner()), 201);
  must(server.request("PUT", records + "/by-alice", {}, alice), 201);
  REQUIRE(holds(user_principals(server, alice), "/buckets/b/groups/g"));

  auto r = server.request("DELETE", alice_data, {}, admin);
  REQUIRE_THAT(r, is_json(200));
  CHECK(r.json() == parse_json(R"({"data": {"principal": ")" + alice_id + R"("}})"));

  CHECK(acl_of(must(server.request("GET", bucket, {}, owner()), 200)) == acl{{"write", {mat}}, {"read", {bob_id}}});
  CHECK(acl_of(must(server.request("GET", record, {}, owner()), 200)) == acl{{"write", {mat}}});
  CHECK(at(must(server.request("GET", group, {}, owner()), 200), "data.members") == parse_json("[\"" + bob_id + "\"]"));
  CHECK_FALSE(holds(user_principals(server, alice), "/buckets/b/groups/g"));
  CHECK(holds(user_principals(server, bob), "/buckets/b/groups/g"));
  CHECK_THAT(server.request("GET", records + "/by-alice", {}, owner()), is_kinto_error(404, 110));
  CHECK(listed_ids(server.request("GET", records, {}, owner())) == std::vector<std::string>{"r"});
  CHECK_THAT(server.request("GET", bucket, {}, alice), is_denied(403));

  // The bucket only alice could write is gone: she creates it afresh, without its former children.
  CHECK_THAT(server.request("PUT", "/v1/buckets/ab", {}, alice), is_json(201));
  CHECK_THAT(server.request("GET", "/v1/buckets/ab/collections/ac", {}, alice), is_kinto_error(404, 110));
}

TEST_CASE("including the admin plugin turns the permissions endpoint on, as upstream", "[permissions]") {
  kintod_process server({.settings = {{"kinto.includes", "kinto.plugins.accounts kinto.plugins.admin"}}});
  CHECK(server.request("GET", "/v1/").json().find("capabilities")->find("permissions_endpoint"));
  CHECK(server.request("GET", "/v1/permissions", {}, owner()).status == 200);
}
