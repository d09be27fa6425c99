// End-to-end benchmark of permission-filtered listings: pages of a large collection
// read through the in-process HTTP application (real handler, no sockets) by its owner,
// inherited readers, a partial reader and a stranger. Uses http/ and what lies below.
#include "bench_support.hpp"
#include "version.hpp"
#include "actors/write_service.hpp"
#include "http/app.hpp"
#include "core/access.hpp"
#include "http/call.hpp"
#include "base/crypto.hpp"
#include "base/json.hpp"
#include "schema/permissions.hpp"
#include "schema/query.hpp"
#include "base/settings.hpp"
#include "storage/listing.hpp"
#include "storage/lmdb_engine.hpp"

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace {

using namespace kinto;
using clock_type = std::chrono::steady_clock;

// ---- options --------------------------------------------------------------------

struct options {
  std::size_t records = 100'000;
  std::size_t repeat = 2'000;
  std::size_t scans = 5;
  bool json = false;
};

const char* usage = "usage: permissions-bench [--records N] [--repeat N] [--scans N] [--json]\n"
                    "  --records N  records of the collection (default 100000, at least 1000)\n"
                    "  --repeat N   timed runs of each page query per user (default 2000; a case\n"
                    "               stops after about 3 s of runs, never below 10 runs)\n"
                    "  --scans N    timed runs of the query that walks the whole list (default 5)\n"
                    "  --json       print the results as one JSON object\n";

using bench::stop;

[[noreturn]] void refuse(const std::string& message) { bench::refuse("permissions-bench", usage, message); }

/// The benchmark itself cannot go on: exit code 1.
[[noreturn]] void fail(const std::string& message) {
  std::cerr << "permissions-bench: " << message << "\n";
  throw stop{1};
}

std::size_t count_arg(std::string_view name, const char* raw, std::size_t min, std::size_t max) {
  return bench::count_arg("permissions-bench", usage, name, raw, min, max);
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
      o.records = count_arg(arg, next, 1'000, 10'000'000), ++i;
    } else if (arg == "--repeat") {
      o.repeat = count_arg(arg, next, 1, 10'000'000), ++i;
    } else if (arg == "--scans") {
      o.scans = count_arg(arg, next, 1, 1'000), ++i;
    } else if (arg == "--json") {
      o.json = true;
    } else {
      refuse("unknown argument '" + std::string(arg) + "'");
    }
  }
  return o;
}

// ---- the application, in-process ------------------------------------------------

constexpr std::size_t map_size = std::size_t(8) << 30;
constexpr const char* records_path = "/v1/buckets/b/collections/c/records";
const list_key records_list{"/buckets/b/collections/c", kind::record};

/// Removes the temporary directory on every way out of run().
struct temporary_dir {
  std::string path;
  ~temporary_dir() {
    if (path.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

/// The store, the write service, the app and its handler, as kintod builds
/// them (settings of the unit tests' app_fixture), stopped in reverse order.
struct application {
  std::unique_ptr<storage::engine> store;
  std::unique_ptr<actors::write_service> writes;
  std::unique_ptr<http::app> app;
  http::handler handle;

  explicit application(const std::string& dir) {
    std::string error;
    store = storage::open_lmdb({dir, map_size, 64}, error);
    if (!store) fail("cannot open the store in " + dir + ": " + error);
    writes = std::make_unique<actors::write_service>(*store, actors::write_service_options{});
    settings s;
    s.set("includes", "kinto.plugins.accounts");
    s.set("multiauth.policies", "account basicauth");
    s.set("bcrypt_cost", "4");
    http::config cfg;
    if (auto e = http::load_config(s, cfg)) fail("settings refused: " + *e);
    app = std::make_unique<http::app>(std::move(cfg), *store, *writes);
    handle = http::make_handler(*app);
  }
  ~application() {
    handle = nullptr;
    app.reset();
    writes->shutdown();
    writes.reset();
    store.reset();
  }
  application(const application&) = delete;
  application& operator=(const application&) = delete;

  /// Runs one request through the handler and waits for its answer, which
  /// may come from another thread (writes are answered by actors). The wait spins (yielding) rather than sleeping
  /// so that the bench's own wake-up adds no latency to the figures.
  http::response call(http::request req) {
    std::optional<http::response> answer;
    std::atomic<bool> ready{false};
    handle(std::move(req), [&answer, &ready](http::response r) {
      answer = std::move(r);
      ready.store(true, std::memory_order_release);
    });
    while (!ready.load(std::memory_order_acquire)) std::this_thread::yield();
    return std::move(*answer);
  }
};

using header = std::pair<std::string, std::string>;

http::request make_request(std::string method, std::string target, const header& auth, std::string body = {}) {
  http::request req;
  req.method = std::move(method);
  req.target = std::move(target);
  req.host = "localhost:8888";
  req.headers = {auth};
  if (!body.empty()) req.headers.emplace_back("content-type", "application/json");
  req.body = std::move(body);
  return req;
}

json::value body_of(const http::response& r, const std::string& what) {
  std::string err;
  auto v = json::parse(r.body, err);
  if (!v) fail(what + ": the response is not JSON: " + err);
  return std::move(*v);
}

// ---- the callers and the data set -------------------------------------------------

struct user {
  std::string name;
  std::string role; ///< how it may read the collection, for the report
  header auth;
  std::string id;   ///< the principal the hello view reports (basicauth:<hmac>)
};

std::vector<user> make_users() {
  std::vector<user> users{
      {"owner", "bucket write (creator)", {}, {}},
      {"bucket_reader", "read on the bucket", {}, {}},
      {"group_reader", "member of a group with read on the bucket", {}, {}},
      {"partial", "read on 1% of the records", {}, {}},
      {"stranger", "nothing", {}, {}},
  };
  for (auto& u : users) u.auth = {"authorization", "Basic " + crypto::base64_encode(u.name + ":secret-of-" + u.name)};
  return users;
}

/// Which records the partial reader may read: every hundredth, the newest one
/// of each hundred (so that the newest record of the list is one of them).
bool partially_readable(std::size_t i) { return i % 100 == 99; }

http::response expect(application& a, http::request req, int status) {
  const std::string what = req.method + " " + req.target;
  http::response r = a.call(std::move(req));
  if (r.status != status)
    fail(what + ": status " + std::to_string(r.status) + ", expected " + std::to_string(status) + ": " + r.body);
  return r;
}

/// The bucket, collection and group, and the permissions on them, written
/// through HTTP so that they are what a real client would have stored.
void set_up(application& a, std::vector<user>& users) {
  for (auto& u : users) {
    json::value hello = body_of(expect(a, make_request("GET", "/v1/", u.auth), 200), "hello");
    const json::value* id = hello.find("user") ? hello.find("user")->find("id") : nullptr;
    if (!id || !id->is_string()) fail("the hello view shows no user id for " + u.name);
    u.id = id->as_string();
  }
  const user& owner = users[0];
  auto quoted = [](const std::string& s) {
    std::string out;
    json::quote_to(s, out);
    return out;
  };
  expect(a, make_request("PUT", "/v1/buckets/b", owner.auth), 201);
  expect(a, make_request("PUT", "/v1/buckets/b/collections/c", owner.auth), 201);
  expect(a, make_request("PUT", "/v1/buckets/b/groups/g", owner.auth, "{\"data\":{\"members\":[" + quoted(users[2].id) + "]}}"),
         201);
  expect(a,
         make_request("PATCH", "/v1/buckets/b", owner.auth,
                      "{\"permissions\":{\"read\":[" + quoted(users[1].id) + ",\"/buckets/b/groups/g\"]}}"),
         200);
}

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

/// Writes the records straight into the store, with the permissions a PUT by
/// the owner would have given them ({"write":[owner]}; the partial reader's
/// records also name it in "read"), then the list timestamp. Each chunk is one
/// transaction run by the write service's committer (write_service::
/// run_exclusive), which also resets the permission actor's caches as any
/// direct write must. Returns the timestamp of the first record; record i
/// has first + i.
std::uint64_t load_records(application& a, const std::vector<user>& users, std::size_t records) {
  constexpr std::size_t per_transaction = 10'000;
  auto rng = std::make_shared<std::mt19937_64>(0x6b696e746f + records);
  std::string owner_id, partial_id;
  json::quote_to(users[0].id, owner_id);
  json::quote_to(users[3].id, partial_id);
  const std::string owner_only = "{\"write\":[" + owner_id + "]}";
  const std::string shared = "{\"read\":[" + partial_id + "],\"write\":[" + owner_id + "]}";
  const std::uint64_t first = now_ms() - records - 1000;
  for (std::size_t begin = 0; begin < records; begin += per_transaction) {
    const std::size_t end = std::min(records, begin + per_transaction);
    auto chunk = [&, begin, end](storage::writer& b) {
      for (std::size_t i = begin; i < end; ++i) {
        const std::string id = bench::uuid4(*rng);
        storage::object obj;
        obj.last_modified = first + i;
        obj.data = bench::record_text(*rng, i, id, obj.last_modified);
        obj.permissions = partially_readable(i) ? shared : owner_only;
        if (auto st = b.put(records_list, id, obj, std::nullopt); st != storage::status::ok) return st;
      }
      if (end == records) return b.set_list_timestamp(records_list, first + records - 1);
      return storage::status::ok;
    };
    std::promise<storage::status> committed;
    a.writes->run_exclusive(chunk, [&committed](storage::status st) { committed.set_value(st); });
    if (committed.get_future().get() != storage::status::ok)
      fail("cannot store records " + std::to_string(begin) + ".." + std::to_string(end - 1));
  }
  return first;
}

// ---- the queries --------------------------------------------------------------------

struct query_case {
  std::string name;
  std::string query; ///< the query string, without '?'
  bool scan;         ///< walks the whole list: --scans runs rather than --repeat
};

std::vector<query_case> make_queries(std::size_t records, std::uint64_t first) {
  return {
      {"_limit=10", "_limit=10", false},
      {"_limit=100", "_limit=100", false},
      {"_sort=title&_limit=100", "_sort=title&_limit=100", true},
      {"_since (10 newest)", "_since=" + std::to_string(first + records - 11), false},
  };
}

/// The query string as the router decodes it (the bench's queries need no
/// percent-decoding).
http::query_params split_query(const std::string& query) {
  http::query_params out;
  std::string_view rest = query;
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    out.emplace_back(std::string(pair.substr(0, eq)),
                     eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1)));
  }
  return out;
}

// ---- permission lookups of one listing ---------------------------------------------

/// What one listing costs in permission lookups (storage::view::permissions
/// calls), split into the access decision and the visibility filter.
struct trace {
  std::string access;              ///< whole list, own grants, create only, denied
  std::uint64_t access_lookups = 0;
  std::uint64_t candidates = 0;    ///< index entries handed to the visibility filter
  std::uint64_t filter_lookups = 0;
  std::size_t returned = 0;
};

/// Replays the listing path of GET on a plural endpoint as the handler runs
/// it: authenticate and resolve_principals (the same functions), the
/// access decision of list_access in core/list_ops.cpp (core::decider:
/// may read_all, else holds_on_some + holding, else may create), then
/// read_page with the page size of the config. The handler opens its own
/// snapshots, whose lookup counters it does not expose; this replay counts
/// on one of its own.
trace trace_listing(application& a, const user& u, const query_case& qc) {
  const std::string target = std::string(records_path) + "?" + qc.query;
  auto c = std::make_shared<http::call>(
      http::call{*a.app, make_request("GET", target, u.auth), {}, {}, {}, {}, {}, [](http::response) {}, {}, {}});
  c->path = "/buckets/b/collections/c/records";
  c->raw_query = qc.query;
  c->query = split_query(qc.query);
  c->r.ep = http::endpoint::plural;
  c->r.list = records_list;
  std::promise<void> resolved;
  http::authenticate(c, [c, &resolved] {
    http::resolve_principals(*c);
    resolved.set_value();
  });
  resolved.get_future().wait();

  trace t;
  storage::snapshot snap = a.store->read();
  if (!snap.valid()) fail("cannot begin a read transaction");
  const std::uint64_t start = snap.permission_lookups();
  storage::visibility visible;
  core::decider access(snap, c->who, a.app->cfg.principal_settings);
  if (access.may(records_list, "", permissions::action::read_all)) {
    t.access = "whole list";
  } else {
    const std::vector<std::string_view> names = permissions::listing_names(kind::record);
    if (access.holds_on_some(records_list, names)) {
      t.access = "own grants";
      visible = core::holding(snap, std::shared_ptr<const core::caller>(c, &c->who), records_list, names);
    } else if (access.may(records_list, "", permissions::action::create)) {
      t.access = "create only";
      visible = [](std::string_view) { return false; };
    } else {
      t.access = "denied";
    }
  }
  const std::uint64_t decided = snap.permission_lookups();
  t.access_lookups = decided - start;
  if (t.access == "denied") return t;

  auto parsed = query::parse(c->query, now_ms());
  if (auto* e = std::get_if<error>(&parsed)) fail("query refused: " + e->message.value_or(e->title));
  const query::request& q = std::get<query::request>(parsed);
  storage::page_request wanted;
  wanted.limit = core::page_size(a.app->cfg, q);
  wanted.visible = [&t, &visible](std::string_view id) {
    ++t.candidates;
    return !visible || visible(id);
  };
  const storage::page page = storage::read_page(snap, records_list, q, wanted);
  t.filter_lookups = snap.permission_lookups() - decided;
  t.returned = page.objects.size();
  return t;
}

// ---- timing ---------------------------------------------------------------------------

constexpr double case_budget_ns = 3e9;
constexpr std::size_t min_runs = 10;
constexpr std::size_t block_runs = 100;

struct figures {
  int status = 0;
  std::size_t returned = 0;
  std::size_t runs = 0;
  double median_ns = 0, p90_ns = 0, p10_ns = 0, min_ns = 0;
  trace lookups;
};

struct user_case {
  const user* who;
  http::request prototype;
  std::vector<double> ns;
  std::size_t target_runs = 0;
  figures f;
};

double time_one(application& a, const http::request& prototype, http::response* out = nullptr) {
  http::request req = prototype;
  const auto start = clock_type::now();
  http::response r = a.call(std::move(req));
  const auto end = clock_type::now();
  if (out) *out = std::move(r);
  return std::chrono::duration<double, std::nano>(end - start).count();
}

std::size_t returned_by(const http::response& r, const std::string& what) {
  if (r.status != 200) return 0;
  json::value body = body_of(r, what);
  const json::value* data = body.find("data");
  if (!data || !data->is_array()) fail(what + ": no data list in the response");
  return data->as_array().size();
}

/// Times the query for every user. Each user first runs it once untimed
/// (status, objects returned, warm cache), then once more to size its number
/// of runs to the time budget. Runs go in blocks of `block_runs` per user,
/// users taking turns: within a block every request follows one of the same
/// user (the actor threads' wake-up latency depends on what came before,
/// see the README), and the turns spread drift in the machine's speed over
/// every user alike.
std::vector<figures> measure(application& a, const std::vector<user>& users, const query_case& qc, const options& o) {
  const std::string target = std::string(records_path) + "?" + qc.query;
  std::vector<user_case> cases;
  for (const auto& u : users) cases.push_back(user_case{&u, make_request("GET", target, u.auth), {}, 0, {}});
  const std::size_t wanted = qc.scan ? o.scans : o.repeat;
  for (auto& uc : cases) {
    http::response first;
    time_one(a, uc.prototype, &first);
    uc.f.status = first.status;
    uc.f.returned = returned_by(first, uc.who->name + " " + target);
    const double probe = time_one(a, uc.prototype);
    const auto affordable = static_cast<std::size_t>(case_budget_ns / std::max(probe, 1.0));
    uc.target_runs = std::min(wanted, std::max(std::min(wanted, min_runs), affordable));
    uc.ns.reserve(uc.target_runs);
  }
  for (bool more = true; more;) {
    more = false;
    for (auto& uc : cases) {
      for (std::size_t i = 0; i < block_runs && uc.ns.size() < uc.target_runs; ++i) {
        http::response r;
        uc.ns.push_back(time_one(a, uc.prototype, &r));
        if (r.status != uc.f.status)
          fail(uc.who->name + " " + target + ": status changed to " + std::to_string(r.status));
      }
      more = more || uc.ns.size() < uc.target_runs;
    }
  }
  std::vector<figures> out;
  for (auto& uc : cases) {
    std::sort(uc.ns.begin(), uc.ns.end());
    const auto& ns = uc.ns;
    uc.f.runs = ns.size();
    uc.f.median_ns = ns.size() % 2 ? ns[ns.size() / 2] : (ns[ns.size() / 2 - 1] + ns[ns.size() / 2]) / 2;
    uc.f.p90_ns = ns[std::min(ns.size() - 1, ns.size() * 9 / 10)];
    uc.f.p10_ns = ns[ns.size() / 10];
    uc.f.min_ns = ns.front();
    uc.f.lookups = trace_listing(a, *uc.who, qc);
    if (uc.f.status == 200 && uc.f.lookups.returned != uc.f.returned)
      fail(uc.who->name + " " + target + ": the replayed listing returned " + std::to_string(uc.f.lookups.returned) +
           " objects, the handler " + std::to_string(uc.f.returned));
    if ((uc.f.status == 200) != (uc.f.lookups.access != "denied"))
      fail(uc.who->name + " " + target + ": the replayed access decision (" + uc.f.lookups.access +
           ") differs from the handler's status " + std::to_string(uc.f.status));
    out.push_back(uc.f);
  }
  return out;
}

// ---- reporting ---------------------------------------------------------------------------

constexpr double inherited_ratio_target = 1.2;

struct report {
  options opts;
  std::vector<user> users;
  std::vector<query_case> queries;
  std::vector<std::vector<figures>> results; ///< [query][user]
  std::size_t partial_records = 0;
  double setup_seconds = 0, load_seconds = 0, total_seconds = 0;
};

/// A user's time over the owner's, by median or by 10th percentile (the
/// fast mode of the actor hop, see the README: the work itself).
double ratio(const report& r, std::size_t query, std::size_t u, bool fast = false) {
  const figures& owner = r.results[query][0];
  const figures& f = r.results[query][u];
  const double base = fast ? owner.p10_ns : owner.median_ns;
  return base > 0 ? (fast ? f.p10_ns : f.median_ns) / base : 0;
}

struct worst_ratio {
  double value = 0;
  std::size_t query = 0, user = 1;
};

/// The worst ratio to the owner of the callers reading through inheritance.
worst_ratio worst_inherited(const report& r, bool fast) {
  worst_ratio w;
  for (std::size_t q = 0; q < r.results.size(); ++q)
    for (std::size_t u : {1, 2})
      if (ratio(r, q, u, fast) > w.value) w = {ratio(r, q, u, fast), q, u};
  return w;
}

double per_candidate(const trace& t) { return t.candidates ? double(t.filter_lookups) / double(t.candidates) : 0; }

/// The worst filter lookups per candidate of the partial reader.
double worst_partial(const report& r) {
  double worst = 0;
  for (const auto& row : r.results) worst = std::max(worst, per_candidate(row[3].lookups));
  return worst;
}

void print_case(const report& r, std::size_t q) {
  std::printf("\n?%s\n", r.queries[q].query.c_str());
  std::printf("  %-14s %6s %8s %22s %10s %6s %6s %5s %10s %10s %6s %8s\n", "user", "status", "returned",
              "median (p90)", "p10", "runs", "ratio", "(p10)", "candidates", "lookups", "/cand.", "ns/cand.");
  for (std::size_t u = 0; u < r.users.size(); ++u) {
    const figures& f = r.results[q][u];
    const std::string times = bench::duration_text(f.median_ns) + " (" + bench::duration_text(f.p90_ns) + ")";
    const std::string lookups = std::to_string(f.lookups.access_lookups) + " + " + std::to_string(f.lookups.filter_lookups);
    char per[16] = "-", ns_per[16] = "-";
    if (f.lookups.candidates) {
      std::snprintf(per, sizeof per, "%.2f", per_candidate(f.lookups));
      std::snprintf(ns_per, sizeof ns_per, "%.0f", f.median_ns / double(f.lookups.candidates));
    }
    std::printf("  %-14s %6d %8zu %22s %10s %6zu %6.2f %5.2f %10llu %10s %6s %8s\n", r.users[u].name.c_str(), f.status,
                f.returned, times.c_str(), bench::duration_text(f.p10_ns).c_str(), f.runs, ratio(r, q, u),
                ratio(r, q, u, true), static_cast<unsigned long long>(f.lookups.candidates), lookups.c_str(), per,
                ns_per);
  }
}

void print_text(const report& r) {
  const auto& o = r.opts;
  std::printf("permissions-bench: %zu records (%zu readable by partial), %zu runs per page query, %zu per scan "
              "(at most ~%.0f s of runs per case, at least %zu)\n",
              o.records, r.partial_records, o.repeat, o.scans, case_budget_ns / 1e9, min_runs);
  std::printf("setup through HTTP %.2f s; records and their permissions loaded in %.2f s\n", r.setup_seconds,
              r.load_seconds);
  std::printf("\nusers (access: how the handler's list_access decides):\n");
  for (std::size_t u = 0; u < r.users.size(); ++u)
    std::printf("  %-14s %-44s access: %s\n", r.users[u].name.c_str(), r.users[u].role.c_str(),
                r.results[0][u].lookups.access.c_str());
  std::printf("\ntimes: median (p90) and 10th percentile of GET %s?<query> through the\n"
              "in-process handler; ratio, (p10): median, p10 over the owner's; candidates: records handed to\n"
              "the visibility filter; lookups: permission lookups on the listing's snapshot, access decision\n"
              "+ filter (replayed); /cand.: filter lookups per candidate; ns/cand.: median / candidates\n",
              records_path);
  for (std::size_t q = 0; q < r.queries.size(); ++q) print_case(r, q);
  const worst_ratio by_median = worst_inherited(r, false), by_p10 = worst_inherited(r, true);
  auto where = [&r](const worst_ratio& w) { return r.users[w.user].name + ", ?" + r.queries[w.query].query; };
  std::printf("\ntarget: inherited readers (bucket_reader, group_reader) <= %.1fx the owner:\n"
              "  by median: worst %.3f (%s) %s\n  by p10: worst %.3f (%s) %s\n",
              inherited_ratio_target, by_median.value, where(by_median).c_str(),
              by_median.value <= inherited_ratio_target ? "PASS" : "MISS", by_p10.value, where(by_p10).c_str(),
              by_p10.value <= inherited_ratio_target ? "PASS" : "MISS");
  std::printf("target: partial reader <= 1 permission lookup per candidate record: worst %.2f %s "
              "(access decision: %llu on the listing's snapshot)\n",
              worst_partial(r), worst_partial(r) <= 1.0 ? "PASS" : "MISS",
              static_cast<unsigned long long>(r.results[0][3].lookups.access_lookups));
  std::printf("total run time %.1f s\n", r.total_seconds);
}

void print_json(const report& r) {
  const auto& o = r.opts;
  std::string out = "{\"records\":" + std::to_string(o.records) + ",\"partial_records\":" +
                    std::to_string(r.partial_records) + ",\"repeat\":" + std::to_string(o.repeat) +
                    ",\"scans\":" + std::to_string(o.scans);
  char text[512];
  std::snprintf(text, sizeof text, ",\"setup_seconds\":%.3f,\"load_seconds\":%.3f", r.setup_seconds, r.load_seconds);
  out += text;
  out += ",\"queries\":[";
  for (std::size_t q = 0; q < r.queries.size(); ++q) {
    if (q) out += ',';
    out += "{\"query\":";
    json::quote_to(r.queries[q].query, out);
    out += ",\"users\":[";
    for (std::size_t u = 0; u < r.users.size(); ++u) {
      const figures& f = r.results[q][u];
      if (u) out += ',';
      out += "{\"user\":";
      json::quote_to(r.users[u].name, out);
      out += ",\"access\":";
      json::quote_to(f.lookups.access, out);
      std::snprintf(text, sizeof text,
                    ",\"status\":%d,\"returned\":%zu,\"runs\":%zu,\"median_ns\":%.0f,\"p90_ns\":%.0f,\"p10_ns\":%.0f,"
                    "\"min_ns\":%.0f,\"ratio\":%.3f,\"ratio_p10\":%.3f,\"candidates\":%llu,\"access_lookups\":%llu,"
                    "\"filter_lookups\":%llu,\"lookups_per_candidate\":%.3f}",
                    f.status, f.returned, f.runs, f.median_ns, f.p90_ns, f.p10_ns, f.min_ns, ratio(r, q, u),
                    ratio(r, q, u, true), static_cast<unsigned long long>(f.lookups.candidates),
                    static_cast<unsigned long long>(f.lookups.access_lookups),
                    static_cast<unsigned long long>(f.lookups.filter_lookups), per_candidate(f.lookups));
      out += text;
    }
    out += "]}";
  }
  const worst_ratio by_median = worst_inherited(r, false), by_p10 = worst_inherited(r, true);
  std::snprintf(text, sizeof text,
                "],\"targets\":{\"inherited_ratio_worst\":%.3f,\"inherited_ratio_worst_p10\":%.3f,"
                "\"inherited_ok\":%s,\"partial_lookups_per_candidate_worst\":%.3f,\"partial_ok\":%s},"
                "\"total_seconds\":%.1f}",
                by_median.value, by_p10.value, by_median.value <= inherited_ratio_target ? "true" : "false",
                worst_partial(r), worst_partial(r) <= 1.0 ? "true" : "false", r.total_seconds);
  out += text;
  std::cout << out << "\n";
}

int run(int argc, char** argv) {
  const auto started = clock_type::now();
  report r;
  r.opts = parse_options(argc, argv);
  const options& o = r.opts;
  auto progress = [&](const std::string& what) {
    if (!o.json) std::fprintf(stderr, "... %s\n", what.c_str());
  };

  temporary_dir temporary;
  std::string pattern = (std::filesystem::temp_directory_path() / "permissions-bench-XXXXXX").string();
  if (!mkdtemp(pattern.data())) fail("cannot create a temporary directory");
  temporary.path = pattern;
  application a(temporary.path);

  r.users = make_users();
  auto t0 = clock_type::now();
  set_up(a, r.users);
  r.setup_seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  progress("loading " + std::to_string(o.records) + " records");
  t0 = clock_type::now();
  const std::uint64_t first = load_records(a, r.users, o.records);
  r.load_seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  for (std::size_t i = 0; i < o.records; ++i) r.partial_records += partially_readable(i);

  r.queries = make_queries(o.records, first);
  for (const auto& qc : r.queries) {
    progress("?" + qc.query);
    r.results.push_back(measure(a, r.users, qc, o));
  }
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
