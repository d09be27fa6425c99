// Integration tests of timestamps and concurrency control (concurrency.md):
// ETag/Last-Modified, monotonic list timestamps, client-supplied last_modified,
// If-Match / If-None-Match (304, 412, 400), and concurrent writers.
#include "harness.hpp"

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

using namespace kintod_test;
using kinto::json::value;

namespace {

const std::string collection = "/v1/buckets/b/collections/c";
const std::string records = collection + "/records";

std::int64_t list_timestamp(kintod_process& server, const std::string& plural) {
  auto r = server.request("GET", plural, {}, owner());
  if (r.status != 200) throw std::runtime_error("cannot read list timestamp:\n" + r.describe());
  return etag_value(r);
}

std::int64_t put_record(kintod_process& server, const std::string& id, const std::string& data = "{}") {
  auto body = must(server.request("PUT", records + "/" + id, R"({"data": )" + data + "}", owner()), 201);
  return int_at(body, "data.last_modified");
}

header_list if_match(std::int64_t ts) { return with(owner(), {{"If-Match", etag_of(ts)}}); }
header_list if_none_match(std::string value) { return with(owner(), {{"If-None-Match", std::move(value)}}); }

} // namespace

TEST_CASE("object responses carry an ETag equal to the quoted last_modified", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  must(server.request("PUT", records + "/r", R"({"data": {"a": 1}})", owner()), 201);
  http_response r;
  SECTION("PUT") { r = server.request("PUT", records + "/r", R"({"data": {"a": 2}})", owner()); }
  SECTION("POST") { r = server.request("POST", records, R"({"data": {"a": 2}})", owner()); }
  SECTION("GET") { r = server.request("GET", records + "/r", {}, owner()); }
  SECTION("PATCH") { r = server.request("PATCH", records + "/r", R"({"data": {"a": 3}})", owner()); }
  SECTION("DELETE") { r = server.request("DELETE", records + "/r", {}, owner()); }
  SECTION("GET of a collection") { r = server.request("GET", collection, {}, owner()); }
  INFO(r.describe());

  REQUIRE(r.status / 100 == 2);
  CHECK(r.header("ETag") == etag_of(int_at(r.json(), "data.last_modified")));
}

TEST_CASE("Last-Modified is the ETag instant as an HTTP-date truncated to the second", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto r = server.request("PUT", records + "/r", R"({"data": {}})", owner());
  REQUIRE_THAT(r, is_json(201));
  CHECK(r.header("Last-Modified") == http_date(etag_value(r)));
  auto fetched = server.request("GET", records + "/r", {}, owner());
  CHECK(fetched.header("Last-Modified") == http_date(etag_value(fetched)));
  auto list = server.request("GET", records, {}, owner());
  CHECK(list.header("Last-Modified") == http_date(etag_value(list)));
}

TEST_CASE("records written in a tight loop get distinct increasing timestamps", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto connection = server.connect();
  std::int64_t previous = 0;
  for (int i = 0; i < 50; ++i) {
    auto r = connection->request("POST", records, R"({"data": {"i": )" + std::to_string(i) + "}}", owner());
    REQUIRE_THAT(r, is_json(201));
    auto ts = int_at(r.json(), "data.last_modified");
    CHECK(ts > previous);
    previous = ts;
  }
  CHECK(list_timestamp(server, records) == previous);
}

TEST_CASE("a record write moves the records list timestamp but not the collection", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  put_record(server, "r", R"({"v": 1})");
  auto collection_ts = int_at(must(server.request("GET", collection, {}, owner()), 200), "data.last_modified");
  auto collections_list_ts = list_timestamp(server, "/v1/buckets/b/collections");
  auto before = list_timestamp(server, records);

  std::int64_t written = 0;
  SECTION("create") { written = put_record(server, "r2"); }
  SECTION("update") {
    written = int_at(must(server.request("PATCH", records + "/r", R"({"data": {"v": 2}})", owner()), 200),
                     "data.last_modified");
  }
  SECTION("delete") {
    written = int_at(must(server.request("DELETE", records + "/r", {}, owner()), 200), "data.last_modified");
  }
  INFO("written at " << written);

  auto after = list_timestamp(server, records);
  CHECK(after > before);
  CHECK(after == written);
  CHECK(int_at(must(server.request("GET", collection, {}, owner()), 200), "data.last_modified") == collection_ts);
  CHECK(list_timestamp(server, "/v1/buckets/b/collections") == collections_list_ts);
}

