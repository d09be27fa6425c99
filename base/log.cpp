#include "base/log.hpp"

#include "base/json.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <thread>

namespace kinto::log {
namespace {

std::string_view severity_name(severity s) {
  switch (s) {
    case severity::critical: return "CRITICAL";
    case severity::error: return "ERROR";
    case severity::warning: return "WARNING";
    case severity::notice: return "NOTICE";
    case severity::info: return "INFO";
    case severity::debug: return "DEBUG";
  }
  return "INFO";
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

/// `2026-12-08T02:40:46.123Z`; the text of the second is kept from one
/// record to the next (per thread).
void append_iso_time(std::chrono::system_clock::time_point at, std::string& out) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(at.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  thread_local std::time_t cached_second = -1;
  thread_local char cached[40];
  thread_local std::size_t cached_size = 0;
  if (seconds != cached_second) {
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    cached_size = std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
    cached_second = seconds;
  }
  out.append(cached, cached_size);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
  out += frac;
}

/// A text value as is when it is one plain word, else JSON-quoted: nothing a
/// client sends can start a line of its own or pass for another field.
void append_text_value(const value& v, std::string& out) {
  if (std::holds_alternative<std::monostate>(v)) {
    out += '-';
  } else if (const auto* n = std::get_if<std::int64_t>(&v)) {
    out += std::to_string(*n);
  } else {
    const std::string& s = std::get<std::string>(v);
    bool plain = !s.empty();
    for (unsigned char c : s)
      if (c <= ' ' || c >= 0x7f || c == '"' || c == '=' || c == '\\') plain = false;
    if (plain) out += s;
    else json::quote_to(s, out);
  }
}

void append_json_value(const value& v, std::string& out) {
  if (std::holds_alternative<std::monostate>(v)) out += "null";
  else if (const auto* n = std::get_if<std::int64_t>(&v)) out += std::to_string(*n);
  else json::quote_to(std::get<std::string>(v), out);
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return; // nowhere to say it: the line is lost
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

/// The process's log: its options, queue and writer thread.
class sink {
public:
  ~sink() { stop(); }

  void configure(options o) {
    std::lock_guard lock(mutex_);
    options_ = std::move(o);
    level_.store(static_cast<int>(options_.level), std::memory_order_relaxed);
  }

  void start() {
    std::lock_guard lock(mutex_);
    if (writer_.joinable()) return;
    stopping_ = false;
    writer_ = std::thread([this] { run(); });
  }

  void stop() {
    std::thread writer;
    {
      std::lock_guard lock(mutex_);
      if (!writer_.joinable()) return;
      stopping_ = true;
      writer = std::move(writer_);
    }
    wake_.notify_one();
    writer.join();
  }

  bool enabled(severity s) const { return static_cast<int>(s) <= level_.load(std::memory_order_relaxed); }

  void write(record r) {
    if (!enabled(r.level)) return;
    std::unique_lock lock(mutex_);
    if (!writer_.joinable()) {
      // No writer: at once, in the order of the callers.
      write_all(options_.fd, render(r, options_.shape, options_.logger, host_, pid_));
      return;
    }
    if (queued_.size() >= options_.max_queued) {
      ++dropped_;
      dropped_total_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // The writer wakes for the first record, then gathers the next ones
    // for a while: a wake-up per batch, not per record.
    const bool wake = queued_.empty() || queued_.size() + 1 == batch_size;
    queued_.push_back(std::move(r));
    lock.unlock();
    if (wake) wake_.notify_one();
  }

  void write_now(record r) {
    std::unique_lock lock(mutex_);
    std::vector<record> ahead;
    ahead.swap(queued_);
    std::string text;
    for (const auto& q : ahead) render_to(q, options_.shape, options_.logger, host_, pid_, text);
    render_to(r, options_.shape, options_.logger, host_, pid_, text);
    write_all(options_.fd, text);
  }

  std::uint64_t dropped() const { return dropped_total_.load(std::memory_order_relaxed); }

private:
  void run() {
    std::vector<record> batch;
    std::string text;
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || !queued_.empty(); });
      if (queued_.empty() && stopping_) return;
      wake_.wait_for(lock, gathering, [this] { return stopping_ || queued_.size() >= batch_size; });
      batch.swap(queued_);
      const std::uint64_t lost = std::exchange(dropped_, 0);
      const options o = options_;
      lock.unlock();
      text.clear();
      if (lost) {
        record r;
        r.level = severity::warning;
        r.message = std::to_string(lost) + " log records dropped: the log output was slower than they came";
        render_to(r, o.shape, o.logger, host_, pid_, text);
      }
      for (const auto& r : batch) render_to(r, o.shape, o.logger, host_, pid_, text);
      write_all(o.fd, text);
      batch.clear();
      lock.lock();
    }
  }

  /// How long the writer gathers records after the first of a batch, and
  /// how many it takes without waiting longer.
  static constexpr std::chrono::milliseconds gathering{20};
  static constexpr std::size_t batch_size = 1024;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::thread writer_;
  options options_;
  std::atomic<int> level_{static_cast<int>(severity::info)};
  std::vector<record> queued_;
  std::uint64_t dropped_ = 0; // since the last batch
  std::atomic<std::uint64_t> dropped_total_{0};
  bool stopping_ = false;
  const std::string host_ = host_name();
  const long pid_ = static_cast<long>(::getpid());
};

sink& the_sink() {
  static sink s;
  return s;
}

record message_record(severity level, std::string message, std::string type) {
  record r;
  r.level = level;
  r.type = std::move(type);
  r.message = std::move(message);
  return r;
}

} // namespace

std::optional<severity> parse_severity(std::string_view name) {
  const std::string n = lower(name);
  if (n == "critical") return severity::critical;
  if (n == "error") return severity::error;
  if (n == "warning") return severity::warning;
  if (n == "notice") return severity::notice;
  if (n == "info") return severity::info;
  if (n == "debug") return severity::debug;
  return std::nullopt;
}

std::optional<format> parse_format(std::string_view name) {
  const std::string n = lower(name);
  if (n == "text") return format::text;
  if (n == "json") return format::json;
  return std::nullopt;
}

std::string render(const record& r, format shape, std::string_view logger, std::string_view host, long pid) {
  std::string out;
  out.reserve(128 + r.message.size());
  render_to(r, shape, logger, host, pid, out);
  return out;
}

void render_to(const record& r, format shape, std::string_view logger, std::string_view host, long pid,
               std::string& out) {
  if (shape == format::text) {
    append_iso_time(r.at, out);
    out += ' ';
    out += severity_name(r.level);
    out += ' ';
    out += r.type;
    out += ':';
    if (!r.message.empty()) {
      out += ' ';
      // One line per record, whatever the message holds.
      for (char c : r.message) out += (c == '\n' || c == '\r') ? ' ' : c;
    }
    for (const auto& [name, v] : r.fields) {
      out += ' ';
      out += name;
      out += '=';
      append_text_value(v, out);
    }
    out += '\n';
    return;
  }
  using namespace std::chrono;
  out += "{\"Timestamp\":";
  out += std::to_string(duration_cast<nanoseconds>(r.at.time_since_epoch()).count());
  out += ",\"Type\":";
  json::quote_to(r.type, out);
  out += ",\"Logger\":";
  json::quote_to(logger, out);
  out += ",\"Hostname\":";
  json::quote_to(host, out);
  out += ",\"EnvVersion\":\"2.0\",\"Severity\":";
  out += std::to_string(static_cast<int>(r.level));
  out += ",\"Pid\":";
  out += std::to_string(pid);
  out += ",\"Fields\":{";
  bool first = true;
  if (!r.message.empty()) {
    out += "\"msg\":";
    json::quote_to(r.message, out);
    first = false;
  }
  for (const auto& [name, v] : r.fields) {
    if (!first) out += ',';
    first = false;
    json::quote_to(name, out);
    out += ':';
    append_json_value(v, out);
  }
  out += "}}\n";
}

void configure(options o) { the_sink().configure(std::move(o)); }
void start() { the_sink().start(); }
void stop() { the_sink().stop(); }
bool enabled(severity level) { return the_sink().enabled(level); }
void write(record r) { the_sink().write(std::move(r)); }
std::uint64_t dropped() { return the_sink().dropped(); }

void info(std::string message, std::string type) {
  write(message_record(severity::info, std::move(message), std::move(type)));
}
void notice(std::string message, std::string type) {
  write(message_record(severity::notice, std::move(message), std::move(type)));
}
void warning(std::string message, std::string type) {
  write(message_record(severity::warning, std::move(message), std::move(type)));
}
void error(std::string message, std::string type) {
  write(message_record(severity::error, std::move(message), std::move(type)));
}
void critical(std::string message, std::string type) {
  the_sink().write_now(message_record(severity::critical, std::move(message), std::move(type)));
}

} // namespace kinto::log
