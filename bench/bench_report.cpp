// Tables, JSON lines and plots of kinto-bench results. JSON is written by
// hand (flat, predictable keys that scripts can pick with grep/sed); strings
// are escaped with the project's JSON quoting.
#include "bench_report.hpp"

#include "bench_support.hpp"
#include "base/json.hpp"

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

extern char** environ;

namespace kinto::bench {

namespace {

std::string number(double x, int decimals) {
  if (!std::isfinite(x)) return "null";
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, x);
  return text;
}

std::string json_string(std::string_view s) {
  std::string out;
  json::quote_to(s, out);
  return out;
}

std::string list(const std::vector<double>& values, int decimals) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + number(values[i], decimals);
  return out + "]";
}

std::string latency(std::uint64_t ns) {
  return duration_text(static_cast<double>(ns));
}

double us(std::uint64_t ns) {
  return static_cast<double>(ns) / 1e3;
}

std::string status_breakdown(const run_result& r) {
  std::string out;
  for (const auto& [status, count] : r.statuses) {
    if (status >= 200 && status <= 299) continue;
    out += (out.empty() ? "" : ", ") + std::to_string(status) + " x " + std::to_string(count);
  }
  return out;
}

/// Per-server sums and medians over the runs of `server`.
struct server_totals {
  std::uint64_t errors = 0, non_2xx = 0, rejected = 0;
  std::vector<double> p50, p99;
  std::string url;
};

server_totals totals(const std::vector<run_result>& runs, std::string_view server) {
  server_totals t;
  for (const auto& r : runs) {
    if (r.server != server) continue;
    t.errors += r.errors;
    t.non_2xx += r.non_2xx();
    t.rejected += r.rejected;
    t.p50.push_back(us(r.latency.percentile(50)));
    t.p99.push_back(us(r.latency.percentile(99)));
    t.url = r.url;
  }
  return t;
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

/// gnuplot single-quoted string literal.
std::string gp_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string plot_script(const options& o, const std::vector<run_result>& runs, const std::filesystem::path& dir) {
  std::string s = "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) { set terminal pngcairo size 1100,900 } "
                  "else { set terminal png size 1100,900 }\n";
  s += "set output " + gp_quote(std::filesystem::absolute(o.plot).string()) + "\n";
  s += "set multiplot layout 2,1 title " + gp_quote("kinto-bench " + run_heading(o)) + "\n";
  s += "set key outside right\nset grid\n";
  s += "set title 'Throughput'\nset xlabel 'second of the measured window'\nset ylabel 'requests/s'\n"
       "set yrange [0:*]\n";
  std::string throughput = "plot ", spectrum = "plot ";
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    const std::string name = r.server + " round " + std::to_string(r.round);
    const auto tp = dir / ("throughput-" + std::to_string(i) + ".dat");
    const auto lat = dir / ("latency-" + std::to_string(i) + ".dat");
    std::string rows;
    for (std::size_t sec = 0; sec < r.per_second.size(); ++sec)
      rows += std::to_string(sec + 1) + " " + std::to_string(r.per_second[sec]) + "\n";
    write_file(tp, rows);
    rows.clear();
    for (double p : {0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 75.0, 80.0, 85.0, 90.0, 95.0, 97.5, 99.0, 99.5,
                     99.9, 99.95, 99.99})
      rows += number(p, 2) + " " + number(static_cast<double>(r.latency.percentile(p)) / 1e6, 4) + "\n";
    write_file(lat, rows);
    const std::string sep = i ? ", " : "";
    throughput += sep + gp_quote(tp.string()) + " with linespoints title " + gp_quote(name);
    spectrum += sep + gp_quote(lat.string()) + " using (1/(1-$1/100)):2 with linespoints title " + gp_quote(name);
  }
  s += throughput + "\n";
  s += "set title 'Latency by percentile'\nset logscale x\nset xlabel 'percentile'\nset ylabel 'ms'\n"
       "set xtics ('0%%' 1, '50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000)\n";
  s += spectrum + "\nunset multiplot\n";
  return s;
}

} // namespace