TEST_CASE("groups and collections of a bucket have separate list timestamps", "[concurrency]") {
  kintod_process server;
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
  must(server.request("PUT", "/v1/buckets/b/collections/c", {}, owner()), 201);
  auto collections_ts = list_timestamp(server, "/v1/buckets/b/collections");
  auto group = must(server.request("PUT", "/v1/buckets/b/groups/g", R"({"data": {"members": []}})", owner()), 201);
  CHECK(list_timestamp(server, "/v1/buckets/b/groups") == int_at(group, "data.last_modified"));
  CHECK(list_timestamp(server, "/v1/buckets/b/collections") == collections_ts);
}

TEST_CASE("a client-supplied last_modified on POST is applied against the list timestamp", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  put_record(server, "first");
  auto list_ts = list_timestamp(server, records);

  SECTION("a future value is stored and becomes the list timestamp") {
    auto future = list_ts + 100000;
    auto r = server.request("POST", records, R"({"data": {"last_modified": )" + std::to_string(future) + "}}",
                            owner());
    REQUIRE_THAT(r, is_json(201));
    CHECK(int_at(r.json(), "data.last_modified") == future);
    CHECK(r.header("ETag") == etag_of(future));
    CHECK(list_timestamp(server, records) == future);
  }
  SECTION("a past value is stored and leaves the list timestamp alone") {
    auto past = list_ts - 100000;
    auto r = server.request("POST", records, R"({"data": {"last_modified": )" + std::to_string(past) + "}}",
                            owner());
    REQUIRE_THAT(r, is_json(201));
    CHECK(int_at(r.json(), "data.last_modified") == past);
    CHECK(list_timestamp(server, records) == list_ts);
  }
  SECTION("the current list timestamp is bumped by one") {
    auto r = server.request("POST", records, R"({"data": {"last_modified": )" + std::to_string(list_ts) + "}}",
                            owner());
    REQUIRE_THAT(r, is_json(201));
    CHECK(int_at(r.json(), "data.last_modified") == list_ts + 1);
    CHECK(list_timestamp(server, records) == list_ts + 1);
  }
}

TEST_CASE("a client-supplied last_modified not above the object's is replaced on PATCH", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto current = put_record(server, "r");
  std::string proposed;
  SECTION("equal") { proposed = std::to_string(current); }
  SECTION("lower") { proposed = std::to_string(current - 10); }
  SECTION("not an integer") { proposed = R"("abc")"; }
  SECTION("a float") { proposed = std::to_string(current + 5) + ".5"; }
  INFO("proposed last_modified: " << proposed);

  auto r = server.request("PATCH", records + "/r", R"({"data": {"last_modified": )" + proposed + "}}", owner());
  REQUIRE_THAT(r, is_json(200));
  auto ts = int_at(r.json(), "data.last_modified");
  CHECK(ts > current);
  CHECK(list_timestamp(server, records) == ts);
}

TEST_CASE("a last_modified query parameter on DELETE sets the tombstone timestamp", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto current = put_record(server, "r");
  auto forced = current + 1000;

  auto r = server.request("DELETE", records + "/r?last_modified=" + std::to_string(forced), {}, owner());
  REQUIRE_THAT(r, is_json(200));
  CHECK(int_at(r.json(), "data.last_modified") == forced);
  CHECK(r.header("ETag") == etag_of(forced));
  CHECK(list_timestamp(server, records) == forced);
}

TEST_CASE("after a DELETE the list ETag is the tombstone timestamp", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  put_record(server, "r");
  put_record(server, "s");
  auto tombstone = must(server.request("DELETE", records + "/r", {}, owner()), 200);
  CHECK(list_timestamp(server, records) == int_at(tombstone, "data.last_modified"));
}

TEST_CASE("If-None-Match with the current ETag answers 304 with an empty body", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto ts = put_record(server, "r");
  put_record(server, "s");

  SECTION("object") {
    auto r = server.request("GET", records + "/r", {}, if_none_match(etag_of(ts)));
    CHECK(r.status == 304);
    CHECK(r.body.empty());
    CHECK(r.header("ETag") == etag_of(ts));
  }
  SECTION("object, stale value") {
    auto r = server.request("GET", records + "/r", {}, if_none_match(etag_of(ts - 1)));
    REQUIRE_THAT(r, is_json(200));
    CHECK(r.header("ETag") == etag_of(ts));
  }
  SECTION("plural, with and without filters") {
    auto list_ts = list_timestamp(server, records);
    for (std::string query : {"", "?_limit=1", "?title=zzz", "?_sort=id"}) {
      INFO("query: " << query);
      auto r = server.request("GET", records + query, {}, if_none_match(etag_of(list_ts)));
      CHECK(r.status == 304);
      CHECK(r.body.empty());
      CHECK(r.header("ETag") == etag_of(list_ts));
    }
  }
}

