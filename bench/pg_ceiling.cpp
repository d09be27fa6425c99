// pg-ceiling: what PostgreSQL itself gives, with N connections each driven by
// one client thread (the pool size and the client count of a kintod
// benchmark), for the two statements kintod's hot paths come down to: a
// primary-key SELECT of one record of upstream Kinto's `objects` table, and a
// durable single-row INSERT into it (one transaction each, synchronous_commit
// as the server has it). The ceiling for kintod's get-one and create on
// PostgreSQL. Uses libpq, the schema of storage/postgresql_schema.hpp and
// the benchmark statistics; no other kintod code.
#include "bench_stats.hpp"
#include "version.hpp"
#include "bench_support.hpp"

#include "storage/postgresql.hpp"
#include "storage/postgresql_schema.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using kinto::bench::count_arg;
using kinto::bench::refuse;
using kinto::storage::pg::connection;
using steady = std::chrono::steady_clock;

constexpr std::string_view program = "pg-ceiling";
constexpr std::string_view usage =
    "usage: pg-ceiling --url URL [--connections N] [--duration S] [--warmup S] [--records N] [--json]\n"
    "  --url URL          libpq URI of the database (postgresql://user:pass@host:port/db); its Kinto\n"
    "                     schema is created when missing, as `kintod migrate` does\n"
    "  --connections N    connections, one client thread each (default 64)\n"
    "  --duration S       seconds measured per statement (default 10)\n"
    "  --warmup S         seconds run before measuring, per statement (default 1)\n"
    "  --records N        records the SELECTs pick from (default 1000)\n"
    "  --json             one JSON object on stdout\n";

struct settings {
  std::string url;
  std::size_t connections = 64;
  std::size_t duration = 10;
  std::size_t warmup = 1;
  std::size_t records = 1000;
  bool json = false;
};

settings parse(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      throw kinto::bench::stop{0};
    } else if (arg == "--url") {
      if (!next || !*next) refuse(program, usage, "--url needs a value");
      s.url = next, ++i;
    } else if (arg == "--connections") {
      s.connections = count_arg(program, usage, arg, next, 1, 1000), ++i;
    } else if (arg == "--duration") {
      s.duration = count_arg(program, usage, arg, next, 1, 3600), ++i;
    } else if (arg == "--warmup") {
      s.warmup = count_arg(program, usage, arg, next, 0, 600), ++i;
    } else if (arg == "--records") {
      s.records = count_arg(program, usage, arg, next, 1, 10'000'000), ++i;
    } else if (arg == "--json") {
      s.json = true;
    } else {
      refuse(program, usage, "unknown argument '" + std::string(arg) + "'");
    }
  }
  if (s.url.empty()) refuse(program, usage, "--url is needed");
  return s;
}

[[noreturn]] void fail(const std::string& message) {
  std::cerr << program << ": " << message << "\n";
  throw kinto::bench::stop{1};
}

connection open(const std::string& url) {
  std::string error;
  auto c = connection::open(url, error);
  if (!c) fail("cannot connect: " + error);
  return std::move(*c);
}

void must(connection& c, const std::string& sql, const std::vector<kinto::storage::pg::param>& params = {}) {
  auto r = params.empty() ? c.run(sql) : c.run(sql, params);
  if (!r.ok()) fail(sql.substr(0, 60) + "...: " + r.error());
}

/// What one statement gave over the measured seconds.
struct outcome {
  std::uint64_t done = 0;
  kinto::bench::latency_histogram latency_ns;
};

/// The first failure met by a client thread; the run reports it and fails.
struct failures {
  std::mutex mutex;
  std::string first;
  std::atomic<bool> any{false};
  void note(const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex);
    if (first.empty()) first = what;
    any = true;
  }
};

/// Runs `step(client, rng)` on every connection in a closed loop for the
/// warm-up and the measured seconds; `step` answers an error text or "".
template <class Step> outcome drive(std::vector<connection>& clients, const settings& s, failures& f, Step step) {
  const auto from = steady::now() + std::chrono::seconds(s.warmup);
  const auto until = from + std::chrono::seconds(s.duration);
  std::vector<outcome> each(clients.size());
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k < clients.size(); ++k)
    threads.emplace_back([&, k] {
      std::mt19937_64 rng(0x9e3779b97f4a7c15ULL * (k + 1));
      for (;;) {
        const auto begin = steady::now();
        if (begin >= until || f.any) return;
        const std::string error = step(k, clients[k], rng);
        if (!error.empty()) return f.note(error);
        const auto end = steady::now();
        if (begin >= from && end < until) {
          ++each[k].done;
          each[k].latency_ns.record(static_cast<std::uint64_t>(std::chrono::nanoseconds(end - begin).count()));
        }
      }
    });
  for (auto& t : threads) t.join();
  outcome total;
  for (const auto& o : each) {
    total.done += o.done;
    total.latency_ns.merge(o.latency_ns);
  }
  return total;
}

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