std::string run_heading(const options& o) {
  std::string h = std::string(scenario_name(o.which)) + ": " + std::to_string(o.connections) + " connections, " +
                  std::to_string(o.threads) + (o.threads == 1 ? " client thread, " : " client threads, ") +
                  number(o.duration, o.duration == std::floor(o.duration) ? 0 : 1) + " s measured after " +
                  number(o.warmup, o.warmup == std::floor(o.warmup) ? 0 : 1) + " s warm-up, " +
                  std::to_string(o.records) + " records";
  if (o.collections) h += ", " + std::to_string(o.collections) + " extra collections";
  if (o.which == scenario::mixed) h += ", read ratio " + number(o.read_ratio, 2);
  return h;
}

std::string table_header() {
  char line[160];
  std::snprintf(line, sizeof line, "%-6s %5s %12s %10s %10s %10s %10s %8s %8s\n", "server", "round", "req/s", "p50",
                "p90", "p99", "max", "errors", "non-2xx");
  return line;
}

std::string table_row(const run_result& r) {
  char line[200];
  std::snprintf(line, sizeof line, "%-6s %5zu %12.1f %10s %10s %10s %10s %8llu %8llu\n", r.server.c_str(), r.round,
                r.requests_per_second(), latency(r.latency.percentile(50)).c_str(),
                latency(r.latency.percentile(90)).c_str(), latency(r.latency.percentile(99)).c_str(),
                latency(r.latency.max()).c_str(), static_cast<unsigned long long>(r.errors),
                static_cast<unsigned long long>(r.non_2xx()));
  std::string out = line;
  std::string notes;
  if (auto b = status_breakdown(r); !b.empty()) notes += "statuses " + b;
  if (r.rejected)
    notes += (notes.empty() ? "" : "; ") + std::to_string(r.rejected) + " batches with failed sub-requests";
  if (!r.first_error.empty()) notes += (notes.empty() ? "" : "; ") + std::string("first error: ") + r.first_error;
  if (!notes.empty()) out += "             " + notes + "\n";
  return out;
}

std::string summary_text(const std::vector<run_result>& runs) {
  const summary s = summarize(runs);
  std::string out;
  const auto a = totals(runs, "A");
  out += "A " + a.url + ": median " + number(s.median_rps_a, 1) + " req/s over " + std::to_string(s.rps_a.size()) +
         (s.rps_a.size() == 1 ? " run\n" : " runs\n");
  if (s.rps_b.empty()) return out;
  const auto b = totals(runs, "B");
  out += "B " + b.url + ": median " + number(s.median_rps_b, 1) + " req/s over " + std::to_string(s.rps_b.size()) +
         (s.rps_b.size() == 1 ? " run\n" : " runs\n");
  out += "A/B throughput per pair:";
  for (double r : s.pair_ratios) out += " " + number(r, 3);
  out += "; median " + number(s.median_ratio, 3) + "\n";
  return out;
}

std::string run_json(const options& o, const run_result& r) {
  std::string j =
      "{\"type\":\"run\",\"scenario\":" + json_string(scenario_name(o.which)) + ",\"server\":" + json_string(r.server) +
      ",\"url\":" + json_string(r.url) + ",\"round\":" + std::to_string(r.round) +
      ",\"connections\":" + std::to_string(o.connections) + ",\"threads\":" + std::to_string(o.threads) +
      ",\"records\":" + std::to_string(o.records) + ",\"seconds\":" + number(r.seconds, 3) +
      ",\"responses\":" + std::to_string(r.responses) +
      ",\"requests_per_second\":" + number(r.requests_per_second(), 1) + ",\"latency_us\":{" +
      "\"p50\":" + number(us(r.latency.percentile(50)), 1) + ",\"p90\":" + number(us(r.latency.percentile(90)), 1) +
      ",\"p99\":" + number(us(r.latency.percentile(99)), 1) + ",\"max\":" + number(us(r.latency.max()), 1) +
      ",\"mean\":" + number(r.latency.mean() / 1e3, 1) + "},\"errors\":" + std::to_string(r.errors) +
      ",\"non_2xx\":" + std::to_string(r.non_2xx()) + ",\"rejected\":" + std::to_string(r.rejected) + ",\"statuses\":{";
  bool first = true;
  for (const auto& [status, count] : r.statuses) {
    j += (first ? "\"" : ",\"") + std::to_string(status) + "\":" + std::to_string(count);
    first = false;
  }
  j += "},\"per_second\":[";
  for (std::size_t i = 0; i < r.per_second.size(); ++i) j += (i ? "," : "") + std::to_string(r.per_second[i]);
  j += "]";
  if (!r.first_error.empty()) j += ",\"first_error\":" + json_string(r.first_error);
  return j + "}";
}

