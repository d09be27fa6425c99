// Integration tests of plural endpoints (querying.md): paging while the list
// changes, _since/_before/_to and tombstones, _fields, HEAD counts, plural
// DELETE, and the query language on every list. Uses harness.hpp only.
#include "querying_support.hpp"

using namespace querying_support;
TEST_CASE("paging in the default order while the list changes lists each untouched object once", "[querying]") {
  kintod_process server;
  seed_list objects;
  for (int i = 0; i < 15; ++i) objects.emplace_back((i < 10 ? "r0" : "r") + std::to_string(i), "{}");
  seed(server, objects);
  churner churn(server, must(server.request("GET", records, {}, owner()), 200),
                [](int step) { return R"({"modified": )" + std::to_string(step) + "}"; },
                [](int step) { return R"({"created": )" + std::to_string(step) + "}"; });
  auto result = walk(server, records + "?_limit=3", [&](const page_list& pages) { churn.between_pages(pages); });
  check_walk(result, churn);
  for (const auto& page : result.pages)
    for (const auto& obj : page) CHECK_FALSE(is_tombstone(obj));
}

TEST_CASE("paging with _sort=title while the list changes lists each untouched object once", "[querying]") {
  kintod_process server;
  seed_list objects;
  // Titles come in pairs so that pages end inside a tie broken by -last_modified.
  for (int i = 0; i < 15; ++i)
    objects.emplace_back((i < 10 ? "r0" : "r") + std::to_string(i),
                         R"({"title": "t0)" + std::to_string(i / 2) + R"("})");
  seed(server, objects);
  churner churn(server, must(server.request("GET", records + "?_sort=title", {}, owner()), 200),
                [](int step) { return R"({"title": "zz-moved-)" + std::to_string(step) + R"("})"; },
                [](int step) { return R"({"title": "t0)" + std::to_string(step % 6) + R"(-new"})"; });
  auto result =
      walk(server, records + "?_sort=title&_limit=3", [&](const page_list& pages) { churn.between_pages(pages); });
  check_walk(result, churn);
  for (const auto& page : result.pages)
    for (const auto& obj : page) CHECK_FALSE(is_tombstone(obj));
}

TEST_CASE("paging through _since results while the list changes misses nothing at the next poll", "[querying]") {
  kintod_process server;
  seed_list objects;
  for (int i = 0; i < 6; ++i) objects.emplace_back("old" + std::to_string(i), R"({"n": 0})");
  seed(server, objects);
  auto since = list_etag(server, records);
  for (int i = 0; i < 8; ++i) put_record(server, "new" + std::to_string(i), R"({"n": 1})");
  must(server.request("PATCH", records + "/old0", R"({"data": {"n": 2}})", owner()), 200);
  delete_record(server, "old1");

  std::string query = "?_since=" + std::to_string(since);
  churner churn(server, must(server.request("GET", records + query, {}, owner()), 200),
                [](int step) { return R"({"modified": )" + std::to_string(step) + "}"; },
                [](int step) { return R"({"created": )" + std::to_string(step) + "}"; });
  REQUIRE(churn.initial_tombstones == ids{"old1"});
  auto result = walk(server, records + query + "&_limit=3", [&](const page_list& pages) {
    churn.between_pages(pages);
    // Deleting an object older than `since` makes a tombstone newer than every page.
    if (pages.size() > 4) return;
    churn.remove("old" + std::to_string(1 + pages.size()));
  });
  check_walk(result, churn);

  // The next poll, from the ETag of the first page, returns exactly what changed during the walk.
  auto poll = server.request("GET", records + "?_since=" + url_encode(etag_of(result.first_etag)), {}, owner());
  REQUIRE_THAT(poll, is_json(200));
  auto changes = at(poll.json(), "data").as_array();
  ids changed;
  for (const auto& obj : changes) {
    std::string id = str_at(obj, "id");
    changed.insert(id);
    INFO(id);
    CHECK(is_tombstone(obj) == static_cast<bool>(churn.deleted.count(id)));
  }
  CHECK(changed == churn.written);
  CHECK(changes.size() == changed.size());
}

// ---- §5 _since, _before, _to and tombstones ---------------------------------------------------

