// Integration tests of the limits that storage keys put on ids, URIs and
// principals (storage::key_limits, README.md "Limits"): with LMDB's 511-byte
// keys, object URIs are at most 252 bytes (208 for buckets, 244 for
// collections) and principals at most 252 bytes. Longer ones are refused
// with 400, errno 107, never a 5xx; the longest accepted round-trip.
#include "harness.hpp"

#include <algorithm>

using namespace kintod_test;
using kinto::json::value;

namespace {

// The longest ids with one-character parents, as README.md lists them.
constexpr std::size_t longest_bucket = 208 - 9;                      // "/buckets/"
constexpr std::size_t longest_collection = 244 - 23;                 // "/buckets/b/collections/"
constexpr std::size_t longest_group = 252 - 18;                      // "/buckets/b/groups/"
constexpr std::size_t longest_record = 252 - 33;                     // "/buckets/b/collections/c/records/"
constexpr std::size_t longest_account = 252 - 10;                    // "/accounts/"
constexpr std::size_t longest_principal = 252;

/// An id of `n` characters that the id syntax accepts.
std::string id_of(std::size_t n, char fill = 'x') { return "a" + std::string(n - 1, fill); }

/// 400, errno 107, "path: Invalid object id": the answer to an invalid id.
void check_invalid_id(const http_response& r) {
  REQUIRE_THAT(r, is_kinto_error(400, 107));
  CHECK(str_at(r.json(), "message") == "path: Invalid object id");
  CHECK(str_at(r.json(), "details.0.location") == "path");
}

/// 400, errno 107, naming the body field that holds the principal.
void check_principal_refused(const http_response& r, std::string_view name) {
  REQUIRE_THAT(r, is_kinto_error(400, 107));
  CHECK(str_at(r.json(), "details.0.location") == "body");
  CHECK(str_at(r.json(), "details.0.name") == name);
}

std::vector<std::string> listed_ids(kintod_process& server, const std::string& plural, const header_list& as) {
  std::vector<std::string> ids;
  const value body = must(server.request("GET", plural, {}, as), 200);
  for (const auto& obj : at(body, "data").as_array()) ids.push_back(str_at(obj, "id"));
  return ids;
}

bool listed(kintod_process& server, const std::string& plural, const std::string& id, const header_list& as = owner()) {
  auto ids = listed_ids(server, plural, as);
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

/// PUT 201, GET 200 with the same id, listed in `plural`, DELETE 200, then gone.
void check_round_trip(kintod_process& server, const std::string& plural, const std::string& id,
                      const header_list& as = owner(), const std::string& body = R"({"data": {"n": 1}})") {
  const std::string uri = plural + "/" + id;
  auto created = must(server.request("PUT", uri, body, as), 201);
  CHECK(str_at(created, "data.id") == id);
  auto read = must(server.request("GET", uri, {}, as), 200);
  CHECK(str_at(read, "data.id") == id);
  CHECK(listed(server, plural, id, as));
  must(server.request("DELETE", uri, {}, as), 200);
  CHECK_FALSE(listed(server, plural, id, as));
}

} // namespace

TEST_CASE("an id too long for a storage key is refused as an invalid id, whatever the kind", "[limits][keys]") {
  kintod_process server;
  create_collection(server, "b", "c");
  const std::string records = "/v1/buckets/b/collections/c/records";
  SECTION("4,000 characters") {
    const std::string huge = id_of(4000);
    check_invalid_id(server.request("PUT", "/v1/buckets/" + huge, R"({"data": {}})", owner()));
    check_invalid_id(server.request("PUT", "/v1/buckets/b/collections/" + huge, R"({"data": {}})", owner()));
    check_invalid_id(server.request("PUT", "/v1/buckets/b/groups/" + huge, R"({"data": {}})", owner()));
    check_invalid_id(server.request("PUT", records + "/" + huge, R"({"data": {}})", owner()));
    check_invalid_id(server.request("PUT", "/v1/accounts/" + huge, R"({"data": {"password": "pw"}})"));
    check_invalid_id(server.request("POST", "/v1/buckets/b/collections/c/records",
                                    R"({"data": {"id": ")" + huge + R"("}})", owner()));
  }
  SECTION("one byte more than the longest accepted") {
    check_invalid_id(server.request("PUT", "/v1/buckets/" + id_of(longest_bucket + 1), R"({"data": {}})", owner()));
    check_invalid_id(
        server.request("PUT", "/v1/buckets/b/collections/" + id_of(longest_collection + 1), R"({"data": {}})", owner()));
    check_invalid_id(server.request("PUT", "/v1/buckets/b/groups/" + id_of(longest_group + 1), R"({"data": {}})", owner()));
    check_invalid_id(server.request("PUT", records + "/" + id_of(longest_record + 1), R"({"data": {}})", owner()));
    check_invalid_id(
        server.request("PUT", "/v1/accounts/" + id_of(longest_account + 1), R"({"data": {"password": "pw"}})"));
  }
  SECTION("in the body of a POST") {
    check_invalid_id(server.request("POST", "/v1/buckets", R"({"data": {"id": ")" + id_of(longest_bucket + 1) + R"("}})",
                                    owner()));
    check_invalid_id(
        server.request("POST", records, R"({"data": {"id": ")" + id_of(longest_record + 1) + R"("}})", owner()));
    check_invalid_id(server.request("POST", "/v1/accounts",
                                    R"({"data": {"id": ")" + id_of(longest_account + 1) + R"(", "password": "pw"}})"));
  }
  SECTION("in a batch: the sub-request gets the 400") {
    auto r = server.request("POST", "/v1/batch",
                            R"({"requests": [{"method": "PUT", "path": "/buckets/)" + id_of(4000) + R"("}]})", owner());
    REQUIRE_THAT(r, is_json(200));
    CHECK(int_at(r.json(), "responses.0.status") == 400);
    CHECK(int_at(r.json(), "responses.0.body.errno") == 107);
  }
  // Reads of such ids find nothing; they never fail.
  CHECK(server.request("GET", records + "/" + id_of(4000), {}, owner()).status == 404);
  CHECK(server.request("DELETE", records + "/" + id_of(4000), {}, owner()).status == 404);
  CHECK(server.healthy());
  CHECK(listed_ids(server, "/v1/buckets", owner()) == std::vector<std::string>{"b"});
}

TEST_CASE("the longest accepted id of each kind round-trips", "[limits][keys]") {
  kintod_process server;
  create_collection(server, "b", "c");
  SECTION("bucket") { check_round_trip(server, "/v1/buckets", id_of(longest_bucket)); }
  SECTION("collection") { check_round_trip(server, "/v1/buckets/b/collections", id_of(longest_collection)); }
  SECTION("group, with members") {
    check_round_trip(server, "/v1/buckets/b/groups", id_of(longest_group), owner(), R"({"data": {"members": ["alice"]}})");
  }
  SECTION("record") { check_round_trip(server, "/v1/buckets/b/collections/c/records", id_of(longest_record)); }
  SECTION("account, which then writes in its own name") {
    const std::string id = id_of(longest_account);
    must(server.request("PUT", "/v1/accounts/" + id, R"({"data": {"password": "pw"}})"), 201);
    const header_list self = auth(id, "pw");
    auto hello = must(server.request("GET", "/v1/", {}, self), 200);
    CHECK(str_at(hello, "user.id") == "account:" + id);
    CHECK(str_at(must(server.request("GET", "/v1/accounts/" + id, {}, self), 200), "data.id") == id);
    CHECK(listed_ids(server, "/v1/accounts", self) == std::vector<std::string>{id});
    // Its user id is a principal in the keys of what it writes.
    check_round_trip(server, "/v1/buckets", id_of(longest_bucket), self);
    must(server.request("DELETE", "/v1/accounts/" + id, {}, self), 200);
    // Deleted: the same credentials are only basicauth's now.
    CHECK(str_at(must(server.request("GET", "/v1/", {}, self), 200), "user.id") != "account:" + id);
  }
}

TEST_CASE("a normal id whose URI, with its parents', is too long is refused", "[limits][keys]") {
  kintod_process server;
  const std::string bucket = "/v1/buckets/" + id_of(longest_bucket);
  must(server.request("PUT", bucket, {}, owner()), 201);
  // The collection's URI is 222 bytes: its records' URIs leave 21 bytes for the id.
  must(server.request("PUT", bucket + "/collections/c", {}, owner()), 201);
  const std::string records = bucket + "/collections/c/records";
  must(server.request("PUT", records + "/" + id_of(21), R"({"data": {}})", owner()), 201);
  check_invalid_id(server.request("PUT", records + "/" + id_of(22), R"({"data": {}})", owner()));
  // A generated id (a 36-character UUID) does not fit either.
  check_invalid_id(server.request("POST", records, R"({"data": {}})", owner()));
  // Groups of the bucket: 36 bytes left.
  must(server.request("PUT", bucket + "/groups/" + id_of(36), R"({"data": {}})", owner()), 201);
  check_invalid_id(server.request("PUT", bucket + "/groups/" + id_of(37), R"({"data": {}})", owner()));
  CHECK(listed_ids(server, records, owner()) == std::vector<std::string>{id_of(21)});
}

TEST_CASE("a principal too long for a storage key is refused in permissions and group members", "[limits][keys]") {
  kintod_process server;
  create_collection(server, "b", "c");
  const std::string fits(longest_principal, 'p'), over(longest_principal + 1, 'p');
  const std::string record = "/v1/buckets/b/collections/c/records/r";
  must(server.request("PUT", record, R"({"data": {"n": 1}})", owner()), 201);
  const header_list merge = with(owner(), {{"Content-Type", "application/merge-patch+json"}});
  const header_list json_patch = with(owner(), {{"Content-Type", "application/json-patch+json"}});
  SECTION("in a body's permissions") {
    check_principal_refused(
        server.request("PUT", "/v1/buckets/b2", R"({"permissions": {"read": ["alice", ")" + over + R"("]}})", owner()),
        "permissions.read");
    check_principal_refused(
        server.request("PATCH", record, R"({"permissions": {"write": [")" + over + R"("]}})", owner()),
        "permissions.write");
    check_principal_refused(server.request("PATCH", record, R"({"permissions": {"read": [")" + over + R"("]}})", merge),
                            "permissions.read");
    check_principal_refused(server.request("POST", "/v1/buckets/b/collections",
                                           R"({"data": {"id": "c2"}, "permissions": {"record:create": [")" + over +
                                               R"("]}})",
                                           owner()),
                            "permissions.record:create");
  }
  SECTION("in a JSON-Patch") {
    check_principal_refused(
        server.request("PATCH", record, R"([{"op": "add", "path": "/permissions/read/)" + over + R"("}])", json_patch),
        "permissions.read");
  }
  SECTION("among a group's members") {
    check_principal_refused(
        server.request("PUT", "/v1/buckets/b/groups/g", R"({"data": {"members": ["alice", ")" + over + R"("]}})", owner()),
        "data.members.1");
    must(server.request("PUT", "/v1/buckets/b/groups/g0", R"({"data": {}})", owner()), 201);
    check_principal_refused(server.request("PATCH", "/v1/buckets/b/groups/g0",
                                           R"([{"op": "add", "path": "/data/members/-", "value": ")" + over + R"("}])",
                                           json_patch),
                            "data.members.0");
    CHECK(at(must(server.request("GET", "/v1/buckets/b/groups/g0", {}, owner()), 200), "data.members").as_array().empty());
  }
  // Nothing of the refused writes was kept; the longest principal is accepted.
  auto stored = must(server.request("GET", record, {}, owner()), 200);
  CHECK(keys_at(stored, "permissions") == std::vector<std::string>{"write"});
  CHECK(server.request("GET", "/v1/buckets/b/groups/g", {}, owner()).status == 404);
  auto granted = must(server.request("PATCH", record, R"({"permissions": {"read": [")" + fits + R"("]}})", owner()), 200);
  CHECK(contains_string(granted, "permissions.read", fits));
  auto group = must(
      server.request("PUT", "/v1/buckets/b/groups/g", R"({"data": {"members": [")" + fits + R"("]}})", owner()), 201);
  CHECK(contains_string(group, "data.members", fits));
  CHECK(server.healthy());
}

