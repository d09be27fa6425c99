// Integration tests of authentication and the accounts plugin
// (auth-permissions.md §1, §2, §9): basicauth user ids, principals, group
// principals, account sign-up, bcrypt hashes, self-only access and admins.
#include "harness.hpp"

#include <algorithm>

using namespace kintod_test;
using kinto::json::value;

namespace {

void create_account(kintod_process& server, const std::string& id, const std::string& password) {
  must(server.request("PUT", "/v1/accounts/" + id, R"({"data": {"password": ")" + password + R"("}})"), 201);
}

// The user id GET /v1/ reports for these headers, "" when anonymous.
std::string user_id(kintod_process& server, const header_list& headers) {
  auto body = must(server.request("GET", "/v1/", {}, headers), 200);
  const auto* id = find_path(body, "user.id");
  return id ? id->as_string() : std::string();
}

value principals(kintod_process& server, const header_list& headers) {
  return at(must(server.request("GET", "/v1/", {}, headers), 200), "user.principals");
}

bool holds(const value& principal_list, std::string_view principal) {
  const auto& items = principal_list.as_array();
  return std::any_of(items.begin(), items.end(), [&](const value& v) { return v.as_string() == principal; });
}

std::vector<std::string> listed_ids(const http_response& r) {
  std::vector<std::string> ids;
  auto body = r.json();
  for (const auto& obj : at(body, "data").as_array()) ids.push_back(str_at(obj, "id"));
  std::sort(ids.begin(), ids.end());
  return ids;
}

} // namespace

TEST_CASE("an account created anonymously authenticates as account:<id>", "[accounts]") {
  kintod_process server;
  http_response r;
  SECTION("by PUT") { r = server.request("PUT", "/v1/accounts/alice", R"({"data": {"password": "s3cret"}})"); }
  SECTION("by POST") {
    r = server.request("POST", "/v1/accounts", R"({"data": {"id": "alice", "password": "s3cret"}})");
  }
  REQUIRE_THAT(r, is_json(201));
  auto body = r.json();
  CHECK(str_at(body, "data.id") == "alice");
  CHECK(at(body, "permissions.write") == parse_json(R"(["account:alice"])"));
  CHECK(r.header("ETag") == etag_of(int_at(body, "data.last_modified")));

  auto who = server.request("GET", "/v1/", {}, auth("alice", "s3cret"));
  REQUIRE_THAT(who, is_json(200));
  auto hello = who.json();
  CHECK(str_at(hello, "user.id") == "account:alice");
  CHECK(str_at(hello, "user.principals.0") == "account:alice");
  CHECK(contains_string(hello, "user.principals", "system.Everyone"));
  CHECK(contains_string(hello, "user.principals", "system.Authenticated"));
}

TEST_CASE("an account password is stored as a salted bcrypt hash", "[accounts]") {
  kintod_process server;
  auto created = must(server.request("PUT", "/v1/accounts/alice", R"({"data": {"password": "same-pass"}})"), 201);
  create_account(server, "bob", "same-pass");
  std::string alice_hash = str_at(created, "data.password");
  CHECK(alice_hash.starts_with("$2"));
  CHECK(alice_hash.size() == 60);

  auto fetched = must(server.request("GET", "/v1/accounts/alice", {}, auth("alice", "same-pass")), 200);
  CHECK(str_at(fetched, "data.password") == alice_hash);
  auto bob = must(server.request("GET", "/v1/accounts/bob", {}, auth("bob", "same-pass")), 200);
  CHECK(str_at(bob, "data.password").starts_with("$2"));
  CHECK(str_at(bob, "data.password") != alice_hash);
}

TEST_CASE("an account id may contain e-mail characters but must follow the account id syntax", "[accounts]") {
  kintod_process server;
  SECTION("an e-mail address") {
    auto r = server.request("PUT", "/v1/accounts/bob.smith+kinto@example.com", R"({"data": {"password": "p"}})");
    REQUIRE_THAT(r, is_json(201));
    CHECK(user_id(server, auth("bob.smith+kinto@example.com", "p")) == "account:bob.smith+kinto@example.com");
  }
  SECTION("a leading dot") {
    auto r = server.request("PUT", "/v1/accounts/.bob", R"({"data": {"password": "p"}})");
    CHECK_THAT(r, is_kinto_error(400, 107));
    CHECK(str_at(r.json(), "details.0.location") == "path");
  }
}

