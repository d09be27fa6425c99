// Prometheus metrics (`kinto.plugins.prometheus`, GET /__metrics__): the
// requests served, counted by endpoint, method and status with upstream's
// metric names (no user ids as labels), and gauges of the server's state
// read when scraped. Counting is per thread: each thread updates a shard of
// its own, which only the scrape also locks.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace kinto::http {

class metrics {
public:
  /// Upstream's default buckets of request_duration_seconds, in seconds.
  static constexpr std::array<double, 7> duration_buckets{0.01, 0.05, 0.1, 0.5, 1.0, 3.0, 6.0};

  /// `prefix` is upstream's: the project name, then `_` ("kinto_").
  explicit metrics(std::string prefix);
  ~metrics();
  metrics(const metrics&) = delete;
  metrics& operator=(const metrics&) = delete;

  /// One request answered: `endpoint` and `method` name static strings
  /// (route names, lower-case methods).
  void record_request(std::string_view endpoint, std::string_view method, int status, double seconds,
                      std::size_t body_bytes);

  /// One 503 answered, for `cause` (a static string: cause_name()).
  void count_unavailable(std::string_view cause);

  /// A value read at each scrape.
  void gauge(std::string name, std::string help, std::function<double()> read);

  /// A distribution observed from any thread, without locks.
  class histogram {
  public:
    explicit histogram(std::vector<double> bounds);
    void observe(double v);

  private:
    friend class metrics;
    std::vector<double> bounds_;                             ///< upper bounds, ascending (+Inf implied)
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  ///< per bucket, not cumulative; the last is +Inf
    std::atomic<double> sum_{0};
  };
  /// A histogram named `name` (prefixed), shown at each scrape.
  histogram& add_histogram(std::string name, std::string help, std::vector<double> bounds);

  /// The Prometheus text exposition (version 0.0.4) of everything.
  std::string render() const;
  const std::string& prefix() const { return prefix_; }

  /// `method` lower-cased, among the methods Kinto serves ("other" for any
  /// other): a label value of bounded cardinality, with static storage.
  static std::string_view method_label(std::string_view method);

private:
  struct request_stats {
    std::uint64_t count = 0;
    std::array<std::uint64_t, duration_buckets.size()> buckets{}; ///< not cumulative
    double seconds = 0;
    std::uint64_t bytes = 0;
    request_stats& operator+=(const request_stats& o) {
      count += o.count;
      seconds += o.seconds;
      bytes += o.bytes;
      for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += o.buckets[i];
      return *this;
    }
  };
  using request_key = std::tuple<std::string_view, std::string_view, int>; // endpoint, method, status
  struct shard {
    mutable std::mutex mutex;
    std::map<request_key, request_stats> requests;
    std::map<std::string_view, std::uint64_t> unavailable; ///< 503s by cause
  };
  shard& own_shard();

  struct gauge_entry {
    std::string name, help;
    std::function<double()> read;
  };

  std::string prefix_;
  mutable std::mutex shards_mutex_;
  std::vector<std::unique_ptr<shard>> shards_;
  std::vector<gauge_entry> gauges_;
  struct histogram_entry {
    std::string name, help;
    std::unique_ptr<histogram> h;
  };
  std::vector<histogram_entry> histograms_;
  const std::uint64_t id_; ///< tells apart the registries of one process (tests)
};

} // namespace kinto::http
