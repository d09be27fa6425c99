// Crash loop: concurrent writers, each on its own keep-alive connection, send
// POST, PUT, PATCH (merge and JSON-Patch), DELETE and /batch; kintod is killed
// with SIGKILL after a random number of acknowledged writes and restarted on
// the same data, every third time under a clock set back by libfaketime. After
// each restart: every acknowledged write is there unless a later acknowledged
// write of the same object replaced it, no batch is half-applied, timestamps
// keep increasing, and the data reads cleanly through kintod and mdb_dump.
// KINTOD_CRASH_CYCLES sets the number of cycles (30), KINTOD_CRASH_SEED the seed.
#include "harness.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include <sys/wait.h>

using namespace kintod_test;
using kinto::json::value;

namespace {

constexpr const char* libfaketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const std::vector<std::string> collection_ids{"c1", "c2"};
constexpr int writer_count = 4;
/// Records each writer owns in each collection. Few, so that objects are
/// written many times (replaced, patched, deleted, created again).
constexpr int objects_per_collection = 5;
/// The kill comes after 0 to this many acknowledged writes of a cycle.
constexpr int max_acks_before_kill = 250;
/// A writer never sends more requests than this in a cycle.
constexpr int max_requests_per_cycle = 5000;

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

std::string records_path(const std::string& cid) {
  return "/v1/buckets/b/collections/" + cid + "/records";
}

bool is_tombstone(const value& v) {
  const value* deleted = v.find("deleted");
  return deleted && deleted->is_bool() && deleted->as_bool();
}

value without_timestamp(value v) {
  if (v.is_object()) v.erase("last_modified");
  return v;
}

std::string show(const std::optional<value>& v) {
  return v ? kinto::json::serialize(*v) : "(nothing)";
}

/// A write sent but not acknowledged: the server died before answering, so it
/// may or may not have landed.
struct unacknowledged {
  bool remove = false;
  value data; ///< what a live write stores, without last_modified
};

/// One record and what is known of it. Only its writer writes it, one request
/// at a time, so its acknowledged writes are totally ordered.
struct tracked_object {
  std::string cid, id;
  /// The last acknowledged state, as the server returned it (data with id and
  /// last_modified, or the tombstone); nullopt while never written.
  std::optional<value> acked;
  /// The write in flight when the server was killed.
  std::optional<unacknowledged> in_flight;

  bool live() const { return acked && !is_tombstone(*acked); }
  std::int64_t timestamp() const { return acked ? int_at(*acked, "last_modified") : 0; }
  std::string name() const { return cid + "/" + id; }
};

/// True when `actual` (as listed after the restart) is what `w` writes, and
/// newer than the acknowledged state it would have replaced.
bool landed(const unacknowledged& w, const tracked_object& o, const std::optional<value>& actual) {
  if (!actual) return false;
  if (o.acked && int_at(*actual, "last_modified") <= o.timestamp()) return false;
  if (w.remove) return is_tombstone(*actual) && str_at(*actual, "id") == o.id;
  return !is_tombstone(*actual) && without_timestamp(*actual) == w.data;
}

/// One write of a request: a single request or a sub-request of a batch.
struct planned_write {
  tracked_object* target = nullptr;
  std::string method;
  std::string path; ///< without the /v1 prefix
  std::optional<value> body;
  bool json_patch = false;
  unacknowledged expect;
};

/// The sub-writes of a batch the server never answered.
struct unacknowledged_batch {
  std::string marker;
  std::vector<std::pair<tracked_object*, unacknowledged>> writes;
};

/// What the main thread and the writers of a cycle share.
struct cycle_control {
  std::mutex mutex;
  std::condition_variable changed;
  int acked = 0;        ///< writes acknowledged in this cycle
  int writers_done = 0; ///< writers that stopped
  bool killing = false; ///< set before the SIGKILL: transport errors are expected from then on
};

/// One client thread and the records it owns.
class writer {
public:
  explicit writer(int index) : index_(index) {
    for (const auto& cid : collection_ids)
      for (int k = 0; k < objects_per_collection; ++k)
        objects_.push_back({cid, "w" + std::to_string(index) + "-" + std::to_string(k), std::nullopt, std::nullopt});
  }

