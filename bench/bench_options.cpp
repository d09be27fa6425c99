// kinto-bench's command line: every value is checked here, before anything
// touches the network, and a refusal names the argument at fault.
// Depends on the standard library only.
#include "bench_options.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <utility>

namespace kinto::bench {

const char* const usage_text =
    "usage: kinto-bench [options]\n"
    "  --url URL              Kinto server, http://HOST[:PORT]/PREFIX (default http://127.0.0.1:8888/v1)\n"
    "  --auth USER:PASSWORD   Basic auth credentials (default bench:bench; 'none' sends none)\n"
    "  --scenario NAME        get-one | list-page | sync-poll | create | update | batch | mixed | push (default get-one)\n"
    "  --connections N        keep-alive connections (default 64)\n"
    "  --threads N            client threads (default 1)\n"
    "  --duration SECONDS     measured time per run (default 10)\n"
    "  --warmup SECONDS       unmeasured time before each run (default 2)\n"
    "  --records N            records of the collection (default: 1000; list-page 10000; create, batch 0)\n"
    "  --collections N        extra small collections created and read during set-up (default 0)\n"
    "  --read-ratio R         mixed: share of reads, 0..1 (default 0.9)\n"
    "  --subscribers N        push: streams of the collection's changes (default 1000)\n"
    "  --rate R               push: writes per second (default 100)\n"
    "  --setup-connections N  concurrent /batch requests while loading (default 64)\n"
    "  --vs URL2              second server; runs alternate A B A B... and A/B ratios are printed\n"
    "  --rounds N             measured runs per server (default 1, or 3 with --vs)\n"
    "  --setup all|first|none which servers get a bucket and data (default all; 'first' = --url only)\n"
    "  --keep                 do not delete the bucket at the end\n"
    "  --json                 one JSON object per run, then a summary object, on stdout\n"
    "  --plot FILE.png        throughput and latency plot (needs gnuplot on PATH)\n"
    "  --help                 this text\n";

namespace {

struct scenario_entry {
  scenario value;
  std::string_view name;
  std::size_t records;
};

constexpr std::array<scenario_entry, 8> scenarios{{
    {scenario::get_one, "get-one", 1000},
    {scenario::list_page, "list-page", 10000},
    {scenario::sync_poll, "sync-poll", 1000},
    {scenario::create, "create", 0},
    {scenario::update, "update", 1000},
    {scenario::batch, "batch", 0},
    {scenario::mixed, "mixed", 1000},
    {scenario::push, "push", 0},
}};

[[noreturn]] void refuse(std::string message) {
  throw option_error(std::move(message));
}

std::size_t whole_number(std::string_view flag, std::string_view text, std::size_t min, std::size_t max) {
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec == std::errc::invalid_argument || end != text.data() + text.size())
    refuse(std::string(flag) + ": not a whole number: '" + std::string(text) + "'");
  if (ec == std::errc::result_out_of_range || n < min || n > max)
    refuse(std::string(flag) + ": " + std::string(text) + " is outside " + std::to_string(min) + ".." +
           std::to_string(max));
  return n;
}

/// A decimal number in [min, max]; `open_min` excludes min itself.
double decimal(std::string_view flag, std::string_view text, double min, double max, bool open_min) {
  double x = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), x, std::chars_format::fixed);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(x))
    refuse(std::string(flag) + ": not a number: '" + std::string(text) + "'");
  if (x < min || x > max || (open_min && x == min)) {
    auto bound = [](double v) {
      std::string s = std::to_string(v);
      s.erase(s.find_last_not_of('0') + 1);
      if (s.back() == '.') s.pop_back();
      return s;
    };
    refuse(std::string(flag) + ": " + std::string(text) + " is outside " + (open_min ? "(" : "[") + bound(min) + ", " +
           bound(max) + "]");
  }
  return x;
}

bool valid_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

} // namespace

std::string_view scenario_name(scenario s) {
  for (const auto& e : scenarios)
    if (e.value == s) return e.name;
  return "?";
}

std::optional<scenario> scenario_from_name(std::string_view name) {
  for (const auto& e : scenarios)
    if (e.name == name) return e.value;
  return std::nullopt;
}

std::size_t default_records(scenario s) {
  for (const auto& e : scenarios)
    if (e.value == s) return e.records;
  return 0;
}

server_url parse_url(std::string_view text) {
  const std::string quoted = "'" + std::string(text) + "'";
  auto lower_prefix = [&](std::string_view p) {
    if (text.size() < p.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(text[i])) != p[i]) return false;
    return true;
  };
  if (lower_prefix("https://"))
    refuse("URL " + quoted + ": https is not supported (kinto-bench speaks plain HTTP/1.1); use http://");
  if (!lower_prefix("http://")) refuse("URL " + quoted + ": expected http://HOST[:PORT][/PREFIX]");
  server_url url;
  url.text = std::string(text);
  std::string_view rest = text.substr(7);
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos)
    refuse("URL " + quoted + ": credentials do not belong in the URL; use --auth");
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos || close == 1) refuse("URL " + quoted + ": malformed IPv6 address");
    url.host = std::string(authority.substr(1, close - 1));
    for (char c : url.host)
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
        refuse("URL " + quoted + ": malformed IPv6 address");
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') refuse("URL " + quoted + ": unexpected text after the IPv6 address");
      port_text = after.substr(1);
      if (port_text.empty()) refuse("URL " + quoted + ": empty port");
    }
  } else {
    const auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) refuse("URL " + quoted + ": empty port");
    }
    for (char c : url.host)
      if (!valid_host_char(c)) refuse("URL " + quoted + ": invalid character in host name");
  }
  if (url.host.empty()) refuse("URL " + quoted + ": no host");
  if (!port_text.empty()) {
    std::size_t port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
      refuse("URL " + quoted + ": port must be a number in 1..65535");
    url.port = static_cast<std::uint16_t>(port);
  }
  if (path.find_first_of("?#") != std::string_view::npos)
    refuse("URL " + quoted + ": no query or fragment expected, only a path prefix such as /v1");
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  url.prefix = path.empty() ? "/v1" : std::string(path);
  return url;
}

