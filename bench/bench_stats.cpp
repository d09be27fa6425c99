// Histogram buckets, percentiles, medians and ratios of the load tools.
// Depends on the standard library only.
#include "bench_stats.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace kinto::bench {

namespace {

// Above exact_below, each power of two [2^e, 2^(e+1)) is cut into 128
// buckets: the top 8 bits of a value (its "mantissa", 128..255) pick the
// bucket, the bits below are dropped.
constexpr std::size_t sub_buckets = 128;
constexpr std::size_t bucket_count = latency_histogram::exact_below + 56 * sub_buckets;

} // namespace

latency_histogram::latency_histogram() : counts_(bucket_count, 0) {}

std::size_t latency_histogram::index_of(std::uint64_t v) noexcept {
  if (v < exact_below) return static_cast<std::size_t>(v);
  const int shift = std::bit_width(v) - 8; // 1 for [256, 512), 56 for the top power of two
  const std::uint64_t mantissa = v >> shift;
  return exact_below + static_cast<std::size_t>(shift - 1) * sub_buckets +
         static_cast<std::size_t>(mantissa - sub_buckets);
}

std::uint64_t latency_histogram::lowest_of(std::size_t index) noexcept {
  if (index < exact_below) return index;
  const std::size_t j = index - exact_below;
  const std::uint64_t mantissa = sub_buckets + j % sub_buckets;
  return mantissa << (j / sub_buckets + 1);
}

std::uint64_t latency_histogram::width_of(std::size_t index) noexcept {
  if (index < exact_below) return 1;
  return std::uint64_t(1) << ((index - exact_below) / sub_buckets + 1);
}

void latency_histogram::record(std::uint64_t ns) noexcept {
  ++counts_[index_of(ns)];
  if (count_ == 0 || ns < min_) min_ = ns;
  if (ns > max_) max_ = ns;
  ++count_;
  sum_ += static_cast<double>(ns);
}

void latency_histogram::merge(const latency_histogram& other) noexcept {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  min_ = count_ ? std::min(min_, other.min_) : other.min_;
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

std::uint64_t latency_histogram::percentile(double p) const noexcept {
  if (count_ == 0) return 0;
  if (p >= 100) return max_;
  const double wanted = std::ceil(std::max(p, 0.0) / 100.0 * static_cast<double>(count_));
  const std::uint64_t rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(lowest_of(i) + (width_of(i) - 1) / 2, min_, max_);
  }
  return max_;
}

double run_result::requests_per_second() const noexcept {
  return seconds > 0 ? static_cast<double>(responses) / seconds : 0;
}

std::uint64_t run_result::non_2xx() const noexcept {
  std::uint64_t n = 0;
  for (const auto& [status, count] : statuses)
    if (status < 200 || status > 299) n += count;
  return n;
}

double median(std::vector<double> values) {
  std::erase_if(values, [](double v) { return std::isnan(v); });
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::vector<double> ratios(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> out;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    out.push_back(b[i] != 0 ? a[i] / b[i] : std::numeric_limits<double>::quiet_NaN());
  return out;
}

summary summarize(const std::vector<run_result>& runs) {
  summary s;
  std::vector<const run_result*> ordered;
  for (const auto& r : runs) ordered.push_back(&r);
  std::stable_sort(ordered.begin(), ordered.end(), [](auto* x, auto* y) { return x->round < y->round; });
  for (const auto* r : ordered) (r->server == "B" ? s.rps_b : s.rps_a).push_back(r->requests_per_second());
  s.pair_ratios = ratios(s.rps_a, s.rps_b);
  s.median_rps_a = median(s.rps_a);
  s.median_rps_b = median(s.rps_b);
  s.median_ratio = median(s.pair_ratios);
  return s;
}

} // namespace kinto::bench