TEST_CASE("_since accepts the ETag value with its quotes and null means absent", "[querying]") {
  kintod_process server;
  auto ts = seed(server, {{"a", "{}"}, {"b", "{}"}, {"c", "{}"}});
  delete_record(server, "c");
  std::string bare = std::to_string(ts["a"]);
  CHECK(matching(server, records + "?_since=" + bare) == ids{"b", "c"});
  CHECK(matching(server, records + "?_since=" + url_encode(etag_of(ts["a"]))) == ids{"b", "c"});
  CHECK(matching(server, records + "?_before=" + url_encode(etag_of(ts["b"]))) == ids{"a"});
  CHECK(matching(server, records + "?_since=null") == ids{"a", "b"});
}

TEST_CASE("a deleted object is listed as a tombstone only when the request filters on last_modified", "[querying]") {
  kintod_process server;
  auto ts = seed(server, {{"k1", R"({"status": 1})"}, {"k2", R"({"status": 2})"}, {"k3", R"({"status": 1})"}});
  auto before = list_etag(server, records);
  auto deleted_at = delete_record(server, "k1");

  CHECK(matching(server, records) == ids{"k2", "k3"});
  auto since = must(server.request("GET", records + "?_since=" + std::to_string(before), {}, owner()), 200);
  CHECK(since == parse_json(R"({"data": [)" + kinto::json::serialize(tombstone("k1", deleted_at)) + "]}"));
  CHECK(listed(server, records + "?deleted=true").empty());
  CHECK(listed(server, records + "?deleted=true&_since=0") == id_list{"k1"});
  CHECK(listed(server, records + "?gt_last_modified=" + std::to_string(before)) == id_list{"k1"});
  CHECK(listed(server, records + "?last_modified=" + std::to_string(deleted_at)) == id_list{"k1"});
  CHECK(matching(server, records + "?in_last_modified=" + std::to_string(deleted_at) + "," +
                             std::to_string(ts["k2"])) == ids{"k1", "k2"});
}

TEST_CASE("tombstones pass the filters that match absent fields and no others", "[querying]") {
  kintod_process server;
  seed(server, {{"k1", R"({"status": 1, "title": "x", "tags": ["a"]})"},
                {"k2", R"({"status": 2})"},
                {"k3", R"({"status": 1})"}});
  delete_record(server, "k1");
  auto m = [&](const std::string& filter) { return matching(server, records + "?_since=0&" + filter); };
  CHECK(m("status=1") == ids{"k3"});
  CHECK(m("not_status=2") == ids{"k1", "k3"});
  CHECK(m("gt_status=1") == ids{"k1", "k2"});
  CHECK(m("min_status=2") == ids{"k1", "k2"});
  CHECK(m("lt_status=5") == ids{"k2", "k3"});
  CHECK(m("max_status=5") == ids{"k2", "k3"});
  CHECK(m("in_status=1,2") == ids{"k2", "k3"});
  CHECK(m("exclude_status=2") == ids{"k1", "k3"});
  CHECK(m("has_status=false") == ids{"k1"});
  CHECK(m("has_status=true") == ids{"k2", "k3"});
  CHECK(m("like_title=x").empty());
  CHECK(m("contains_tags=a").empty());
}

TEST_CASE("tombstones are interleaved with live objects in _sort order", "[querying]") {
  kintod_process server;
  seed(server, {{"r1", R"({"title": "m"})"}, {"r2", R"({"title": "c"})"}, {"r3", R"({"title": "x"})"}});
  delete_record(server, "r2");
  put_record(server, "r4", R"({"title": "a"})");
  delete_record(server, "r1");
  // last_modified order: r3 < r2 (tombstone) < r4 < r1 (tombstone)
  std::string sort;
  id_list expected;
  SECTION("default order") {
    expected = {"r1", "r4", "r2", "r3"};
  }
  SECTION("by last_modified ascending") {
    sort = "last_modified";
    expected = {"r3", "r2", "r4", "r1"};
  }
  SECTION("by id") {
    sort = "id";
    expected = {"r1", "r2", "r3", "r4"};
  }
  SECTION("by a field tombstones lack, ascending") {
    sort = "title";
    expected = {"r4", "r3", "r1", "r2"};
  }
  SECTION("by a field tombstones lack, descending") {
    sort = "-title";
    expected = {"r1", "r2", "r3", "r4"};
  }
  std::string target = records + "?_since=0" + (sort.empty() ? "" : "&_sort=" + sort);
  INFO(target);
  auto body = must(server.request("GET", target, {}, owner()), 200);
  CHECK(ids_of(body) == expected);
  for (const auto& obj : at(body, "data").as_array()) {
    bool gone = str_at(obj, "id") == "r1" || str_at(obj, "id") == "r2";
    CHECK(is_tombstone(obj) == gone);
  }
}