  std::vector<tracked_object>& objects() { return objects_; }
  std::vector<unacknowledged_batch>& unacknowledged_batches() { return lost_batches_; }
  const std::string& failure() const { return failure_; }

  /// Writes until the server dies (or the request budget is spent). Never
  /// throws: problems end up in failure().
  void run(http_connection& connection, int cycle, std::uint64_t seed, const std::map<std::string, std::int64_t>& floor,
           cycle_control& control) {
    rng_.seed(seed);
    cycle_ = cycle;
    failure_.clear();
    lost_batches_.clear();
    last_ = floor;
    for (int n = 0; n < max_requests_per_cycle; ++n) {
      const std::string batch = pick(4) == 0 ? "B" + marker(n) : "";
      std::vector<planned_write> writes = batch.empty() ? std::vector{plan_single(n)} : plan_batch(n, batch);
      try {
        if (!batch.empty()) {
          send_batch(connection, writes);
        } else {
          send_single(connection, writes.front());
        }
      } catch (const std::logic_error& e) {
        // An answer that is wrong: a failure, kill or no kill.
        failure_ = e.what();
        break;
      } catch (const std::exception& e) {
        std::lock_guard lock(control.mutex);
        if (!control.killing) {
          failure_ = e.what();
        } else {
          // Cut by the kill: each of these writes may or may not have landed.
          unacknowledged_batch lost{batch, {}};
          for (auto& w : writes) {
            w.target->in_flight = w.expect;
            lost.writes.emplace_back(w.target, w.expect);
          }
          if (!batch.empty()) lost_batches_.push_back(std::move(lost));
        }
        break;
      }
      std::lock_guard lock(control.mutex);
      control.acked += static_cast<int>(writes.size());
      control.changed.notify_all();
    }
    std::lock_guard lock(control.mutex);
    ++control.writers_done;
    control.changed.notify_all();
  }

private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  /// Fields of a new version: a unique marker `w`, a counter, a payload of
  /// varying size, and the batch marker when written by a batch.
  value fresh_fields(const std::string& marker, const std::string& batch) {
    value data = value::object();
    data.set("w", value(marker));
    data.set("n", value(static_cast<std::int64_t>(pick(1000000))));
    data.set("payload", value(std::string(static_cast<std::size_t>(pick(600)), static_cast<char>('a' + index_))));
    if (!batch.empty()) data.set("batch", value(batch));
    return data;
  }

  /// A write of `o` fitting its acknowledged state: POST or PUT for a record
  /// never written or deleted; PUT, PATCH (merge, or JSON-Patch outside
  /// batches, whose sub-request bodies are objects) or DELETE for a live one.
  planned_write plan_write(tracked_object& o, const std::string& marker, const std::string& batch) {
    enum { post, put, merge_patch, json_patch, remove };
    const int op = o.live() ? pick(4) + put : pick(2);
    planned_write w;
    w.target = &o;
    const std::string collection = "/buckets/b/collections/" + o.cid + "/records";
    w.path = op == post ? collection : collection + "/" + o.id;
    value fields = fresh_fields(marker, batch);
    if (op == post || op == put) {
      w.method = op == post ? "POST" : "PUT";
      // POST names the record in its data, PUT in its path.
      if (op == post) fields.set("id", value(o.id));
      w.body = value::object();
      w.body->set("data", fields);
      w.expect.data = std::move(fields);
      w.expect.data.set("id", value(o.id));
      return w;
    }
    if (op == remove) {
      w.method = "DELETE";
      w.expect.remove = true;
      return w;
    }
    // A PATCH sets the new marker, sometimes the counter and, in a batch, the
    // batch marker over the current data.
    w.method = "PATCH";
    value patch = value::object();
    patch.set("w", *fields.find("w"));
    if (pick(2) == 0) patch.set("n", *fields.find("n"));
    if (!batch.empty()) patch.set("batch", value(batch));
    w.expect.data = without_timestamp(*o.acked);
    for (const auto& m : patch.as_object()) w.expect.data.set(m.key, m.val);
    if (op == json_patch && batch.empty()) {
      w.json_patch = true;
      w.body = value::array();
      for (const auto& m : patch.as_object()) {
        // Paths point into {"data", "permissions"}; "add" replaces a member
        // that exists (RFC 6902).
        value add = value::object();
        add.set("op", value("add"));
        add.set("path", value("/data/" + m.key));
        add.set("value", m.val);
        w.body->as_array().push_back(std::move(add));
      }
    } else {
      w.body = value::object();
      w.body->set("data", std::move(patch));
    }
    return w;
  }

