// The permission matrix (auth-permissions.md §4-§7): every caller (owner,
// reader through a group, stranger, anonymous) against every kind of object and
// list, every method, with the object present, missing or under a missing parent.
#include "harness.hpp"

#include <algorithm>
#include <array>

using namespace kintod_test;
using kinto::json::value;

namespace {

enum class kind { bucket, group, collection, record };
enum class state { exists, missing, parent_missing };
enum caller { owner_caller, reader_caller, stranger_caller, anonymous_caller };

const char* name_of(kind k) {
  switch (k) {
  case kind::bucket:
    return "bucket";
  case kind::group:
    return "group";
  case kind::collection:
    return "collection";
  case kind::record:
    return "record";
  }
  return "?";
}

const char* name_of(state s) {
  switch (s) {
  case state::exists:
    return "existing";
  case state::missing:
    return "missing";
  case state::parent_missing:
    return "under a missing parent";
  }
  return "?";
}

constexpr std::array<const char*, 4> caller_names{"owner", "reader (bucket read through group g)", "stranger",
                                                  "anonymous"};

header_list headers_of(caller c) {
  switch (c) {
  case owner_caller:
    return owner();
  case reader_caller:
    return auth("alice", "secret");
  case stranger_caller:
    return auth("bob", "secret");
  case anonymous_caller:
    return {};
  }
  return {};
}

// What one caller gets. `denied` is 401 for anonymous callers and 403 for the others (§5.3).
struct outcome {
  int status = 0;      ///< 0 = denied
  int kinto_errno = 0; ///< for 404: 110 (object) or 111 (parent)
  int listed = -1;     ///< lists answering 200: how many of the owner's objects the caller sees (0 or 1)
};

const outcome ok{200};
const outcome created{201};
const outcome denied{0};
const outcome not_found{404, 110};
const outcome no_parent{404, 111};
constexpr outcome sees(int n) {
  return {200, 0, n};
}

struct row {
  kind k;
  state s;
  const char* method;
  std::array<outcome, 4> by_caller; ///< owner, reader, stranger, anonymous
};

// Object endpoints. The owner created everything and holds write on it; the
// reader holds bucket read only; a missing object is 404 to whoever may read
// (GET/HEAD) or list (PATCH/DELETE) its parent (§5.2); a missing bucket has no
// parent ACE, so it is 403 to all; records under a missing collection are 404
// before authorization for writes (resources.md §8, Record).
const std::vector<row> object_rows{
    {kind::bucket, state::exists, "GET", {ok, ok, denied, denied}},
    {kind::bucket, state::exists, "HEAD", {ok, ok, denied, denied}},
    {kind::bucket, state::exists, "PUT", {ok, denied, denied, denied}},
    {kind::bucket, state::exists, "PATCH", {ok, denied, denied, denied}},
    {kind::bucket, state::exists, "DELETE", {ok, denied, denied, denied}},
    {kind::bucket, state::missing, "GET", {denied, denied, denied, denied}},
    {kind::bucket, state::missing, "HEAD", {denied, denied, denied, denied}},
    {kind::bucket, state::missing, "PUT", {created, created, created, denied}},
    {kind::bucket, state::missing, "PATCH", {denied, denied, denied, denied}},
    {kind::bucket, state::missing, "DELETE", {denied, denied, denied, denied}},

    {kind::group, state::exists, "GET", {ok, ok, denied, denied}},
    {kind::group, state::exists, "HEAD", {ok, ok, denied, denied}},
    {kind::group, state::exists, "PUT", {ok, denied, denied, denied}},
    {kind::group, state::exists, "PATCH", {ok, denied, denied, denied}},
    {kind::group, state::exists, "DELETE", {ok, denied, denied, denied}},
    {kind::group, state::missing, "GET", {not_found, not_found, denied, denied}},
    {kind::group, state::missing, "HEAD", {not_found, not_found, denied, denied}},
    {kind::group, state::missing, "PUT", {created, denied, denied, denied}},
    {kind::group, state::missing, "PATCH", {not_found, not_found, denied, denied}},
    {kind::group, state::missing, "DELETE", {not_found, not_found, denied, denied}},
    {kind::group, state::parent_missing, "GET", {denied, denied, denied, denied}},
    {kind::group, state::parent_missing, "HEAD", {denied, denied, denied, denied}},
    {kind::group, state::parent_missing, "PUT", {denied, denied, denied, denied}},
    {kind::group, state::parent_missing, "PATCH", {denied, denied, denied, denied}},
    {kind::group, state::parent_missing, "DELETE", {denied, denied, denied, denied}},

    {kind::collection, state::exists, "GET", {ok, ok, denied, denied}},
    {kind::collection, state::exists, "HEAD", {ok, ok, denied, denied}},
    {kind::collection, state::exists, "PUT", {ok, denied, denied, denied}},
    {kind::collection, state::exists, "PATCH", {ok, denied, denied, denied}},
    {kind::collection, state::exists, "DELETE", {ok, denied, denied, denied}},
    {kind::collection, state::missing, "GET", {not_found, not_found, denied, denied}},
    {kind::collection, state::missing, "HEAD", {not_found, not_found, denied, denied}},
    {kind::collection, state::missing, "PUT", {created, denied, denied, denied}},
    {kind::collection, state::missing, "PATCH", {not_found, not_found, denied, denied}},
    {kind::collection, state::missing, "DELETE", {not_found, not_found, denied, denied}},
    {kind::collection, state::parent_missing, "GET", {denied, denied, denied, denied}},
    {kind::collection, state::parent_missing, "HEAD", {denied, denied, denied, denied}},
    {kind::collection, state::parent_missing, "PUT", {denied, denied, denied, denied}},
    {kind::collection, state::parent_missing, "PATCH", {denied, denied, denied, denied}},
    {kind::collection, state::parent_missing, "DELETE", {denied, denied, denied, denied}},

    {kind::record, state::exists, "GET", {ok, ok, denied, denied}},
    {kind::record, state::exists, "HEAD", {ok, ok, denied, denied}},
    {kind::record, state::exists, "PUT", {ok, denied, denied, denied}},
    {kind::record, state::exists, "PATCH", {ok, denied, denied, denied}},
    {kind::record, state::exists, "DELETE", {ok, denied, denied, denied}},
    {kind::record, state::missing, "GET", {not_found, not_found, denied, denied}},
    {kind::record, state::missing, "HEAD", {not_found, not_found, denied, denied}},
    {kind::record, state::missing, "PUT", {created, denied, denied, denied}},
    {kind::record, state::missing, "PATCH", {not_found, not_found, denied, denied}},
    {kind::record, state::missing, "DELETE", {not_found, not_found, denied, denied}},
    {kind::record, state::parent_missing, "GET", {no_parent, no_parent, denied, denied}},
    {kind::record, state::parent_missing, "HEAD", {no_parent, no_parent, denied, denied}},
    {kind::record, state::parent_missing, "PUT", {no_parent, no_parent, no_parent, no_parent}},
    {kind::record, state::parent_missing, "PATCH", {no_parent, no_parent, no_parent, no_parent}},
    {kind::record, state::parent_missing, "DELETE", {no_parent, no_parent, no_parent, no_parent}},
};

// Plural endpoints (§6): a caller who may list everything sees the owner's
// object; otherwise only objects it holds a permission on directly; otherwise
// an empty list if it may create there; otherwise 401/403. `exists` means the
// parent exists and holds one object of the owner.
const std::vector<row> plural_rows{
    {kind::bucket, state::exists, "GET", {sees(1), sees(1), sees(0), denied}},
    {kind::bucket, state::exists, "HEAD", {sees(1), sees(1), sees(0), denied}},
    {kind::bucket, state::exists, "POST", {created, created, created, denied}},
    {kind::bucket, state::exists, "DELETE", {sees(1), sees(0), sees(0), denied}},

    {kind::group, state::exists, "GET", {sees(1), sees(1), denied, denied}},
    {kind::group, state::exists, "HEAD", {sees(1), sees(1), denied, denied}},
    {kind::group, state::exists, "POST", {created, denied, denied, denied}},
    {kind::group, state::exists, "DELETE", {sees(1), denied, denied, denied}},
    {kind::group, state::parent_missing, "GET", {denied, denied, denied, denied}},
    {kind::group, state::parent_missing, "HEAD", {denied, denied, denied, denied}},
    {kind::group, state::parent_missing, "POST", {denied, denied, denied, denied}},
    {kind::group, state::parent_missing, "DELETE", {denied, denied, denied, denied}},

    {kind::collection, state::exists, "GET", {sees(1), sees(1), denied, denied}},
    {kind::collection, state::exists, "HEAD", {sees(1), sees(1), denied, denied}},
    {kind::collection, state::exists, "POST", {created, denied, denied, denied}},
    {kind::collection, state::exists, "DELETE", {sees(1), denied, denied, denied}},
    {kind::collection, state::parent_missing, "GET", {denied, denied, denied, denied}},
    {kind::collection, state::parent_missing, "HEAD", {denied, denied, denied, denied}},
    {kind::collection, state::parent_missing, "POST", {denied, denied, denied, denied}},
    {kind::collection, state::parent_missing, "DELETE", {denied, denied, denied, denied}},

    {kind::record, state::exists, "GET", {sees(1), sees(1), denied, denied}},
    {kind::record, state::exists, "HEAD", {sees(1), sees(1), denied, denied}},
    {kind::record, state::exists, "POST", {created, denied, denied, denied}},
    {kind::record, state::exists, "DELETE", {sees(1), denied, denied, denied}},
    {kind::record, state::parent_missing, "GET", {no_parent, no_parent, denied, denied}},
    {kind::record, state::parent_missing, "HEAD", {no_parent, no_parent, denied, denied}},
    {kind::record, state::parent_missing, "POST", {no_parent, no_parent, no_parent, no_parent}},
    {kind::record, state::parent_missing, "DELETE", {no_parent, denied, denied, denied}},
};

// The id of the owner's object of each kind, and its id when missing.
std::string object_id(kind k, state s) {
  static constexpr std::array<const char*, 4> present{"b", "g", "c", "r"};
  static constexpr std::array<const char*, 4> absent{"nob", "nog", "noc", "nor"};
  return (s == state::missing ? absent : present)[static_cast<int>(k)];
}

// The parent's path (with /v1) of a kind's objects; a missing parent is bucket
// nob for groups and collections and collection noc (in b) for records.
std::string parent_path(kind k, state s) {
  const bool gone = s == state::parent_missing;
  switch (k) {
  case kind::bucket:
    return "/v1";
  case kind::group:
    return gone ? "/v1/buckets/nob" : "/v1/buckets/b";
  case kind::collection:
    return gone ? "/v1/buckets/nob" : "/v1/buckets/b";
  case kind::record:
    return gone ? "/v1/buckets/b/collections/noc" : "/v1/buckets/b/collections/c";
  }
  return {};
}

std::string plural_path(kind k, state s) {
  static constexpr std::array<const char*, 4> lists{"buckets", "groups", "collections", "records"};
  return parent_path(k, s) + "/" + lists[static_cast<int>(k)];
}

std::string object_path(kind k, state s) {
  return plural_path(k, s) + "/" + object_id(k, s);
}

// The 404 details of an outcome for a request on `k` in state `s`.
value not_found_details(kind k, state s, int kinto_errno) {
  value details = value::object();
  if (kinto_errno == 111) {
    details.set("id", "noc");
    details.set("resource_name", "collection");
  } else {
    details.set("id", object_id(k, s));
    details.set("resource_name", name_of(k));
  }
  return details;
}

std::string write_body(kind k) {
  return k == kind::group ? R"({"data": {"members": [], "x": 1}})" : R"({"data": {"x": 1}})";
}

// The owner's bucket b (readable by group g), group g (whose only member is the
// reader), collection c and record r.
void seed(kintod_process& server) {
  const std::string reader_id(alice_basic_id);
  must(server.request("PUT", "/v1/buckets/b", R"({"permissions": {"read": ["/buckets/b/groups/g"]}})", owner()), 201);
  must(server.request("PUT", "/v1/buckets/b/groups/g", R"({"data": {"members": [")" + reader_id + R"("]}})", owner()),
       201);
  must(server.request("PUT", "/v1/buckets/b/collections/c", {}, owner()), 201);
  must(server.request("PUT", "/v1/buckets/b/collections/c/records/r", R"({"data": {"n": 1}})", owner()), 201);
  auto hello = must(server.request("GET", "/v1/", {}, headers_of(reader_caller)), 200);
  REQUIRE(contains_string(hello, "user.principals", "/buckets/b/groups/g"));
}

// What the owner sees of the tree and of `path`: compared before and after a
// request that must not change anything.
std::vector<std::string> owner_view(kintod_process& server, const std::string& path) {
  std::vector<std::string> out;
  for (const std::string& p :
       {std::string("/v1/buckets/b"), std::string("/v1/buckets/b/groups/g"), std::string("/v1/buckets/b/collections/c"),
        std::string("/v1/buckets/b/collections/c/records/r"), std::string("/v1/buckets"),
        std::string("/v1/buckets/b/groups"), std::string("/v1/buckets/b/collections"),
        std::string("/v1/buckets/b/collections/c/records"), path}) {
    auto r = server.request("GET", p, {}, owner());
    out.push_back(p + " -> " + std::to_string(r.status) + " " + r.body);
  }
  return out;
}

std::string caller_id(kintod_process& server, caller c) {
  auto hello = must(server.request("GET", "/v1/", {}, headers_of(c)), 200);
  const auto* id = find_path(hello, "user.id");
  return id ? id->as_string() : std::string();
}

void check_refusal_or_not_found(const http_response& r, const std::string& method, const outcome& expected, caller c,
                                kind k, state s) {
  const bool head = method == "HEAD";
  if (expected.status == 0) {
    CHECK_THAT(r, is_denied(c == anonymous_caller ? 401 : 403, head));
    return;
  }
  if (head) {
    CHECK(r.status == 404);
    CHECK(r.body.empty());
  } else {
    REQUIRE_THAT(r, is_kinto_error(404, expected.kinto_errno));
    auto body = r.json();
    CHECK(body.find("message") == nullptr);
    CHECK(at(body, "details") == not_found_details(k, s, expected.kinto_errno));
  }
  CHECK_FALSE(r.has_header("ETag"));
  CHECK_FALSE(r.has_header("Last-Modified"));
}

} // namespace

