#include "http/metrics.hpp"

#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <unordered_map>

namespace kinto::http {

namespace {

std::atomic<std::uint64_t> next_registry{1};

/// A number as Prometheus reads it.
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as `v`.
  char text[64];
  const auto written = std::to_chars(text, text + sizeof text, v);
  return std::string(text, written.ptr);
}

/// A label value, escaped (backslash, quote, newline).
std::string escaped(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

} // namespace

metrics::metrics(std::string prefix) : prefix_(std::move(prefix)), id_(next_registry++) {}
metrics::~metrics() = default;

std::string_view metrics::method_label(std::string_view method) {
  static constexpr std::string_view known[] = {"get", "head", "post", "put", "patch", "delete", "options"};
  for (std::string_view m : known) {
    if (m.size() != method.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < m.size() && same; ++i) same = (method[i] | 0x20) == m[i];
    if (same) return m;
  }
  return "other";
}

metrics::shard& metrics::own_shard() {
  // Each thread keeps its shard of each registry it counted in.
  thread_local std::unordered_map<std::uint64_t, shard*> mine;
  if (auto it = mine.find(id_); it != mine.end()) return *it->second;
  std::lock_guard lock(shards_mutex_);
  shards_.push_back(std::make_unique<shard>());
  return *(mine[id_] = shards_.back().get());
}

void metrics::record_request(std::string_view endpoint, std::string_view method, int status, double seconds,
                             std::size_t body_bytes) {
  shard& s = own_shard();
  std::lock_guard lock(s.mutex);
  request_stats& r = s.requests[request_key{endpoint, method, status}];
  ++r.count;
  r.seconds += seconds;
  r.bytes += body_bytes;
  for (std::size_t i = 0; i < duration_buckets.size(); ++i)
    if (seconds <= duration_buckets[i]) {
      ++r.buckets[i];
      break;
    }
}

void metrics::count_unavailable(std::string_view cause) {
  shard& s = own_shard();
  std::lock_guard lock(s.mutex);
  ++s.unavailable[cause];
}

metrics::histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void metrics::histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + v, std::memory_order_relaxed)) {
  }
}

metrics::histogram& metrics::add_histogram(std::string name, std::string help, std::vector<double> bounds) {
  histograms_.push_back({prefix_ + name, std::move(help), std::make_unique<histogram>(std::move(bounds))});
  return *histograms_.back().h;
}

void metrics::gauge(std::string name, std::string help, std::function<double()> read) {
  gauges_.push_back({prefix_ + name, std::move(help), std::move(read)});
}

std::string metrics::render() const {
  // The shards summed: by endpoint, method and status, and without the
  // status for the durations and sizes (upstream's labels).
  std::map<request_key, request_stats> by_status;
  std::map<std::string_view, std::uint64_t> unavailable;
  {
    std::lock_guard lock(shards_mutex_);
    for (const auto& s : shards_) {
      std::lock_guard shard_lock(s->mutex);
      for (const auto& [key, r] : s->requests) by_status[key] += r;
      for (const auto& [cause, n] : s->unavailable) unavailable[cause] += n;
    }
  }
  std::map<std::pair<std::string_view, std::string_view>, request_stats> by_endpoint;
  for (const auto& [key, r] : by_status) by_endpoint[{std::get<0>(key), std::get<1>(key)}] += r;
  auto labels = [](std::string_view endpoint, std::string_view method) {
    return "method=\"" + escaped(method) + "\",endpoint=\"" + escaped(endpoint) + "\"";
  };

  std::string out;
  const std::string summary = prefix_ + "request_summary_total";
  out += "# HELP " + summary + " Requests answered, by method, endpoint and status.\n";
  out += "# TYPE " + summary + " counter\n";
  for (const auto& [key, r] : by_status)
    out += summary + "{" + labels(std::get<0>(key), std::get<1>(key)) + ",status=\"" +
           std::to_string(std::get<2>(key)) + "\"} " + std::to_string(r.count) + "\n";

  const std::string duration = prefix_ + "request_duration_seconds";
  out += "# HELP " + duration + " Time from a request's arrival to its answer, by method and endpoint.\n";
  out += "# TYPE " + duration + " histogram\n";
  for (const auto& [key, r] : by_endpoint) {
    const std::string l = labels(key.first, key.second);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < duration_buckets.size(); ++i) {
      cumulative += r.buckets[i];
      out += duration + "_bucket{" + l + ",le=\"" + number(duration_buckets[i]) + "\"} " + std::to_string(cumulative) + "\n";
    }
    out += duration + "_bucket{" + l + ",le=\"+Inf\"} " + std::to_string(r.count) + "\n";
    out += duration + "_sum{" + l + "} " + number(r.seconds) + "\n";
    out += duration + "_count{" + l + "} " + std::to_string(r.count) + "\n";
  }

  const std::string size = prefix_ + "request_size";
  out += "# HELP " + size + " Bytes of the response bodies, by method and endpoint.\n";
  out += "# TYPE " + size + " summary\n";
  for (const auto& [key, r] : by_endpoint) {
    const std::string l = labels(key.first, key.second);
    out += size + "_sum{" + l + "} " + std::to_string(r.bytes) + "\n";
    out += size + "_count{" + l + "} " + std::to_string(r.count) + "\n";
  }

  const std::string refused = prefix_ + "unavailable_responses_total";
  out += "# HELP " + refused + " 503 answers, by what ran out (storage, requests, connections, write_queue, "
         "password_checks).\n";
  out += "# TYPE " + refused + " counter\n";
  for (const auto& [cause, n] : unavailable)
    out += refused + "{cause=\"" + escaped(cause) + "\"} " + std::to_string(n) + "\n";

  for (const histogram_entry& e : histograms_) {
    const histogram& h = *e.h;
    out += "# HELP " + e.name + " " + e.help + "\n";
    out += "# TYPE " + e.name + " histogram\n";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < h.bounds_.size(); ++i) {
      cumulative += h.counts_[i].load(std::memory_order_relaxed);
      out += e.name + "_bucket{le=\"" + number(h.bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
    }
    cumulative += h.counts_[h.bounds_.size()].load(std::memory_order_relaxed);
    out += e.name + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
    out += e.name + "_sum " + number(h.sum_.load(std::memory_order_relaxed)) + "\n";
    // The count of the buckets read, so that the +Inf bucket and the count agree.
    out += e.name + "_count " + std::to_string(cumulative) + "\n";
  }
  for (const gauge_entry& g : gauges_) {
    out += "# HELP " + g.name + " " + g.help + "\n";
    out += "# TYPE " + g.name + " gauge\n";
    out += g.name + " " + number(g.read()) + "\n";
  }
  return out;
}

} // namespace kinto::http
