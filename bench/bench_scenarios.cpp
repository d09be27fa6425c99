// Set-up, clean-up and scenario workloads of kinto-bench, written against the
// Kinto HTTP API only (any Kinto-compatible server). Responses are read with
// the project's JSON parser; requests go through the load engine.
#include "bench_scenarios.hpp"

#include "base/crypto.hpp"
#include "base/json.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <iostream>
#include <mutex>

namespace kinto::bench {

namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// A response kept beyond the engine's callback.
struct fetched {
  int status = 0;
  std::string etag, body, error;
};

/// A workload of exactly one request on one connection.
class one_request : public workload {
public:
  explicit one_request(request r) : req_(std::move(r)) {}
  bool next(std::size_t, request& out) override {
    if (sent_) return false;
    sent_ = true;
    out = req_;
    return true;
  }
  bool done(std::size_t, const request&, const response& res) override {
    got.status = res.status;
    got.etag = std::string(res.etag);
    got.body = std::string(res.body);
    got.error = std::string(res.error);
    return true;
  }
  fetched got;

private:
  request req_;
  bool sent_ = false;
};

fetched fetch(const server_state& s, const request& r, std::chrono::seconds timeout = 60s) {
  one_request w(r);
  run_limits limits;
  limits.request_timeout = timeout;
  run_load(s.target, w, limits);
  return w.got;
}

/// "A (http://...): PUT /v1/buckets/x answered 403: <Kinto message>", or the transport error.
std::string describe(const server_state& s, std::string_view method, std::string_view target, int status,
                     std::string_view body, std::string_view error) {
  std::string text = s.label + " (" + s.url.text + "): " + std::string(method) + " " + std::string(target);
  if (status == 0) return text + ": " + std::string(error.empty() ? "no response" : error);
  text += " answered " + std::to_string(status);
  std::string parse_error;
  auto parsed = json::parse(body, parse_error);
  const json::value* message = parsed ? parsed->find("message") : nullptr;
  if (message && message->is_string()) return text + ": " + message->as_string();
  if (!body.empty()) text += ": " + std::string(body.substr(0, 200));
  return text;
}

fetched expect(const server_state& s, const request& r, std::initializer_list<int> statuses,
               std::chrono::seconds timeout = 60s) {
  fetched f = fetch(s, r, timeout);
  if (std::find(statuses.begin(), statuses.end(), f.status) == statuses.end())
    throw setup_error(describe(s, r.method, r.target, f.status, f.body, f.error));
  return f;
}

json::value parse_or_throw(const server_state& s, const request& r, const std::string& body) {
  std::string error;
  auto parsed = json::parse(body, error);
  if (!parsed || !parsed->is_object())
    throw setup_error(s.label + " (" + s.url.text + "): " + r.method + " " + r.target +
                      ": the answer is not a JSON object" + (error.empty() ? "" : " (" + error + ")"));
  return std::move(*parsed);
}

/// Progress of a long set-up step on stderr: a bar redrawn in place on a
/// terminal, a line every 10 s otherwise; nothing for steps under a second.
class progress {
public:
  progress(std::string label, std::size_t total)
      : label_(std::move(label)), total_(total), start_(steady::now()), last_(start_), tty_(::isatty(2)) {}

  void advance(std::size_t n) {
    const std::size_t done = done_.fetch_add(n) + n;
    const auto now = steady::now();
    if (now - start_ < 1s) return;
    std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
    if (!lock || now - last_ < (tty_ ? 100ms : 10s)) return;
    last_ = now;
    draw(done, now, false);
  }

  void finish() {
    const auto now = steady::now();
    std::lock_guard<std::mutex> lock(mutex_);
    if (now - start_ >= 1s) draw(done_.load(), now, true);
  }

private:
  void draw(std::size_t done, steady::time_point now, bool last) {
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double share = total_ ? static_cast<double>(done) / static_cast<double>(total_) : 1;
    char tail[96];
    std::snprintf(tail, sizeof tail, "%3.0f%% %zu/%zu %.1f s (%.0f/s)", share * 100, done, total_, seconds,
                  seconds > 0 ? static_cast<double>(done) / seconds : 0.0);
    if (tty_) {
      constexpr int width = 30;
      const int filled = static_cast<int>(share * width);
      std::string bar(static_cast<std::size_t>(filled), '#');
      bar.resize(width, ' ');
      std::cerr << "\r" << label_ << " [" << bar << "] " << tail << (last ? "\n" : "") << std::flush;
    } else {
      std::cerr << label_ << ": " << tail << "\n" << std::flush;
    }
  }