std::string summary_json(const options& o, const std::vector<run_result>& runs,
                         const std::vector<double>& setup_seconds) {
  const summary s = summarize(runs);
  std::string j = "{\"type\":\"summary\",\"scenario\":" + json_string(scenario_name(o.which)) +
                  ",\"connections\":" + std::to_string(o.connections) + ",\"threads\":" + std::to_string(o.threads) +
                  ",\"records\":" + std::to_string(o.records) + ",\"rounds\":" + std::to_string(o.rounds);
  auto side = [&](std::string_view server, const std::vector<double>& rps, double median_rps, std::size_t index) {
    const auto t = totals(runs, server);
    const std::string sfx = server == "A" ? "_a" : "_b";
    j += ",\"url" + sfx + "\":" + json_string(t.url) + ",\"rps" + sfx + "\":" + list(rps, 1) + ",\"median_rps" + sfx +
         "\":" + number(median_rps, 1) + ",\"median_p50_us" + sfx + "\":" + number(median(t.p50), 1) +
         ",\"median_p99_us" + sfx + "\":" + number(median(t.p99), 1) + ",\"errors" + sfx +
         "\":" + std::to_string(t.errors) + ",\"non_2xx" + sfx + "\":" + std::to_string(t.non_2xx) + ",\"rejected" +
         sfx + "\":" + std::to_string(t.rejected) + ",\"setup_seconds" + sfx +
         "\":" + number(index < setup_seconds.size() ? setup_seconds[index] : NAN, 1);
  };
  side("A", s.rps_a, s.median_rps_a, 0);
  if (!s.rps_b.empty()) side("B", s.rps_b, s.median_rps_b, 1);
  j += ",\"ratios_a_over_b\":" + list(s.pair_ratios, 4) + ",\"median_ratio\":" + number(s.median_ratio, 4);
  return j + "}";
}

bool gnuplot_on_path() {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string_view rest(path);
  while (true) {
    const auto colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/gnuplot";
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return true;
    if (colon == std::string_view::npos) return false;
    rest.remove_prefix(colon + 1);
  }
}

bool write_plot(const options& o, const std::vector<run_result>& runs, std::string& error) {
  namespace fs = std::filesystem;
  std::string pattern = (fs::temp_directory_path() / "kinto-bench-plot.XXXXXX").string();
  if (!::mkdtemp(pattern.data())) {
    error = "cannot create a temporary directory for the plot data";
    return false;
  }
  const fs::path dir = pattern;
  bool ok = false;
  try {
    const fs::path script = dir / "plot.gp";
    write_file(script, plot_script(o, runs, dir));
    std::string program = "gnuplot", script_arg = script.string();
    char* argv[] = {program.data(), script_arg.data(), nullptr};
    pid_t pid = 0;
    int status = 0;
    if (::posix_spawnp(&pid, "gnuplot", nullptr, nullptr, argv, environ) != 0) {
      error = "cannot start gnuplot";
    } else if (::waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      error = "gnuplot failed (its messages are above)";
    } else {
      ok = true;
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  std::error_code ignored;
  fs::remove_all(dir, ignored);
  return ok;
}

} // namespace kinto::bench