TEST_CASE("creating an account requires an id and a string password", "[accounts]") {
  kintod_process server;
  std::string method = "POST", target = "/v1/accounts", body, name;
  SECTION("POST without id") {
    body = R"({"data": {"password": "p"}})";
    name = "data.id";
  }
  SECTION("POST without password") { body = R"({"data": {"id": "alice"}})"; }
  SECTION("PUT without password") {
    method = "PUT";
    target = "/v1/accounts/alice";
    body = R"({"data": {"age": 3}})";
  }
  SECTION("PUT without body") {
    method = "PUT";
    target = "/v1/accounts/alice";
  }
  SECTION("a password that is not a string") {
    method = "PUT";
    target = "/v1/accounts/alice";
    body = R"({"data": {"password": 1234}})";
  }
  INFO(method << " " << target << " " << body);
  auto r = server.request(method, target, body);
  CHECK_THAT(r, is_kinto_error(400, 107));
  CHECK(str_at(r.json(), "details.0.location") == "body");
  if (!name.empty()) CHECK(str_at(r.json(), "details.0.name") == name);
  CHECK(user_id(server, auth("alice", "p")) != "account:alice");
}

TEST_CASE("an account body id that differs from the URL is rejected", "[accounts]") {
  kintod_process server;
  auto r = server.request("PUT", "/v1/accounts/bob", R"({"data": {"id": "alice", "password": "p"}})");
  CHECK_THAT(r, is_kinto_error(400, 107));
  CHECK(str_at(r.json(), "message").find("does not match") != std::string::npos);
}

TEST_CASE("a user cannot create an account for someone else", "[accounts]") {
  kintod_process server;
  create_account(server, "alice", "pa");
  http_response r;
  SECTION("PUT") { r = server.request("PUT", "/v1/accounts/bob", R"({"data": {"password": "pb"}})", auth("alice", "pa")); }
  SECTION("POST") {
    r = server.request("POST", "/v1/accounts", R"({"data": {"id": "bob", "password": "pb"}})", auth("alice", "pa"));
  }
  CHECK_THAT(r, is_kinto_error(400, 107));
  CHECK(str_at(r.json(), "message").find("Username and account ID do not match.") != std::string::npos);
  CHECK(user_id(server, auth("bob", "pb")) != "account:bob");
}

TEST_CASE("a user lists only their own account", "[accounts]") {
  kintod_process server;
  create_account(server, "alice", "pa");
  create_account(server, "bob", "pb");
  auto r = server.request("GET", "/v1/accounts", {}, auth("alice", "pa"));
  REQUIRE_THAT(r, is_json(200));
  CHECK(listed_ids(r) == std::vector<std::string>{"alice"});
}

TEST_CASE("a user cannot see or change another account", "[accounts]") {
  kintod_process server;
  create_account(server, "alice", "pa");
  create_account(server, "bob", "pb");
  std::string method = "GET", target = "/v1/accounts/bob", body;
  SECTION("read an existing account") {}
  SECTION("read a missing account") { target = "/v1/accounts/zed"; }
  SECTION("change a password") {
    method = "PATCH";
    body = R"({"data": {"password": "stolen"}})";
  }
  SECTION("replace an account") {
    method = "PUT";
    body = R"({"data": {"password": "stolen"}})";
  }
  SECTION("delete an account") { method = "DELETE"; }
  INFO(method << " " << target);
  auto r = server.request(method, target, body, auth("alice", "pa"));
  CHECK_THAT(r, is_kinto_error(403, 121));
  CHECK(user_id(server, auth("bob", "pb")) == "account:bob");
}

TEST_CASE("an administrator can read, list and change every account", "[accounts]") {
  kintod_process server;
  create_account(server, "admin", "root-pass");
  create_account(server, "alice", "pa");
  create_account(server, "bob", "pb");
  const auto admin = auth("admin", "root-pass");

  auto list = server.request("GET", "/v1/accounts", {}, admin);
  REQUIRE_THAT(list, is_json(200));
  CHECK(listed_ids(list) == std::vector<std::string>{"admin", "alice", "bob"});
  auto bob = server.request("GET", "/v1/accounts/bob", {}, admin);
  REQUIRE_THAT(bob, is_json(200));
  CHECK(str_at(bob.json(), "data.id") == "bob");

  auto changed = server.request("PATCH", "/v1/accounts/bob", R"({"data": {"password": "reset"}})", admin);
  REQUIRE_THAT(changed, is_json(200));
  CHECK(user_id(server, auth("bob", "reset")) == "account:bob");
  auto created = server.request("PUT", "/v1/accounts/carol", R"({"data": {"password": "pc"}})", admin);
  REQUIRE_THAT(created, is_json(201));
  CHECK(at(created.json(), "permissions.write") == parse_json(R"(["account:carol"])"));
}