TEST_CASE("object endpoints answer each caller exactly as the permission rules say", "[permissions]") {
  const auto index = GENERATE(range(std::size_t{0}, object_rows.size()));
  const auto who = static_cast<caller>(GENERATE(range(0, 4)));
  const row& rule = object_rows[index];
  const outcome& expected = rule.by_caller[who];
  const std::string method = rule.method;
  const std::string path = object_path(rule.k, rule.s);
  const std::string body = method == "PUT" || method == "PATCH" ? write_body(rule.k) : std::string();
  INFO(caller_names[who] << ": " << method << " " << path << " (" << name_of(rule.s) << " " << name_of(rule.k) << ") "
                         << body);

  kintod_process server;
  seed(server);
  const std::string who_id = caller_id(server, who);
  const auto before = owner_view(server, path);
  auto r = server.request(method, path, body, headers_of(who));

  if (expected.status == 0 || expected.status == 404) {
    check_refusal_or_not_found(r, method, expected, who, rule.k, rule.s);
    CHECK(owner_view(server, path) == before);
    return;
  }
  if (method == "HEAD") {
    CHECK(r.status == expected.status);
    CHECK(r.body.empty());
    CHECK(r.has_header("ETag"));
    return;
  }
  REQUIRE_THAT(r, is_json(expected.status));
  auto json = r.json();
  CHECK(str_at(json, "data.id") == object_id(rule.k, rule.s));
  CHECK(r.header("ETag") == etag_of(int_at(json, "data.last_modified")));
  if (method == "GET") {
    if (who == owner_caller) {
      CHECK(contains_string(json, "permissions.write", mat_id));
    } else {
      CHECK(at(json, "permissions") == value::object());
    }
    CHECK(owner_view(server, path) == before);
  } else if (method == "DELETE") {
    CHECK(at(json, "data.deleted") == value(true));
    CHECK(json.find("permissions") == nullptr);
  } else {
    CHECK(int_at(json, "data.x") == 1);
    CHECK(contains_string(json, "permissions.write", who_id));
  }
}

