// Unit tests of the load tools in bench/: kinto-bench's argument handling,
// the result arithmetic (percentiles, throughput, medians, A/B ratios) and
// the JSON it prints; then functional checks of the programs themselves
// (refusals, a short run against baseline-server, a server that is down).
// No speed is asserted. Depends on bench/'s Beast-free library and Catch2.
#include "bench_options.hpp"
#include "bench_report.hpp"
#include "bench_stats.hpp"
#include "base/json.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

extern char** environ;

namespace bench = kinto::bench;
namespace json = kinto::json;

namespace {

bench::options parse(std::vector<std::string_view> args) {
  return bench::parse_options(args);
}

bench::run_result result_with(double seconds, std::uint64_t responses, std::string server = "A",
                              std::size_t round = 1) {
  bench::run_result r;
  r.server = std::move(server);
  r.round = round;
  r.seconds = seconds;
  r.responses = responses;
  r.statuses[200] = responses;
  return r;
}

json::value parse_json(const std::string& text) {
  std::string error;
  auto v = json::parse(text, error);
  INFO(text);
  INFO(error);
  REQUIRE(v);
  return *v;
}

double number_at(const json::value& v, std::string_view key) {
  const json::value* member = v.find(key);
  REQUIRE(member);
  REQUIRE(member->is_number());
  return member->as_double();
}

} // namespace

// ---- arguments -----------------------------------------------------------------

TEST_CASE("kinto-bench defaults are the documented ones") {
  const auto o = parse({});
  CHECK(o.url.host == "127.0.0.1");
  CHECK(o.url.port == 8888);
  CHECK(o.url.prefix == "/v1");
  CHECK_FALSE(o.vs);
  CHECK(o.user == "bench");
  CHECK(o.password == "bench");
  CHECK(o.which == bench::scenario::get_one);
  CHECK(o.connections == 64);
  CHECK(o.threads == 1);
  CHECK(o.setup_connections == 64);
  CHECK(o.duration == 10);
  CHECK(o.warmup == 2);
  CHECK(o.records == 1000);
  CHECK(o.collections == 0);
  CHECK(o.read_ratio == Approx(0.9));
  CHECK(o.rounds == 1);
  CHECK(o.setup == bench::setup_mode::all);
  CHECK_FALSE(o.keep);
  CHECK_FALSE(o.json);
  CHECK(o.plot.empty());
  CHECK_FALSE(o.help);
}

TEST_CASE("each scenario is known by its name and has its default record count") {
  for (auto s : {bench::scenario::get_one, bench::scenario::list_page, bench::scenario::sync_poll,
                 bench::scenario::create, bench::scenario::update, bench::scenario::batch, bench::scenario::mixed}) {
    const std::string name(bench::scenario_name(s));
    CHECK(bench::scenario_from_name(name) == s);
    CHECK(parse({"--scenario", name}).records == bench::default_records(s));
  }
  CHECK(parse({"--scenario", "list-page"}).records == 10000);
  CHECK(parse({"--scenario", "create"}).records == 0);
  CHECK(parse({"--scenario", "sync-poll", "--records", "1000000"}).records == 1000000);
}

TEST_CASE("values are taken in both --flag value and --flag=value forms") {
  const auto o = parse({"--connections=8", "--threads", "2", "--duration=0.5", "--warmup", "0", "--scenario=mixed",
                        "--read-ratio=0.5", "--auth", "alice:s3cret:x", "--collections", "1000", "--keep"});
  CHECK(o.connections == 8);
  CHECK(o.threads == 2);
  CHECK(o.duration == Approx(0.5));
  CHECK(o.warmup == 0);
  CHECK(o.which == bench::scenario::mixed);
  CHECK(o.read_ratio == Approx(0.5));
  CHECK(o.user == "alice");
  CHECK(o.password == "s3cret:x");
  CHECK(o.collections == 1000);
  CHECK(o.keep);
  CHECK(parse({"--auth", "none"}).user.empty());
}