TEST_CASE("_before lists strictly older objects and _to does the same with a deprecation Alert", "[querying]") {
  kintod_process server;
  auto ts = seed(server, {{"r1", "{}"}, {"r2", "{}"}});
  auto gone = delete_record(server, "r1");
  auto newest = put_record(server, "r4", "{}");
  auto expected = parse_json(R"({"data": [)" + kinto::json::serialize(tombstone("r1", gone)) + "," +
                             R"({"id": "r2", "last_modified": )" + std::to_string(ts["r2"]) + "}]}");

  auto before = server.request("GET", records + "?_before=" + std::to_string(newest), {}, owner());
  REQUIRE_THAT(before, is_json(200));
  CHECK(before.json() == expected);
  CHECK_FALSE(before.has_header("Alert"));

  auto to = server.request("GET", records + "?_to=" + std::to_string(newest), {}, owner());
  REQUIRE_THAT(to, is_json(200));
  CHECK(to.json() == expected);
  REQUIRE(to.has_header("Alert"));
  auto alert = parse_json(to.header("Alert"));
  CHECK(str_at(alert, "code") == "soft-eol");
  CHECK(str_at(alert, "message") == "_to is now deprecated, you should use _before instead");
  CHECK(at(alert, "url").is_string());

  CHECK(listed(server, records + "?_before=" + std::to_string(ts["r2"])).empty());
  CHECK(listed(server, records + "?_since=" + std::to_string(ts["r2"]) + "&_before=" + std::to_string(newest)) ==
        id_list{"r1"});
}

// ---- §6 _fields ------------------------------------------------------------------------------

TEST_CASE("_fields keeps id, last_modified and the requested fields with their nesting", "[querying]") {
  kintod_process server;
  seed(server, {{"f1", R"({"title": "t", "body": "x", "address": {"street": "s", "city": "c"}, "tags": "plain"})"},
                {"f2", R"({"body": "y"})"},
                {"f3", R"({"title": "gone"})"}});
  delete_record(server, "f3");
  auto objects = [&](const std::string& query) {
    std::map<std::string, value> out;
    auto body = must(server.request("GET", records + query, {}, owner()), 200);
    for (const auto& obj : at(body, "data").as_array()) out[str_at(obj, "id")] = obj;
    return out;
  };
  using keys = std::vector<std::string>;

  auto by_title = objects("?_fields=title");
  CHECK(keys_at(by_title["f1"]) == keys{"id", "last_modified", "title"});
  CHECK(str_at(by_title["f1"], "title") == "t");
  CHECK(keys_at(by_title["f2"]) == keys{"id", "last_modified"});

  auto nested = objects("?_fields=address.street");
  CHECK(at(nested["f1"], "address") == parse_json(R"({"street": "s"})"));
  CHECK(keys_at(nested["f1"]) == keys{"address", "id", "last_modified"});

  CHECK(at(objects("?_fields=tags.inner")["f1"], "tags") == value("plain"));

  CHECK(keys_at(objects("?_since=0&_fields=title")["f3"]) == keys{"id", "last_modified"});
  CHECK(keys_at(objects("?_since=0&_fields=deleted")["f3"]) == keys{"deleted", "id", "last_modified"});

  auto one = must(server.request("GET", records + "/f1?_fields=body", {}, owner()), 200);
  CHECK(keys_at(one, "data") == keys{"body", "id", "last_modified"});
}

// ---- §7 HEAD ---------------------------------------------------------------------------------

