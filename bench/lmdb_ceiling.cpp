// lmdb-ceiling: how many durable writes per second LMDB takes on this disk
// with K concurrent submitters and group commit: one writer thread drains
// every pending write into one write transaction, commits it (fsync, default
// flags) and acknowledges them all. The ceiling for kintod's create path.
// Uses LMDB and the benchmark statistics only; no kintod code.
#include "bench_stats.hpp"
#include "version.hpp"
#include "bench_support.hpp"

#include <lmdb.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using kinto::bench::count_arg;
using kinto::bench::refuse;
using steady = std::chrono::steady_clock;

constexpr std::string_view program = "lmdb-ceiling";
constexpr std::string_view usage =
    "usage: lmdb-ceiling [--submitters K] [--duration S] [--warmup S] [--value-bytes N] [--dir PATH] [--json]\n"
    "  --submitters K   concurrent writers, each waiting for its acknowledgement (default 64)\n"
    "  --duration S     seconds measured (default 10)\n"
    "  --warmup S       seconds before measuring (default 1)\n"
    "  --value-bytes N  bytes per value (default 200)\n"
    "  --dir PATH       directory in which a temporary LMDB environment is made and removed\n"
    "                   (default $TMPDIR or /tmp); use the filesystem of the server's data\n"
    "  --json           one JSON object on stdout\n";

struct settings {
  std::size_t submitters = 64;
  std::size_t duration = 10;
  std::size_t warmup = 1;
  std::size_t value_bytes = 200;
  std::string dir;
  bool json = false;
};

settings parse(int argc, char** argv) {
  settings s;
  const char* tmp = std::getenv("TMPDIR");
  s.dir = tmp && *tmp ? tmp : "/tmp";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      throw kinto::bench::stop{0};
    } else if (arg == "--submitters") {
      s.submitters = count_arg(program, usage, arg, next, 1, 4096), ++i;
    } else if (arg == "--duration") {
      s.duration = count_arg(program, usage, arg, next, 1, 3600), ++i;
    } else if (arg == "--warmup") {
      s.warmup = count_arg(program, usage, arg, next, 0, 600), ++i;
    } else if (arg == "--value-bytes") {
      s.value_bytes = count_arg(program, usage, arg, next, 1, 1 << 20), ++i;
    } else if (arg == "--dir") {
      if (!next || !*next) refuse(program, usage, "--dir needs a value");
      s.dir = next, ++i;
    } else if (arg == "--json") {
      s.json = true;
    } else {
      refuse(program, usage, "unknown argument '" + std::string(arg) + "'");
    }
  }
  struct stat st {};
  if (::stat(s.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    refuse(program, usage, "--dir: not a directory: '" + s.dir + "'");
  return s;
}

void check(int rc, const char* what) {
  if (rc != MDB_SUCCESS) {
    std::cerr << program << ": " << what << ": " << mdb_strerror(rc) << "\n";
    throw kinto::bench::stop{1};
  }
}

/// In the writer thread nothing can be unwound to main: report and end the process.
void check_or_die(int rc, const char* what) {
  if (rc != MDB_SUCCESS) {
    std::cerr << program << ": " << what << ": " << mdb_strerror(rc) << "\n";
    std::_Exit(1);
  }
}

/// A mkdtemp directory, removed with its content on every way out.
struct temp_dir {
  explicit temp_dir(const std::string& parent) {
    std::string pattern = (fs::path(parent) / "lmdb-ceiling.XXXXXX").string();
    if (!::mkdtemp(pattern.data())) {
      std::cerr << program << ": cannot create a directory in " << parent << ": " << std::strerror(errno) << "\n";
      throw kinto::bench::stop{1};
    }
    path = pattern;
  }
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  fs::path path;
};

/// One submitter's slot: the write it waits for and its acknowledgement.
struct slot {
  steady::time_point submitted;
  std::uint64_t sequence = 0;
  bool acked = false;
  std::condition_variable cv;
};

/// The queue between submitters and the writer; one mutex guards it all.
struct queue {
  std::mutex mutex;
  std::condition_variable writer_cv;
  std::vector<std::size_t> pending; ///< indices of slots waiting for a commit
  std::size_t running = 0;          ///< submitters still submitting
};

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct measured {
  std::uint64_t writes = 0, commits = 0;
  kinto::bench::latency_histogram commit_ns, ack_ns;
};

/// The group-commit writer: drains, writes, commits durably, acknowledges.
void writer(MDB_env* env, MDB_dbi dbi, queue& q, std::vector<slot>& slots, std::size_t value_bytes,
            steady::time_point from, steady::time_point until, measured& m) {
  std::vector<std::size_t> batch;
  std::string value(value_bytes, '\0');
  for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>('a' + splitmix64(i) % 26);
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(q.mutex);
      q.writer_cv.wait(lock, [&] { return !q.pending.empty() || q.running == 0; });
      if (q.pending.empty()) return;
      batch.swap(q.pending);
    }
    const auto begin = steady::now();
    MDB_txn* txn = nullptr;
    check_or_die(mdb_txn_begin(env, nullptr, 0, &txn), "mdb_txn_begin");
    for (std::size_t k : batch) {
      // Random 16-byte keys: inserts land all over the B-tree, as UUIDs do.
      std::uint64_t key[2] = {splitmix64(k << 40 ^ slots[k].sequence), splitmix64(~(k << 40 ^ slots[k].sequence))};
      MDB_val kv{sizeof key, key}, vv{value.size(), value.data()};
      check_or_die(mdb_put(txn, dbi, &kv, &vv, 0), "mdb_put");
    }
    check_or_die(mdb_txn_commit(txn), "mdb_txn_commit");
    const auto end = steady::now();
    if (end >= from && end < until) {
      m.writes += batch.size();
      ++m.commits;
      m.commit_ns.record(static_cast<std::uint64_t>(std::chrono::nanoseconds(end - begin).count()));
      for (std::size_t k : batch)
        m.ack_ns.record(static_cast<std::uint64_t>(std::chrono::nanoseconds(end - slots[k].submitted).count()));
    }
    {
      std::lock_guard<std::mutex> lock(q.mutex);
      for (std::size_t k : batch) slots[k].acked = true;
    }
    for (std::size_t k : batch) slots[k].cv.notify_one();
    batch.clear();
  }
}

