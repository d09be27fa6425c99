// kinto-bench: an HTTP load generator for Kinto servers. Sets up its own
// bucket, runs one scenario over keep-alive connections for a bounded time
// (optionally against two servers in alternation), prints the figures and
// cleans up. Beast stays in bench_client.cpp; CAF is never linked.
#include "bench_client.hpp"
#include "version.hpp"
#include "bench_options.hpp"
#include "bench_report.hpp"
#include "bench_scenarios.hpp"
#include "push_client.hpp"

#include <signal.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace {

using namespace kinto::bench;

std::atomic<bool> interrupted{false};

extern "C" void on_signal(int) {
  interrupted.store(true);
}

/// Deletes the buckets of the prepared servers on every way out of main.
struct clean_up_guard {
  std::vector<server_state>& servers;
  bool keep;
  bool failed = false;

  void run() {
    for (auto& s : servers) {
      if (!s.prepared) continue;
      if (keep) {
        std::cerr << "kinto-bench: kept bucket " << s.bucket << " on " << s.url.text << "\n";
      } else {
        try {
          clean_up(s);
        } catch (const setup_error& e) {
          std::cerr << "kinto-bench: clean-up failed: " << e.what() << "\n";
          failed = true;
        }
      }
      s.prepared = false;
    }
  }
  ~clean_up_guard() { run(); }
};

run_result run_once(const options& o, const server_state& s, std::size_t round) {
  auto work = make_workload(o, s);
  run_limits limits;
  limits.connections = o.connections;
  limits.threads = o.threads;
  limits.warmup = o.warmup;
  limits.duration = o.duration;
  run_result r = run_load(s.target, *work, limits, &interrupted);
  r.server = s.label;
  r.url = s.url.text;
  r.round = round;
  return r;
}

/// The push scenario: rounds of run_push against the prepared server, a
/// line (or a JSON object) per round.
int bench_push(const options& o, const server_state& s) {
  const std::string records = s.url.prefix + "/buckets/" + s.bucket + "/collections/" + s.collection + "/records";
  push_limits limits;
  limits.subscribers = o.subscribers;
  limits.threads = o.threads;
  limits.rate = o.rate;
  limits.warmup = o.warmup;
  limits.duration = o.duration;
  if (!o.json)
    std::cout << "push: " << o.subscribers << " subscribers, " << o.rate << " writes/s, " << o.duration
              << " s measured\n| round | streams | writes | delivered / expected | events/s | p50 ms | p99 ms | max ms | errors |\n"
                 "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
              << std::flush;
  bool failed = false;
  for (std::size_t round = 1; round <= o.rounds && !interrupted; ++round) {
    push_result r = run_push(s.target, records, limits, &interrupted);
    const auto ms = [&](double p) { return static_cast<double>(r.latency.percentile(p)) / 1e6; };
    char line[512];
    if (o.json)
      std::snprintf(line, sizeof line,
                    "{\"type\":\"push\",\"round\":%zu,\"subscribers\":%zu,\"writes\":%llu,\"expected\":%llu,"
                    "\"delivered\":%llu,\"events_per_second\":%.1f,\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,"
                    "\"max\":%.3f},\"errors\":%llu}\n",
                    round, r.subscribers, static_cast<unsigned long long>(r.writes),
                    static_cast<unsigned long long>(r.expected), static_cast<unsigned long long>(r.delivered),
                    r.events_per_second(), ms(50), ms(99), ms(100), static_cast<unsigned long long>(r.errors));
    else
      std::snprintf(line, sizeof line, "| %zu | %zu | %llu | %llu / %llu | %.0f | %.2f | %.2f | %.2f | %llu |\n", round,
                    r.subscribers, static_cast<unsigned long long>(r.writes),
                    static_cast<unsigned long long>(r.delivered), static_cast<unsigned long long>(r.expected),
                    r.events_per_second(), ms(50), ms(99), ms(100), static_cast<unsigned long long>(r.errors));
    std::cout << line << std::flush;
    if (!r.first_error.empty()) std::cerr << "kinto-bench: push: " << r.first_error << "\n";
    if (r.subscribers == 0 || r.writes == 0) failed = true;
  }
  if (interrupted) return 130;
  return failed ? 1 : 0;
}

int bench(const options& o) {
  std::vector<server_state> servers;
  servers.push_back(make_server(o, o.url, "A"));
  if (o.vs) servers.push_back(make_server(o, *o.vs, "B"));
  clean_up_guard guard{servers, o.keep};

  std::vector<double> setup_seconds;
  for (auto& s : servers) {
    const bool own_setup = o.setup == setup_mode::all || (o.setup == setup_mode::first && s.label == "A");
    if (own_setup) {
      prepare(s, o, &interrupted);
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.1f", s.setup_seconds);
      std::cerr << "kinto-bench: set-up of " << s.label << " (" << s.url.text << "): bucket " << s.bucket << " in "
                << seconds << " s\n";
      setup_seconds.push_back(s.setup_seconds);
    } else {
      check_reachable(s);
      if (o.setup == setup_mode::first) {
        // The unprepared server gets the very requests the first one gets.
        const server_state& a = servers.front();
        s.bucket = a.bucket;
        s.since = a.since;
        s.etags = a.etags;
      }
      setup_seconds.push_back(NAN);
    }
  }

  if (o.which == scenario::push) {
    const int status = bench_push(o, servers.front());
    guard.run();
    return guard.failed ? 1 : status;
  }
  if (!o.json) std::cout << run_heading(o) << "\n" << table_header() << std::flush;
  std::vector<run_result> runs;
  for (std::size_t round = 1; round <= o.rounds && !interrupted; ++round) {
    for (const auto& s : servers) {
      if (interrupted) break;
      runs.push_back(run_once(o, s, round));
      std::cout << (o.json ? run_json(o, runs.back()) + "\n" : table_row(runs.back())) << std::flush;
    }
  }
  if (interrupted) {
    std::cerr << "kinto-bench: interrupted\n";
    return 130;
  }
  // JSON always ends with the summary, so scripts find it whatever the rounds.
  if (o.json)
    std::cout << summary_json(o, runs, setup_seconds) << "\n";
  else if (runs.size() > 1)
    std::cout << summary_text(runs);

  if (!o.plot.empty()) {
    std::string error;
    if (write_plot(o, runs, error))
      std::cerr << "kinto-bench: plot written to " << o.plot << "\n";
    else
      std::cerr << "kinto-bench: --plot: " << error << "\n";
  }
  guard.run();
  for (const auto& r : runs) {
    if (r.responses == 0) {
      std::cerr << "kinto-bench: " << r.server << " round " << r.round << " got no response"
                << (r.first_error.empty() ? "" : " (" + r.first_error + ")") << "\n";
      return 1;
    }
  }
  return guard.failed ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
  if (kinto::bench::print_version(argc, argv)) return 0;
  options o;
  try {
    o = parse_options(std::vector<std::string_view>(argv + 1, argv + argc));
  } catch (const option_error& e) {
    std::cerr << "kinto-bench: " << e.what() << " (see --help)\n";
    return 2;
  }
  if (o.help) {
    std::cout << usage_text;
    return 0;
  }
  if (!o.plot.empty() && !gnuplot_on_path()) {
    std::cerr << "kinto-bench: --plot needs gnuplot on PATH (Debian: apt-get install gnuplot-nox); "
                 "run without --plot or install it\n";
    return 2;
  }
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    return bench(o);
  } catch (const setup_error& e) {
    std::cerr << "kinto-bench: " << e.what() << "\n";
    return interrupted ? 130 : 1;
  }
}