TEST_CASE("If-None-Match: * on a GET answers 412", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto ts = put_record(server, "r", R"({"title": "stored"})");

  SECTION("object") {
    auto r = server.request("GET", records + "/r", {}, if_none_match("*"));
    CHECK_THAT(r, is_kinto_error(412, 114));
    CHECK(str_at(r.json(), "message") == "Resource was modified meanwhile");
    CHECK(str_at(r.json(), "details.existing.title") == "stored");
    CHECK(r.header("ETag") == etag_of(ts));
  }
  SECTION("plural") {
    auto r = server.request("GET", records, {}, if_none_match("*"));
    CHECK_THAT(r, is_kinto_error(412, 114));
    CHECK(find_path(r.json(), "details") == nullptr);
  }
}

TEST_CASE("If-Match: * on a plural GET passes", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  put_record(server, "r");
  auto r = server.request("GET", records, {}, with(owner(), {{"If-Match", "*"}}));
  REQUIRE_THAT(r, is_json(200));
  CHECK(at(r.json(), "data").as_array().size() == 1);
}

TEST_CASE("a PUT with a stale If-Match answers 412 with the stored object", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto old_ts = put_record(server, "r", R"({"title": "v1"})");
  auto current = must(server.request("PUT", records + "/r", R"({"data": {"title": "v2"}, "permissions": {"read": ["x"]}})",
                                     owner()),
                      200);
  auto current_ts = int_at(current, "data.last_modified");

  std::string method = "PUT";
  SECTION("PUT") {}
  SECTION("PATCH") { method = "PATCH"; }
  SECTION("DELETE") { method = "DELETE"; }
  SECTION("a newer value than the current one") { old_ts = current_ts + 1000; }
  INFO(method << " with If-Match " << etag_of(old_ts));

  auto r = server.request(method, records + "/r", method == "DELETE" ? "" : R"({"data": {"title": "v3"}})",
                          if_match(old_ts));
  CHECK_THAT(r, is_kinto_error(412, 114));
  auto body = r.json();
  CHECK(at(body, "details.existing") == at(current, "data"));
  CHECK(find_path(body, "details.existing.permissions") == nullptr);
  CHECK(r.header("ETag") == etag_of(current_ts));
  CHECK(str_at(must(server.request("GET", records + "/r", {}, owner()), 200), "data.title") == "v2");
}

TEST_CASE("a write with the current If-Match succeeds", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto ts = put_record(server, "r", R"({"title": "v1"})");
  std::string method;
  SECTION("PUT") { method = "PUT"; }
  SECTION("PATCH") { method = "PATCH"; }
  SECTION("DELETE") { method = "DELETE"; }
  INFO(method);
  auto r = server.request(method, records + "/r", method == "DELETE" ? "" : R"({"data": {"title": "v2"}})",
                          if_match(ts));
  REQUIRE_THAT(r, is_json(200));
  CHECK(int_at(r.json(), "data.last_modified") > ts);
}

TEST_CASE("If-Match on a missing object makes a PUT fail with 412", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  std::string value;
  SECTION("star") { value = "*"; }
  SECTION("a timestamp") { value = etag_of(list_timestamp(server, records)); }
  INFO("If-Match: " << value);
  auto r = server.request("PUT", records + "/missing", R"({"data": {}})", with(owner(), {{"If-Match", value}}));
  CHECK_THAT(r, is_kinto_error(412, 114));
  CHECK(find_path(r.json(), "details") == nullptr);
  CHECK_THAT(server.request("GET", records + "/missing", {}, owner()), is_kinto_error(404, 110));
}

TEST_CASE("If-None-Match: * makes a PUT create-only", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto first = server.request("PUT", records + "/r", R"({"data": {"v": 1}})", if_none_match("*"));
  REQUIRE_THAT(first, is_json(201));
  auto second = server.request("PUT", records + "/r", R"({"data": {"v": 2}})", if_none_match("*"));
  CHECK_THAT(second, is_kinto_error(412, 114));
  CHECK(at(second.json(), "details.existing") == at(first.json(), "data"));
  CHECK(int_at(must(server.request("GET", records + "/r", {}, owner()), 200), "data.v") == 1);
}