void submitter(std::size_t k, queue& q, std::vector<slot>& slots, const std::atomic<bool>& stopping) {
  slot& mine = slots[k];
  while (!stopping.load()) {
    std::unique_lock<std::mutex> lock(q.mutex);
    mine.submitted = steady::now();
    ++mine.sequence;
    mine.acked = false;
    q.pending.push_back(k);
    q.writer_cv.notify_one();
    mine.cv.wait(lock, [&] { return mine.acked; });
  }
  std::lock_guard<std::mutex> lock(q.mutex);
  if (--q.running == 0) q.writer_cv.notify_one();
}

int run(const settings& s) {
  temp_dir dir(s.dir);
  MDB_env* env = nullptr;
  check(mdb_env_create(&env), "mdb_env_create");
  std::unique_ptr<MDB_env, void (*)(MDB_env*)> env_guard(env, mdb_env_close);
  check(mdb_env_set_mapsize(env, std::size_t(64) << 30), "mdb_env_set_mapsize");
  check(mdb_env_open(env, dir.path.c_str(), 0, 0644), "mdb_env_open");
  MDB_dbi dbi = 0;
  {
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env, nullptr, 0, &txn), "mdb_txn_begin");
    check(mdb_dbi_open(txn, nullptr, 0, &dbi), "mdb_dbi_open");
    check(mdb_txn_commit(txn), "mdb_txn_commit");
  }

  if (!s.json)
    std::cerr << program << ": " << s.submitters << " submitters, " << s.value_bytes << "-byte values, " << s.warmup
              << " s warm-up then " << s.duration << " s in " << dir.path.string() << "\n";
  queue q;
  q.running = s.submitters;
  std::vector<slot> slots(s.submitters);
  std::atomic<bool> stopping{false};
  measured m;
  const auto from = steady::now() + std::chrono::seconds(s.warmup);
  const auto until = from + std::chrono::seconds(s.duration);
  std::thread w(writer, env, dbi, std::ref(q), std::ref(slots), s.value_bytes, from, until, std::ref(m));
  std::vector<std::thread> pool;
  for (std::size_t k = 0; k < s.submitters; ++k)
    pool.emplace_back(submitter, k, std::ref(q), std::ref(slots), std::cref(stopping));
  std::this_thread::sleep_until(until);
  stopping = true;
  for (auto& t : pool) t.join();
  w.join();

  const double seconds = static_cast<double>(s.duration);
  const double writes_per_s = static_cast<double>(m.writes) / seconds;
  const double commits_per_s = static_cast<double>(m.commits) / seconds;
  const double mean_batch = m.commits ? static_cast<double>(m.writes) / static_cast<double>(m.commits) : 0;
  if (s.json) {
    std::printf("{\"submitters\":%zu,\"value_bytes\":%zu,\"seconds\":%zu,\"writes\":%llu,\"writes_per_second\":%.1f,"
                "\"commits_per_second\":%.1f,\"mean_batch\":%.1f,\"commit_ms\":{\"p50\":%.3f,\"p99\":%.3f},"
                "\"ack_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}}\n",
                s.submitters, s.value_bytes, s.duration, static_cast<unsigned long long>(m.writes), writes_per_s,
                commits_per_s, mean_batch, m.commit_ns.percentile(50) / 1e6, m.commit_ns.percentile(99) / 1e6,
                m.ack_ns.percentile(50) / 1e6, m.ack_ns.percentile(99) / 1e6, m.ack_ns.max() / 1e6);
  } else {
    std::printf("durable writes/s  %12.1f\n", writes_per_s);
    std::printf("commits/s         %12.1f  (mean %.1f writes per commit)\n", commits_per_s, mean_batch);
    std::printf("commit time       p50 %s  p99 %s\n",
                kinto::bench::duration_text(static_cast<double>(m.commit_ns.percentile(50))).c_str(),
                kinto::bench::duration_text(static_cast<double>(m.commit_ns.percentile(99))).c_str());
    std::printf("write acknowledged p50 %s  p99 %s  max %s\n",
                kinto::bench::duration_text(static_cast<double>(m.ack_ns.percentile(50))).c_str(),
                kinto::bench::duration_text(static_cast<double>(m.ack_ns.percentile(99))).c_str(),
                kinto::bench::duration_text(static_cast<double>(m.ack_ns.max())).c_str());
  }
  return m.writes ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  if (kinto::bench::print_version(argc, argv)) return 0;
  return kinto::bench::exit_code_of([&] { return run(parse(argc, argv)); });
}
