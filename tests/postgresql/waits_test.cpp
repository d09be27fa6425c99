// The PostgreSQL engine's reads that do not hold their thread: given a
// readiness, engine::read(hint, then) sends the read ahead and returns;
// `then` runs on the readiness's thread with what a snapshot read object by
// object answers. Reads beyond the pool wait in line for a session, a
// session whose last snapshot sent a ROLLBACK is read clean before reuse,
// and a connection lost while the database answers gives no snapshot.
#include "support.hpp"

#include "storage/postgresql_engine.hpp"

#include <poll.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace kintod_pg_test;
using kinto::kind;
using kinto::list_key;
namespace storage = kinto::storage;
using storage::status;

namespace {

/// A readiness for tests: each wait is a thread that polls the socket.
class poll_threads {
public:
  ~poll_threads() {
    for (std::thread& t : threads_) t.join();
  }
  storage::readiness readiness() {
    return [this](int fd, std::function<void()> ready) {
      std::lock_guard lock(mutex_);
      ++waits_;
      asked_.notify_all();
      threads_.emplace_back([fd, ready = std::move(ready)] {
        pollfd readable{fd, POLLIN, 0};
        (void)::poll(&readable, 1, 60000);
        ready();
      });
    };
  }
  int waits() {
    std::lock_guard lock(mutex_);
    return waits_;
  }
  /// Returns once `n` waits were asked for (within a minute): false if not.
  bool asked(int n) {
    std::unique_lock lock(mutex_);
    return asked_.wait_for(lock, std::chrono::seconds(60), [&] { return waits_ >= n; });
  }

private:
  std::mutex mutex_;
  std::condition_variable asked_;
  std::vector<std::thread> threads_;
  int waits_ = 0;
};

/// What a read gave `then`, and on which thread.
struct delivered {
  std::string seen;
  bool valid = false;
  std::thread::id thread;
};

const list_key buckets{"", kind::bucket};
const list_key collections{"/buckets/b", kind::collection};
const list_key records{"/buckets/b/collections/c", kind::record};

/// What a view answers about the record r1 and its list, as one text.
std::string seen(const storage::view& v) {
  auto o = v.get(records, "r1");
  std::string text = o ? std::to_string(o->last_modified) + " " + o->data + " " + o->permissions : "none";
  text += " | " + v.permissions(collections.object_uri("c")).value_or("no permissions");
  text += " | " + std::to_string(v.list_timestamp(records).value_or(0));
  return text;
}

std::unique_ptr<storage::engine> open_engine(const scratch_database& db, std::size_t pool_size) {
  std::string error;
  storage::postgresql_options options;
  options.url = db.url();
  options.pool_size = pool_size;
  auto engine = storage::open_postgresql(options, error);
  INFO(error);
  REQUIRE(engine);
  std::unique_ptr<storage::write_transaction> txn;
  REQUIRE(engine->begin_write(txn) == status::ok);
  storage::object b, c, r;
  b.last_modified = 10;
  b.data = R"({"id":"b","last_modified":10})";
  c.last_modified = 20;
  c.data = R"({"id":"c","last_modified":20})";
  c.permissions = R"({"read": ["bob"]})";
  r.last_modified = 30;
  r.data = R"({"id":"r1","last_modified":30})";
  r.permissions = R"({"write": ["carol"]})";
  REQUIRE(txn->put(buckets, "b", b, std::nullopt) == status::ok);
  REQUIRE(txn->put(collections, "c", c, std::nullopt) == status::ok);
  REQUIRE(txn->put(records, "r1", r, std::nullopt) == status::ok);
  REQUIRE(txn->set_list_timestamp(records, 30) == status::ok);
  std::optional<status> committed;
  txn->commit([&](status s) { committed = s; });
  REQUIRE(committed == status::ok);
  return engine;
}

/// Starts a read of r1 (with its list timestamp); the future tells what it gave.
std::future<delivered> read_r1(const storage::engine& engine) {
  auto promise = std::make_shared<std::promise<delivered>>();
  std::future<delivered> answer = promise->get_future();
  const std::vector<std::string_view> members = {"carol", "system.Authenticated"};
  engine.read({.list = records, .id = "r1", .members = members, .stamped = &records},
              [promise](storage::snapshot snap) {
                delivered d;
                d.valid = snap.valid();
                if (d.valid) d.seen = seen(snap);
                d.thread = std::this_thread::get_id();
                promise->set_value(std::move(d));
              });
  return answer;
}

delivered wait_for(std::future<delivered>& answer) {
  REQUIRE(answer.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
  return answer.get();
}

} // namespace

TEST_CASE("a read given a readiness is answered on the readiness's thread, as a plain read", "[postgresql]") {
  scratch_database db;
  auto engine = open_engine(db, 4);
  const std::string expected = seen(engine->read());
  CHECK(expected == R"(30 {"id":"r1","last_modified":30} {"write": ["carol"]} | {"read": ["bob"]} | 30)");

  poll_threads waits;
  engine->wait_through(waits.readiness());
  for (int round = 0; round < 3; ++round) {
    auto answer = read_r1(*engine);
    const delivered d = wait_for(answer);
    CHECK(d.valid);
    CHECK(d.seen == expected);
    CHECK(d.thread != std::this_thread::get_id());
  }
  CHECK(waits.waits() >= 3);

  SECTION("without a readiness again, the read is answered before read() returns") {
    engine->wait_through({});
    auto answer = read_r1(*engine);
    REQUIRE(answer.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
    const delivered d = answer.get();
    CHECK(d.seen == expected);
    CHECK(d.thread == std::this_thread::get_id());
  }
}

TEST_CASE("reads beyond the pool wait in line for a session given back", "[postgresql]") {
  scratch_database db;
  auto engine = open_engine(db, 1);
  const std::string expected = seen(engine->read());
  poll_threads waits;
  engine->wait_through(waits.readiness());

  // The pool's only session, held; its snapshot begins its transaction, so
  // that giving it back sends a ROLLBACK the next read must take first.
  auto held = engine->read();
  REQUIRE(held.valid());
  CHECK(held.list_timestamp(collections).has_value());
  auto first = read_r1(*engine);
  auto second = read_r1(*engine);
  CHECK(first.wait_for(std::chrono::seconds(0)) == std::future_status::timeout);
  CHECK(second.wait_for(std::chrono::seconds(0)) == std::future_status::timeout);
  CHECK(waits.waits() == 0);

  held = storage::snapshot();
  const delivered one = wait_for(first);
  const delivered two = wait_for(second);
  CHECK(one.valid);
  CHECK(two.valid);
  CHECK(one.seen == expected);
  CHECK(two.seen == expected);
  // The session is in the pool again, clean: a plain read uses it.
  auto again = engine->read();
  REQUIRE(again.valid());
  CHECK(seen(again) == expected);
}

TEST_CASE("a read whose connection is lost while the database answers gets no snapshot", "[postgresql]") {
  scratch_database db;
  auto engine = open_engine(db, 1);
  const std::string expected = seen(engine->read());
  poll_threads waits;
  engine->wait_through(waits.readiness());
  // A first read leaves the session clean (no ROLLBACK to read) and its
  // statement prepared (preparing would wait for the lock below).
  auto first = read_r1(*engine);
  REQUIRE(wait_for(first).seen == expected);
  const int before = waits.waits();

  std::string error;
  auto locker = kinto::storage::pg::connection::open(db.url(), error);
  INFO(error);
  REQUIRE(locker);
  // The read ahead waits for this lock until its session is ended.
  REQUIRE(locker->run("BEGIN; LOCK TABLE objects IN ACCESS EXCLUSIVE MODE").ok());
  auto answer = read_r1(*engine);
  REQUIRE(waits.asked(before + 1));
  REQUIRE(locker
            ->run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                  "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
            .ok());
  REQUIRE(locker->run("ROLLBACK").ok());
  const delivered lost = wait_for(answer);
  CHECK_FALSE(lost.valid);

  // The next read opens a session in the place of the lost one.
  auto again = read_r1(*engine);
  const delivered d = wait_for(again);
  CHECK(d.valid);
  CHECK(d.seen == expected);
}