  std::string label_;
  std::size_t total_;
  std::atomic<std::size_t> done_{0};
  steady::time_point start_, last_;
  bool tty_;
  std::mutex mutex_;
};

/// Sends `total` sub-requests through /batch, `page` per request, over
/// several connections, and checks that each sub-request got a 2xx.
class batch_loader : public workload {
public:
  using writer = std::function<void(std::size_t i, std::string& out)>;       ///< appends sub-request i
  using reader = std::function<void(std::size_t i, const json::value& sub)>; ///< sees its answer

  batch_loader(const server_state& s, std::size_t total, std::size_t page, std::string defaults, writer w, reader r,
               progress& p, std::size_t connections, const std::atomic<bool>* stop)
      : s_(s), target_(s.url.prefix + "/batch"), total_(total), page_(page), defaults_(std::move(defaults)),
        write_(std::move(w)), read_(std::move(r)), progress_(p), stop_(stop), pages_(connections, 0) {}

  bool next(std::size_t conn, request& req) override {
    if (failed_.load() || (stop_ && stop_->load())) return false;
    const std::size_t page = next_page_.fetch_add(1);
    const std::size_t first = page * page_;
    if (first >= total_) return false;
    pages_[conn] = page;
    req.method = "POST";
    req.target = target_;
    req.body = "{";
    if (!defaults_.empty()) req.body += "\"defaults\":" + defaults_ + ",";
    req.body += "\"requests\":[";
    for (std::size_t i = first; i < std::min(first + page_, total_); ++i) {
      if (i != first) req.body += ',';
      write_(i, req.body);
    }
    req.body += "]}";
    return true;
  }

  bool done(std::size_t conn, const request& req, const response& res) override {
    if (res.status != 200) return fail(describe(s_, req.method, req.target, res.status, res.body, res.error));
    const std::size_t first = pages_[conn] * page_;
    const std::size_t count = std::min(page_, total_ - first);
    std::string error;
    auto parsed = json::parse(res.body, error);
    const json::value* responses = parsed ? parsed->find("responses") : nullptr;
    if (!responses || !responses->is_array() || responses->as_array().size() != count)
      return fail(s_.label + " (" + s_.url.text + "): POST " + target_ + ": unexpected answer " +
                  std::string(res.body.substr(0, 200)));
    for (std::size_t k = 0; k < count; ++k) {
      const json::value& sub = responses->as_array()[k];
      const json::value* status = sub.find("status");
      const auto code = status ? status->as_int64() : std::nullopt;
      if (!code || *code < 200 || *code > 299) {
        const json::value* body = sub.find("body");
        const json::value* path = sub.find("path");
        return fail(describe(s_, "batch sub-request", path && path->is_string() ? path->as_string() : "?",
                             code ? static_cast<int>(*code) : 0, body ? json::serialize(*body) : "", "no status"));
      }
      if (read_) read_(first + k, sub);
    }
    progress_.advance(count);
    return true;
  }

  /// Throws setup_error if a page failed or the run was stopped.
  void check() const {
    if (failed_.load()) throw setup_error(message_);
    if (stop_ && stop_->load()) throw setup_error("interrupted during the set-up");
  }

private:
  bool fail(std::string message) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!failed_.exchange(true)) message_ = std::move(message);
    return false;
  }

  const server_state& s_;
  std::string target_;
  std::size_t total_, page_;
  std::string defaults_;
  writer write_;
  reader read_;
  progress& progress_;
  const std::atomic<bool>* stop_;
  std::vector<std::size_t> pages_;
  std::atomic<std::size_t> next_page_{0};
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::string message_;
};

void run_batches(const server_state& s, const options& o, const std::string& label, std::size_t total,
                 std::string defaults, batch_loader::writer w, batch_loader::reader r, const std::atomic<bool>* stop) {
  if (total == 0) return;
  const std::size_t pages = (total + s.batch_max - 1) / s.batch_max;
  const std::size_t connections = std::min(o.setup_connections, pages);
  progress bar(label, total);
  batch_loader loader(s, total, s.batch_max, std::move(defaults), std::move(w), std::move(r), bar, connections, stop);
  run_limits limits;
  limits.connections = connections;
  limits.threads = o.threads;
  limits.request_timeout = 600s;
  run_load(s.target, loader, limits, stop);
  bar.finish();
  loader.check();
}