options parse_options(const std::vector<std::string_view>& args) {
  options o;
  bool records_given = false, rounds_given = false, read_ratio_given = false, setup_given = false, push_given = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view flag = args[i];
    std::optional<std::string_view> inline_value;
    if (flag.rfind("--", 0) == 0) {
      if (auto eq = flag.find('='); eq != std::string_view::npos) {
        inline_value = flag.substr(eq + 1);
        flag = flag.substr(0, eq);
      }
    }
    auto value = [&]() -> std::string_view {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) refuse(std::string(flag) + " needs a value");
      return args[++i];
    };
    auto no_value = [&] {
      if (inline_value) refuse(std::string(flag) + " takes no value");
    };
    if (flag == "--help" || flag == "-h") {
      o.help = true;
      return o;
    } else if (flag == "--url") {
      o.url = parse_url(value());
    } else if (flag == "--vs") {
      o.vs = parse_url(value());
    } else if (flag == "--auth") {
      std::string_view v = value();
      if (v == "none") {
        o.user.clear();
        o.password.clear();
      } else {
        const auto colon = v.find(':');
        if (colon == std::string_view::npos || colon == 0)
          refuse("--auth: expected USER:PASSWORD (or 'none'), got '" + std::string(v) + "'");
        o.user = std::string(v.substr(0, colon));
        o.password = std::string(v.substr(colon + 1));
      }
    } else if (flag == "--scenario") {
      std::string_view v = value();
      auto s = scenario_from_name(v);
      if (!s)
        refuse("--scenario: unknown scenario '" + std::string(v) +
               "' (get-one, list-page, sync-poll, create, update, batch, mixed, push)");
      o.which = *s;
    } else if (flag == "--connections") {
      o.connections = whole_number(flag, value(), 1, 10000);
    } else if (flag == "--threads") {
      o.threads = whole_number(flag, value(), 1, 64);
    } else if (flag == "--setup-connections") {
      o.setup_connections = whole_number(flag, value(), 1, 1024);
    } else if (flag == "--duration") {
      o.duration = decimal(flag, value(), 0, 86400, true);
    } else if (flag == "--warmup") {
      o.warmup = decimal(flag, value(), 0, 3600, false);
    } else if (flag == "--records") {
      o.records = whole_number(flag, value(), 0, 10'000'000);
      records_given = true;
    } else if (flag == "--collections") {
      o.collections = whole_number(flag, value(), 0, 100'000);
    } else if (flag == "--subscribers") {
      o.subscribers = whole_number(flag, value(), 1, 100'000);
      push_given = true;
    } else if (flag == "--rate") {
      o.rate = decimal(flag, value(), 0.1, 100'000, false);
      push_given = true;
    } else if (flag == "--read-ratio") {
      o.read_ratio = decimal(flag, value(), 0, 1, false);
      read_ratio_given = true;
    } else if (flag == "--rounds") {
      o.rounds = whole_number(flag, value(), 1, 100);
      rounds_given = true;
    } else if (flag == "--setup") {
      std::string_view v = value();
      if (v == "all")
        o.setup = setup_mode::all;
      else if (v == "first")
        o.setup = setup_mode::first;
      else if (v == "none")
        o.setup = setup_mode::none;
      else
        refuse("--setup: expected all, first or none, got '" + std::string(v) + "'");
      setup_given = true;
    } else if (flag == "--keep") {
      no_value();
      o.keep = true;
    } else if (flag == "--json") {
      no_value();
      o.json = true;
    } else if (flag == "--plot") {
      std::string_view v = value();
      if (v.empty() || v.front() == '-') refuse("--plot needs a file name");
      o.plot = std::string(v);
    } else {
      refuse("unknown argument '" + std::string(args[i]) + "'");
    }
  }
  if (!records_given) o.records = default_records(o.which);
  if (!rounds_given && o.vs) o.rounds = 3;
  if (read_ratio_given && o.which != scenario::mixed) refuse("--read-ratio applies to --scenario mixed only");
  if (push_given && o.which != scenario::push) refuse("--subscribers and --rate apply to --scenario push only");
  if (o.which == scenario::push && o.vs) refuse("--scenario push runs against one server (no --vs)");
  if (setup_given && o.setup == setup_mode::first && !o.vs) refuse("--setup first needs --vs");
  const bool needs_records = o.which == scenario::get_one || o.which == scenario::update || o.which == scenario::mixed;
  if (needs_records && o.records == 0)
    refuse("--records: " + std::string(scenario_name(o.which)) + " needs at least 1 record");
  if (o.which == scenario::sync_poll && o.records < 11)
    refuse("--records: sync-poll needs at least 11 records (a poll returns the 10 newest)");
  return o;
}

} // namespace kinto::bench