  std::string marker(int n) const {
    return std::to_string(cycle_) + "-" + std::to_string(index_) + "-" + std::to_string(n);
  }

  planned_write plan_single(int n) {
    return plan_write(objects_[static_cast<std::size_t>(pick(static_cast<int>(objects_.size())))], marker(n), "");
  }

  /// 2 to 5 writes of distinct records, from one or both collections.
  std::vector<planned_write> plan_batch(int n, const std::string& batch) {
    std::vector<tracked_object*> chosen;
    for (auto& o : objects_) chosen.push_back(&o);
    std::shuffle(chosen.begin(), chosen.end(), rng_);
    chosen.resize(static_cast<std::size_t>(2 + pick(4)));
    std::vector<planned_write> writes;
    for (std::size_t i = 0; i < chosen.size(); ++i)
      writes.push_back(plan_write(*chosen[i], marker(n) + "." + std::to_string(i), batch));
    return writes;
  }

  /// Checks the answer to `w` (status and data) and makes it the record's
  /// acknowledged state. Throws std::logic_error on anything unexpected.
  void acknowledge(planned_write& w, int status, const value& body) {
    auto fail = [&](const std::string& why) {
      throw std::logic_error(w.method + " " + w.path + ": " + why + "; got " + std::to_string(status) + " " +
                             kinto::json::serialize(body));
    };
    const bool created = w.method == "POST" || (w.method == "PUT" && !w.target->live());
    if (status != (created ? 201 : 200)) fail("unexpected status");
    const value* data = body.find("data");
    if (!data) fail("no data");
    if (w.expect.remove ? !is_tombstone(*data) || str_at(*data, "id") != w.target->id
                        : without_timestamp(*data) != w.expect.data)
      fail("data differs from " + kinto::json::serialize(w.expect.data));
    const std::int64_t ts = int_at(*data, "last_modified");
    // Strictly above every timestamp this collection had before the cycle
    // and every one this writer saw acknowledged in it since.
    std::int64_t& last = last_[w.target->cid];
    if (ts <= last) fail("last_modified " + std::to_string(ts) + " not above " + std::to_string(last));
    last = ts;
    w.target->acked = *data;
  }

  /// Runs `check` over an answer that did arrive: whatever it throws is a
  /// wrong answer (std::logic_error), never a transport failure.
  template <class F> static void judge(const http_response& r, F check) {
    try {
      check();
    } catch (const std::logic_error&) {
      throw;
    } catch (const std::exception& e) {
      throw std::logic_error(e.what() + ("\n" + r.describe()));
    }
  }

  void send_single(http_connection& c, planned_write& w) {
    header_list headers = owner();
    if (w.json_patch) headers.emplace_back("Content-Type", "application/json-patch+json");
    auto r = c.request(w.method, "/v1" + w.path, w.body ? kinto::json::serialize(*w.body) : "", headers);
    judge(r, [&] { acknowledge(w, r.status, r.json()); });
  }