TEST_CASE("HEAD counts the live matching objects in Total-Objects and Total-Records", "[querying]") {
  kintod_process server;
  seed(server, {{"h1", R"({"status": 1})"},
                {"h2", R"({"status": 1})"},
                {"h3", R"({"status": 1})"},
                {"h4", R"({"status": 2})"},
                {"h5", R"({"status": 2})"}});
  delete_record(server, "h1");
  auto get = server.request("GET", records, {}, owner());
  std::string query;
  std::string expected;
  SECTION("no filter") { expected = "4"; }
  SECTION("a filter") {
    query = "?status=1";
    expected = "2";
  }
  SECTION("_limit is ignored") {
    query = "?_limit=1";
    expected = "4";
  }
  SECTION("tombstones are not counted with _since") {
    query = "?_since=0";
    expected = "4";
  }
  SECTION("tombstones are not counted even when the filter would let them through") {
    query = "?_since=0&not_status=2";
    expected = "2";
  }
  SECTION("nothing matches") {
    query = "?status=9";
    expected = "0";
  }
  INFO("HEAD " << records << query);
  auto r = server.request("HEAD", records + query, {}, owner());
  REQUIRE(r.status == 200);
  CHECK(r.header("Total-Objects") == expected);
  CHECK(r.header("Total-Records") == expected);
  CHECK(r.body.empty());
  CHECK_FALSE(r.has_header("Next-Page"));
  CHECK(r.header("ETag") == get.header("ETag"));
  CHECK(r.header("Last-Modified") == get.header("Last-Modified"));
}

TEST_CASE("GET never sends Total-Objects or Total-Records", "[querying]") {
  kintod_process server;
  seed(server, {{"a", R"({"k": 1})"}, {"b", R"({"k": 1})"}});
  for (std::string query : {"", "?k=1", "?_limit=1", "?_since=0"}) {
    INFO("GET " << records << query);
    auto r = server.request("GET", records + query, {}, owner());
    REQUIRE_THAT(r, is_json(200));
    CHECK_FALSE(r.has_header("Total-Objects"));
    CHECK_FALSE(r.has_header("Total-Records"));
  }
}

// ---- §8 plural DELETE ------------------------------------------------------------------------

TEST_CASE("a filtered plural DELETE removes only matching objects and returns their tombstones in order", "[querying]") {
  kintod_process server;
  seed(server, {{"d1", R"({"status": 1, "title": "c"})"},
                {"d2", R"({"status": 2, "title": "a"})"},
                {"d3", R"({"status": 1, "title": "a"})"},
                {"d4", R"({"status": 1, "title": "b"})"},
                {"d5", R"({"status": 2})"}});
  auto before = list_etag(server, records);

  auto r = server.request("DELETE", records + "?status=1&_sort=title", {}, owner());
  REQUIRE_THAT(r, is_json(200));
  auto data = at(r.json(), "data").as_array();
  CHECK(ids_of(r.json()) == id_list{"d3", "d4", "d1"});
  std::int64_t previous = before;
  for (const auto& obj : data) {
    CHECK(obj == tombstone(str_at(obj, "id"), int_at(obj, "last_modified")));
    CHECK(int_at(obj, "last_modified") > previous);
    previous = int_at(obj, "last_modified");
  }
  CHECK(r.header("ETag") == etag_of(previous));
  CHECK(r.header("Last-Modified") == http_date(previous));
  CHECK_FALSE(r.has_header("Next-Page"));

  CHECK(matching(server, records) == ids{"d2", "d5"});
  CHECK_THAT(server.request("GET", records + "/d1", {}, owner()), is_kinto_error(404, 110));
  CHECK(matching(server, records + "?_since=" + std::to_string(before)) == ids{"d1", "d3", "d4"});
  CHECK(list_etag(server, records) == previous);
}

TEST_CASE("a plural DELETE without filter removes every object, each at its own timestamp", "[querying]") {
  kintod_process server;
  seed(server, {{"a", "{}"}, {"b", "{}"}, {"c", "{}"}, {"d", "{}"}});
  auto r = server.request("DELETE", records, {}, owner());
  REQUIRE_THAT(r, is_json(200));
  CHECK(ids_of(r.json()) == id_list{"d", "c", "b", "a"});
  std::set<std::int64_t> stamps;
  auto body = r.json();
  for (const auto& obj : at(body, "data").as_array()) {
    CHECK(is_tombstone(obj));
    stamps.insert(int_at(obj, "last_modified"));
  }
  CHECK(stamps.size() == 4);
  CHECK(r.header("ETag") == etag_of(*stamps.rbegin()));
  CHECK(listed(server, records).empty());
}