TEST_CASE("plural endpoints answer each caller exactly as the permission rules say", "[permissions]") {
  const auto index = GENERATE(range(std::size_t{0}, plural_rows.size()));
  const auto who = static_cast<caller>(GENERATE(range(0, 4)));
  const row& rule = plural_rows[index];
  const outcome& expected = rule.by_caller[who];
  const std::string method = rule.method;
  const std::string path = plural_path(rule.k, rule.s);
  const std::string body = method == "POST" ? R"({"data": {"id": "fresh"}})" : "";
  INFO(caller_names[who] << ": " << method << " " << path << " (" << name_of(rule.k) << "s, parent "
                         << (rule.s == state::exists ? "present" : "missing") << ") " << body);

  kintod_process server;
  seed(server);
  const std::string who_id = caller_id(server, who);
  const auto before = owner_view(server, path);
  auto r = server.request(method, path, body, headers_of(who));

  if (expected.status == 0 || expected.status == 404) {
    check_refusal_or_not_found(r, method, expected, who, rule.k, rule.s);
    CHECK(owner_view(server, path) == before);
    return;
  }
  const std::vector<std::string> owners_objects =
      expected.listed == 1 ? std::vector<std::string>{object_id(rule.k, state::exists)} : std::vector<std::string>{};
  if (method == "HEAD") {
    CHECK(r.status == 200);
    CHECK(r.body.empty());
    CHECK(r.header("Total-Objects") == std::to_string(expected.listed));
    CHECK(r.header("Total-Records") == std::to_string(expected.listed));
    return;
  }
  REQUIRE_THAT(r, is_json(expected.status));
  auto json = r.json();
  if (method == "POST") {
    CHECK(str_at(json, "data.id") == "fresh");
    CHECK(contains_string(json, "permissions.write", who_id));
    return;
  }
  CHECK_FALSE(r.has_header("Total-Objects"));
  std::vector<std::string> ids;
  for (const auto& obj : at(json, "data").as_array()) ids.push_back(str_at(obj, "id"));
  CHECK(ids == owners_objects);
  if (method == "GET") {
    CHECK(owner_view(server, path) == before);
  } else if (expected.listed == 0) {
    CHECK(owner_view(server, path) == before);
  } else {
    CHECK(at(json, "data.0.deleted") == value(true));
  }
}