  void send_batch(http_connection& c, std::vector<planned_write>& writes) {
    value requests = value::array();
    for (const auto& w : writes) {
      value sub = value::object();
      sub.set("method", value(w.method));
      sub.set("path", value(w.path));
      if (w.body) sub.set("body", *w.body);
      requests.as_array().push_back(std::move(sub));
    }
    value payload = value::object();
    payload.set("requests", std::move(requests));
    auto r = c.request("POST", "/v1/batch", kinto::json::serialize(payload), owner());
    judge(r, [&] {
      if (r.status != 200) throw std::logic_error("batch: " + r.describe());
      const value body = r.json();
      const auto& responses = at(body, "responses").as_array();
      if (responses.size() != writes.size()) throw std::logic_error("batch: " + r.describe());
      for (std::size_t i = 0; i < writes.size(); ++i)
        acknowledge(writes[i], static_cast<int>(int_at(responses[i], "status")), at(responses[i], "body"));
    });
  }

  int index_;
  int cycle_ = 0;
  std::mt19937_64 rng_;
  std::vector<tracked_object> objects_;
  std::vector<unacknowledged_batch> lost_batches_;
  std::map<std::string, std::int64_t> last_;
  std::string failure_;
};

/// Every object and tombstone of a records list (`_since=0`), read page by
/// page, with the list's ETag.
struct full_listing {
  std::int64_t etag = 0;
  std::map<std::string, value> entries;
  std::vector<std::string> duplicates;
};

full_listing list_everything(http_connection& c, const std::string& cid) {
  full_listing out;
  std::string target = records_path(cid) + "?_since=0&_limit=7";
  for (int page = 0; !target.empty(); ++page) {
    auto r = c.request("GET", target, {}, owner());
    if (r.status != 200) throw std::runtime_error("listing " + cid + ": " + r.describe());
    if (page == 0) out.etag = etag_value(r);
    const value body = r.json();
    for (const auto& entry : at(body, "data").as_array()) {
      const std::string id = str_at(entry, "id");
      if (!out.entries.emplace(id, entry).second) out.duplicates.push_back(id);
    }
    const std::string next = r.header("Next-Page");
    target = next.empty() ? "" : next.substr(next.find("/v1/"));
  }
  return out;
}

/// Runs `mdb_dump -a` over the data directory: LMDB's own tool reads every
/// database in full. Returns its exit status and error output.
std::pair<int, std::string> dump_everything(const std::string& dir) {
  const std::string command = "mdb_dump -a '" + dir + "' 2>&1 >/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string output;
  char buf[512];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

/// The model of the whole test: writers and their records, the probe record
/// of each collection, and the highest timestamp each collection had.
class crash_model {
public:
  crash_model() {
    for (int t = 0; t < writer_count; ++t) writers_.emplace_back(t);
    for (const auto& cid : collection_ids) {
      probes_.push_back({cid, "probe", std::nullopt, std::nullopt});
      floor_[cid] = 0;
    }
  }

  /// After a restart: reads everything back and checks it against what was
  /// acknowledged (see the file comment). The real state then becomes the
  /// known state. Then one acknowledged write per collection shows that
  /// timestamps go on from above every earlier one.
  void verify(kintod_process& server, int cycle) {
    INFO("cycle " << cycle);
    REQUIRE(server.healthy());
    auto c = server.connect();
    std::map<std::string, full_listing> lists;
    for (const auto& cid : collection_ids) lists[cid] = list_everything(*c, cid);

    // Batches cut by the kill, judged before the records are updated.
    for (auto& w : writers_)
      for (const auto& batch : w.unacknowledged_batches()) {
        std::set<bool> outcomes;
        std::string detail;
        for (const auto& [o, write] : batch.writes) {
          const auto& entries = lists[o->cid].entries;
          auto it = entries.find(o->id);
          const std::optional<value> actual = it == entries.end() ? std::nullopt : std::optional(it->second);
          const bool in = landed(write, *o, actual);
          outcomes.insert(in);
          detail += "\n  " + o->name() + (in ? " landed: " : " did not land: ") + show(actual);
        }
        INFO("unacknowledged batch " << batch.marker << detail);
        // A batch is one transaction: all of it landed or none.
        CHECK(outcomes.size() == 1);
        ++cut_batches_;
        half_applied_ += outcomes.size() == 1 ? 0 : 1;
      }

    for (const auto& cid : collection_ids) {
      const full_listing& list = lists[cid];
      INFO("collection " << cid);
      CHECK(list.duplicates.empty());
      // The list timestamp never goes back and covers everything listed.
      CHECK(list.etag >= floor_[cid]);
      for (const auto& [id, entry] : list.entries) CHECK(list.etag >= int_at(entry, "last_modified"));
    }

    std::set<std::string> known;
    for (tracked_object* o : all_objects()) {
      known.insert(o->name());
      const auto& entries = lists[o->cid].entries;
      auto it = entries.find(o->id);
      const std::optional<value> actual = it == entries.end() ? std::nullopt : std::optional(it->second);
      INFO("record " << o->name() << "\n  acknowledged: " << show(o->acked) << "\n  in flight: "
                     << (o->in_flight ? (o->in_flight->remove ? "delete" : kinto::json::serialize(o->in_flight->data))
                                      : "none")
                     << "\n  after restart: " << show(actual));
      const bool as_acked = actual.has_value() == o->acked.has_value() && (!actual || *actual == *o->acked);
      const bool as_in_flight = o->in_flight && landed(*o->in_flight, *o, actual);
      CHECK((as_acked || as_in_flight));
      if (actual) CHECK(lists[o->cid].etag >= int_at(*actual, "last_modified"));
      // The record read on its own agrees with the listing.
      auto r = c->request("GET", records_path(o->cid) + "/" + o->id, {}, owner());
      if (actual && !is_tombstone(*actual)) {
        REQUIRE_THAT(r, is_json(200));
        CHECK(at(r.json(), "data") == *actual);
      } else {
        CHECK_THAT(r, is_kinto_error(404, 110));
      }
      o->acked = actual;
      o->in_flight.reset();
    }
    for (const auto& cid : collection_ids)
      for (const auto& [id, entry] : lists[cid].entries) {
        INFO("listed " << kinto::json::serialize(entry));
        CHECK(known.count(cid + "/" + id) == 1);
      }

    for (auto& probe : probes_) {
      INFO("collection " << probe.cid << ", list ETag after restart " << lists[probe.cid].etag);
      auto r = c->request("PUT", records_path(probe.cid) + "/probe",
                          R"({"data": {"cycle": )" + std::to_string(cycle) + "}}", owner());
      REQUIRE_THAT(r, is_json(probe.live() ? 200 : 201));
      const value data = at(r.json(), "data");
      const std::int64_t ts = int_at(data, "last_modified");
      CHECK(ts > lists[probe.cid].etag);
      CHECK(etag_value(c->request("GET", records_path(probe.cid) + "?_limit=1", {}, owner())) == ts);
      probe.acked = data;
      floor_[probe.cid] = ts;
    }
  }

  /// Runs the writers until `kill_after` writes are acknowledged, then kills
  /// the server and waits for the writers.
  void write_and_kill(kintod_process& server, int cycle, std::mt19937_64& rng) {
    INFO("cycle " << cycle);
    const int kill_after = std::uniform_int_distribution<int>(0, max_acks_before_kill)(rng);
    std::vector<std::unique_ptr<http_connection>> connections;
    for (int t = 0; t < writer_count; ++t) connections.push_back(server.connect());
    cycle_control control;
    std::vector<std::thread> threads;
    for (int t = 0; t < writer_count; ++t)
      threads.emplace_back([&, t, seed = rng()] { writers_[t].run(*connections[t], cycle, seed, floor_, control); });
    {
      std::unique_lock lock(control.mutex);
      control.changed.wait(lock, [&] { return control.acked >= kill_after || control.writers_done == writer_count; });
      control.killing = true;
    }
    server.kill_hard();
    for (auto& t : threads) t.join();
    for (const auto& w : writers_) CHECK(w.failure() == "");
    acked_ += control.acked;
  }

  int acknowledged_writes() const { return acked_; }
  int cut_batches() const { return cut_batches_; }
  int half_applied_batches() const { return half_applied_; }

private:
  std::vector<tracked_object*> all_objects() {
    std::vector<tracked_object*> out;
    for (auto& w : writers_)
      for (auto& o : w.objects()) out.push_back(&o);
    for (auto& p : probes_) out.push_back(&p);
    return out;
  }

  std::vector<writer> writers_;
  std::vector<tracked_object> probes_;
  std::map<std::string, std::int64_t> floor_; ///< per collection: above every timestamp acknowledged so far
  int acked_ = 0;
  int cut_batches_ = 0;  ///< batches the kill cut off before their answer
  int half_applied_ = 0; ///< among them, those found partly applied
};

/// Environment of a restart under a clock set back by `offset` (libfaketime
/// syntax, e.g. "-1h"). Monotonic clocks are left alone: only the wall clock,
/// which timestamps come from, goes back.
std::map<std::string, std::string> faked_clock(const std::string& offset) {
  return {{"LD_PRELOAD", libfaketime}, {"FAKETIME", offset}, {"FAKETIME_DONT_FAKE_MONOTONIC", "1"}};
}

} // namespace

TEST_CASE("libfaketime sets kintod's clock back", "[crash][clock]") {
  if (!std::filesystem::exists(libfaketime))
    FAIL("no " << libfaketime << ": install the faketime package (.ci/install-deps)");
  kintod_process server({.env = faked_clock("-1d")});
  create_collection(server, "b", "c");
  auto r = must(server.request("PUT", "/v1/buckets/b/collections/c/records/r", R"({"data": {}})", owner()), 201);
  const auto now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  // A day back, give or take anything a slow machine could add.
  CHECK(int_at(r, "data.last_modified") < now - 12 * 3600 * 1000);
}

TEST_CASE("acknowledged writes survive a loop of SIGKILLs and restarts, some under a clock set back",
          "[crash][durability]") {
  const int cycles = static_cast<int>(env_number("KINTOD_CRASH_CYCLES", 30));
  const std::uint64_t seed = env_number("KINTOD_CRASH_SEED", std::random_device{}());
  const bool can_fake_clock = std::filesystem::exists(libfaketime);
  if (!can_fake_clock) WARN("no " << libfaketime << ": every restart keeps the real clock");
  INFO("seed " << seed << " (KINTOD_CRASH_SEED)");
  std::mt19937_64 rng(seed);
  const std::vector<std::string> offsets{"-1h", "-1d", "-10m"};

  temp_dir data;
  kintod_process server({.data_dir = data.path()});
  create_collection(server, "b", "c1");
  must(server.request("PUT", "/v1/buckets/b/collections/c2", {}, owner()), 201);
  crash_model model;
  for (int cycle = 1; cycle <= cycles; ++cycle) {
    model.verify(server, cycle);
    model.write_and_kill(server, cycle, rng);
    auto [status, errors] = dump_everything(data.path());
    INFO("cycle " << cycle << ": mdb_dump -a " << data.path() << "\n" << errors);
    REQUIRE(status == 0);
    server.options().env = can_fake_clock && cycle % 3 == 0 ? faked_clock(offsets[cycle / 3 % offsets.size()])
                                                            : std::map<std::string, std::string>{};
    server.start();
  }
  model.verify(server, cycles + 1);
  INFO(server.output());
  CHECK(server.stop() == 0);
  std::printf("crash loop: %d cycles, %d acknowledged writes, %d batches cut by the kill, %d of them half-applied "
              "(seed %llu)\n",
              cycles, model.acknowledged_writes(), model.cut_batches(), model.half_applied_batches(),
              static_cast<unsigned long long>(seed));
}