TEST_CASE("a paginated plural DELETE continues through Next-Page with single-use tokens", "[querying]") {
  kintod_process server;
  seed(server, {{"p1", R"({"status": 1})"},
                {"p2", R"({"status": 1})"},
                {"q1", R"({"status": 2})"},
                {"p3", R"({"status": 1})"},
                {"p4", R"({"status": 1})"},
                {"q2", R"({"status": 2})"},
                {"p5", R"({"status": 1})"}});
  ids deleted;
  auto delete_page = [&](const std::string& target, std::size_t expected_size) {
    auto r = server.request("DELETE", target, {}, owner());
    REQUIRE_THAT(r, is_json(200));
    auto page = ids_of(r.json());
    CHECK(page.size() == expected_size);
    for (const auto& id : page) CHECK(deleted.insert(id).second);
    return r;
  };

  auto first = delete_page(records + "?status=1&_limit=2", 2);
  REQUIRE(first.has_header("Next-Page"));
  auto params = params_of(first.header("Next-Page"));
  CHECK(first.header("Next-Page").starts_with(server.url(records + "?")));
  CHECK(values_of(params, "status") == std::vector<std::string>{"1"});
  CHECK(values_of(params, "_limit") == std::vector<std::string>{"2"});
  std::string second_target = target_of(server, first.header("Next-Page"));

  auto second = delete_page(second_target, 2);
  REQUIRE(second.has_header("Next-Page"));

  INFO("DELETE " << second_target << " again");
  check_bad_query(server.request("DELETE", second_target, {}, owner()), std::nullopt,
                  "_token was already used or has expired.");
  CHECK(matching(server, records + "?status=1").size() == 1);

  auto last = delete_page(target_of(server, second.header("Next-Page")), 1);
  CHECK_FALSE(last.has_header("Next-Page"));
  CHECK(deleted == ids{"p1", "p2", "p3", "p4", "p5"});
  CHECK(matching(server, records) == ids{"q1", "q2"});
}

TEST_CASE("a plural DELETE matching nothing answers an empty list and the unchanged ETag", "[querying]") {
  kintod_process server;
  SECTION("nothing matches the filter") { seed(server, {{"n1", R"({"status": 1})"}}); }
  SECTION("the list is empty") { create_collection(server, "b", "c"); }
  auto before = list_etag(server, records);
  auto listed_before = listed(server, records);
  auto r = server.request("DELETE", records + "?status=9", {}, owner());
  REQUIRE_THAT(r, is_json(200));
  CHECK(r.json() == parse_json(R"({"data": []})"));
  CHECK(r.header("ETag") == etag_of(before));
  CHECK(list_etag(server, records) == before);
  CHECK(listed(server, records) == listed_before);
}

// ---- the other plural endpoints -----------------------------------------------------------

TEST_CASE("bucket, group and collection lists take the same query language", "[querying]") {
  kintod_process server;
  std::string plural;
  SECTION("buckets") { plural = "/v1/buckets"; }
  SECTION("groups") {
    must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
    plural = "/v1/buckets/b/groups";
  }
  SECTION("collections") {
    must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
    plural = "/v1/buckets/b/collections";
  }
  INFO(plural);
  must(server.request("PUT", plural + "/o1", R"({"data": {"kind": "a", "n": 1, "tags": ["x", "y"]}})", owner()), 201);
  must(server.request("PUT", plural + "/o2", R"({"data": {"kind": "b", "n": 2, "tags": ["y"]}})", owner()), 201);
  must(server.request("PUT", plural + "/o3", R"({"data": {"kind": "a", "n": 3}})", owner()), 201);

  CHECK(matching(server, plural + "?kind=a") == ids{"o1", "o3"});
  CHECK(listed(server, plural + "?in_n=1,2&_sort=-n") == id_list{"o2", "o1"});
  CHECK(matching(server, plural + "?contains_tags=y&like_id=o*&gt_n=1") == ids{"o2"});
  CHECK(matching(server, plural + "?has_tags=false") == ids{"o3"});

  auto first = server.request("GET", plural + "?_sort=n&_limit=2", {}, owner());
  REQUIRE_THAT(first, is_json(200));
  CHECK(ids_of(first.json()) == id_list{"o1", "o2"});
  REQUIRE(first.has_header("Next-Page"));
  CHECK(first.header("Next-Page").starts_with(server.url(plural + "?")));
  auto second = server.request("GET", target_of(server, first.header("Next-Page")), {}, owner());
  REQUIRE_THAT(second, is_json(200));
  CHECK(ids_of(second.json()) == id_list{"o3"});
  CHECK_FALSE(second.has_header("Next-Page"));

  auto head = server.request("HEAD", plural + "?kind=a", {}, owner());
  REQUIRE(head.status == 200);
  CHECK(head.header("Total-Objects") == "2");

  auto removed = server.request("DELETE", plural + "?kind=b", {}, owner());
  REQUIRE_THAT(removed, is_json(200));
  CHECK(ids_of(removed.json()) == id_list{"o2"});
  CHECK(is_tombstone(at(removed.json(), "data.0")));
  CHECK(matching(server, plural) == ids{"o1", "o3"});
}