TEST_CASE("a --vs URL adds a second server and three rounds unless --rounds is given") {
  auto o = parse({"--vs", "http://127.0.0.1:9000/v1"});
  REQUIRE(o.vs);
  CHECK(o.vs->port == 9000);
  CHECK(o.rounds == 3);
  CHECK(parse({"--vs", "http://h:1/v1", "--rounds", "5"}).rounds == 5);
  CHECK(parse({"--rounds", "2"}).rounds == 2);
  CHECK(parse({"--vs", "http://h:1/v1", "--setup", "first"}).setup == bench::setup_mode::first);
  CHECK(parse({"--setup", "none"}).setup == bench::setup_mode::none);
}

TEST_CASE("the --json, --plot and --help flags are recognized") {
  CHECK(parse({"--json"}).json);
  CHECK(parse({"--plot", "out.png"}).plot == "out.png");
  CHECK(parse({"--help"}).help);
  CHECK(parse({"--connections", "5", "-h"}).help);
}

TEST_CASE("URLs are split into host, port and prefix") {
  SECTION("a URL without a path gets /v1") {
    const auto u = bench::parse_url("http://localhost:8888");
    CHECK(u.host == "localhost");
    CHECK(u.port == 8888);
    CHECK(u.prefix == "/v1");
  }
  SECTION("the default port is 80 and trailing slashes are dropped") {
    const auto u = bench::parse_url("HTTP://kinto.example.com/kinto/v1/");
    CHECK(u.host == "kinto.example.com");
    CHECK(u.port == 80);
    CHECK(u.prefix == "/kinto/v1");
  }
  SECTION("IPv6 literals are in brackets") {
    const auto u = bench::parse_url("http://[::1]:9000/v1");
    CHECK(u.host == "::1");
    CHECK(u.port == 9000);
  }
}

TEST_CASE("bad arguments are refused with a message naming the culprit") {
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(parse({"--bogus"}), Contains("unknown argument '--bogus'"));
  CHECK_THROWS_WITH(parse({"stray"}), Contains("unknown argument 'stray'"));
  CHECK_THROWS_WITH(parse({"--connections"}), Contains("--connections needs a value"));
  CHECK_THROWS_WITH(parse({"--url"}), Contains("--url needs a value"));
  CHECK_THROWS_WITH(parse({"--connections", "abc"}), Contains("--connections: not a whole number"));
  CHECK_THROWS_WITH(parse({"--connections", "12x"}), Contains("--connections: not a whole number"));
  CHECK_THROWS_WITH(parse({"--connections", "-3"}), Contains("--connections: not a whole number"));
  CHECK_THROWS_WITH(parse({"--connections", "0"}), Contains("--connections: 0 is outside 1..10000"));
  CHECK_THROWS_WITH(parse({"--connections", "10001"}), Contains("outside"));
  CHECK_THROWS_WITH(parse({"--connections", "99999999999999999999999"}), Contains("outside"));
  CHECK_THROWS_WITH(parse({"--threads", "0"}), Contains("--threads"));
  CHECK_THROWS_WITH(parse({"--duration", "0"}), Contains("--duration: 0 is outside"));
  CHECK_THROWS_WITH(parse({"--duration", "-1"}), Contains("--duration"));
  CHECK_THROWS_WITH(parse({"--duration", "ten"}), Contains("--duration: not a number"));
  CHECK_THROWS_WITH(parse({"--duration", "nan"}), Contains("--duration: not a number"));
  CHECK_THROWS_WITH(parse({"--warmup", "-0.5"}), Contains("--warmup"));
  CHECK_THROWS_WITH(parse({"--records", "20000000"}), Contains("--records"));
  CHECK_THROWS_WITH(parse({"--rounds", "0"}), Contains("--rounds"));
  CHECK_THROWS_WITH(parse({"--scenario", "mixed", "--read-ratio", "1.5"}), Contains("--read-ratio"));
  CHECK_THROWS_WITH(parse({"--read-ratio", "0.5"}), Contains("mixed only"));
  CHECK_THROWS_WITH(parse({"--rate", "10"}), Contains("push only"));
  CHECK_THROWS_WITH(parse({"--scenario", "push", "--subscribers", "0"}), Contains("--subscribers"));
  CHECK_THROWS_WITH(parse({"--scenario", "push", "--rate", "0"}), Contains("--rate"));
  CHECK_THROWS_WITH(parse({"--scenario", "push", "--vs", "http://127.0.0.1:9/v1"}), Contains("one server"));
  CHECK_THROWS_WITH(parse({"--scenario", "delete-all"}), Contains("unknown scenario 'delete-all'"));
  CHECK_THROWS_WITH(parse({"--scenario", "sync-poll", "--records", "5"}), Contains("at least 11"));
  CHECK_THROWS_WITH(parse({"--scenario", "get-one", "--records", "0"}), Contains("at least 1 record"));
  CHECK_THROWS_WITH(parse({"--setup", "first"}), Contains("needs --vs"));
  CHECK_THROWS_WITH(parse({"--setup", "some"}), Contains("--setup"));
  CHECK_THROWS_WITH(parse({"--auth", "bench"}), Contains("USER:PASSWORD"));
  CHECK_THROWS_WITH(parse({"--json=yes"}), Contains("--json takes no value"));
  CHECK_THROWS_WITH(parse({"--plot", "--json"}), Contains("--plot needs a file name"));
}

