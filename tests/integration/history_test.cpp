// Integration tests of the history plugin (batch-and-plugins.md §3): entries
// for every change, their fields, who sees them, filters, purge, deletion
// with the bucket, and excluded resources.
#include "harness.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

using namespace kintod_test;
using kinto::json::value;

namespace {

kintod_process with_history(std::map<std::string, std::string> extra = {}) {
  std::map<std::string, std::string> settings{{"kinto.includes", "kinto.plugins.accounts kinto.plugins.history"}};
  for (auto& [k, v] : extra) settings[k] = v;
  return kintod_process({.settings = settings});
}

const std::string history = "/v1/buckets/b/history";

} // namespace

TEST_CASE("every change appends an entry to its bucket's history, newest first", "[history]") {
  auto server = with_history();
  CHECK(server.request("GET", "/v1/").json().find("capabilities")->find("history"));
  create_collection(server, "b", "c");
  must(server.request("PUT", "/v1/buckets/b/collections/c/records/r", R"({"data": {"n": 1}})", owner()), 201);
  must(server.request("PATCH", "/v1/buckets/b/collections/c/records/r", R"({"data": {"n": 2}})", owner()), 200);
  must(server.request("DELETE", "/v1/buckets/b/collections/c/records/r", {}, owner()), 200);
  const value body = must(server.request("GET", history, {}, owner()), 200);
  const auto& entries = body.find("data")->as_array();
  REQUIRE(entries.size() == 5);
  CHECK(entries[0].find("action")->as_string() == "delete");
  CHECK(entries[0].find("target")->find("data")->find("deleted")->as_bool());
  CHECK(entries[1].find("action")->as_string() == "update");
  CHECK(entries[1].find("target")->find("data")->find("n")->as_int64() == 2);
  CHECK(entries[2].find("action")->as_string() == "create");
  CHECK(entries[2].find("uri")->as_string() == "/buckets/b/collections/c/records/r");
  CHECK(entries[2].find("resource_name")->as_string() == "record");
  CHECK(entries[2].find("collection_id")->as_string() == "c");
  CHECK(entries[2].find("record_id")->as_string() == "r");
  CHECK(entries[2].find("user_id")->as_string().starts_with("basicauth:"));
  CHECK(entries[2].find("date")->as_string().ends_with("+00:00"));
  CHECK(entries[3].find("resource_name")->as_string() == "collection");
  CHECK(entries[4].find("resource_name")->as_string() == "bucket");
  CHECK(entries[4].find("bucket_id")->as_string() == "b");
  CHECK(*entries[0].find("last_modified")->as_int64() > *entries[1].find("last_modified")->as_int64());
}

TEST_CASE("history takes the query language on its own fields only", "[history]") {
  auto server = with_history();
  create_collection(server, "b", "c");
  must(server.request("PUT", "/v1/buckets/b/collections/c/records/2", R"({"data": {}})", owner()), 201);
  const value records = must(server.request("GET", history + "?resource_name=record", {}, owner()), 200);
  CHECK(records.find("data")->as_array().size() == 1);
  const value by_id = must(server.request("GET", history + "?record_id=2", {}, owner()), 200);
  CHECK(by_id.find("data")->as_array().size() == 1);
  const value by_target = must(server.request("GET", history + "?target.data.id=%222%22", {}, owner()), 200);
  CHECK(by_target.find("data")->as_array().size() == 1);
  CHECK_THAT(server.request("GET", history + "?movie=x", {}, owner()), is_kinto_error(400, 107));
  auto head = server.request("HEAD", history, {}, owner());
  CHECK(head.header("Total-Objects") == "3");
}

TEST_CASE("callers see the entries of objects they could read when written, others nothing", "[history]") {
  auto server = with_history();
  create_collection(server, "b", "c");
  const auto bob = header_list{{"Authorization", basic("bob", "secret")}};
  const std::string bob_id = str_at(server.request("GET", "/v1/", {}, bob).json(), "user.id");
  must(server.request("PUT", "/v1/buckets/b/collections/c/records/shared",
                      R"({"data": {}, "permissions": {"read": [")" + bob_id + R"("]}})", owner()),
       201);
  must(server.request("PUT", "/v1/buckets/b/collections/c/records/private", R"({"data": {}})", owner()), 201);
  const value seen = must(server.request("GET", history, {}, bob), 200);
  REQUIRE(seen.find("data")->as_array().size() == 1);
  CHECK(seen.find("data")->as_array()[0].find("record_id")->as_string() == "shared");
  CHECK_THAT(server.request("GET", history, {}, {{"Authorization", basic("carol", "secret")}}), is_kinto_error(403, 121));
  CHECK_THAT(server.request("GET", history), is_kinto_error(401, 104));
}

