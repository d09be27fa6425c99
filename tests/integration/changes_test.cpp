// Integration tests of the changes plugin (batch-and-plugins.md §10), the
// endpoints Remote Settings clients poll: monitor/changes, the changeset of
// a collection, and the broadcast of the newest timestamp.
#include "harness.hpp"

#include <chrono>

using namespace kintod_test;

namespace {

const std::string changes_uri = "/v1/buckets/monitor/collections/changes/records";
const std::string certificates = "/v1/buckets/blocklists/collections/certificates";

kintod_process with_changes(std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> settings{{"kinto.http_host", "www.kinto-storage.org"},
                                              {"kinto.changes.resources", "/buckets/blocklists"},
                                              {"kinto.changes.excluded_collections", "/buckets/blocklists/collections/excluded"},
                                              {"kinto.changes.since_max_age_days", "-1"}};
  for (auto& [name, value] : extra) settings[name] = value;
  return kintod_process({.settings = settings});
}

std::int64_t post_record(kintod_process& server, const std::string& collection, std::string_view body = R"({"data": {"dev-edition": true}})") {
  return int_at(must(server.request("POST", collection + "/records", body, owner()), 201), "data.last_modified");
}

const kinto::json::value& only_entry(const kinto::json::value& listing) {
  const auto& data = at(listing, "data").as_array();
  if (data.size() != 1) throw std::runtime_error("expected one entry, got " + kinto::json::serialize(listing));
  return data[0];
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

} // namespace

TEST_CASE("monitor/changes lists each monitored collection with its records timestamp", "[changes]") {
  auto server = with_changes();
  create_collection(server, "blocklists", "certificates");
  const std::int64_t written = post_record(server, certificates);

  auto listed = must(server.request("GET", changes_uri), 200);
  const auto& entry = only_entry(listed);
  // The id is the UUID of MD5(http_host + collection URI), as upstream's.
  CHECK(str_at(entry, "id") == "470119ee-115b-8f9c-f56b-afb824183411");
  CHECK(int_at(entry, "last_modified") >= written);
  CHECK(str_at(entry, "bucket") == "blocklists");
  CHECK(str_at(entry, "collection") == "certificates");
  CHECK(str_at(entry, "host") == "www.kinto-storage.org");
  CHECK(keys_at(entry).size() == 5);

  SECTION("a write moves the entry's timestamp, not its id") {
    const std::int64_t before = int_at(entry, "last_modified");
    const std::int64_t later = post_record(server, certificates);
    const auto again = must(server.request("GET", changes_uri), 200);
    const auto& after = only_entry(again);
    CHECK(str_at(after, "id") == str_at(entry, "id"));
    CHECK(int_at(after, "last_modified") > before);
    CHECK(int_at(after, "last_modified") >= later);
  }
  SECTION("a record imported in the past leaves the entry's timestamp as it was (concurrency.md §2.3)") {
    const std::int64_t before = int_at(entry, "last_modified");
    CHECK(post_record(server, certificates, R"({"data": {"last_modified": 42}})") == 42);
    CHECK(int_at(only_entry(must(server.request("GET", changes_uri), 200)), "last_modified") == before);
  }
  SECTION("collections of other buckets and excluded collections are not listed") {
    create_collection(server, "blocklists-other", "not-monitored");
    post_record(server, "/v1/buckets/blocklists-other/collections/not-monitored");
    must(server.request("PUT", "/v1/buckets/blocklists/collections/excluded", {}, owner()), 201);
    post_record(server, "/v1/buckets/blocklists/collections/excluded");
    CHECK(str_at(only_entry(must(server.request("GET", changes_uri), 200)), "collection") == "certificates");
  }
  SECTION("a second collection of the bucket appears once its records have a timestamp") {
    must(server.request("PUT", "/v1/buckets/blocklists/collections/addons", {}, owner()), 201);
    must(server.request("GET", "/v1/buckets/blocklists/collections/addons/records", {}, owner()), 200);
    auto both = must(server.request("GET", changes_uri + "?_sort=collection"), 200);
    REQUIRE(at(both, "data").as_array().size() == 2);
    CHECK(str_at(at(both, "data").as_array()[0], "collection") == "addons");
  }
  SECTION("a deleted collection is no longer listed") {
    must(server.request("DELETE", certificates, {}, owner()), 200);
    CHECK(at(must(server.request("GET", changes_uri), 200), "data").as_array().empty());
  }
  SECTION("the monitor bucket and collection need not exist, and may") {
    must(server.request("PUT", "/v1/buckets/monitor", {}, owner()), 201);
    CHECK(at(must(server.request("GET", changes_uri), 200), "data").as_array().size() == 1);
    must(server.request("PUT", "/v1/buckets/monitor/collections/changes", {}, owner()), 201);
    CHECK(at(must(server.request("GET", changes_uri, {}, owner()), 200), "data").as_array().size() == 1);
  }
}

TEST_CASE("monitor/changes is a read-only list anyone reads, queried as lists are", "[changes]") {
  auto server = with_changes();
  create_collection(server, "blocklists", "certificates");
  must(server.request("PUT", "/v1/buckets/blocklists/collections/cfr", {}, owner()), 201);
  post_record(server, "/v1/buckets/blocklists/collections/cfr");
  post_record(server, certificates);

  auto listed = server.request("GET", changes_uri);
  REQUIRE_THAT(listed, is_json(200));
  const auto body = listed.json();
  const auto& data = at(body, "data").as_array();
  REQUIRE(data.size() == 2);
  // Newest first; the ETag is the newest entry's timestamp.
  CHECK(str_at(data[0], "collection") == "certificates");
  CHECK(etag_value(listed) == int_at(data[0], "last_modified"));

  CHECK_THAT(server.request("POST", changes_uri, R"({"data": {}})", owner()), is_kinto_error(405, 115));
  CHECK_THAT(server.request("DELETE", changes_uri, {}, owner()), is_kinto_error(405, 115));

  SECTION("filters and _since") {
    auto cfr = must(server.request("GET", changes_uri + "?collection=cfr"), 200);
    CHECK(str_at(only_entry(cfr), "collection") == "cfr");
    const std::int64_t oldest = int_at(data[1], "last_modified");
    auto newer = must(server.request("GET", changes_uri + "?_since=" + std::to_string(oldest)), 200);
    CHECK(str_at(only_entry(newer), "collection") == "certificates");
    CHECK_THAT(server.request("GET", changes_uri + "?unknown=1"), is_kinto_error(400, 107));
  }
  SECTION("pages") {
    auto first = server.request("GET", changes_uri + "?_limit=1");
    REQUIRE_THAT(first, is_json(200));
    CHECK(str_at(only_entry(first.json()), "collection") == "certificates");
    REQUIRE(first.has_header("Next-Page"));
    const std::string next = first.header("Next-Page");
    auto second = must(server.request("GET", next.substr(next.find("/v1/"))), 200);
    CHECK(str_at(only_entry(second), "collection") == "cfr");
  }
  SECTION("HEAD counts") {
    auto head = server.request("HEAD", changes_uri);
    CHECK(head.status == 200);
    CHECK(head.header("Total-Records") == "2");
  }
  SECTION("an unchanged list answers an empty 200, not a 304") {
    const std::string etag = listed.header("ETag");
    auto since = server.request("GET", changes_uri + "?_since=" + etag);
    REQUIRE_THAT(since, is_json(200));
    CHECK(at(since.json(), "data").as_array().empty());
    auto unchanged = server.request("GET", changes_uri, {}, {{"If-None-Match", etag}});
    REQUIRE_THAT(unchanged, is_json(200));
    CHECK(at(unchanged.json(), "data").as_array().empty());
    CHECK_THAT(server.request("GET", changes_uri, {}, {{"If-None-Match", "*"}}), is_kinto_error(412, 114));
  }
  SECTION("no cache lifetime unless configured") {
    CHECK(server.request("GET", changes_uri).header("Cache-Control").find("max-age") == std::string::npos);
    CHECK(server.request("GET", changes_uri + "?_expected=%2242%22").header("Cache-Control").find("max-age") ==
          std::string::npos);
  }
}

TEST_CASE("monitor/changes lists nothing when nothing is monitored, and a collection URI monitors that collection",
          "[changes]") {
  SECTION("included without resources") {
    kintod_process server({.settings = {{"kinto.includes", "kinto_changes"}}});
    create_collection(server, "blocklists", "certificates");
    post_record(server, certificates);
    CHECK(at(must(server.request("GET", changes_uri), 200), "data").as_array().empty());
    auto hello = must(server.request("GET", "/v1/"), 200);
    CHECK(at(hello, "capabilities.changes.collections").as_array().empty());
  }
  SECTION("a collection URI") {
    auto server = with_changes({{"kinto.changes.resources", "/buckets/blocklists/collections/certificates"}});
    create_collection(server, "blocklists", "certificates");
    must(server.request("PUT", "/v1/buckets/blocklists/collections/other", {}, owner()), 201);
    post_record(server, certificates);
    post_record(server, "/v1/buckets/blocklists/collections/other");
    CHECK(str_at(only_entry(must(server.request("GET", changes_uri), 200)), "collection") == "certificates");
  }
}

TEST_CASE("without the changes plugin, its endpoints do not exist", "[changes]") {
  kintod_process server;
  CHECK_THAT(server.request("GET", "/v1/__broadcasts__"), is_kinto_error(404, 111));
  create_collection(server, "blocklists", "certificates");
  CHECK_THAT(server.request("GET", certificates + "/changeset?_expected=1", {}, owner()), is_kinto_error(404, 111));
  CHECK_FALSE(find_path(must(server.request("GET", "/v1/"), 200), "capabilities.changes"));
  // monitor/changes is then an ordinary collection.
  create_collection(server, "monitor", "changes");
  must(server.request("POST", changes_uri, R"({"data": {}})", owner()), 201);
}

TEST_CASE("the changes capability names what is monitored", "[changes]") {
  auto server = with_changes();
  auto caps = must(server.request("GET", "/v1/"), 200);
  const auto& changes = at(caps, "capabilities.changes");
  CHECK(str_at(changes, "description") ==
        "Track modifications of records in Kinto and store the collection timestamps into a specific bucket and "
        "collection.");
  CHECK(str_at(changes, "url") ==
        "http://kinto.readthedocs.io/en/latest/tutorials/synchronisation.html#polling-for-remote-changes");
  CHECK(at(changes, "version").is_string());
  REQUIRE(at(changes, "collections").as_array().size() == 1);
  CHECK(at(changes, "collections").as_array()[0].as_string() == "/buckets/blocklists");
}

TEST_CASE("monitor/changes cache lifetimes follow the plugin's settings", "[changes]") {
  auto server = with_changes({{"kinto.monitor.changes.record_cache_expires_seconds", "60"},
                              {"kinto.monitor.changes.record_cache_maximum_expires_seconds", "3600"}});
  const std::string hour_ago = std::to_string(now_ms() - 3600 * 1000);
  const std::string hour_ago_plus_one = std::to_string(now_ms() - 3600 * 1000 + 1);
  CHECK(server.request("GET", changes_uri).header("Cache-Control") == "max-age=60");
  CHECK(server.request("GET", changes_uri + "?_since=" + hour_ago + "&_expected=" + hour_ago_plus_one)
          .header("Cache-Control") == "max-age=3600");
  CHECK(server.request("GET", changes_uri + "?_since=" + hour_ago).header("Cache-Control") == "max-age=60");
  auto conditional = server.request("GET", changes_uri + "?_since=%22" + hour_ago + "%22",
                                    {}, {{"If-None-Match", "\"" + hour_ago + "\""}});
  CHECK(conditional.header("Cache-Control") == "max-age=60");
  CHECK(conditional.has_header("Expires"));
}

TEST_CASE("monitor/changes redirects a very old _since and refuses to go back in time", "[changes]") {
  auto server = with_changes({{"kinto.changes.since_max_age_days", "2"}, {"kinto.changes.http_host", "cdn-host"}});
  auto old = server.request("GET", changes_uri + "?_since=42");
  CHECK(old.status == 307);
  CHECK(old.header("Location") == "https://cdn-host/v1/buckets/monitor/collections/changes/records");
  CHECK(old.header("Cache-Control") == "max-age=86400");
  CHECK(old.has_header("Expires"));

  const std::int64_t day_ms = 24 * 3600 * 1000;
  CHECK(server.request("GET", changes_uri + "?_since=" + std::to_string(now_ms() - 3 * day_ms)).status == 307);
  CHECK(server.request("GET", changes_uri + "?_since=" + std::to_string(now_ms() - day_ms)).status == 200);

  auto kept = server.request("GET", changes_uri + "?_since=42&_foo=%22123456%22");
  CHECK(kept.status == 307);
  CHECK(kept.header("Location").find("/records?_foo=%22123456%22") != std::string::npos);

  auto rewind = server.request("GET", changes_uri + "?_since=42&_expected=1");
  CHECK(rewind.status == 204);
  CHECK(rewind.body.empty());
}

TEST_CASE("a changeset gives a collection, its records timestamp and its changes", "[changes]") {
  auto server = with_changes({{"kinto.record_cache_expires_seconds", "180"},
                              {"kinto.main.record_cache_expires_seconds", "360"},
                              {"kinto.blocklists.certificates.record_cache_expires_seconds", "1234"},
                              {"kinto.blocklists.certificates.record_cache_minimum_expires_seconds", "42"},
                              {"kinto.blocklists.certificates.record_cache_maximum_expires_seconds", "3600"}});
  create_collection(server, "blocklists", "certificates");
  post_record(server, certificates);
  const std::string changeset = certificates + "/changeset?_expected=42";

  auto r = server.request("GET", changeset, {}, owner());
  REQUIRE_THAT(r, is_json(200));
  const auto body = r.json();
  CHECK(keys_at(body).size() == 3);
  CHECK(str_at(body, "metadata.bucket") == "blocklists");
  CHECK(str_at(body, "metadata.id") == "certificates");
  REQUIRE(at(body, "changes").as_array().size() == 1);
  CHECK(at(body, "changes").as_array()[0].find("dev-edition")->is_bool());
  const auto records = server.request("HEAD", certificates + "/records", {}, owner());
  CHECK(int_at(body, "timestamp") == etag_value(records));
  CHECK(r.header("Last-Modified") == http_date(int_at(body, "metadata.last_modified")));

  SECTION("_since keeps newer changes, with tombstones; _limit bounds them") {
    const std::int64_t before = post_record(server, certificates, "{}");
    post_record(server, certificates, "{}");
    CHECK(at(must(server.request("GET", changeset, {}, owner()), 200), "changes").as_array().size() == 3);
    auto since = must(server.request("GET", changeset + "&_since=%22" + std::to_string(before) + "%22", {}, owner()), 200);
    CHECK(at(since, "changes").as_array().size() == 1);
    auto limited = must(server.request("GET", changeset + "&_limit=1", {}, owner()), 200);
    REQUIRE(at(limited, "changes").as_array().size() == 1);
    // Newest first.
    CHECK(int_at(at(limited, "changes").as_array()[0], "last_modified") == int_at(limited, "timestamp"));

    const std::string etag = server.request("GET", certificates + "/records", {}, owner()).header("ETag");
    must(server.request("DELETE", certificates + "/records?_limit=1", {}, owner()), 200);
    auto tombstones = must(server.request("GET", changeset + "&_since=" + etag, {}, owner()), 200);
    REQUIRE(at(tombstones, "changes").as_array().size() == 1);
    CHECK(at(tombstones, "changes").as_array()[0].find("deleted"));
    auto live = must(server.request("GET", changeset, {}, owner()), 200);
    for (const auto& change : at(live, "changes").as_array()) CHECK_FALSE(change.find("deleted"));
  }
  SECTION("reading it needs read on the collection") {
    CHECK_THAT(server.request("GET", changeset), is_denied(401));
    CHECK_THAT(server.request("GET", changeset, {}, auth("alice", "secret")), is_denied(403));
    must(server.request("PATCH", "/v1/buckets/blocklists", R"({"permissions": {"read": ["system.Everyone"]}})", owner()),
         200);
    CHECK_THAT(server.request("GET", changeset, {}, auth("alice", "secret")), is_json(200));
    CHECK_THAT(server.request("GET", changeset), is_json(200));
  }
  SECTION("an unknown collection is 404") {
    CHECK_THAT(server.request("GET", "/v1/buckets/blocklists/collections/fjuvrb/changeset?_expected=42", {}, owner()),
               is_kinto_error(404, 111));
  }
  SECTION("its parameters are checked") {
    CHECK_THAT(server.request("GET", certificates + "/changeset", {}, owner()), is_kinto_error(400, 107));
    for (const char* bad : {"abc", "42%22", "%2242%22%0A", "%229999999999999999999%22", "%22116137514678616060%22",
                            "*)(!(objectClass=*)", "4102444800001"})
      CHECK_THAT(server.request("GET", changeset + "&_since=" + bad, {}, owner()), is_kinto_error(400, 107));
    for (const char* good : {"42", "%2242%22", "%224102444800000%22"})
      CHECK_THAT(server.request("GET", changeset + "&_since=" + good, {}, owner()), is_json(200));
    for (const char* bad : {"-1", "36893488147419103232", "abc"})
      CHECK_THAT(server.request("GET", changeset + "&_limit=" + bad, {}, owner()), is_kinto_error(400, 107));
    CHECK_THAT(server.request("GET", changeset + "&_extra=abc", {}, owner()), is_json(200));
    auto missing = server.request("GET", certificates + "/changeset", {}, owner()).json();
    CHECK(str_at(missing, "details.0.name") == "_expected");
    CHECK(str_at(missing, "details.0.location") == "querystring");
  }
  SECTION("cache lifetimes: the collection's, its bounds with _expected, the bucket's, every record's") {
    CHECK(server.request("GET", certificates + "/changeset?_expected=1773913097658", {}, owner()).header("Cache-Control") ==
          "max-age=3600");
    CHECK(server.request("GET", certificates + "/changeset?_expected=0", {}, owner()).header("Cache-Control") ==
          "max-age=42");
    CHECK(server.request("GET", certificates + "/changeset?_expected=99999996565", {}, owner()).header("Cache-Control") ==
          "max-age=42");
    create_collection(server, "main", "cfr");
    CHECK(server.request("GET", "/v1/buckets/main/collections/cfr/changeset?_expected=0", {}, owner())
            .header("Cache-Control") == "max-age=360");
    must(server.request("PUT", "/v1/buckets/blocklists/collections/addons", {}, owner()), 201);
    CHECK(server.request("GET", "/v1/buckets/blocklists/collections/addons/changeset?_expected=0", {}, owner())
            .header("Cache-Control") == "max-age=180");
  }
  SECTION("a collection never read gets its records timestamp") {
    must(server.request("PUT", "/v1/buckets/blocklists/collections/fresh", {}, owner()), 201);
    auto fresh = must(server.request("GET", "/v1/buckets/blocklists/collections/fresh/changeset?_expected=0", {}, owner()), 200);
    CHECK(int_at(fresh, "timestamp") > 0);
    CHECK(at(fresh, "changes").as_array().empty());
    auto again = server.request("HEAD", "/v1/buckets/blocklists/collections/fresh/records", {}, owner());
    CHECK(etag_value(again) == int_at(fresh, "timestamp"));
  }
}

TEST_CASE("the changeset of monitor/changes is public and lists the entries", "[changes]") {
  auto server = with_changes({{"kinto.changes.since_max_age_days", "1"}});
  create_collection(server, "blocklists", "certificates");
  must(server.request("PUT", "/v1/buckets/blocklists/collections/cfr", {}, owner()), 201);
  post_record(server, "/v1/buckets/blocklists/collections/cfr");
  post_record(server, certificates);
  const std::string changeset = "/v1/buckets/monitor/collections/changes/changeset?_expected=42";

  auto r = must(server.request("GET", changeset), 200);
  const auto records = server.request("HEAD", certificates + "/records", {}, owner());
  CHECK(int_at(r, "timestamp") == etag_value(records));
  REQUIRE(at(r, "changes").as_array().size() == 2);
  CHECK(str_at(at(r, "changes").as_array()[0], "collection") == "certificates");
  CHECK(str_at(r, "metadata.bucket") == "monitor");

  CHECK(at(must(server.request("GET", changeset + "&_limit=1"), 200), "changes").as_array().size() == 1);
  CHECK(at(must(server.request("GET", changeset + "&bucket=blocklists&collection=cfr"), 200), "changes").as_array().size() ==
        1);

  post_record(server, "/v1/buckets/blocklists/collections/cfr");
  CHECK(str_at(at(must(server.request("GET", changeset), 200), "changes").as_array()[0], "collection") == "cfr");

  auto old = server.request("GET", changeset + "&_since=%2242%22");
  CHECK(old.status == 307);
  CHECK(old.header("Location") ==
        "https://www.kinto-storage.org/v1/buckets/monitor/collections/changes/changeset?_expected=42");
  CHECK(server.request("GET", changeset + "&_since=%2243%22").status == 204);
  for (const char* quoted : {"%2242%22", "42%22", "%2242"}) {
    auto unquote = server.request("GET", "/v1/buckets/monitor/collections/changes/changeset?_expected=" + std::string(quoted));
    CHECK(unquote.status == 307);
    CHECK(unquote.header("Location") ==
          "https://www.kinto-storage.org/v1/buckets/monitor/collections/changes/changeset?_expected=42");
  }
}

TEST_CASE("__broadcasts__ publishes the newest monitored timestamp, debounced", "[changes]") {
  auto server = with_changes({{"kinto.changes.resources", "/buckets/main /buckets/main-preview"}});
  create_collection(server, "main", "cid");
  const std::int64_t newest = post_record(server, "/v1/buckets/main/collections/cid");
  create_collection(server, "main-preview", "cid");
  post_record(server, "/v1/buckets/main-preview/collections/cid");
  must(server.request("PUT", "/v1/buckets/main/collections/cid-preview", {}, owner()), 201);
  post_record(server, "/v1/buckets/main/collections/cid-preview");

  auto first = must(server.request("GET", "/v1/__broadcasts__"), 200);
  CHECK(int_at(first, "code") == 200);
  CHECK(keys_at(first, "broadcasts").size() == 1);
  const std::string published = str_at(first, "broadcasts.remote-settings/monitor_changes");
  // Previews are left out.
  CHECK(published == "\"" + std::to_string(newest) + "\"");

  // Within the debounce interval (300 s by default) the same value stays.
  post_record(server, "/v1/buckets/main/collections/cid");
  CHECK(str_at(must(server.request("GET", "/v1/__broadcasts__"), 200), "broadcasts.remote-settings/monitor_changes") ==
        published);
}