TEST_CASE("with history, the longest bucket keeps entries readable by the longest principal", "[limits][keys]") {
  // The tightest key: a grant of the longest principal on a history entry of
  // the longest bucket is exactly 511 bytes.
  kintod_process server({.settings = {{"kinto.includes", "kinto.plugins.accounts kinto.plugins.history"}}});
  const std::string bucket = "/v1/buckets/" + id_of(longest_bucket);
  const std::string reader(longest_principal, 'p');
  must(server.request("PUT", bucket, R"({"permissions": {"read": [")" + reader + R"("]}})", owner()), 201);
  must(server.request("PUT", bucket + "/collections/c", {}, owner()), 201);
  must(server.request("PUT", bucket + "/collections/c/records/r", R"({"data": {}})", owner()), 201);
  auto history = must(server.request("GET", bucket + "/history", {}, owner()), 200);
  CHECK(at(history, "data").as_array().size() == 3);
  must(server.request("DELETE", bucket, {}, owner()), 200);
}

TEST_CASE("the default bucket refuses a collection id too long for its keys", "[limits][keys][default_bucket]") {
  kintod_process server({.settings = {{"kinto.includes", "kinto.plugins.accounts kinto.plugins.default_bucket"}}});
  // The personal bucket's id is 36 characters (derived from the user id, not
  // the user id itself): its collections' URIs leave 186 bytes for the id.
  const std::string collections = "/v1/buckets/default/collections/";
  check_invalid_id(server.request("PUT", collections + id_of(187), {}, owner()));
  check_invalid_id(server.request("GET", collections + id_of(4000) + "/records", {}, owner()));
  must(server.request("PUT", collections + id_of(186), {}, owner()), 201);
  must(server.request("GET", collections + id_of(186) + "/records", {}, owner()), 200);
  CHECK(server.healthy());
}
