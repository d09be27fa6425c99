// GET /__metrics__ (kinto.plugins.prometheus): the Prometheus text format,
// read back with a parser of that format; upstream's names for requests
// (counted by method, endpoint and status, timed in a histogram, sized), no
// user ids among the labels, kintod's gauges, the `prometheus` capability
// and upstream's prefix rule.
#include "harness.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

using namespace kintod_test;

namespace {

/// One sample of the text format: its name, labels and value.
struct sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

/// The samples of a Prometheus text exposition (format 0.0.4), checked as
/// they are read: every family has its TYPE before its samples, names and
/// label names are valid, label values are quoted and escaped, values are
/// numbers. Throws std::runtime_error naming the first line that is not.
struct exposition {
  std::vector<sample> samples;
  std::map<std::string, std::string> types; ///< family name -> counter, gauge, histogram, summary

  explicit exposition(const std::string& text) {
    static const std::regex name_re("[a-zA-Z_:][a-zA-Z0-9_:]*");
    static const std::regex label_name_re("[a-zA-Z_][a-zA-Z0-9_]*");
    std::istringstream in(text);
    std::string line;
    int number = 0;
    auto fail = [&](const std::string& why) { throw std::runtime_error("line " + std::to_string(number) + ": " + why + ": " + line); };
    while (std::getline(in, line)) {
      ++number;
      if (line.empty()) continue;
      if (line.rfind("# TYPE ", 0) == 0) {
        std::istringstream words(line.substr(7));
        std::string family, type;
        words >> family >> type;
        if (!std::regex_match(family, name_re)) fail("bad family name");
        if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" && type != "untyped")
          fail("bad type");
        if (!types.emplace(family, type).second) fail("second TYPE");
        continue;
      }
      if (line.front() == '#') continue; // HELP and comments
      sample s;
      std::size_t i = 0;
      while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
      s.name = line.substr(0, i);
      if (!std::regex_match(s.name, name_re)) fail("bad metric name");
      if (i < line.size() && line[i] == '{') {
        ++i;
        while (i < line.size() && line[i] != '}') {
          const std::size_t eq = line.find('=', i);
          if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') fail("bad label");
          const std::string label = line.substr(i, eq - i);
          if (!std::regex_match(label, label_name_re)) fail("bad label name");
          std::string value;
          std::size_t j = eq + 2;
          for (; j < line.size() && line[j] != '"'; ++j) {
            if (line[j] == '\\') {
              if (++j >= line.size()) fail("bad escape");
              const char e = line[j];
              if (e == 'n') value += '\n';
              else if (e == '\\' || e == '"') value += e;
              else fail("bad escape");
            } else {
              value += line[j];
            }
          }
          if (j >= line.size()) fail("unterminated label value");
          s.labels[label] = value;
          i = j + 1;
          if (i < line.size() && line[i] == ',') ++i;
        }
        if (i >= line.size()) fail("unterminated labels");
        ++i;
      }
      if (i >= line.size() || line[i] != ' ') fail("no value");
      const std::string value = line.substr(i + 1);
      if (value == "+Inf") s.value = INFINITY;
      else if (value == "-Inf") s.value = -INFINITY;
      else if (value == "NaN") s.value = NAN;
      else {
        const auto parsed = std::from_chars(value.data(), value.data() + value.size(), s.value);
        if (parsed.ec != std::errc() || parsed.ptr != value.data() + value.size()) fail("bad value");
      }
      std::string family = s.name;
      for (const char* suffix : {"_bucket", "_sum", "_count"})
        if (!types.count(family) && family.size() > std::strlen(suffix) &&
            family.compare(family.size() - std::strlen(suffix), std::string::npos, suffix) == 0)
          family.resize(family.size() - std::strlen(suffix));
      if (!types.count(family)) fail("sample before its TYPE");
      samples.push_back(std::move(s));
    }
  }