TEST_CASE("the push scenario takes its subscribers and its write rate") {
  const bench::options o = parse({"--scenario", "push", "--subscribers", "250", "--rate", "12.5"});
  CHECK(o.which == bench::scenario::push);
  CHECK(o.subscribers == 250);
  CHECK(o.rate == 12.5);
  CHECK(bench::scenario_name(bench::scenario::push) == "push");
  CHECK(bench::default_records(bench::scenario::push) == 0);
}

TEST_CASE("malformed and https URLs are refused") {
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(parse({"--url", "https://127.0.0.1:8888/v1"}), Contains("https is not supported"));
  CHECK_THROWS_WITH(parse({"--vs", "https://h/v1"}), Contains("https"));
  CHECK_THROWS_AS(parse({"--url", "ftp://h/v1"}), bench::option_error);
  CHECK_THROWS_AS(parse({"--url", "127.0.0.1:8888"}), bench::option_error);
  CHECK_THROWS_WITH(parse({"--url", "http://"}), Contains("no host"));
  CHECK_THROWS_WITH(parse({"--url", "http://:8888/v1"}), Contains("no host"));
  CHECK_THROWS_WITH(parse({"--url", "http://h:99999/v1"}), Contains("port"));
  CHECK_THROWS_WITH(parse({"--url", "http://h:0/v1"}), Contains("port"));
  CHECK_THROWS_WITH(parse({"--url", "http://h:abc/v1"}), Contains("port"));
  CHECK_THROWS_WITH(parse({"--url", "http://h:/v1"}), Contains("empty port"));
  CHECK_THROWS_WITH(parse({"--url", "http://h/v1?x=1"}), Contains("no query"));
  CHECK_THROWS_WITH(parse({"--url", "http://u:p@h/v1"}), Contains("--auth"));
  CHECK_THROWS_WITH(parse({"--url", "http://bad host/v1"}), Contains("invalid character"));
  CHECK_THROWS_WITH(parse({"--url", "http://[::1/v1"}), Contains("IPv6"));
}

// ---- arithmetic ------------------------------------------------------------------

TEST_CASE("small latencies are counted exactly") {
  bench::latency_histogram h;
  for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
  CHECK(h.count() == 100);
  CHECK(h.min() == 1);
  CHECK(h.max() == 100);
  CHECK(h.mean() == Approx(50.5));
  CHECK(h.percentile(50) == 50);
  CHECK(h.percentile(90) == 90);
  CHECK(h.percentile(99) == 99);
  CHECK(h.percentile(100) == 100);
  CHECK(h.percentile(0) == 1);
  CHECK(h.percentile(0.5) == 1);
  CHECK(h.percentile(50.5) == 51); // nearest rank: ceil(50.5) = 51
}

TEST_CASE("large latencies are within the histogram's precision") {
  bench::latency_histogram h;
  for (std::uint64_t i = 1; i <= 10000; ++i) h.record(i * 1000); // 1 us .. 10 ms
  CHECK(static_cast<double>(h.percentile(50)) == Approx(5'000'000).epsilon(0.008));
  CHECK(static_cast<double>(h.percentile(90)) == Approx(9'000'000).epsilon(0.008));
  CHECK(static_cast<double>(h.percentile(99)) == Approx(9'900'000).epsilon(0.008));
  CHECK(static_cast<double>(h.percentile(99.9)) == Approx(9'990'000).epsilon(0.008));
  CHECK(h.max() == 10'000'000);
  CHECK(h.min() == 1000);
  CHECK(h.mean() == Approx(5'000'500));
  // Values near the top of the range do not overflow the buckets.
  h.record(std::uint64_t(1) << 62);
  CHECK(h.max() == std::uint64_t(1) << 62);
  CHECK(h.percentile(100) == std::uint64_t(1) << 62);
}