TEST_CASE("a stream of a plural endpoint is refused and filtered as its GET is", "[permissions][feed]") {
  const auto index = GENERATE(range(std::size_t{0}, plural_rows.size()));
  const auto who = static_cast<caller>(GENERATE(range(0, 4)));
  const row& rule = plural_rows[index];
  if (std::string_view(rule.method) != "GET") return;
  const outcome& expected = rule.by_caller[who];
  const std::string path = plural_path(rule.k, rule.s);
  INFO(caller_names[who] << ": stream of " << path);

  kintod_process server;
  seed(server);
  event_stream s(server.port(), path, headers_of(who));
  if (expected.status != 200) {
    // The same refusal as a read, before any stream.
    auto read = server.request("GET", path, {}, headers_of(who));
    CHECK(s.response().status == read.status);
    CHECK(parse_json(s.response().body) == read.json());
    return;
  }
  REQUIRE(s.response().status == 200);
  if (expected.listed == 1) {
    auto first = s.next();
    REQUIRE(first);
    CHECK(str_at(parse_json(first->data), "id") == object_id(rule.k, state::exists));
    return;
  }
  // Sees none of the owner's objects: its own, created afterwards, comes
  // first.
  must(server.request("POST", path, R"({"data": {"id": "mine"}})", headers_of(who)), 201);
  auto first = s.next();
  REQUIRE(first);
  CHECK(str_at(parse_json(first->data), "id") == "mine");
}

