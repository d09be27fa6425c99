// Output of kinto-bench: the human-readable table, the JSON objects (one per
// run, then a summary), and the gnuplot plot. Formatting only; no network,
// no Beast.
#pragma once

#include "bench_options.hpp"
#include "bench_stats.hpp"

#include <string>
#include <vector>

namespace kinto::bench {

/// One line naming the scenario and the run bounds, e.g. "get-one: 64
/// connections, 1 client thread, 10 s measured after 2 s warm-up, 1000 records".
std::string run_heading(const options& o);

/// Column titles of the table, then one row per run (newline-terminated).
/// A run with errors, non-2xx or rejected responses gets a second,
/// indented line with the status breakdown and the first transport error.
std::string table_header();
std::string table_row(const run_result& r);

/// Median throughput per server and, with two servers, each pair's A/B
/// throughput ratio and their median.
std::string summary_text(const std::vector<run_result>& runs);

/// One JSON object (one line, no newline) for a run: throughput, latency
/// percentiles in microseconds, errors, statuses, per-second counts.
std::string run_json(const options& o, const run_result& r);

/// One JSON object summarizing several runs: per-server throughputs and
/// medians, the A/B ratios and their median (null without B), summed errors
/// and non-2xx. `setup_seconds` per server, in order A, B (NaN: no set-up).
std::string summary_json(const options& o, const std::vector<run_result>& runs,
                         const std::vector<double>& setup_seconds);

/// True when an executable `gnuplot` is on PATH.
bool gnuplot_on_path();

/// Writes `o.plot` (PNG) with gnuplot: requests per second over each run,
/// and each run's latency by percentile. False with `error` set when
/// gnuplot fails or its files cannot be written.
bool write_plot(const options& o, const std::vector<run_result>& runs, std::string& error);

} // namespace kinto::bench