namespace {

void create_account(kintod_process& server, const std::string& id, const std::string& password) {
  must(server.request("PUT", "/v1/accounts/" + id, R"({"data": {"password": ")" + password + R"("}})"), 201);
}

} // namespace

TEST_CASE("an administrator filters, sorts, pages, counts and deletes across every account", "[querying]") {
  kintod_process server;
  for (std::string id : {"admin", "alice", "bob", "carol"}) create_account(server, id, "p-" + id);
  const auto admin = auth("admin", "p-admin");
  const std::string accounts = "/v1/accounts";

  CHECK(listed(server, accounts + "?_sort=-id", admin) == id_list{"carol", "bob", "alice", "admin"});
  CHECK(matching(server, accounts + "?like_id=a*", admin) == ids{"admin", "alice"});
  CHECK(matching(server, accounts + "?in_id=alice,bob", admin) == ids{"alice", "bob"});

  auto first = server.request("GET", accounts + "?_sort=id&_limit=3", {}, admin);
  REQUIRE_THAT(first, is_json(200));
  CHECK(ids_of(first.json()) == id_list{"admin", "alice", "bob"});
  REQUIRE(first.has_header("Next-Page"));
  CHECK(listed(server, target_of(server, first.header("Next-Page")), admin) == id_list{"carol"});

  auto head = server.request("HEAD", accounts + "?not_id=admin", {}, admin);
  REQUIRE(head.status == 200);
  CHECK(head.header("Total-Objects") == "3");

  auto removed = server.request("DELETE", accounts + "?id=carol", {}, admin);
  REQUIRE_THAT(removed, is_json(200));
  CHECK(ids_of(removed.json()) == id_list{"carol"});
  CHECK(matching(server, accounts, admin) == ids{"admin", "alice", "bob"});
}

TEST_CASE("a user's account list is filtered, counted and deleted within their own account", "[querying]") {
  kintod_process server;
  create_account(server, "alice", "pa");
  create_account(server, "bob", "pb");
  const auto alice = auth("alice", "pa");
  const std::string accounts = "/v1/accounts";

  CHECK(listed(server, accounts, alice) == id_list{"alice"});
  CHECK(matching(server, accounts + "?in_id=alice,bob", alice) == ids{"alice"});
  CHECK(matching(server, accounts + "?id=bob", alice).empty());
  auto page = server.request("GET", accounts + "?_limit=1", {}, alice);
  REQUIRE_THAT(page, is_json(200));
  CHECK_FALSE(page.has_header("Next-Page"));

  auto all = server.request("HEAD", accounts, {}, alice);
  REQUIRE(all.status == 200);
  CHECK(all.header("Total-Objects") == "1");
  auto none = server.request("HEAD", accounts + "?id=bob", {}, alice);
  REQUIRE(none.status == 200);
  CHECK(none.header("Total-Objects") == "0");

  auto removed = server.request("DELETE", accounts + "?id=bob", {}, alice);
  REQUIRE_THAT(removed, is_json(200));
  CHECK(removed.json() == parse_json(R"({"data": []})"));
  CHECK_THAT(server.request("GET", accounts + "/bob", {}, auth("bob", "pb")), is_json(200));
}