TEST_CASE("a refusal looks the same whether the object exists or not", "[permissions]") {
  const auto who = static_cast<caller>(GENERATE(range(2, 4)));
  const auto k = static_cast<kind>(GENERATE(range(0, 4)));
  const std::string method = GENERATE(as<std::string>{}, "GET", "HEAD", "PUT", "PATCH", "DELETE");
  if (k == kind::bucket && method == "PUT") return; // a PUT of a missing bucket is a creation
  kintod_process server;
  seed(server);
  const std::string body = method == "PUT" || method == "PATCH" ? write_body(k) : std::string();

  std::vector<std::string> targets{object_path(k, state::exists), object_path(k, state::missing)};
  if (k == kind::group || k == kind::collection) targets.push_back(object_path(k, state::parent_missing));
  std::vector<http_response> answers;
  for (const auto& target : targets) answers.push_back(server.request(method, target, body, headers_of(who)));

  auto without_date = [](const http_response& r) {
    header_list out;
    for (const auto& h : r.headers) {
      if (h.first != "Date" && h.first != "date") out.push_back(h);
    }
    return out;
  };
  for (std::size_t i = 0; i < targets.size(); ++i) {
    INFO(caller_names[who] << ": " << method << " " << targets[i] << " " << body);
    CHECK_THAT(answers[i], is_denied(who == anonymous_caller ? 401 : 403, method == "HEAD"));
    if (i == 0) continue;
    INFO("compared with " << method << " " << targets[0]);
    CHECK(answers[i].status == answers[0].status);
    CHECK(answers[i].body == answers[0].body);
    CHECK(without_date(answers[i]) == without_date(answers[0]));
  }
}

TEST_CASE("a stranger's list of buckets and its count reveal none of the owner's buckets", "[permissions]") {
  kintod_process server;
  seed(server);
  for (std::string b : {"b2", "b3"}) must(server.request("PUT", "/v1/buckets/" + b, {}, owner()), 201);
  const auto stranger = headers_of(stranger_caller);
  for (const std::string query : {"", "?_limit=1", "?id=b", "?_since=0", "?_sort=id"}) {
    INFO("/v1/buckets" << query);
    auto listed = server.request("GET", "/v1/buckets" + query, {}, stranger);
    REQUIRE_THAT(listed, is_json(200));
    CHECK(listed.json() == parse_json(R"({"data": []})"));
    CHECK_FALSE(listed.has_header("Next-Page"));
    auto head = server.request("HEAD", "/v1/buckets" + query, {}, stranger);
    CHECK(head.status == 200);
    CHECK(head.header("Total-Objects") == "0");
  }
  must(server.request("PUT", "/v1/buckets/own", {}, stranger), 201);
  CHECK(server.request("HEAD", "/v1/buckets", {}, stranger).header("Total-Objects") == "1");
  CHECK(server.request("HEAD", "/v1/buckets", {}, owner()).header("Total-Objects") == "3");
}