TEST_CASE("history can be purged by the bucket's writers and goes with its bucket", "[history]") {
  auto server = with_history();
  create_collection(server, "b", "c");
  const value purged = must(server.request("DELETE", history + "?resource_name=bucket", {}, owner()), 200);
  CHECK(purged.find("data")->as_array().size() == 1);
  CHECK(must(server.request("GET", history, {}, owner()), 200).find("data")->as_array().size() == 1);
  must(server.request("DELETE", "/v1/buckets/b", {}, owner()), 200);
  must(server.request("PUT", "/v1/buckets/b", {}, owner()), 201);
  const value fresh = must(server.request("GET", history, {}, owner()), 200);
  REQUIRE(fresh.find("data")->as_array().size() == 1);
  CHECK(fresh.find("data")->as_array()[0].find("action")->as_string() == "create");
}

TEST_CASE("excluded resources and users leave no entries", "[history]") {
  auto server = with_history({{"kinto.history.exclude_resources", "/buckets/b/collections/quiet"}});
  create_collection(server, "b", "c");
  must(server.request("PUT", "/v1/buckets/b/collections/quiet", R"({"data": {}})", owner()), 201);
  must(server.request("PUT", "/v1/buckets/b/collections/quiet/records/r", R"({"data": {}})", owner()), 201);
  const value entries = must(server.request("GET", history, {}, owner()), 200);
  for (const auto& e : entries.find("data")->as_array()) CHECK(e.find("uri")->as_string().find("quiet") == std::string::npos);
  CHECK(entries.find("data")->as_array().size() == 2);
}

TEST_CASE("a snapshot rebuilds a collection as it was at a timestamp", "[history]") {
  auto server = with_history();
  create_collection(server, "b", "c");
  const std::string records = "/v1/buckets/b/collections/c/records";
  must(server.request("PUT", records + "/kept", R"({"data": {"v": 1}})", owner()), 201);
  must(server.request("PUT", records + "/changed", R"({"data": {"v": 1}})", owner()), 201);
  const auto deleted = must(server.request("PUT", records + "/deleted", R"({"data": {"v": 1}})", owner()), 201);
  const auto at = int_at(deleted, "data.last_modified");
  must(server.request("PATCH", records + "/changed", R"({"data": {"v": 2}})", owner()), 200);
  must(server.request("DELETE", records + "/deleted", {}, owner()), 200);
  must(server.request("PUT", records + "/later", R"({"data": {"v": 1}})", owner()), 201);

  const value snapshot = must(server.request("GET", "/v1/buckets/b/snapshot/collections/c@" + std::to_string(at), {}, owner()), 200);
  const auto& data = snapshot.find("data")->as_array();
  REQUIRE(data.size() == 3);
  CHECK(data[0].find("id")->as_string() == "deleted");
  CHECK(data[1].find("id")->as_string() == "changed");
  CHECK(data[1].find("v")->as_int64() == 1);
  CHECK(data[2].find("id")->as_string() == "kept");
  CHECK_THAT(server.request("GET", "/v1/buckets/b/snapshot/collections/c@abc", {}, owner()), is_kinto_error(400, 107));
  CHECK_THAT(server.request("GET", "/v1/buckets/b/snapshot/collections/c@1", {}, {{"Authorization", basic("carol", "x")}}),
             is_kinto_error(403, 121));
}

TEST_CASE("history is trimmed per bucket and resource name past the threshold", "[history]") {
  auto server = with_history({{"kinto.history.auto_trim_max_count", "2"}, {"kinto.history.auto_trim_threshold", "1"}});
  create_collection(server, "b", "c");
  auto record_entries = [&] {
    return must(server.request("GET", history + "?resource_name=record", {}, owner()), 200).find("data")->as_array().size();
  };
  for (int i = 0; i < 3; ++i)
    must(server.request("PUT", "/v1/buckets/b/collections/c/records/r" + std::to_string(i), R"({"data": {}})", owner()), 201);
  CHECK(record_entries() == 3);
  must(server.request("PUT", "/v1/buckets/b/collections/c/records/r3", R"({"data": {}})", owner()), 201);
  const value kept = must(server.request("GET", history + "?resource_name=record", {}, owner()), 200);
  REQUIRE(kept.find("data")->as_array().size() == 2);
  CHECK(kept.find("data")->as_array()[0].find("record_id")->as_string() == "r3");
  CHECK(kept.find("data")->as_array()[1].find("record_id")->as_string() == "r2");
  // Other resource names keep their own entries.
  CHECK(must(server.request("GET", history + "?resource_name=bucket", {}, owner()), 200).find("data")->as_array().size() == 1);
}

TEST_CASE("a purge right after writes returns every entry and leaves none, whatever the policy", "[history]") {
  auto server = with_history();
  must(server.request("PUT", "/v1/accounts/alice", R"({"data": {"password": "s3cret"}})"), 201);
  header_list as;
  SECTION("accounts") { as = auth("alice", "s3cret"); }
  SECTION("basicauth") { as = owner(); }
  // Several rounds: entries used to be lost whenever two removals of one
  // purge were planned within the same millisecond.
  for (int round = 0; round < 5; ++round) {
    INFO("round " << round);
    const std::string bucket = "/v1/buckets/b" + std::to_string(round);
    must(server.request("PUT", bucket, {}, as), 201);
    must(server.request("PUT", bucket + "/collections/c", {}, as), 201);
    const value purged = must(server.request("DELETE", bucket + "/history", {}, as), 200);
    const auto& entries = purged.find("data")->as_array();
    REQUIRE(entries.size() == 2);
    for (const auto& e : entries) CHECK(e.find("deleted")->as_bool());
    CHECK(must(server.request("GET", bucket + "/history", {}, as), 200).find("data")->as_array().empty());
  }
}