TEST_CASE("anonymous callers cannot read accounts", "[accounts]") {
  kintod_process server;
  create_account(server, "alice", "pa");
  SECTION("the list") {
    auto r = server.request("GET", "/v1/accounts");
    REQUIRE_THAT(r, is_json(401));
    CHECK(int_at(r.json(), "code") == 401);
    auto number = int_at(r.json(), "errno");
    CHECK((number == 104 || number == 999));
  }
  SECTION("one account") {
    auto r = server.request("GET", "/v1/accounts/alice");
    CHECK_THAT(r, is_kinto_error(401, 104));
    CHECK(r.header("WWW-Authenticate").starts_with("Basic realm="));
  }
}

TEST_CASE("a password change invalidates the old password at once", "[accounts]") {
  SECTION("with basicauth after the accounts policy, the old password is another identity") {
    kintod_process server;
    create_account(server, "alice", "old-pass");
    CHECK(user_id(server, auth("alice", "old-pass")) == "account:alice");
    auto r = server.request("PATCH", "/v1/accounts/alice", R"({"data": {"password": "new-pass"}})",
                            auth("alice", "old-pass"));
    REQUIRE_THAT(r, is_json(200));
    CHECK(str_at(r.json(), "data.password").starts_with("$2"));

    CHECK(user_id(server, auth("alice", "new-pass")) == "account:alice");
    CHECK(user_id(server, auth("alice", "old-pass")).starts_with("basicauth:"));
    CHECK_THAT(server.request("GET", "/v1/accounts/alice", {}, auth("alice", "old-pass")), is_kinto_error(403, 121));
  }
  SECTION("with only the accounts policy, the old password is anonymous") {
    kintod_process server({.settings = {{"multiauth.policies", "account"}}});
    create_account(server, "alice", "old-pass");
    CHECK(user_id(server, auth("alice", "old-pass")) == "account:alice");
    must(server.request("PATCH", "/v1/accounts/alice", R"({"data": {"password": "new-pass"}})",
                        auth("alice", "old-pass")),
         200);
    CHECK(user_id(server, auth("alice", "old-pass")) == "");
    auto r = server.request("GET", "/v1/accounts/alice", {}, auth("alice", "old-pass"));
    CHECK_THAT(r, is_kinto_error(401, 104));
    CHECK(r.has_header("WWW-Authenticate"));
    CHECK_THAT(server.request("GET", "/v1/accounts/alice", {}, auth("alice", "new-pass")), is_json(200));
  }
}

TEST_CASE("a PATCH without password keeps the account's password", "[accounts]") {
  kintod_process server;
  auto created = must(server.request("PUT", "/v1/accounts/alice", R"({"data": {"password": "pa"}})"), 201);
  auto r = server.request("PATCH", "/v1/accounts/alice", R"({"data": {"nickname": "al"}})", auth("alice", "pa"));
  REQUIRE_THAT(r, is_json(200));
  CHECK(str_at(r.json(), "data.nickname") == "al");
  CHECK(str_at(r.json(), "data.password") == str_at(created, "data.password"));
  CHECK(user_id(server, auth("alice", "pa")) == "account:alice");
}

TEST_CASE("a deleted account no longer authenticates", "[accounts]") {
  kintod_process server;
  create_account(server, "alice", "pa");
  auto r = server.request("DELETE", "/v1/accounts/alice", {}, auth("alice", "pa"));
  REQUIRE_THAT(r, is_json(200));
  CHECK(at(r.json(), "data.deleted") == value(true));
  CHECK(user_id(server, auth("alice", "pa")) != "account:alice");
}

TEST_CASE("posting an existing account id depends on who asks", "[accounts]") {
  kintod_process server;
  create_account(server, "alice", "pa");
  const std::string body = R"({"data": {"id": "alice", "password": "other"}})";
  SECTION("anonymous") {
    auto r = server.request("POST", "/v1/accounts", body);
    CHECK(r.status == 401);
  }
  SECTION("the account itself") {
    auto r = server.request("POST", "/v1/accounts", body, auth("alice", "pa"));
    REQUIRE_THAT(r, is_json(200));
    CHECK(str_at(r.json(), "data.id") == "alice");
  }
  CHECK(user_id(server, auth("alice", "pa")) == "account:alice");
  CHECK(user_id(server, auth("alice", "other")) != "account:alice");
}