TEST_CASE("a single sample is every percentile, an empty histogram gives zeros") {
  bench::latency_histogram h;
  CHECK(h.percentile(50) == 0);
  CHECK(h.max() == 0);
  CHECK(h.min() == 0);
  CHECK(h.mean() == 0);
  h.record(123'456'789);
  for (double p : {0.0, 50.0, 99.0, 100.0}) CHECK(h.percentile(p) == 123'456'789);
}

TEST_CASE("merged histograms equal one histogram of all samples") {
  bench::latency_histogram a, b, all;
  for (std::uint64_t i = 0; i < 5000; ++i) {
    const std::uint64_t v = (i * 7919) % 100'000 + 300;
    (i % 3 ? a : b).record(v);
    all.record(v);
  }
  bench::latency_histogram merged;
  merged.merge(a);
  merged.merge(b);
  CHECK(merged.count() == all.count());
  CHECK(merged.min() == all.min());
  CHECK(merged.max() == all.max());
  CHECK(merged.mean() == Approx(all.mean()));
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9}) CHECK(merged.percentile(p) == all.percentile(p));
}

TEST_CASE("requests per second is responses over the measured seconds") {
  CHECK(result_with(2, 1000).requests_per_second() == Approx(500));
  CHECK(result_with(0.5, 1000).requests_per_second() == Approx(2000));
  CHECK(result_with(0, 1000).requests_per_second() == 0);
  auto r = result_with(1, 10);
  r.statuses = {{200, 5}, {201, 1}, {304, 1}, {412, 2}, {503, 1}};
  CHECK(r.non_2xx() == 4);
}

TEST_CASE("medians ignore NaN and average the middle pair") {
  CHECK(bench::median({3, 1, 2}) == 2);
  CHECK(bench::median({4, 1, 3, 2}) == Approx(2.5));
  CHECK(bench::median({7}) == 7);
  CHECK(bench::median({NAN, 5, 1}) == 3);
  CHECK(std::isnan(bench::median({})));
  CHECK(std::isnan(bench::median({NAN})));
}

TEST_CASE("ratios pair the runs A/B, NaN where B is zero") {
  const auto r = bench::ratios({100, 300, 50}, {200, 100, 0});
  REQUIRE(r.size() == 3);
  CHECK(r[0] == Approx(0.5));
  CHECK(r[1] == Approx(3));
  CHECK(std::isnan(r[2]));
  CHECK(bench::ratios({1, 2, 3}, {1}).size() == 1);
}

TEST_CASE("a summary pairs the runs of each round and takes the median ratio") {
  std::vector<bench::run_result> runs{result_with(1, 100, "A", 1), result_with(1, 200, "B", 1),
                                      result_with(1, 300, "A", 2), result_with(1, 300, "B", 2),
                                      result_with(1, 120, "A", 3), result_with(1, 400, "B", 3)};
  // Input order does not matter: rounds decide the pairs.
  std::swap(runs[0], runs[4]);
  const auto s = bench::summarize(runs);
  REQUIRE(s.pair_ratios.size() == 3);
  CHECK(s.pair_ratios[0] == Approx(0.5));
  CHECK(s.pair_ratios[1] == Approx(1.0));
  CHECK(s.pair_ratios[2] == Approx(0.3));
  CHECK(s.median_ratio == Approx(0.5));
  CHECK(s.median_rps_a == Approx(120));
  CHECK(s.median_rps_b == Approx(300));

  const auto alone = bench::summarize({result_with(2, 100), result_with(2, 300, "A", 2)});
  CHECK(alone.median_rps_a == Approx(100));
  CHECK(alone.pair_ratios.empty());
  CHECK(std::isnan(alone.median_ratio));
}