/// GETs each of `targets` once (several at a time) and expects 200.
void read_each(const server_state& s, const options& o, const std::string& label, std::vector<std::string> targets,
               const std::atomic<bool>* stop) {
  class reads : public workload {
  public:
    reads(const server_state& s, std::vector<std::string> t, progress& p) : s_(s), targets_(std::move(t)), bar_(p) {}
    bool next(std::size_t, request& req) override {
      if (failed_) return false;
      const std::size_t i = next_.fetch_add(1);
      if (i >= targets_.size()) return false;
      req.target = targets_[i];
      return true;
    }
    bool done(std::size_t, const request& req, const response& res) override {
      if (res.status != 200) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!failed_.exchange(true)) message_ = describe(s_, req.method, req.target, res.status, res.body, res.error);
        return false;
      }
      bar_.advance(1);
      return true;
    }
    const server_state& s_;
    std::vector<std::string> targets_;
    progress& bar_;
    std::atomic<std::size_t> next_{0};
    std::atomic<bool> failed_{false};
    std::mutex mutex_;
    std::string message_;
  };
  if (targets.empty()) return;
  progress bar(label, targets.size());
  reads work(s, std::move(targets), bar);
  run_limits limits;
  limits.connections = std::min(o.setup_connections, work.targets_.size());
  limits.threads = o.threads;
  run_load(s.target, work, limits, stop);
  bar.finish();
  if (work.failed_) throw setup_error(work.message_);
  if (stop && stop->load()) throw setup_error("interrupted during the set-up");
}

/// A small record as clients write them: ~130 bytes of JSON, ~175 with
/// an id.
void append_record(std::string& out, std::uint64_t random, std::uint64_t n, std::string_view id = {}) {
  out += "{\"data\":{";
  if (!id.empty()) out.append("\"id\":\"").append(id).append("\",");
  out += "\"title\":\"t";
  out += std::to_string(random);
  out += "\",\"n\":";
  out += std::to_string(n);
  out += ",\"done\":false,\"tags\":[\"a\",\"b\"],\"note\":\"benchmark record of a typical small size\"}}";
}

std::string relative(const server_state& s, std::string_view rest) {
  return "/buckets/" + s.bucket + std::string(rest);
}

void load_records(server_state& s, const options& o, const std::atomic<bool>* stop) {
  const bool want_etags = o.which == scenario::update;
  if (want_etags) s.etags.assign(o.records, std::string());
  const std::string defaults =
      "{\"method\":\"POST\",\"path\":\"" + relative(s, "/collections/" + s.collection + "/records") + "\"}";
  run_batches(
      s, o, "loading " + std::to_string(o.records) + " records", o.records, defaults,
      [](std::size_t i, std::string& out) {
        std::uint64_t seed = i;
        out += "{\"body\":";
        append_record(out, splitmix64(seed), i, record_id(i));
        out += '}';
      },
      want_etags ? batch_loader::reader([&s](std::size_t i, const json::value& sub) {
        const json::value* headers = sub.find("headers");
        const json::value* etag = headers ? headers->find("ETag") : nullptr;
        if (etag && etag->is_string()) s.etags[i] = etag->as_string();
      })
                 : batch_loader::reader(),
      stop);
}

void create_collections(server_state& s, const options& o, const std::atomic<bool>* stop) {
  constexpr std::size_t per_collection = 10;
  const std::size_t n = o.collections;
  run_batches(
      s, o, "creating " + std::to_string(n) + " collections", n, "",
      [&s](std::size_t i, std::string& out) {
        out += "{\"method\":\"PUT\",\"path\":\"" + relative(s, "/collections/x" + std::to_string(i)) +
               "\",\"body\":{\"data\":{}}}";
      },
      {}, stop);
  run_batches(
      s, o, "filling " + std::to_string(n) + " collections", n * per_collection, "",
      [&s](std::size_t i, std::string& out) {
        std::uint64_t seed = i + (std::uint64_t(1) << 40);
        out += "{\"method\":\"POST\",\"path\":\"" +
               relative(s, "/collections/x" + std::to_string(i / per_collection) + "/records") + "\",\"body\":";
        append_record(out, splitmix64(seed), i % per_collection);
        out += '}';
      },
      {}, stop);
  std::vector<std::string> targets;
  for (std::size_t i = 0; i < n; ++i)
    targets.push_back(s.url.prefix + relative(s, "/collections/x" + std::to_string(i) + "/records"));
  read_each(s, o, "reading " + std::to_string(n) + " collections", std::move(targets), stop);
}

