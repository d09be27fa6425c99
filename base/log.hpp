// The log of a kintod process: one line per record, as JSON in Mozilla's
// mozlog shape (upstream Kinto's JsonLogFormatter) or as plain text, on
// standard error. Records are queued and written by a thread of their own,
// so that whoever logs (an I/O thread answering a request) never waits on
// the output; a queue that overflows drops records and says how many.
// Before start() and after stop(), records are written at once.
// Depends on base/json only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace kinto::log {

/// Syslog's numbers, as mozlog's `Severity` gives them.
/// `notice` is for what is normal but significant: the server listening,
/// the server stopped.
enum class severity : int { critical = 2, error = 3, warning = 4, notice = 5, info = 6, debug = 7 };

enum class format { text, json };

/// A field's value: absent (JSON null), a text or an integer.
using value = std::variant<std::monostate, std::string, std::int64_t>;

struct record {
  std::chrono::system_clock::time_point at = std::chrono::system_clock::now();
  severity level = severity::info;
  std::string type = "kintod";  ///< mozlog `Type`: what the record is about ("request.summary")
  std::string message;          ///< `Fields.msg` when not empty
  std::vector<std::pair<std::string, value>> fields;
};

struct options {
  format shape = format::text;
  /// Records less severe than this are not written.
  severity level = severity::info;
  /// mozlog `Logger` (upstream's `project_name`).
  std::string logger = "kinto";
  /// Where lines go.
  int fd = 2;
  /// Records queued at most; more are dropped (and counted).
  std::size_t max_queued = 65536;
};

/// Parses a level name: critical, error, warning, notice, info, debug (any case);
/// nullopt for anything else.
std::optional<severity> parse_severity(std::string_view name);
/// Parses a format name: text, json (any case).
std::optional<format> parse_format(std::string_view name);

/// One line (with its '\n') for `r` in `shape`; `host` and `pid` are
/// mozlog's `Hostname` and `Pid`.
std::string render(const record& r, format shape, std::string_view logger, std::string_view host, long pid);
/// The same, appended to `out`.
void render_to(const record& r, format shape, std::string_view logger, std::string_view host, long pid,
               std::string& out);

/// Takes these options for the records to come.
void configure(options o);
/// Starts writing through the writer thread.
void start();
/// Writes what is queued, then stops the writer thread; later records are
/// written at once.
void stop();
/// Whether records of this severity are written (cheap: check it before
/// building a record).
bool enabled(severity level);
/// Queues `r` (or writes it at once when no writer runs).
void write(record r);
/// Records dropped so far because the queue was full.
std::uint64_t dropped();

void info(std::string message, std::string type = "kintod");
void notice(std::string message, std::string type = "kintod");
void warning(std::string message, std::string type = "kintod");
void error(std::string message, std::string type = "kintod");
/// Writes at once, after what is queued: for the last words before abort().
void critical(std::string message, std::string type = "kintod");

} // namespace kinto::log
