// Integration tests of a full LMDB map (a tiny `storage_map_size`): writes that
// do not fit get 507 (errno 201) as a Kinto error, reads and smaller writes
// go on, nothing acknowledged is lost (also across restarts), and a larger
// map size at the next start makes room again; and the heartbeat reports
// storage down while no write fits.
#include "harness.hpp"

#include <lmdb.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <thread>

using namespace kintod_test;
using kinto::json::value;

namespace {

const std::string records = "/v1/buckets/b/collections/c/records";
/// 256 KiB: full after about a hundred kilobytes of records.
const std::string tiny_map = "262144";

std::string body_with(const std::string& field, std::size_t size, char fill, const std::string& prefix = "") {
  return R"({"data": {")" + field + R"(": ")" + prefix + std::string(size, fill) + R"("}})";
}

/// The only refusal a full map may cause.
bool is_full_refusal(const http_response& r) {
  return is_kinto_error(507, 201).match(r) &&
         str_at(r.json(), "message") == "Insufficient storage: the data store is full.";
}

/// Everything the list holds, read page by page (`query` "" for live records,
/// "&_since=0" for tombstones too); ids met twice are returned in `twice`.
std::map<std::string, value> list_all(kintod_process& server, const std::string& query,
                                      std::vector<std::string>& twice) {
  std::map<std::string, value> out;
  std::string target = records + "?_limit=25" + query;
  while (!target.empty()) {
    auto r = server.request("GET", target, {}, owner());
    REQUIRE_THAT(r, is_json(200));
    const value body = r.json();
    for (const auto& entry : at(body, "data").as_array())
      if (!out.emplace(str_at(entry, "id"), entry).second) twice.push_back(str_at(entry, "id"));
    const std::string next = r.header("Next-Page");
    target = next.empty() ? "" : next.substr(next.find("/v1/"));
  }
  return out;
}

/// Checks that the server holds exactly the acknowledged records (and
/// `tombstones` deleted ones), read one by one and listed.
void check_everything(kintod_process& server, const std::map<std::string, value>& acked, std::size_t tombstones = 0) {
  REQUIRE(server.healthy());
  for (const auto& [id, data] : acked) {
    INFO("record " << id);
    auto r = server.request("GET", records + "/" + id, {}, owner());
    REQUIRE_THAT(r, is_json(200));
    CHECK(at(r.json(), "data") == data);
  }
  for (const std::string query : {"", "&_since=0"}) {
    INFO("listing with '" << query << "'");
    std::vector<std::string> twice;
    auto listed = list_all(server, query, twice);
    for (const auto& id : twice) FAIL_CHECK("listed twice: " << id);
    CHECK(listed.size() == acked.size() + (query.empty() ? 0 : tombstones));
    for (const auto& [id, data] : acked) {
      INFO("record " << id);
      REQUIRE(listed.count(id) == 1);
      CHECK(listed.at(id) == data);
    }
  }
}

/// What one writer of the concurrent phase saw.
struct writer_outcome {
  std::map<std::string, value> acked;  ///< its own records: last acknowledged data
  std::vector<value> hot;              ///< acknowledged versions of the shared record
  std::optional<value> last_hot_field; ///< its field in the last of them
  int refusals = 0;
  std::string failure;
};

/// Writes of all sizes on `connection`: PUTs of the writer's own records
/// alternating with PATCHes of the shared record "hot" (setting the writer's
/// own field to a value unique to the request). Every answer must be a
/// success or the full map's refusal; for "hot", also a conflict: a write
/// planned on top of one the full map refused is refused as a conflict.
writer_outcome write_while_full(http_connection& connection, int writer, int requests) {
  writer_outcome out;
  std::mt19937 rng(static_cast<unsigned>(writer));
  try {
    for (int i = 0; i < requests && out.failure.empty(); ++i) {
      const std::size_t size = std::uniform_int_distribution<std::size_t>(10, 4000)(rng);
      const bool hot = i % 2 == 1;
      const std::string id = hot ? "hot" : "t" + std::to_string(writer) + "-" + std::to_string(i % 6);
      const std::string field = hot ? "f" + std::to_string(writer) : "payload";
      auto r =
          connection.request(hot ? "PATCH" : "PUT", records + "/" + id,
                             body_with(field, size, static_cast<char>('a' + writer), std::to_string(i) + ":"), owner());
      if (r.status == 200 || r.status == 201) {
        const value written = at(r.json(), "data");
        if (hot) {
          out.hot.push_back(written);
          out.last_hot_field = at(written, field);
        } else {
          out.acked[id] = written;
        }
      } else if (is_full_refusal(r) || (hot && is_kinto_error(409, 122).match(r))) {
        ++out.refusals;
      } else {
        out.failure = r.describe();
      }
    }
  } catch (const std::exception& e) {
    out.failure = e.what();
  }
  return out;
}

} // namespace