/// The `_since` value after which exactly the 10 newest records are.
void find_since(server_state& s) {
  const std::string records = s.url.prefix + relative(s, "/collections/" + s.collection + "/records");
  request r;
  r.target = records + "?_limit=11";
  auto page = parse_or_throw(s, r, expect(s, r, {200}).body);
  const json::value* data = page.find("data");
  if (!data || !data->is_array() || data->as_array().size() < 11)
    throw setup_error(s.label + ": GET " + r.target + " did not return 11 records");
  const json::value* ts = data->as_array()[10].find("last_modified");
  if (!ts || !ts->is_number()) throw setup_error(s.label + ": GET " + r.target + ": record without last_modified");
  s.since = ts->as_string();
  r.target = records + "?_since=" + s.since;
  auto poll = parse_or_throw(s, r, expect(s, r, {200}).body);
  data = poll.find("data");
  const std::size_t got = data && data->is_array() ? data->as_array().size() : 0;
  if (got != 10)
    throw setup_error(s.label + ": GET " + r.target + " returned " + std::to_string(got) +
                      " records; expected the 10 newest");
}

// ---- scenario workloads -------------------------------------------------------

/// One connection's state: its random stream, its counter, and (update) the
/// records it patches with the ETags it last saw.
struct lane {
  std::uint64_t rng = 0;
  std::uint64_t counter = 0;
  std::vector<std::size_t> owned;
  std::vector<std::string> etags;
  std::size_t cursor = 0; ///< index in `owned` of the request in flight
};

class scenario_load : public workload {
public:
  scenario_load(const options& o, const server_state& s)
      : which_(o.which), records_(o.records), read_ratio_(o.read_ratio),
        base_(s.url.prefix + relative(s, "/collections/" + s.collection + "/records")),
        batch_target_(s.url.prefix + "/batch"), since_(s.since), lanes_(o.connections) {
    for (std::size_t c = 0; c < lanes_.size(); ++c) {
      lanes_[c].rng = 0x5eed0000 + c;
      if (which_ != scenario::update) continue;
      // Each connection patches its own records when there are enough;
      // otherwise connections share records and see 412s.
      if (records_ >= lanes_.size()) {
        for (std::size_t i = c; i < records_; i += lanes_.size()) lanes_[c].owned.push_back(i);
      } else {
        lanes_[c].owned.push_back(c % records_);
      }
      for (auto i : lanes_[c].owned) lanes_[c].etags.push_back(i < s.etags.size() ? s.etags[i] : std::string());
    }
    const std::size_t per_batch = std::min<std::size_t>(25, s.batch_max);
    batch_head_ = "{\"defaults\":{\"method\":\"POST\",\"path\":\"" +
                  relative(s, "/collections/" + s.collection + "/records") + "\"},\"requests\":[";
    batch_size_ = per_batch;
  }

  bool next(std::size_t conn, request& req) override {
    lane& l = lanes_[conn];
    switch (which_) {
    case scenario::get_one:
      get_one(l, req);
      break;
    case scenario::list_page:
      req.target = base_ + "?_limit=10";
      break;
    case scenario::sync_poll:
      req.target = base_ + "?_since=" + since_;
      break;
    case scenario::create:
      create(l, req);
      break;
    case scenario::update:
      update(l, req);
      break;
    case scenario::batch:
      batch(l, req);
      break;
    case scenario::mixed:
      mixed(l, req);
      break;
    case scenario::push: // runs through run_push, never as a workload
      return false;
    }
    return true;
  }

  bool done(std::size_t conn, const request&, const response& res) override {
    lane& l = lanes_[conn];
    if (which_ == scenario::update && (res.status == 200 || res.status == 412) && !res.etag.empty())
      l.etags[l.cursor] = std::string(res.etag); // a 412 carries the current ETag: retry with it
    if (which_ == scenario::batch && res.status == 200) return batch_succeeded(res.body);
    return true;
  }

private:
  std::uint64_t random(lane& l) { return splitmix64(l.rng); }

  void get_one(lane& l, request& req) { req.target = base_ + "/" + record_id(random(l) % records_); }

  void create(lane& l, request& req) {
    req.method = "POST";
    req.target = base_;
    append_record(req.body, random(l), l.counter++);
  }

  void update(lane& l, request& req) {
    l.cursor = (l.cursor + 1) % l.owned.size();
    req.method = "PATCH";
    req.target = base_ + "/" + record_id(l.owned[l.cursor]);
    req.if_match = l.etags[l.cursor];
    req.body = "{\"data\":{\"n\":" + std::to_string(l.counter++) + "}}";
  }

  void batch(lane& l, request& req) {
    req.method = "POST";
    req.target = batch_target_;
    req.body = batch_head_;
    for (std::size_t k = 0; k < batch_size_; ++k) {
      if (k) req.body += ',';
      req.body += "{\"body\":";
      append_record(req.body, random(l), l.counter++);
      req.body += '}';
    }
    req.body += "]}";
  }