TEST_CASE("If-None-Match: * on a POST fails only for an existing id", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  put_record(server, "r", R"({"v": 1})");
  SECTION("existing id") {
    auto r = server.request("POST", records, R"({"data": {"id": "r", "v": 2}})", if_none_match("*"));
    CHECK_THAT(r, is_kinto_error(412, 114));
    CHECK(int_at(r.json(), "details.existing.v") == 1);
  }
  SECTION("new id") {
    auto r = server.request("POST", records, R"({"data": {"id": "new", "v": 2}})", if_none_match("*"));
    CHECK_THAT(r, is_json(201));
  }
  SECTION("no id") {
    auto r = server.request("POST", records, R"({"data": {"v": 2}})", if_none_match("*"));
    CHECK_THAT(r, is_json(201));
  }
}

TEST_CASE("a POST without data.id but with If-Match answers 412", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  put_record(server, "r");
  std::string value;
  SECTION("star") { value = "*"; }
  SECTION("the list timestamp") { value = etag_of(list_timestamp(server, records)); }
  INFO("If-Match: " << value);
  auto r = server.request("POST", records, R"({"data": {"v": 2}})", with(owner(), {{"If-Match", value}}));
  CHECK_THAT(r, is_kinto_error(412, 114));
  CHECK(at(must(server.request("GET", records, {}, owner()), 200), "data").as_array().size() == 1);
}

TEST_CASE("a plural DELETE with a stale If-Match answers 412 without details", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto stale = put_record(server, "r");
  auto current = put_record(server, "s");
  auto r = server.request("DELETE", records, {}, if_match(stale));
  CHECK_THAT(r, is_kinto_error(412, 114));
  CHECK(find_path(r.json(), "details") == nullptr);
  CHECK(r.header("ETag") == etag_of(current));
  CHECK(at(must(server.request("GET", records, {}, owner()), 200), "data").as_array().size() == 2);
}

TEST_CASE("a precondition header that is not a quoted integer answers 400", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto ts = put_record(server, "r");
  std::string header = "If-Match", method = "GET";
  std::string bad;
  SECTION("unquoted If-Match") { bad = std::to_string(ts); }
  SECTION("weak If-Match") { bad = "W/" + etag_of(ts); }
  SECTION("a list of ETags") { bad = etag_of(ts) + ", " + etag_of(ts + 1); }
  SECTION("quoted text") { bad = "\"abc\""; }
  SECTION("unquoted If-None-Match") {
    header = "If-None-Match";
    bad = std::to_string(ts);
  }
  SECTION("unquoted If-Match on a PUT") {
    method = "PUT";
    bad = "123";
  }
  INFO(method << " with " << header << ": " << bad);

  auto r = server.request(method, records + "/r", method == "PUT" ? R"({"data": {"changed": true}})" : "",
                          with(owner(), {{header, bad}}));
  CHECK_THAT(r, is_kinto_error(400, 107));
  auto body = r.json();
  CHECK(str_at(body, "message") == header + " in header: The value should be integer between double quotes.");
  CHECK(str_at(body, "details.0.location") == "header");
  CHECK(str_at(body, "details.0.name") == header);
  CHECK(find_path(must(server.request("GET", records + "/r", {}, owner()), 200), "data.changed") == nullptr);
}

TEST_CASE("If-Modified-Since and If-Unmodified-Since are ignored", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto ts = put_record(server, "r");
  SECTION("If-Modified-Since in the future on a GET") {
    auto r = server.request("GET", records + "/r", {},
                            with(owner(), {{"If-Modified-Since", http_date(ts + 86400000)}}));
    REQUIRE_THAT(r, is_json(200));
    CHECK(int_at(r.json(), "data.last_modified") == ts);
  }
  SECTION("If-Unmodified-Since in the past on a PUT") {
    auto r = server.request("PUT", records + "/r", R"({"data": {"v": 2}})",
                            with(owner(), {{"If-Unmodified-Since", http_date(ts - 86400000)}}));
    REQUIRE_THAT(r, is_json(200));
    CHECK(int_at(r.json(), "data.v") == 2);
  }
}

TEST_CASE("the ETag of an empty list stays the same between reads", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  must(server.request("PUT", "/v1/buckets/b/collections/other", {}, owner()), 201);
  auto first = list_timestamp(server, records);
  for (int i = 0; i < 20; ++i)
    must(server.request("POST", "/v1/buckets/b/collections/other/records", R"({"data": {}})", owner()), 201);
  CHECK(list_timestamp(server, records) == first);
  auto r = server.request("GET", records, {}, if_none_match(etag_of(first)));
  CHECK(r.status == 304);
}