TEST_CASE("a full map refuses writes with 507, keeps serving reads and loses nothing acknowledged", "[map_full]") {
  temp_dir data;
  kintod_process server({.settings = {{"kinto.storage_map_size", tiny_map}}, .data_dir = data.path()});
  create_collection(server, "b", "c");
  std::map<std::string, value> acked; // id -> data of the last acknowledged write
  acked["hot"] = at(must(server.request("PUT", records + "/hot", R"({"data": {}})", owner()), 201), "data");

  // Fill the map one record at a time until a write is refused.
  {
    auto connection = server.connect();
    http_response refused;
    for (int i = 0; i < 2000 && refused.status == 0; ++i) {
      const std::string id = "fill-" + std::to_string(i);
      auto r = connection->request("PUT", records + "/" + id, body_with("payload", 1500, 'f'), owner());
      if (r.status == 201)
        acked[id] = at(r.json(), "data");
      else
        refused = r;
    }
    INFO(refused.describe());
    REQUIRE(is_full_refusal(refused));
  }

  // Writers of all sizes, concurrently. A refused write must leave no trace,
  // not even through a later write of the same record planned on top of it
  // while it was on its way to storage.
  constexpr int writer_count = 4, per_writer = 40;
  std::vector<writer_outcome> outcomes(writer_count);
  std::vector<std::unique_ptr<http_connection>> connections;
  for (int t = 0; t < writer_count; ++t) connections.push_back(server.connect());
  std::vector<std::thread> threads;
  for (int t = 0; t < writer_count; ++t)
    threads.emplace_back([&, t] { outcomes[t] = write_while_full(*connections[t], t, per_writer); });
  for (auto& th : threads) th.join();

  int refusals = 0;
  std::vector<value> hot_versions{acked["hot"]};
  for (const auto& out : outcomes) {
    CHECK(out.failure == "");
    refusals += out.refusals;
    for (const auto& [id, written] : out.acked) acked[id] = written;
    hot_versions.insert(hot_versions.end(), out.hot.begin(), out.hot.end());
  }
  CHECK(refusals > 0);
  // The shared record holds its latest acknowledged version: the one with
  // the highest timestamp (one list: timestamps follow the order of writes).
  acked["hot"] = *std::max_element(hot_versions.begin(), hot_versions.end(), [](const value& a, const value& b) {
    return int_at(a, "last_modified") < int_at(b, "last_modified");
  });
  // Each writer's field there is the one of its last acknowledged PATCH:
  // nothing of a refused one.
  for (int t = 0; t < writer_count; ++t) {
    INFO("writer " << t);
    const value* field = acked["hot"].find("f" + std::to_string(t));
    REQUIRE(outcomes[t].last_hot_field.has_value() == (field != nullptr));
    if (field) CHECK(*field == *outcomes[t].last_hot_field);
  }

  SECTION("reads go on while the map is full, and after a restart") {
    check_everything(server, acked);
    INFO(server.output());
    REQUIRE(server.stop() == 0);
    server.start();
    check_everything(server, acked);
  }
  SECTION("nothing acknowledged is lost after SIGKILL") {
    server.kill_hard();
    server.start();
    check_everything(server, acked);
  }
  SECTION("a larger storage_map_size at the next start makes room again") {
    // Deleting needs free pages too (LMDB copies what it changes): on a map
    // this full, a DELETE may be refused like any write.
    std::size_t deleted = 0;
    for (auto it = acked.begin(); it != acked.end();) {
      auto r = it->first.starts_with("fill-") ? server.request("DELETE", records + "/" + it->first, {}, owner())
                                              : http_response{};
      INFO(r.describe());
      if (r.status == 200) {
        ++deleted;
        it = acked.erase(it);
        continue;
      }
      if (r.status != 0) REQUIRE(is_full_refusal(r));
      ++it;
    }
    REQUIRE(server.stop() == 0);
    server.options().settings["kinto.storage_map_size"] = "1048576";
    server.start();
    check_everything(server, acked, deleted);
    acked["bigger"] =
        at(must(server.request("PUT", records + "/bigger", body_with("payload", 1500, 'z'), owner()), 201), "data");
    for (auto it = acked.begin(); it != acked.end();) {
      if (!it->first.starts_with("fill-")) {
        ++it;
        continue;
      }
      must(server.request("DELETE", records + "/" + it->first, {}, owner()), 200);
      ++deleted;
      it = acked.erase(it);
    }
    check_everything(server, acked, deleted);
  }
}

TEST_CASE("the heartbeat reports storage down with 503 while nothing can be written, and up again after", "[map_full]") {
  temp_dir data;
  kintod_process server({.settings = {{"kinto.storage_map_size", tiny_map}}, .data_dir = data.path()});
  REQUIRE(server.healthy());

  // Another process's read transaction keeps every page freed after it began
  // from being reused: each write the heartbeat makes then takes pages of
  // the tiny map for good, until none are left.
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == MDB_SUCCESS);
  REQUIRE(mdb_env_open(env, data.path().c_str(), MDB_RDONLY | MDB_NOTLS, 0600) == MDB_SUCCESS);
  MDB_txn* pinned = nullptr;
  REQUIRE(mdb_txn_begin(env, nullptr, MDB_RDONLY, &pinned) == MDB_SUCCESS);

  http_response down;
  {
    auto connection = server.connect();
    for (int i = 0; i < 5000 && down.status == 0; ++i) {
      auto r = connection->request("GET", "/v1/__heartbeat__");
      if (r.status != 200) down = r;
    }
  }
  mdb_txn_abort(pinned);
  mdb_env_close(env);

  INFO(down.describe());
  REQUIRE_THAT(down, is_json(503));
  CHECK(at(down.json(), "storage") == value(false));
  CHECK(at(down.json(), "permission") == value(true));
  CHECK(at(down.json(), "cache") == value(true));
  // The pages come back once the reader is gone.
  auto up = server.request("GET", "/v1/__heartbeat__");
  REQUIRE_THAT(up, is_json(200));
  CHECK(at(up.json(), "storage") == value(true));
}