// ---- printed results ---------------------------------------------------------------

TEST_CASE("a run prints as one JSON object with its figures") {
  const auto o = parse({"--scenario", "update", "--json"});
  auto r = result_with(2, 1000);
  r.url = "http://127.0.0.1:8888/v1";
  r.statuses = {{200, 990}, {412, 10}};
  r.errors = 3;
  r.first_error = "read: \"connection reset\"";
  for (int i = 0; i < 1000; ++i) r.latency.record(1000 * (i + 1));
  r.per_second = {400, 600};
  const std::string text = bench::run_json(o, r);
  CHECK(text.find('\n') == std::string::npos);
  const auto v = parse_json(text);
  CHECK(v.find("scenario")->as_string() == "update");
  CHECK(number_at(v, "requests_per_second") == Approx(500));
  CHECK(number_at(v, "errors") == 3);
  CHECK(number_at(v, "non_2xx") == 10);
  CHECK(number_at(*v.find("statuses"), "412") == 10);
  CHECK(number_at(*v.find("latency_us"), "p50") == Approx(500).epsilon(0.008));
  CHECK(number_at(*v.find("latency_us"), "max") == Approx(1000));
  CHECK(v.find("per_second")->as_array().size() == 2);
  CHECK(v.find("first_error")->as_string() == r.first_error);
}

TEST_CASE("the summary object carries medians and the A/B ratio") {
  const auto o = parse({"--vs", "http://127.0.0.1:9000/v1", "--json"});
  std::vector<bench::run_result> runs{result_with(1, 100, "A", 1), result_with(1, 200, "B", 1),
                                      result_with(1, 300, "A", 2), result_with(1, 300, "B", 2),
                                      result_with(1, 120, "A", 3), result_with(1, 400, "B", 3)};
  const auto v = parse_json(bench::summary_json(o, runs, {1.5, NAN}));
  CHECK(v.find("type")->as_string() == "summary");
  CHECK(number_at(v, "median_ratio") == Approx(0.5));
  CHECK(number_at(v, "median_rps_a") == Approx(120));
  CHECK(number_at(v, "median_rps_b") == Approx(300));
  CHECK(v.find("ratios_a_over_b")->as_array().size() == 3);
  CHECK(number_at(v, "setup_seconds_a") == Approx(1.5));
  CHECK(v.find("setup_seconds_b")->is_null());

  const auto single = parse_json(bench::summary_json(parse({}), {result_with(1, 10), result_with(1, 30, "A", 2)}, {}));
  CHECK(single.find("median_ratio")->is_null());
  CHECK_FALSE(single.find("median_rps_b"));
}

TEST_CASE("the table shows the status breakdown of a run with failures") {
  auto ok = result_with(1, 100);
  CHECK(bench::table_row(ok).find("statuses") == std::string::npos);
  auto bad = result_with(1, 100);
  bad.statuses = {{200, 97}, {503, 3}};
  const auto row = bench::table_row(bad);
  CHECK(row.find("statuses 503 x 3") != std::string::npos);
  CHECK(bench::summary_text({result_with(1, 100, "A", 1), result_with(1, 200, "B", 1)}).find("median 0.500") !=
        std::string::npos);
}

// ---- the programs ------------------------------------------------------------------
// Functional checks only: that they run, report what they measured, refuse
// what they should and never hang. Processes are waited for through their
// pipes (the port line of baseline-server), never by sleeping.

namespace {

struct process_result {
  int exit_code = -1; ///< -1 when killed
  std::string out, err;
};

/// A child process with its stdout and stderr on pipes.
struct child_process {
  pid_t pid = -1;
  int out = -1, err = -1;

  explicit child_process(const std::vector<std::string>& args) {
    int out_pipe[2], err_pipe[2];
    REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    out = out_pipe[0];
    err = err_pipe[0];
    INFO(args[0]);
    REQUIRE(rc == 0);
  }
  ~child_process() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    ::close(out);
    ::close(err);
  }