  /// The value of the one sample with that name and those labels; throws when none.
  double value(const std::string& name, const std::map<std::string, std::string>& labels = {}) const {
    for (const sample& s : samples)
      if (s.name == name && s.labels == labels) return s.value;
    throw std::runtime_error("no sample " + name);
  }
  bool has_label(const std::string& label) const {
    for (const sample& s : samples)
      if (s.labels.count(label)) return true;
    return false;
  }
};

kintod_options with_metrics(std::map<std::string, std::string> more = {}) {
  kintod_options o;
  o.settings = {{"kinto.includes", "kinto.plugins.prometheus"}};
  for (auto& [k, v] : more) o.settings[k] = v;
  return o;
}

} // namespace

TEST_CASE("the parser of the text format refuses what is not the format", "[metrics]") {
  CHECK_NOTHROW(exposition("# TYPE a counter\na{x=\"1\\\"2\"} 3\n"));
  CHECK_THROWS(exposition("a 1\n"));                       // no TYPE
  CHECK_THROWS(exposition("# TYPE a counter\na{x=1} 1\n")); // unquoted
  CHECK_THROWS(exposition("# TYPE a counter\na one\n"));   // not a number
  CHECK_THROWS(exposition("# TYPE 1a counter\n"));         // bad name
}

TEST_CASE("GET /__metrics__ counts requests by method, endpoint and status, with upstream's names", "[metrics]") {
  kintod_process server(with_metrics());
  create_collection(server, "b", "c");
  for (int i = 0; i < 3; ++i)
    must(server.request("PUT", "/v1/buckets/b/collections/c/records/r" + std::to_string(i), R"({"data": {}})", owner()), 201);
  for (int i = 0; i < 5; ++i) must(server.request("GET", "/v1/buckets/b/collections/c/records/r1", {}, owner()), 200);
  CHECK(server.request("GET", "/v1/buckets/b/collections/c/records/missing", {}, owner()).status == 404);
  CHECK(server.request("GET", "/v1/no/such/endpoint").status == 404);
  must(server.request("POST", "/v1/batch", R"({"requests": [{"path": "/buckets/b"}, {"path": "/buckets/b/collections/c"}]})", owner()), 200);

  auto r = server.request("GET", "/v1/__metrics__");
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  INFO(r.body);
  const exposition m(r.body);
  const std::string summary = "kinto_request_summary_total";
  CHECK(m.types.at(summary) == "counter");
  CHECK(m.value(summary, {{"method", "put"}, {"endpoint", "record-object"}, {"status", "201"}}) == 3);
  CHECK(m.value(summary, {{"method", "get"}, {"endpoint", "record-object"}, {"status", "200"}}) == 5);
  CHECK(m.value(summary, {{"method", "get"}, {"endpoint", "record-object"}, {"status", "404"}}) == 1);
  CHECK(m.value(summary, {{"method", "get"}, {"endpoint", "unknown"}, {"status", "404"}}) == 1);
  // A batch is one request; its requests are not counted again.
  CHECK(m.value(summary, {{"method", "post"}, {"endpoint", "batch"}, {"status", "200"}}) == 1);
  CHECK_THROWS(m.value(summary, {{"method", "get"}, {"endpoint", "bucket-object"}, {"status", "200"}}));

  const std::string duration = "kinto_request_duration_seconds";
  CHECK(m.types.at(duration) == "histogram");
  const std::map<std::string, std::string> reads{{"method", "get"}, {"endpoint", "record-object"}};
  CHECK(m.value(duration + "_count", reads) == 6);
  auto le = [&](const std::string& bound) {
    auto labels = reads;
    labels["le"] = bound;
    return m.value(duration + "_bucket", labels);
  };
  CHECK(le("+Inf") == 6);
  CHECK(le("0.01") <= le("0.05"));
  CHECK(le("0.05") <= le("6"));
  CHECK(le("6") <= le("+Inf"));
  CHECK(m.value(duration + "_sum", reads) > 0);
  CHECK(m.types.at("kinto_request_size") == "summary");
  CHECK(m.value("kinto_request_size_count", reads) == 6);
  CHECK(m.value("kinto_request_size_sum", reads) > 0);
  // No user ids as labels.
  CHECK_FALSE(m.has_label("userid"));
  CHECK(r.body.find("basicauth:") == std::string::npos);
}