TEST_CASE("concurrent writers to one list get distinct timestamps", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  constexpr int threads = 4, per_thread = 25;
  std::vector<std::vector<std::int64_t>> stamps(threads);
  std::vector<std::string> failures(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      try {
        auto connection = server.connect();
        for (int i = 0; i < per_thread; ++i) {
          auto r = connection->request("POST", records, R"({"data": {}})", owner());
          if (r.status != 201) throw std::runtime_error(r.describe());
          stamps[t].push_back(int_at(r.json(), "data.last_modified"));
        }
      } catch (const std::exception& e) {
        failures[t] = e.what();
      }
    });
  for (auto& w : workers) w.join();
  for (const auto& f : failures) CHECK(f == "");

  std::set<std::int64_t> all;
  for (const auto& s : stamps) {
    CHECK(std::is_sorted(s.begin(), s.end()));
    all.insert(s.begin(), s.end());
  }
  CHECK(all.size() == static_cast<std::size_t>(threads * per_thread));
  CHECK(list_timestamp(server, records) == *all.rbegin());
}

TEST_CASE("of concurrent updates sharing one If-Match exactly one succeeds", "[concurrency]") {
  kintod_process server;
  create_collection(server, "b", "c");
  auto ts = put_record(server, "r", R"({"winner": null})");
  constexpr int threads = 6;
  std::vector<int> statuses(threads, 0);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      try {
        statuses[t] = server.request("PATCH", records + "/r", R"({"data": {"winner": )" + std::to_string(t) + "}}",
                                     if_match(ts))
                          .status;
      } catch (const std::exception&) {
        statuses[t] = -1;
      }
    });
  for (auto& w : workers) w.join();

  CHECK(std::count(statuses.begin(), statuses.end(), 200) == 1);
  CHECK(std::count(statuses.begin(), statuses.end(), 412) == threads - 1);
  auto winner = std::find(statuses.begin(), statuses.end(), 200) - statuses.begin();
  auto stored = must(server.request("GET", records + "/r", {}, owner()), 200);
  CHECK(int_at(stored, "data.winner") == winner);
}

// ---- client caching headers (concurrency.md §5) --------------------------------

namespace {
http_response must_status(http_response r, int status) {
  REQUIRE(r.status == status);
  return r;
}
} // namespace

TEST_CASE("anonymous record reads are cacheable as settings allow, authenticated ones never", "[concurrency]") {
  kintod_process server({.settings = {{"kinto.record_cache_expires_seconds", "3600"}}});
  create_collection(server, "b", "c");
  must(server.request("PATCH", collection, R"({"permissions": {"read": ["system.Everyone"]}})", owner()), 200);
  must(server.request("PUT", records + "/r", R"({"data": {}})", owner()), 201);
  for (const std::string& target : {records, records + "/r"}) {
    INFO(target);
    auto anonymous = must_status(server.request("GET", target), 200);
    CHECK(anonymous.header("Cache-Control") == "max-age=3600");
    CHECK(anonymous.has_header("Expires"));
    auto authenticated = must_status(server.request("GET", target, {}, owner()), 200);
    CHECK(authenticated.header("Cache-Control") == "no-cache, no-store");
    CHECK_FALSE(authenticated.has_header("Expires"));
  }
}

TEST_CASE("a collection's cache_expires raises but never lowers the record cache time", "[concurrency]") {
  SECTION("cache_expires 0 alone forbids caching explicitly") {
    kintod_process server;
    create_collection(server, "b", "c");
    must(server.request("PUT", collection, R"({"data": {"cache_expires": 0}, "permissions": {"read": ["system.Everyone"]}})", owner()), 200);
    auto r = must_status(server.request("GET", records), 200);
    CHECK(r.header("Cache-Control") == "max-age=0, must-revalidate, no-cache, no-store");
    CHECK(r.header("Pragma") == "no-cache");
    CHECK(r.has_header("Expires"));
  }
  SECTION("a setting of 10 wins over cache_expires 0") {
    kintod_process server({.settings = {{"kinto.record_cache_expires_seconds", "10"}}});
    create_collection(server, "b", "c");
    must(server.request("PUT", collection, R"({"data": {"cache_expires": 0}, "permissions": {"read": ["system.Everyone"]}})", owner()), 200);
    CHECK(must_status(server.request("GET", records), 200).header("Cache-Control") == "max-age=10");
  }
}
