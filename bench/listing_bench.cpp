// Storage-level benchmark of the listing executor (storage/listing.hpp): `_since`
// polls, default-order pages, custom sorts and filters over a large collection,
// timed and with the heap they use. Uses storage/ and schema/ only; no HTTP.
#include "bench_support.hpp"
#include "version.hpp"
#include "schema/query.hpp"
#include "storage/listing.hpp"
#include "storage/lmdb_engine.hpp"

#include <malloc.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <variant>
#include <vector>

// ---- heap accounting ----------------------------------------------------------
// Every operator new of the process goes through here, so the peak seen during
// one call is the extra heap that call needed. LMDB's map is not heap.

namespace {

std::atomic<std::size_t> heap_now{0};
std::atomic<std::size_t> heap_peak{0};

void note_alloc(void* p) {
  if (!p) return;
  const std::size_t size = malloc_usable_size(p);
  const std::size_t now = heap_now.fetch_add(size, std::memory_order_relaxed) + size;
  std::size_t peak = heap_peak.load(std::memory_order_relaxed);
  while (now > peak && !heap_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

void release(void* p) noexcept {
  if (!p) return;
  heap_now.fetch_sub(malloc_usable_size(p), std::memory_order_relaxed);
  std::free(p);
}

void* allocate(std::size_t n) noexcept {
  void* p = std::malloc(n ? n : 1);
  note_alloc(p);
  return p;
}

void* allocate_aligned(std::size_t n, std::align_val_t al) noexcept {
  std::size_t alignment = std::max(static_cast<std::size_t>(al), sizeof(void*));
  void* p = nullptr;
  if (posix_memalign(&p, alignment, n ? n : 1) != 0) return nullptr;
  note_alloc(p);
  return p;
}

void* or_throw(void* p) {
  if (!p) throw std::bad_alloc();
  return p;
}

} // namespace

void* operator new(std::size_t n) {
  return or_throw(allocate(n));
}
void* operator new[](std::size_t n) {
  return or_throw(allocate(n));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return allocate(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return allocate(n);
}
void* operator new(std::size_t n, std::align_val_t al) {
  return or_throw(allocate_aligned(n, al));
}
void* operator new[](std::size_t n, std::align_val_t al) {
  return or_throw(allocate_aligned(n, al));
}
void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return allocate_aligned(n, al);
}
void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return allocate_aligned(n, al);
}
void operator delete(void* p) noexcept {
  release(p);
}
void operator delete[](void* p) noexcept {
  release(p);
}
void operator delete(void* p, std::size_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  release(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  release(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  release(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  release(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  release(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  release(p);
}

namespace {

using namespace kinto;
using clock_type = std::chrono::steady_clock;
using params = std::vector<std::pair<std::string, std::string>>;

/// Measures the heap a scope adds on top of what was live when it began.
struct heap_scope {
  std::size_t base = heap_now.load(std::memory_order_relaxed);
  heap_scope() { heap_peak.store(base, std::memory_order_relaxed); }
  std::size_t extra() const { return heap_peak.load(std::memory_order_relaxed) - base; }
};

// ---- options --------------------------------------------------------------------

struct options {
  std::size_t records = 1'000'000;
  std::size_t small = 1'000;
  std::size_t polls = 1'000;
  std::size_t scans = 5;
  std::string dir; ///< empty: a temporary directory removed at the end
  bool json = false;
};

const char* usage = "usage: listing-bench [--records N] [--small N] [--polls N] [--scans N] [--dir PATH] [--json]\n"
                    "  --records N  records of the large collection (default 1000000, at least 100)\n"
                    "  --small N    records of the small collection (default 1000, at least 100)\n"
                    "  --polls N    timed runs of each cheap query: polls and pages (default 1000)\n"
                    "  --scans N    timed runs of each query that walks the whole list (default 5)\n"
                    "  --dir PATH   keep the data in PATH and reuse it on the next run (default: a\n"
                    "               temporary directory, removed at the end)\n"
                    "  --json       print the results as one JSON object\n";

using bench::stop;

[[noreturn]] void refuse(const std::string& message) { bench::refuse("listing-bench", usage, message); }

std::size_t count_arg(std::string_view name, const char* raw, std::size_t min, std::size_t max) {
  return bench::count_arg("listing-bench", usage, name, raw, min, max);
}

options parse_options(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      throw stop{0};
    } else if (arg == "--records") {
      o.records = count_arg(arg, next, 100, 50'000'000), ++i;
    } else if (arg == "--small") {
      o.small = count_arg(arg, next, 100, 50'000'000), ++i;
    } else if (arg == "--polls") {
      o.polls = count_arg(arg, next, 1, 10'000'000), ++i;
    } else if (arg == "--scans") {
      o.scans = count_arg(arg, next, 1, 1'000), ++i;
    } else if (arg == "--dir") {
      if (!next || !*next) refuse("--dir needs a path");
      o.dir = next, ++i;
    } else if (arg == "--json") {
      o.json = true;
    } else {
      refuse("unknown argument '" + std::string(arg) + "'");
    }
  }
  return o;
}

/// The benchmark itself cannot go on: exit code 1.
[[noreturn]] void fail(const std::string& message) {
  std::cerr << "listing-bench: " << message << "\n";
  throw stop{1};
}

// ---- the data set -----------------------------------------------------------------

const list_key records_list{"/buckets/bench/collections/items", kind::record};
constexpr std::size_t per_transaction = 10'000;
constexpr std::size_t map_size = std::size_t(8) << 30;

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

/// One collection of `records` records in its own LMDB environment.
struct dataset {
  std::string dir;
  std::size_t records = 0;
  std::uint64_t first_ts = 0; ///< record i has last_modified first_ts + i
  double load_seconds = 0;    ///< 0 when reused
  std::unique_ptr<storage::engine> store;
};

std::string meta_text(const std::optional<std::string>& v) {
  return v ? *v : std::string();
}

void load(dataset& d) {
  std::mt19937_64 rng(0x6b696e746f + d.records);
  const auto start = clock_type::now();
  d.first_ts = now_ms() - 10 * d.records - 86'400'000;
  for (std::size_t done = 0; done < d.records;) {
    std::unique_ptr<storage::write_transaction> txn;
    if (storage::status s = d.store->begin_write(txn); s != storage::status::ok)
      fail(std::string("begin: ") + std::string(storage::status_text(s)));
    storage::writer& b = *txn;
    const std::size_t end = std::min(d.records, done + per_transaction);
    for (; done < end; ++done) {
      const std::string id = bench::uuid4(rng);
      storage::object obj;
      obj.last_modified = d.first_ts + done;
      obj.data = bench::record_text(rng, done, id, obj.last_modified);
      if (b.put(records_list, id, obj, std::nullopt) != storage::status::ok)
        fail("cannot store record " + std::to_string(done) + " in " + d.dir);
    }
    if (done == d.records) {
      if (b.set_list_timestamp(records_list, d.first_ts + d.records - 1) != storage::status::ok ||
          b.set_meta("bench.records", std::to_string(d.records)) != storage::status::ok ||
          b.set_meta("bench.first_ts", std::to_string(d.first_ts)) != storage::status::ok)
        fail("cannot store the list timestamp in " + d.dir);
    }
    storage::status committed = storage::status::failed;
    txn->commit([&committed](storage::status s) { committed = s; });
    if (committed != storage::status::ok) fail(std::string("commit: ") + std::string(storage::status_text(committed)));
  }
  d.load_seconds = std::chrono::duration<double>(clock_type::now() - start).count();
}

/// Opens the data set in `dir`, loading it unless it already holds `records`.
dataset open_dataset(const std::string& dir, std::size_t records) {
  dataset d;
  d.dir = dir;
  d.records = records;
  std::string error;
  storage::lmdb_options so;
  so.directory = dir;
  so.map_size = map_size;
  d.store = storage::open_lmdb(so, error);
  if (!d.store) fail(error);
  {
    auto snap = d.store->read();
    if (!snap.valid()) fail("cannot read " + dir);
    const std::string stored = meta_text(snap.meta("bench.records"));
    if (!stored.empty()) {
      if (stored != std::to_string(records))
        refuse(dir + " holds " + stored + " records, not " + std::to_string(records) +
               ": use another --dir or the same counts");
      d.first_ts = std::stoull(meta_text(snap.meta("bench.first_ts")));
      return d;
    }
    if (snap.list_timestamp(records_list)) refuse(dir + " holds data this benchmark did not finish loading");
  }
  load(d);
  return d;
}

struct disk_usage {
  std::uint64_t file_bytes = 0;      ///< size of data.mdb
  std::uint64_t allocated_bytes = 0; ///< blocks the file occupies
  std::uint64_t used_bytes = 0;      ///< pages LMDB has used (last page number + 1)
  unsigned changes_depth = 0, objects_depth = 0;
};

disk_usage usage_of(const dataset& d) {
  disk_usage u;
  struct stat st {};
  if (::stat((d.dir + "/data.mdb").c_str(), &st) == 0) {
    u.file_bytes = static_cast<std::uint64_t>(st.st_size);
    u.allocated_bytes = static_cast<std::uint64_t>(st.st_blocks) * 512;
  }
  if (auto figures = storage::figures_of(*d.store)) {
    u.used_bytes = figures->used_bytes;
    u.changes_depth = figures->changes_depth;
    u.objects_depth = figures->objects_depth;
  }
  return u;
}

// ---- measuring ----------------------------------------------------------------------

/// What one request does below HTTP: a read snapshot, query::parse, then
/// read_page with the page size the server would use (storage_max_fetch_size
/// 10000), or count() as HEAD does. Returns the objects returned or counted.
std::size_t request(const dataset& d, const params& query_params, bool counting, std::size_t* visited) {
  auto snap = d.store->read();
  if (!snap.valid()) fail("cannot begin a read transaction");
  auto parsed = query::parse(query_params, now_ms());
  if (auto* e = std::get_if<error>(&parsed)) fail("query refused: " + e->message.value_or(e->title));
  const auto& q = std::get<query::request>(parsed);
  if (counting) {
    storage::visibility visible;
    if (visited) visible = [visited](std::string_view) { return ++*visited, true; };
    return storage::count(snap, records_list, q, visible);
  }
  storage::page_request wanted;
  wanted.limit = q.limit && *q.limit > 0 ? std::min<std::size_t>(static_cast<std::size_t>(*q.limit), 10000) : 10000;
  if (visited) wanted.visible = [visited](std::string_view) { return ++*visited, true; };
  const storage::page page = storage::read_page(snap, records_list, q, wanted);
  return page.objects.size();
}

struct figures {
  double median_ns = 0, p90_ns = 0, min_ns = 0;
  std::size_t runs = 0;
  std::size_t returned = 0;
  std::size_t visited = 0;   ///< index entries handed to the executor's visitor
  std::size_t heap_peak = 0; ///< largest extra heap over the runs, in bytes
};

figures measure(const dataset& d, const params& query_params, bool counting, std::size_t runs) {
  figures f;
  f.runs = runs;
  // A counting run first: it warms the cache and tells how much the query reads.
  f.returned = request(d, query_params, counting, &f.visited);
  std::vector<double> ns;
  ns.reserve(runs);
  for (std::size_t i = 0; i < runs; ++i) {
    heap_scope heap;
    const auto start = clock_type::now();
    const std::size_t got = request(d, query_params, counting, nullptr);
    const auto stop = clock_type::now();
    f.heap_peak = std::max(f.heap_peak, heap.extra());
    if (got != f.returned)
      fail("a query returned " + std::to_string(f.returned) + " objects, then " + std::to_string(got));
    ns.push_back(std::chrono::duration<double, std::nano>(stop - start).count());
  }
  std::sort(ns.begin(), ns.end());
  f.min_ns = ns.front();
  f.median_ns = ns.size() % 2 ? ns[ns.size() / 2] : (ns[ns.size() / 2 - 1] + ns[ns.size() / 2]) / 2;
  f.p90_ns = ns[std::min(ns.size() - 1, ns.size() * 9 / 10)];
  return f;
}

// ---- the cases -------------------------------------------------------------------------

struct bench_case {
  std::string name;
  std::string query; ///< as a client would write it, for the report
  figures small, large;
  std::size_t expected = 0; ///< objects the large query must return
};

/// The queries, with values that depend on the size of the collection.
struct query_set {
  std::string name;
  bool scan;     ///< walks (nearly) the whole list: fewer runs
  bool counting; ///< count() rather than read_page()
  std::function<params(const dataset&)> make;
  std::function<std::size_t(const dataset&)> expected;
};

std::vector<query_set> queries() {
  auto since_k = [](const dataset& d) { return params{{"_since", std::to_string(d.first_ts + d.records - 11)}}; };
  auto limit = [](std::size_t l) { return [l](const dataset&) { return params{{"_limit", std::to_string(l)}}; }; };
  auto returns = [](std::size_t k) { return [k](const dataset& d) { return std::min(k, d.records); }; };
  return {
      {"_since poll, 10 changes", false, false, since_k, returns(10)},
      {"default order, _limit=10", false, false, limit(10), returns(10)},
      {"default order, _limit=100", false, false, limit(100), returns(100)},
      {"default order, _limit=1000", false, false, limit(1000), returns(1000)},
      // The same walk as the scans below without decoding any JSON: what the
      // index and object lookups cost on their own.
      {"count, no filter (HEAD)", true, true, [](const dataset&) { return params{}; },
       [](const dataset& d) { return d.records; }},
      {"_sort=title, _limit=100", true, false,
       [](const dataset&) {
         return params{{"_sort", "title"}, {"_limit", "100"}};
       },
       returns(100)},
      {"filter newest 1%, _limit=100", false, false,
       [](const dataset& d) {
         return params{{"gt_n", std::to_string(d.records - d.records / 100 - 1)}, {"_limit", "100"}};
       },
       [](const dataset& d) { return std::min<std::size_t>(100, d.records / 100); }},
      {"filter oldest 1%, _limit=100", true, false,
       [](const dataset& d) {
         return params{{"lt_n", std::to_string(d.records / 100)}, {"_limit", "100"}};
       },
       [](const dataset& d) { return std::min<std::size_t>(100, d.records / 100); }},
      {"filter matching none", true, false,
       [](const dataset& d) {
         return params{{"gt_n", std::to_string(d.records)}, {"_limit", "100"}};
       },
       [](const dataset&) { return std::size_t(0); }},
  };
}

std::string query_string(const params& p) {
  std::string out;
  for (const auto& [name, value] : p) out += (out.empty() ? "?" : "&") + name + "=" + value;
  return out;
}

// ---- reporting ---------------------------------------------------------------------------

std::string bytes_text(double bytes) {
  char text[32];
  if (bytes < 1024)
    std::snprintf(text, sizeof text, "%.0f B", bytes);
  else if (bytes < 1024.0 * 1024)
    std::snprintf(text, sizeof text, "%.1f KiB", bytes / 1024);
  else if (bytes < 1024.0 * 1024 * 1024)
    std::snprintf(text, sizeof text, "%.1f MiB", bytes / 1024 / 1024);
  else
    std::snprintf(text, sizeof text, "%.2f GiB", bytes / 1024 / 1024 / 1024);
  return text;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string lpad(std::string s, std::size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

struct report {
  options opts;
  std::string dir;
  double small_load = 0, large_load = 0;
  disk_usage small_disk, large_disk;
  std::vector<bench_case> cases;
  double total_seconds = 0;
};

constexpr double poll_ratio_target = 2.0;
constexpr std::size_t heap_target = std::size_t(64) << 20;

double ratio(const bench_case& c) {
  return c.small.median_ns > 0 ? c.large.median_ns / c.small.median_ns : 0;
}

std::size_t worst_heap(const report& r) {
  std::size_t worst = 0;
  for (const auto& c : r.cases) worst = std::max({worst, c.small.heap_peak, c.large.heap_peak});
  return worst;
}

void print_text(const report& r) {
  const auto& o = r.opts;
  std::printf("listing-bench: large %zu records, small %zu records, %zu polls, %zu scans\n", o.records, o.small,
              o.polls, o.scans);
  std::printf("data: %s%s\n", r.dir.c_str(), o.dir.empty() ? " (temporary)" : "");
  auto load_line = [](const char* which, std::size_t n, double s) {
    if (s == 0)
      std::printf("load %-5s %9zu records: reused\n", which, n);
    else
      std::printf("load %-5s %9zu records: %.2f s (%.0f records/s)\n", which, n, s, n / s);
  };
  load_line("small", o.small, r.small_load);
  load_line("large", o.records, r.large_load);
  auto disk_line = [](const char* which, const disk_usage& u) {
    std::printf("disk %-5s data.mdb %s (allocated %s, LMDB pages used %s); B-tree depth changes %u, objects %u\n",
                which, bytes_text(double(u.file_bytes)).c_str(), bytes_text(double(u.allocated_bytes)).c_str(),
                bytes_text(double(u.used_bytes)).c_str(), u.changes_depth, u.objects_depth);
  };
  disk_line("small", r.small_disk);
  disk_line("large", r.large_disk);
  std::printf("\ntimes: medians (p90 in brackets) of one read snapshot + query::parse + read_page;\n"
              "visited: index entries the executor read; ratio: large median / small median;\n"
              "returned, heap: objects returned and peak extra heap of one call, large collection\n\n");
  const std::string small_head = "n=" + std::to_string(o.small);
  const std::string large_head = "n=" + std::to_string(o.records);
  std::printf("%s %s %s %s %s %s %s %s\n", pad("case", 30).c_str(), lpad(small_head, 10).c_str(),
              lpad("visited", 8).c_str(), lpad(large_head, 22).c_str(), lpad("visited", 9).c_str(),
              lpad("ratio", 8).c_str(), lpad("returned", 9).c_str(), lpad("heap", 10).c_str());
  for (const auto& c : r.cases) {
    char ratio_text[16];
    std::snprintf(ratio_text, sizeof ratio_text, "%.2f", ratio(c));
    const std::string large_cell = bench::duration_text(c.large.median_ns) + " (" + bench::duration_text(c.large.p90_ns) + ")";
    std::printf("%s %s %s %s %s %s %s %s\n", pad(c.name, 30).c_str(),
                lpad(bench::duration_text(c.small.median_ns), 10).c_str(), lpad(std::to_string(c.small.visited), 8).c_str(),
                lpad(large_cell, 22).c_str(), lpad(std::to_string(c.large.visited), 9).c_str(),
                lpad(ratio_text, 8).c_str(), lpad(std::to_string(c.large.returned), 9).c_str(),
                lpad(bytes_text(double(c.large.heap_peak)), 10).c_str());
  }
  std::printf("\nqueries (large):\n");
  for (const auto& c : r.cases)
    std::printf("  %-30s %s\n", c.name.c_str(), c.query.empty() ? "(none)" : c.query.c_str());

  const bench_case& poll = r.cases.front();
  const double base = r.cases[1].large.median_ns;
  std::printf("\npage time / _limit=10 time (large): _limit=100 %.2f, _limit=1000 %.2f\n",
              r.cases[2].large.median_ns / base, r.cases[3].large.median_ns / base);
  std::printf("target: _since poll n=%zu / n=%zu <= %.1f: %.2f %s\n", o.records, o.small, poll_ratio_target,
              ratio(poll), ratio(poll) <= poll_ratio_target ? "PASS" : "MISS");
  std::printf("target: extra heap per call < %s: worst %s %s\n", bytes_text(double(heap_target)).c_str(),
              bytes_text(double(worst_heap(r))).c_str(), worst_heap(r) < heap_target ? "PASS" : "MISS");
  std::printf("total run time %.1f s\n", r.total_seconds);
}

std::string json_figures(const figures& f) {
  char text[256];
  std::snprintf(text, sizeof text,
                "{\"median_ns\":%.0f,\"p90_ns\":%.0f,\"min_ns\":%.0f,\"runs\":%zu,\"returned\":%zu,\"visited\":%zu,"
                "\"heap_peak_bytes\":%zu}",
                f.median_ns, f.p90_ns, f.min_ns, f.runs, f.returned, f.visited, f.heap_peak);
  return text;
}

std::string json_disk(const disk_usage& u) {
  char text[256];
  std::snprintf(text, sizeof text,
                "{\"file_bytes\":%llu,\"allocated_bytes\":%llu,\"used_bytes\":%llu,\"changes_depth\":%u,"
                "\"objects_depth\":%u}",
                static_cast<unsigned long long>(u.file_bytes), static_cast<unsigned long long>(u.allocated_bytes),
                static_cast<unsigned long long>(u.used_bytes), u.changes_depth, u.objects_depth);
  return text;
}

void print_json(const report& r) {
  const auto& o = r.opts;
  std::string out = "{\"records\":" + std::to_string(o.records) + ",\"small\":" + std::to_string(o.small) +
                    ",\"polls\":" + std::to_string(o.polls) + ",\"scans\":" + std::to_string(o.scans);
  char text[128];
  std::snprintf(text, sizeof text, ",\"load_seconds\":{\"small\":%.3f,\"large\":%.3f}", r.small_load, r.large_load);
  out += text;
  out += ",\"disk\":{\"small\":" + json_disk(r.small_disk) + ",\"large\":" + json_disk(r.large_disk) + "}";
  out += ",\"cases\":[";
  for (std::size_t i = 0; i < r.cases.size(); ++i) {
    const auto& c = r.cases[i];
    if (i) out += ',';
    out += "{\"name\":";
    json::quote_to(c.name, out);
    out += ",\"query\":";
    json::quote_to(c.query, out);
    out += ",\"small\":" + json_figures(c.small) + ",\"large\":" + json_figures(c.large);
    std::snprintf(text, sizeof text, ",\"ratio\":%.3f}", ratio(c));
    out += text;
  }
  const double poll_ratio = ratio(r.cases.front());
  std::snprintf(text, sizeof text,
                "],\"targets\":{\"poll_ratio\":%.3f,\"poll_ratio_ok\":%s,\"worst_heap_bytes\":%zu,\"heap_ok\":%s}",
                poll_ratio, poll_ratio <= poll_ratio_target ? "true" : "false", worst_heap(r),
                worst_heap(r) < heap_target ? "true" : "false");
  out += text;
  std::snprintf(text, sizeof text, ",\"total_seconds\":%.1f}", r.total_seconds);
  out += text;
  std::cout << out << "\n";
}

/// Removes the temporary directory on every way out of main.
struct temporary_dir {
  std::string path;
  ~temporary_dir() {
    if (path.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

int run(int argc, char** argv) {
  const auto started = clock_type::now();
  report r;
  r.opts = parse_options(argc, argv);
  const options& o = r.opts;

  temporary_dir temporary;
  if (o.dir.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "listing-bench-XXXXXX").string();
    if (!mkdtemp(pattern.data())) fail("cannot create a temporary directory");
    temporary.path = r.dir = pattern;
  } else {
    r.dir = o.dir;
  }

  auto progress = [&](const std::string& what) {
    if (!o.json) std::fprintf(stderr, "... %s\n", what.c_str());
  };
  progress("loading " + std::to_string(o.small) + " records");
  dataset small = open_dataset(r.dir + "/small", o.small);
  progress("loading " + std::to_string(o.records) + " records");
  dataset large = open_dataset(r.dir + "/large", o.records);
  r.small_load = small.load_seconds;
  r.large_load = large.load_seconds;
  r.small_disk = usage_of(small);
  r.large_disk = usage_of(large);

  for (const auto& qs : queries()) {
    progress(qs.name);
    bench_case c;
    c.name = qs.name;
    const std::size_t runs = qs.scan ? o.scans : o.polls;
    c.small = measure(small, qs.make(small), qs.counting, runs);
    const params large_params = qs.make(large);
    c.query = query_string(large_params);
    c.large = measure(large, large_params, qs.counting, runs);
    c.expected = qs.expected(large);
    if (c.large.returned != c.expected)
      fail(qs.name + ": returned " + std::to_string(c.large.returned) + " objects, expected " +
           std::to_string(c.expected));
    r.cases.push_back(std::move(c));
  }
  // Close the environments before their directory goes.
  small.store.reset();
  large.store.reset();
  r.total_seconds = std::chrono::duration<double>(clock_type::now() - started).count();
  if (o.json)
    print_json(r);
  else
    print_text(r);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  if (kinto::bench::print_version(argc, argv)) return 0;
  try {
    return run(argc, argv);
  } catch (const stop& s) {
    return s.code;
  }
}
