// Command line of kinto-bench: scenarios, server URLs, run bounds, output
// choices, and their checks. Pure parsing: no sockets, no Beast, so the unit
// tests link it directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kinto::bench {

/// A bad command line: `what()` is one line saying which argument and why.
struct option_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// What the connections do during the timed run.
enum class scenario { get_one, list_page, sync_poll, create, update, batch, mixed, push };

/// "get-one", "list-page"... as written on the command line.
std::string_view scenario_name(scenario s);
/// The scenario named `name`; nullopt when unknown.
std::optional<scenario> scenario_from_name(std::string_view name);
/// Records the set-up creates for `s` when --records is not given.
std::size_t default_records(scenario s);

/// Which servers get a set-up phase (and a clean-up).
enum class setup_mode {
  all,   ///< every server: its own bucket and data
  first, ///< only --url; --vs gets the same requests unprepared (a server that answers anything)
  none   ///< no server: requests name bucket `bench`, collection `c`
};

/// An http:// URL split for the client.
struct server_url {
  std::string host; ///< name, IPv4 literal, or IPv6 literal without brackets
  std::uint16_t port = 80;
  std::string prefix; ///< path without trailing slash, e.g. "/v1" (never empty)
  std::string text;   ///< the URL as given, for reports
};

/// Parses "http://host[:port][/path]". A URL without a path gets "/v1".
/// Throws option_error for other schemes (https included: the client speaks
/// plain HTTP only), a missing host, a bad port, a query or fragment.
server_url parse_url(std::string_view text);

struct options {
  server_url url = parse_url("http://127.0.0.1:8888/v1");
  std::optional<server_url> vs; ///< --vs: second server, runs alternate A B A B...
  std::string user = "bench";   ///< Basic auth; empty user = no Authorization header
  std::string password = "bench";
  scenario which = scenario::get_one;
  std::size_t connections = 64;       ///< keep-alive connections during the timed run
  std::size_t threads = 1;            ///< client threads (one io_context each)
  std::size_t setup_connections = 64; ///< concurrent /batch requests while loading
  double duration = 10;               ///< seconds measured per run
  double warmup = 2;                  ///< seconds run before measuring, per run
  std::size_t records = 0;            ///< records of the main collection (default_records if not given)
  std::size_t collections = 0;        ///< extra small collections created and read during set-up
  double read_ratio = 0.9;            ///< mixed: share of reads
  std::size_t subscribers = 1000;     ///< push: streams of the collection's changes
  double rate = 100;                  ///< push: writes per second
  std::size_t rounds = 1;             ///< measured runs per server (3 with --vs unless given)
  setup_mode setup = setup_mode::all;
  bool keep = false; ///< leave the bucket in place at the end
  bool json = false; ///< one JSON object per run (and a summary) on stdout
  std::string plot;  ///< --plot: PNG written through gnuplot
  bool help = false;
};

/// Parses the arguments after the program name. `--flag value` and
/// `--flag=value` are both accepted. Throws option_error for an unknown
/// flag, a missing or non-numeric value, a value out of range, an unknown
/// scenario or setup mode, a malformed or https URL, and options that make
/// no sense together (--read-ratio without mixed, --setup first without
/// --vs). --help stops parsing and returns options with `help` set.
options parse_options(const std::vector<std::string_view>& args);

/// Usage text printed by --help and after a refusal.
extern const char* const usage_text;

} // namespace kinto::bench