  void mixed(lane& l, request& req) {
    const std::uint64_t r = random(l);
    const double u = static_cast<double>(r >> 11) * 0x1.0p-53;
    const bool pick = (r & 1) != 0;
    if (u < read_ratio_) {
      if (pick) return get_one(l, req);
      req.target = base_ + "?_limit=10";
      return;
    }
    if (pick) return create(l, req);
    req.method = "PATCH";
    req.target = base_ + "/" + record_id(random(l) % records_);
    req.body = "{\"data\":{\"n\":" + std::to_string(l.counter++) + "}}";
  }

  /// True when every sub-request of a /batch answer is 2xx.
  static bool batch_succeeded(std::string_view body) {
    std::string error;
    auto parsed = json::parse(body, error);
    const json::value* responses = parsed ? parsed->find("responses") : nullptr;
    if (!responses || !responses->is_array()) return false;
    for (const auto& sub : responses->as_array()) {
      const json::value* status = sub.find("status");
      const auto code = status ? status->as_int64() : std::nullopt;
      if (!code || *code < 200 || *code > 299) return false;
    }
    return true;
  }

  scenario which_;
  std::size_t records_;
  double read_ratio_;
  std::string base_, batch_target_, since_, batch_head_;
  std::size_t batch_size_ = 25;
  std::vector<lane> lanes_;
};

} // namespace

std::string record_id(std::size_t i) {
  std::uint64_t state = i ^ 0x6b696e746f626e63ULL;
  const std::uint64_t hi = (splitmix64(state) & ~std::uint64_t(0xf000)) | 0x4000;
  const std::uint64_t lo = (splitmix64(state) & ~(std::uint64_t(0xc) << 60)) | (std::uint64_t(0x8) << 60);
  char text[37];
  std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx", unsigned(hi >> 32), unsigned((hi >> 16) & 0xffff),
                unsigned(hi & 0xffff), unsigned(lo >> 48), static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return text;
}

server_state make_server(const options& o, const server_url& url, std::string label) {
  server_state s;
  s.label = std::move(label);
  s.url = url;
  s.target.host = url.host;
  s.target.port = url.port;
  if (!o.user.empty()) s.target.authorization = "Basic " + crypto::base64_encode(o.user + ":" + o.password);
  return s;
}

void check_reachable(const server_state& s) {
  request r;
  r.target = s.url.prefix + "/";
  fetched f = fetch(s, r, 30s);
  if (f.status == 0) throw setup_error(describe(s, r.method, r.target, 0, "", f.error));
}

void prepare(server_state& s, const options& o, const std::atomic<bool>* stop) {
  const auto start = steady::now();
  request r;
  r.target = s.url.prefix + "/";
  const json::value root = parse_or_throw(s, r, expect(s, r, {200}, 30s).body);
  if (const json::value* settings = root.find("settings"))
    if (const json::value* max = settings->find("batch_max_requests"))
      if (auto n = max->as_int64()) s.batch_max = static_cast<std::size_t>(std::clamp<std::int64_t>(*n, 1, 1000));
  if (!s.target.authorization.empty() && !root.find("user"))
    throw setup_error(s.label + " (" + s.url.text + "): the server does not authenticate the --auth credentials (" +
                      r.target + " has no \"user\")");

  s.bucket = "bench-" + std::to_string(::getpid()) + "-" + std::to_string(std::time(nullptr)) + "-" + s.label;
  std::transform(s.bucket.begin(), s.bucket.end(), s.bucket.begin(), ::tolower);
  r.method = "PUT";
  r.target = s.url.prefix + relative(s, "");
  r.body = "{\"data\":{}}";
  r.if_none_match = "*";
  expect(s, r, {201});
  s.prepared = true;
  r.target = s.url.prefix + relative(s, "/collections/" + s.collection);
  expect(s, r, {201});

  load_records(s, o, stop);
  create_collections(s, o, stop);
  if (o.which == scenario::sync_poll) find_since(s);
  s.setup_seconds = std::chrono::duration<double>(steady::now() - start).count();
}

void clean_up(const server_state& s) {
  request r;
  r.method = "DELETE";
  r.target = s.url.prefix + relative(s, "");
  expect(s, r, {200}, 600s);
}

std::unique_ptr<workload> make_workload(const options& o, const server_state& s) {
  return std::make_unique<scenario_load>(o, s);
}

} // namespace kinto::bench