TEST_CASE("basicauth user ids follow the HMAC-SHA256 test vectors", "[accounts][basicauth]") {
  kintod_process server;
  std::string user;
  std::string_view expected;
  SECTION("mat") {
    user = "mat";
    expected = mat_id;
  }
  SECTION("alice") {
    user = "alice";
    expected = alice_basic_id;
  }
  SECTION("admin") {
    user = "admin";
    expected = admin_basic_id;
  }
  INFO(user);
  auto hello = must(server.request("GET", "/v1/", {}, auth(user, "secret")), 200);
  CHECK(str_at(hello, "user.id") == expected);
  CHECK(str_at(hello, "user.principals.0") == expected);
  CHECK(contains_string(hello, "user.principals", "system.Everyone"));
  CHECK(contains_string(hello, "user.principals", "system.Authenticated"));
}

TEST_CASE("a password may contain colons", "[accounts][basicauth]") {
  kintod_process server;
  create_account(server, "alice", "a:b:c");
  CHECK(user_id(server, auth("alice", "a:b:c")) == "account:alice");
}

TEST_CASE("unusable credentials are anonymous and never an error", "[accounts][basicauth]") {
  kintod_process server;
  std::string authorization;
  SECTION("an empty username") { authorization = basic("", "secret"); }
  SECTION("not base64") { authorization = "Basic !!!not-base64!!!"; }
  SECTION("no colon") { authorization = "Basic bm9jb2xvbg=="; }
  SECTION("another scheme") { authorization = "Bearer some-token"; }
  SECTION("a scheme alone") { authorization = "Basic"; }
  INFO("Authorization: " << authorization);
  auto r = server.request("GET", "/v1/", {}, {{"Authorization", authorization}});
  REQUIRE_THAT(r, is_json(200));
  CHECK(find_path(r.json(), "user") == nullptr);
}

TEST_CASE("group membership shows in principals until the group goes", "[accounts][groups]") {
  kintod_process server;
  create_account(server, "carol", "pc");
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
  const std::string group = "/buckets/b/groups/g";
  must(server.request("PUT", "/v1" + group, R"({"data": {"members": ["account:carol", ")" +
                                                std::string(alice_basic_id) + R"("]}})",
                      owner()),
       201);
  const auto carol = auth("carol", "pc");
  const auto alice = auth("alice", "secret");
  CHECK(holds(principals(server, carol), group));
  CHECK(holds(principals(server, alice), group));
  CHECK_FALSE(holds(principals(server, owner()), group));

  SECTION("deleting the group") {
    must(server.request("DELETE", "/v1" + group, {}, owner()), 200);
    CHECK_FALSE(holds(principals(server, carol), group));
    CHECK_FALSE(holds(principals(server, alice), group));
  }
  SECTION("removing a member") {
    must(server.request("PATCH", "/v1" + group, R"({"data": {"members": ["account:carol"]}})", owner()), 200);
    CHECK(holds(principals(server, carol), group));
    CHECK_FALSE(holds(principals(server, alice), group));
  }
}

TEST_CASE("a group with system.Authenticated gives its principal to every authenticated user", "[accounts][groups]") {
  kintod_process server;
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
  must(server.request("PUT", "/v1/buckets/b/groups/all", R"({"data": {"members": ["system.Authenticated"]}})",
                      owner()),
       201);
  CHECK(holds(principals(server, auth("anyone", "x")), "/buckets/b/groups/all"));
  CHECK(holds(principals(server, owner()), "/buckets/b/groups/all"));
}

TEST_CASE("a password set through JSON-Patch is stored hashed and works", "[accounts]") {
  kintod_process server;
  create_account(server, "alice", "old-pass");
  auto r = server.request("PATCH", "/v1/accounts/alice", R"([{"op": "replace", "path": "/data/password", "value": "new-pass"}])",
                          with(auth("alice", "old-pass"), {{"Content-Type", "application/json-patch+json"}}));
  REQUIRE_THAT(r, is_json(200));
  const std::string stored = str_at(r.json(), "data.password");
  CHECK(stored.starts_with("$2"));
  CHECK(stored != "new-pass");
  CHECK(user_id(server, auth("alice", "new-pass")) == "account:alice");
}