TEST_CASE("purges racing with writers return each entry once and lose none", "[history]") {
  auto server = with_history();
  create_collection(server, "b", "c");
  REQUIRE(must(server.request("DELETE", history, {}, owner()), 200).find("data")->as_array().size() == 2);

  constexpr int writers = 3, per_writer = 40;
  std::mutex mutex;
  std::set<std::string> acknowledged; // record ids whose creation was answered 201; guarded by mutex
  std::atomic<int> writing{writers};
  std::vector<std::string> failures(writers);
  std::vector<std::thread> threads;
  for (int t = 0; t < writers; ++t)
    threads.emplace_back([&, t] {
      try {
        auto connection = server.connect();
        for (int i = 0; i < per_writer; ++i) {
          const std::string id = "w" + std::to_string(t) + "-" + std::to_string(i);
          auto r = connection->request("PUT", "/v1/buckets/b/collections/c/records/" + id, R"({"data": {}})", owner());
          if (r.status != 201) throw std::runtime_error(r.describe());
          std::lock_guard<std::mutex> lock(mutex);
          acknowledged.insert(id);
        }
      } catch (const std::exception& e) {
        failures[t] = e.what();
      }
      --writing;
    });

  // Each purge follows a listing, and must return every entry listed (and
  // perhaps newer ones). Purges answer tombstones, which name the entry only.
  std::map<std::string, std::string> entry_of; // record id -> entry id, of every entry ever listed
  std::set<std::string> tombstones;            // entry ids returned by the purges
  std::vector<std::string> problems;
  int purges = 0;
  try {
    auto connection = server.connect();
    do {
      auto listing = connection->request("GET", history, {}, owner());
      if (listing.status != 200) throw std::runtime_error(listing.describe());
      const value listed = listing.json();
      std::set<std::string> listed_now; // entry ids
      for (const auto& e : listed.find("data")->as_array()) {
        entry_of[e.find("record_id")->as_string()] = e.find("id")->as_string();
        listed_now.insert(e.find("id")->as_string());
      }
      auto removed = connection->request("DELETE", history, {}, owner());
      if (removed.status != 200) throw std::runtime_error(removed.describe());
      ++purges;
      const value removed_body = removed.json();
      std::set<std::string> returned;
      for (const auto& t : removed_body.find("data")->as_array()) {
        const std::string entry = t.find("id")->as_string();
        if (!t.find("deleted")) problems.push_back(entry + " returned without deleted");
        if (!tombstones.insert(entry).second) problems.push_back(entry + " returned by two purges");
        returned.insert(entry);
      }
      for (const auto& entry : listed_now)
        if (!returned.count(entry)) problems.push_back(entry + " listed before purge " + std::to_string(purges) + " but not returned");
    } while (writing > 0);
  } catch (const std::exception& e) {
    problems.push_back(e.what());
  }
  for (auto& t : threads) t.join();
  for (const auto& f : failures) CHECK(f == "");
  CHECK(problems == std::vector<std::string>{});
  CHECK(purges >= 1);

  // Every entry was either returned by a purge, once, or is still there;
  // the entries of records never listed were returned by purges unlisted.
  const value left = must(server.request("GET", history, {}, owner()), 200);
  std::set<std::string> remaining; // entry ids
  for (const auto& e : left.find("data")->as_array()) {
    remaining.insert(e.find("id")->as_string());
    entry_of[e.find("record_id")->as_string()] = e.find("id")->as_string();
    CHECK_FALSE(tombstones.count(e.find("id")->as_string()));
  }
  std::set<std::string> listed_entries;
  for (const auto& [record, entry] : entry_of) listed_entries.insert(entry);
  std::size_t unlisted_tombstones = 0;
  for (const auto& entry : tombstones)
    if (!listed_entries.count(entry)) ++unlisted_tombstones;
  CHECK(acknowledged.size() == static_cast<std::size_t>(writers * per_writer));
  CHECK(tombstones.size() + remaining.size() == acknowledged.size());
  CHECK(unlisted_tombstones == acknowledged.size() - entry_of.size());
  // Nothing is written any more: a last purge takes exactly what is left.
  const value last = must(server.request("DELETE", history, {}, owner()), 200);
  std::set<std::string> last_ids;
  for (const auto& t : last.find("data")->as_array()) last_ids.insert(t.find("id")->as_string());
  CHECK(last_ids == remaining);
  CHECK(must(server.request("GET", history, {}, owner()), 200).find("data")->as_array().empty());
}