TEST_CASE("kintod's own: commits, the write queue, list actors, connections, requests in flight, subscribers, storage",
          "[metrics]") {
  kintod_process server(with_metrics({{"kinto.storage_map_size", "67108864"}}));
  create_collection(server, "b", "c");
  constexpr int records = 5;
  for (int i = 0; i < records; ++i)
    must(server.request("PUT", "/v1/buckets/b/collections/c/records/r" + std::to_string(i), R"({"data": {}})", owner()), 201);
  const exposition m(server.request("GET", "/v1/__metrics__").body);
  for (const char* h : {"kinto_commit_duration_seconds", "kinto_storage_commit_seconds", "kinto_writes_per_commit"})
    CHECK(m.types.at(h) == "histogram");
  // Every acknowledged write was made durable by a commit the metrics saw:
  // the bucket, the collection and the records at least.
  CHECK(m.value("kinto_writes_per_commit_sum") >= 2 + records);
  CHECK(m.value("kinto_commit_duration_seconds_count") >= 1);
  CHECK(m.value("kinto_commit_duration_seconds_bucket", {{"le", "+Inf"}}) == m.value("kinto_commit_duration_seconds_count"));
  CHECK(m.value("kinto_storage_commit_seconds_count") >= 1);
  CHECK(m.value("kinto_commit_duration_seconds_sum") > 0);
  // Answered writes may not have left the queue's count yet.
  CHECK(m.types.at("kinto_write_queue_depth") == "gauge");
  CHECK(m.value("kinto_write_queue_depth") >= 0);
  CHECK(m.value("kinto_live_list_actors") >= 1);
  for (const char* g : {"kinto_open_connections", "kinto_requests_in_flight", "kinto_push_subscribers"})
    CHECK(m.types.at(g) == "gauge");
  CHECK(m.value("kinto_open_connections") >= 1);
  CHECK(m.value("kinto_requests_in_flight") >= 1); // this one
  CHECK(m.value("kinto_push_subscribers") == 0);
  if (m.types.count("kinto_storage_map_bytes")) { // LMDB
    CHECK(m.value("kinto_storage_map_bytes") == 67108864);
    CHECK(m.value("kinto_storage_used_bytes") > 0);
    CHECK(m.value("kinto_storage_map_usage_ratio") > 0);
    CHECK(m.value("kinto_storage_map_usage_ratio") < 1);
  }
}

TEST_CASE("the prometheus capability, upstream's prefix rule, and no endpoint without the plugin", "[metrics]") {
  SECTION("the capability") {
    kintod_process server(with_metrics());
    auto root = server.request("GET", "/v1/").json();
    CHECK(at(root, "capabilities.prometheus.prefix").as_string() == "kinto_");
  }
  SECTION("a prefix of its own, cleaned as upstream cleans it") {
    kintod_process server(with_metrics({{"kinto.prometheus_prefix", "remote-settings"}}));
    CHECK(at(server.request("GET", "/v1/").json(), "capabilities.prometheus.prefix").as_string() == "remotesettings_");
    const exposition m(server.request("GET", "/v1/__metrics__").body);
    CHECK(m.types.count("remotesettings_request_summary_total"));
  }
  SECTION("without the plugin") {
    kintod_process server;
    CHECK_THAT(server.request("GET", "/v1/__metrics__"), is_kinto_error(404, 111));
    CHECK_FALSE(server.request("GET", "/v1/").json().find("capabilities")->find("prometheus"));
  }
}
