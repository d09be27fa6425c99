// Result arithmetic of the load tools: a latency histogram with percentiles,
// the figures of one timed run, medians and A/B ratios. No I/O and no Beast,
// so unit tests check the arithmetic directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kinto::bench {

/// Latencies in nanoseconds, counted in log-linear buckets: values below 256
/// are exact, larger ones fall in buckets 1/128 of their power of two wide, so
/// a percentile is within 0.8% of the true sample. Memory is fixed (~60 KB),
/// whatever the number of samples; histograms of several threads merge.
class latency_histogram {
public:
  latency_histogram();

  void record(std::uint64_t ns) noexcept;
  void merge(const latency_histogram& other) noexcept;

  std::uint64_t count() const noexcept { return count_; }
  /// Exact smallest and largest samples; 0 when empty.
  std::uint64_t min() const noexcept { return count_ ? min_ : 0; }
  std::uint64_t max() const noexcept { return max_; }
  /// Exact mean; 0 when empty.
  double mean() const noexcept { return count_ ? sum_ / static_cast<double>(count_) : 0; }
  /// Nearest-rank percentile, `p` in [0, 100]: the value at rank
  /// ceil(p/100 * count) (at least 1) of the sorted samples, reported as its
  /// bucket's middle and clamped to [min, max]. 100 gives max() exactly; 0
  /// when empty.
  std::uint64_t percentile(double p) const noexcept;

  /// Buckets: exact below this value.
  static constexpr std::uint64_t exact_below = 256;

private:
  static std::size_t index_of(std::uint64_t v) noexcept;
  static std::uint64_t lowest_of(std::size_t index) noexcept;
  static std::uint64_t width_of(std::size_t index) noexcept;

  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = 0;
  std::uint64_t max_ = 0;
  double sum_ = 0;
};

/// What one timed run measured, for one server. Only responses that
/// completed inside the measured window (after the warm-up) are counted.
struct run_result {
  std::string server; ///< "A" (--url) or "B" (--vs)
  std::string url;
  std::size_t round = 1;                 ///< 1-based
  double seconds = 0;                    ///< length of the measured window
  std::uint64_t responses = 0;           ///< complete HTTP responses, whatever their status
  std::uint64_t errors = 0;              ///< transport errors: connect, reset, timeout, malformed response
  std::uint64_t rejected = 0;            ///< 2xx responses whose body reports a failure (batch sub-requests)
  std::map<int, std::uint64_t> statuses; ///< responses by status code
  latency_histogram latency;             ///< request written -> response read, per response
  std::vector<std::uint64_t> per_second; ///< responses completed in each second of the window
  std::string first_error;               ///< text of the first transport error, if any

  /// responses / seconds; 0 for an empty window.
  double requests_per_second() const noexcept;
  /// Responses whose status is not 2xx.
  std::uint64_t non_2xx() const noexcept;
};

/// Median of `values` (the mean of the two middle ones for an even count);
/// NaN values are ignored; NaN when nothing is left.
double median(std::vector<double> values);

/// a[i] / b[i] for each pair; NaN where b[i] is 0. Extra elements of the
/// longer vector are ignored.
std::vector<double> ratios(const std::vector<double>& a, const std::vector<double>& b);

/// Throughputs of the runs, server A and B apart, in round order, and the
/// pair ratios A/B with their median.
struct summary {
  std::vector<double> rps_a, rps_b;
  std::vector<double> pair_ratios; ///< rps_a[i] / rps_b[i]; empty without B runs
  double median_rps_a = 0;
  double median_rps_b = 0; ///< NaN without B runs
  double median_ratio = 0; ///< NaN without B runs
};

summary summarize(const std::vector<run_result>& runs);

} // namespace kinto::bench