  /// Reads both pipes until `done(out_text)` or end of output; false when
  /// `timeout_ms` passed first.
  template <class Done> bool read_until(std::string& out_text, std::string& err_text, int timeout_ms, Done done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    bool out_open = true, err_open = true;
    while ((out_open || err_open) && !done(out_text)) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd fds[2] = {{out_open ? out : -1, POLLIN, 0}, {err_open ? err : -1, POLLIN, 0}};
      if (::poll(fds, 2, static_cast<int>(left.count())) <= 0) continue;
      char buffer[4096];
      for (int i = 0; i < 2; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
        if (n <= 0)
          (i ? err_open : out_open) = false;
        else
          (i ? err_text : out_text).append(buffer, static_cast<std::size_t>(n));
      }
    }
    return true;
  }

  /// Waits for the exit after the output ended; kills it after `timeout_ms`.
  process_result finish(int timeout_ms) {
    process_result r;
    const bool ended = read_until(r.out, r.err, timeout_ms, [](const std::string&) { return false; });
    if (!ended) ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    if (ended && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    return r;
  }
};

process_result run_program(const std::vector<std::string>& args, int timeout_ms = 60000) {
  child_process p(args);
  return p.finish(timeout_ms);
}

/// A started baseline-server and the port it printed.
struct baseline {
  child_process process{{BASELINE_SERVER, "--threads", "1"}};
  int port = 0;

  baseline() {
    std::string out, err;
    REQUIRE(process.read_until(out, err, 10000, [](const std::string& text) { return text.find('\n') != text.npos; }));
    INFO(err);
    REQUIRE(out.find('\n') != std::string::npos);
    port = std::stoi(out.substr(0, out.find('\n')));
    REQUIRE(port > 0);
  }
  ~baseline() { ::kill(process.pid, SIGTERM); }
};

} // namespace

TEST_CASE("kinto-bench refuses bad arguments with exit code 2 and one line") {
  for (const std::vector<std::string>& args : {std::vector<std::string>{KINTO_BENCH, "--connections", "lots"},
                                               std::vector<std::string>{KINTO_BENCH, "--url", "https://127.0.0.1/v1"},
                                               std::vector<std::string>{KINTO_BENCH, "--scenario", "nope"},
                                               std::vector<std::string>{KINTO_BENCH, "--duration"}}) {
    const auto r = run_program(args);
    INFO(args[1]);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("kinto-bench: ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  const auto help = run_program({KINTO_BENCH, "--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("--scenario") != std::string::npos);
}

TEST_CASE("kinto-bench against baseline-server reports responses and no errors") {
  baseline server;
  const auto r = run_program({KINTO_BENCH, "--url", "http://127.0.0.1:" + std::to_string(server.port) + "/v1",
                              "--setup", "none", "--duration", "1", "--warmup", "0", "--connections", "4", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto v = parse_json(r.out.substr(0, r.out.find('\n')));
  CHECK(v.find("type")->as_string() == "run");
  CHECK(number_at(v, "responses") > 0);
  CHECK(number_at(v, "errors") == 0);
  CHECK(number_at(v, "non_2xx") == 0);
}

TEST_CASE("kinto-bench stops with a message when the server is down") {
  // A bound socket that does not listen: connections to it are refused.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/v1";
  for (const char* setup : {"all", "none"}) {
    const auto r = run_program({KINTO_BENCH, "--url", url, "--setup", setup, "--duration", "1"}, 30000);
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("refused") != std::string::npos);
  }
  ::close(fd);
}

TEST_CASE("lmdb-ceiling reports the durable writes it made") {
  const auto r = run_program({LMDB_CEILING, "--submitters", "4", "--duration", "1", "--warmup", "0", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto v = parse_json(r.out.substr(0, r.out.find('\n')));
  CHECK(number_at(v, "writes") > 0);
  CHECK(number_at(v, "submitters") == 4);
  CHECK(run_program({LMDB_CEILING, "--submitters", "0"}).exit_code == 2);
  CHECK(run_program({LMDB_CEILING, "--dir", "/nonexistent/place"}).exit_code == 2);
}

TEST_CASE("baseline-server refuses bad arguments with exit code 2") {
  CHECK(run_program({BASELINE_SERVER, "--port", "70000"}).exit_code == 2);
  CHECK(run_program({BASELINE_SERVER, "--threads", "x"}).exit_code == 2);
  CHECK(run_program({BASELINE_SERVER, "--verbose"}).exit_code == 2);
}