int run(const settings& s) {
  {
    kinto::storage::postgresql_migration m;
    m.storage_url = m.permission_url = s.url;
    if (!s.json) m.log = [](const std::string& line) { std::cerr << program << ": " << line << "\n"; };
    std::string error;
    if (!kinto::storage::migrate_postgresql(m, error)) fail(error);
  }
  const std::string bucket = "/buckets/pg-ceiling-" + std::to_string(::getpid()) + "-" + std::to_string(now_ms());
  const std::string read_list = bucket + "/collections/read";
  connection admin = open(s.url);

  // The records the SELECTs read: ~200-byte objects under UUID ids, one list.
  const std::uint64_t base = now_ms();
  must(admin,
       "INSERT INTO objects (id, parent_id, resource_name, last_modified, data, deleted) "
       "SELECT md5($1 || i)::uuid::text, $1, 'record', from_epoch($2::BIGINT + i), "
       "jsonb_build_object('title', md5(i::text), 'n', i, 'done', false, 'tags', '[\"a\",\"b\"]'::jsonb, "
       "'note', 'benchmark record, of a size typical of a small object', 'id', md5($1 || i)::uuid::text, "
       "'last_modified', $2::BIGINT + i), FALSE "
       "FROM generate_series(1, $3::BIGINT) AS i",
       {read_list, std::to_string(base), std::to_string(s.records)});
  std::vector<std::string> ids;
  {
    auto r = admin.run("SELECT id FROM objects WHERE parent_id = $1 AND resource_name = 'record'", {read_list});
    if (!r.ok()) fail(r.error());
    for (int i = 0; i < r.rows(); ++i) ids.emplace_back(r.text(i, 0));
  }
  must(admin, "ANALYZE objects");

  std::vector<connection> clients;
  for (std::size_t k = 0; k < s.connections; ++k) clients.push_back(open(s.url));
  for (auto& c : clients) {
    must(c, "SET TIME ZONE 'UTC'");
    for (const auto& [name, sql] :
         {std::pair<std::string, std::string>{"get_one",
                                              "SELECT as_epoch(last_modified), data FROM objects "
                                              "WHERE id = $1 AND parent_id = $2 AND resource_name = 'record'"},
          {"create_one", "INSERT INTO objects "
                         "(id, parent_id, resource_name, last_modified, data, deleted) "
                         "VALUES ($1, $2, 'record', from_epoch($3::BIGINT), $4::JSONB, FALSE)"}})
      if (auto r = c.prepare(name, sql); !r.ok()) fail("PREPARE " + name + ": " + r.error());
  }
  std::string synchronous_commit = "?";
  if (auto r = admin.run("SHOW synchronous_commit"); r.ok() && r.rows()) synchronous_commit = r.text(0, 0);
  if (!s.json)
    std::cerr << program << ": " << s.connections << " connections, " << s.records << " records, " << s.warmup
              << " s warm-up then " << s.duration << " s per statement, synchronous_commit=" << synchronous_commit
              << "\n";

  failures f;
  const outcome selects = drive(clients, s, f, [&](std::size_t, connection& c, std::mt19937_64& rng) {
    auto r = c.run_prepared("get_one", {ids[rng() % ids.size()], read_list});
    if (!r.ok()) return r.error();
    return r.rows() == 1 ? std::string() : std::string("a record read found ") + std::to_string(r.rows()) + " rows";
  });
  // Each connection writes a list of its own, timestamps strictly
  // increasing, as kintod does per list.
  std::vector<std::uint64_t> stamps(clients.size(), now_ms());
  const outcome inserts = drive(clients, s, f, [&](std::size_t k, connection& c, std::mt19937_64& rng) {
    const std::string id = kinto::bench::uuid4(rng);
    const std::uint64_t ts = ++stamps[k];
    auto r = c.run_prepared("create_one", {id, bucket + "/collections/w" + std::to_string(k), std::to_string(ts),
                                           kinto::bench::record_text(rng, ts, id, ts)});
    return r.ok() ? std::string() : r.error();
  });
  // Clean up, on success and failure alike.
  auto cleaned = admin.run("DELETE FROM objects WHERE parent_id LIKE $1", {bucket + "/%"});
  if (f.any) fail(f.first);
  if (!cleaned.ok()) fail("clean-up: " + cleaned.error());

  const double seconds = static_cast<double>(s.duration);
  auto ms = [](const outcome& o, double p) { return static_cast<double>(o.latency_ns.percentile(p)) / 1e6; };
  if (s.json) {
    std::printf("{\"connections\":%zu,\"records\":%zu,\"seconds\":%zu,\"synchronous_commit\":\"%s\","
                "\"select\":{\"done\":%llu,\"per_second\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f},"
                "\"insert\":{\"done\":%llu,\"per_second\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}}\n",
                s.connections, s.records, s.duration, synchronous_commit.c_str(),
                static_cast<unsigned long long>(selects.done), static_cast<double>(selects.done) / seconds,
                ms(selects, 50), ms(selects, 99), static_cast<unsigned long long>(inserts.done),
                static_cast<double>(inserts.done) / seconds, ms(inserts, 50), ms(inserts, 99));
  } else {
    auto line = [&](const char* label, const outcome& o) {
      auto percentile = [&](double p) {
        return kinto::bench::duration_text(static_cast<double>(o.latency_ns.percentile(p)));
      };
      std::printf("%-22s %12.1f  p50 %s  p99 %s\n", label, static_cast<double>(o.done) / seconds,
                  percentile(50).c_str(), percentile(99).c_str());
    };
    line("primary-key SELECT/s", selects);
    line("durable INSERT/s", inserts);
  }
  return selects.done && inserts.done ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  if (kinto::bench::print_version(argc, argv)) return 0;
  return kinto::bench::exit_code_of([&] { return run(parse(argc, argv)); });
}
