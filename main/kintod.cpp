// kintod: reads its settings (kinto.ini, KINTO_* environment, flags), opens
// the store (LMDB, or PostgreSQL), starts the write service and serves HTTP until SIGINT or
// SIGTERM, then finishes requests in flight and closes everything in order.
#include "actors/write_service.hpp"
#include "http/app.hpp"
#include "http/server.hpp"
#include "http/stored_secret.hpp"
#include "main/service_manager.hpp"
#include "base/crypto.hpp"
#include "base/json.hpp"
#include "base/log.hpp"
#include "base/settings.hpp"
#include "storage/lmdb_backup.hpp"
#include "storage/lmdb_engine.hpp"
#include "storage/postgresql_engine.hpp"
#include "storage/postgresql_schema.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <optional>
#include <sstream>

namespace {

constexpr int usage_error = 2;

int fail(const std::string& message) {
  kinto::log::error(message);
  return usage_error;
}

/// A fresh directory under $TMPDIR (or /tmp), removed with its content when
/// destroyed; `path` is empty when it could not be created.
struct throwaway_directory {
  std::string path;
  throwaway_directory() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/kintod-memory-XXXXXX";
    if (::mkdtemp(pattern.data())) path = pattern;
  }
  ~throwaway_directory() {
    std::error_code ignored;
    if (!path.empty()) std::filesystem::remove_all(path, ignored);
  }
  throwaway_directory(const throwaway_directory&) = delete;
  throwaway_directory& operator=(const throwaway_directory&) = delete;
};

const char* usage =
  "usage: kintod [--ini PATH] [--host HOST] [--port PORT]\n"
  "       kintod migrate [--ini PATH] [--dry-run]\n"
  "       kintod backup [--ini PATH] DESTINATION\n"
  "       kintod restore SOURCE [--ini PATH]\n"
  "       kintod --version\n"
  "\n"
  "  (no command)  serve the Kinto HTTP API\n"
  "  migrate       create or upgrade the storage schema, as `kinto migrate`\n"
  "  backup        copy the LMDB data, compacted, while the server runs, into the new\n"
  "                or empty directory DESTINATION, and check the copy\n"
  "  restore       check the copy in SOURCE and put it in place of the data;\n"
  "                refused while a kintod has the data open\n";

/// A command line kintod does not understand: said with the usage.
int usage_failure(const std::string& message) {
  std::cerr << "kintod: " << message << "\n" << usage;
  return usage_error;
}

/// Upstream's names of the PostgreSQL and memory storage backends.
constexpr std::string_view postgresql_backend = "kinto.core.storage.postgresql";
constexpr std::string_view memory_backend = "kinto.core.storage.memory";

/// Whether `backend` names kintod's LMDB engine.
bool is_lmdb_backend(std::string_view backend) { return backend == "lmdb" || backend == "kintod.storage.lmdb"; }

/// Where the storage engines' lines go: start-up and migration (upgrades,
/// progress) are news; a database connection lost is a warning.
void log_line(const std::string& line) { kinto::log::info(line); }
void log_warning(const std::string& line) { kinto::log::warning(line); }

/// The log's shape and level (`log_format`, `log_level`); its `Logger` is
/// the project name, as upstream's JsonLogFormatter names it.
void configure_log(kinto::setting_reader& reader) {
  kinto::log::options o;
  const std::string shape = reader.text("log_format", "text");
  if (auto parsed = kinto::log::parse_format(shape)) o.shape = *parsed;
  else reader.reject("log_format", "text or json");
  const std::string level = reader.text("log_level", "info");
  if (auto parsed = kinto::log::parse_severity(level)) o.level = *parsed;
  else reader.reject("log_level", "critical, error, warning, notice, info or debug");
  o.logger = reader.text("project_name", "kinto");
  kinto::log::configure(std::move(o));
}

/// The LMDB map size the settings ask for (`storage_map_size`).
std::size_t lmdb_map_size(kinto::setting_reader& reader) {
  return static_cast<std::size_t>(
    reader.integer("storage_map_size", std::int64_t(1) << 36, 1 << 16, std::int64_t(1) << 50));
}

/// Prints the settings problems the reader met; true when there were some.
bool report_problems(const kinto::setting_reader& reader) {
  for (const auto& problem : reader.problems()) kinto::log::error(problem);
  return !reader.problems().empty();
}

/// The PostgreSQL engine's settings, upstream's names: the database, and the
/// pool of connections for reads. The permission tables must be in the same
/// database, so that a write and its permissions commit together.
std::optional<kinto::storage::postgresql_options> postgresql_settings(kinto::setting_reader& reader,
                                                                     std::string& error) {
  kinto::storage::postgresql_options options;
  options.url = reader.text("storage_url", "");
  if (options.url.empty()) {
    error = "kinto.storage_url: a PostgreSQL URL is needed (postgresql://user:pass@host:port/db)";
    return std::nullopt;
  }
  const std::string permission_backend = reader.text("permission_backend", "kinto.core.permission.postgresql");
  const std::string permission_url = reader.text("permission_url", options.url);
  if (permission_backend != "kinto.core.permission.postgresql" || permission_url != options.url) {
    error = "kinto.permission_backend: with kinto.core.storage.postgresql, permissions are kept in the same "
            "database (kinto.permission_backend = kinto.core.permission.postgresql, kinto.permission_url = "
            "kinto.storage_url)";
    return std::nullopt;
  }
  options.pool_size = static_cast<std::size_t>(reader.integer("storage_pool_size", 25, 1, 10000));
  options.pool_timeout = std::chrono::milliseconds(
    static_cast<std::int64_t>(reader.optional_number("storage_pool_timeout", 0.001, 86400).value_or(30) * 1000));
  options.pool_recycle = std::chrono::seconds(reader.integer("storage_pool_recycle", -1, -1, INT32_MAX));
  options.log = log_warning;
  return options;
}

/// The secret named `key` among the store's server-wide facts, created
/// there (32 random bytes, hex) when it has none: every head sharing a
/// database derives the same user ids. nullopt with `error` set when the
/// store cannot be read or written.
std::optional<kinto::http::stored_secret> shared_secret(kinto::storage::engine& store, const std::string& key,
                                                        std::string& error) {
  using kinto::storage::status;
  std::unique_ptr<kinto::storage::write_transaction> txn;
  if (store.begin_write(txn) != status::ok) {
    error = "cannot begin a write transaction";
    return std::nullopt;
  }
  if (auto existing = txn->meta(key)) return kinto::http::stored_secret{std::move(*existing), false};
  kinto::http::stored_secret created{kinto::crypto::random_hex(32), true};
  if (txn->failure() != status::ok || txn->set_meta(key, created.value) != status::ok) {
    error = "cannot store it";
    return std::nullopt;
  }
  std::promise<status> committed;
  txn->commit([&committed](status s) { committed.set_value(s); });
  if (committed.get_future().get() != status::ok) {
    error = "cannot commit it";
    return std::nullopt;
  }
  return created;
}

/// One line of the running copy on a terminal: the share done.
void show_progress(std::uint64_t written, std::uint64_t expected) {
  static int shown = -1;
  const int percent = expected ? static_cast<int>(written * 100 / expected) : 0;
  if (percent == shown) return;
  shown = percent;
  char line[96];
  std::snprintf(line, sizeof line, "\rbackup: %3d%% %8.1f of %.1f MiB", percent, written / 1048576.0,
                expected / 1048576.0);
  std::cerr << line << std::flush;
}

void say_summary(std::string_view what, const kinto::storage::lmdb_copy_summary& s, const std::string& where) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.2f", s.seconds);
  std::cout << what << ": " << s.objects << " objects, " << s.entries << " entries in " << s.databases
            << " databases, " << s.bytes << " bytes, " << seconds << " s: " << where << "\n";
}

/// `kintod backup` and `kintod restore`, on the LMDB data directory of the
/// settings.
int copy_command(std::string_view command, kinto::setting_reader& reader, std::string_view backend,
                 const std::string& path) {
  if (backend == postgresql_backend)
    return fail(std::string(command) + " copies kintod's LMDB data; on PostgreSQL use pg_dump and pg_restore " +
                "(README.md, Operations)");
  if (!is_lmdb_backend(backend)) return fail("storage backend '" + std::string(backend) + "' keeps no data to copy");
  const std::string data_dir = reader.text("storage_url", "./kinto-data");
  if (report_problems(reader)) return usage_error;
  std::string error;
  if (command == "backup") {
    const bool terminal = ::isatty(STDERR_FILENO) == 1;
    auto summary = kinto::storage::back_up_lmdb(data_dir, path, terminal ? show_progress : kinto::storage::copy_progress(),
                                               error);
    if (terminal) std::cerr << "\n";
    if (!summary) return std::cerr << "kintod backup: " << error << "\n", 1;
    say_summary("backup", *summary, path);
    return 0;
  }
  auto summary = kinto::storage::restore_lmdb(path, data_dir, error);
  if (!summary) return std::cerr << "kintod restore: " << error << " (nothing was changed)\n", 1;
  say_summary("restore", *summary, data_dir);
  return 0;
}

/// `kintod migrate`: creates or upgrades the schema of the configured
/// storage, as `kinto migrate` does, and exits (0 when it is up to date).
int migrate(kinto::setting_reader& reader, std::string_view backend, bool dry_run) {
  std::string error;
  if (backend == postgresql_backend) {
    kinto::storage::postgresql_migration m;
    m.storage_url = reader.text("storage_url", "");
    m.permission_url = reader.text("permission_url", m.storage_url);
    (void)reader.value("permission_backend");
    if (m.storage_url.empty()) return fail("kinto.storage_url: a PostgreSQL URL is needed (postgresql://user:pass@host:port/db)");
    m.dry_run = dry_run;
    m.log = log_line;
    if (kinto::storage::migrate_postgresql(m, error)) return 0;
    log_line(error);
    return 1;
  }
  if (backend == memory_backend) {
    log_line(std::string(memory_backend) + " keeps nothing: no schema to migrate");
    return 0;
  }
  if (!is_lmdb_backend(backend)) return fail("storage backend '" + std::string(backend) + "' is not supported");
  kinto::storage::lmdb_options options;
  options.directory = reader.text("storage_url", "./kinto-data");
  options.map_size = lmdb_map_size(reader);
  if (dry_run) {
    log_line("LMDB data directory " + options.directory + ": opening it upgrades it in place (nothing done: --dry-run)");
    return 0;
  }
  options.log = log_line;
  if (!kinto::storage::open_lmdb(options, error)) {
    log_line(error);
    return 1;
  }
  log_line("LMDB data directory " + std::filesystem::absolute(options.directory).string() + ": up to date");
  return 0;
}

/// What start-up tells about the configuration: warnings, then the settings
/// that nothing read, on one line.
void report_configuration(const kinto::setting_reader& reader) {
  for (const auto& warning : reader.warnings()) kinto::log::warning(warning);
  const std::vector<std::string> unused = reader.unread();
  if (unused.empty()) return;
  std::string names;
  for (const auto& name : unused) names += (names.empty() ? "" : ", ") + name;
  kinto::log::warning("settings not used by kintod (ignored): " + names);
}

/// Every thread started from now on (I/O, actors, committer, blocking pool)
/// gets json::thread_stack_bytes of stack, whatever RLIMIT_STACK says
/// (glibc's default for new threads, or 2 MiB when it is unlimited): what
/// deeply nested JSON needs (base/json.hpp). Address space only; pages
/// are used as the stack grows.
void set_thread_stack_size() {
  pthread_attr_t attr;
  if (::pthread_getattr_default_np(&attr) != 0) return;
  std::size_t current = 0;
  if (::pthread_attr_getstacksize(&attr, &current) == 0 && current < kinto::json::thread_stack_bytes &&
      (::pthread_attr_setstacksize(&attr, kinto::json::thread_stack_bytes) != 0 ||
       ::pthread_setattr_default_np(&attr) != 0))
    kinto::log::warning("cannot give threads " + std::to_string(kinto::json::thread_stack_bytes >> 20) +
                        " MiB of stack; deeply nested JSON may exhaust it");
  ::pthread_attr_destroy(&attr);
}

/// Each connection holds a file descriptor: raises the soft limit on open
/// files to the hard limit, and warns when even that is too low for
/// max_connections (connections beyond it wait in the listen backlog).
void raise_open_files_limit(std::size_t max_connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  // Besides connections: LMDB, the listening socket, the event loop, output.
  constexpr rlim_t reserved = 64;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < max_connections + reserved)
    kinto::log::warning("the open files limit (" + std::to_string(limit.rlim_cur) + ", hard limit " +
                        std::to_string(limit.rlim_max) + ") is too low for max_connections = " +
                        std::to_string(max_connections));
}

} // namespace

int main(int argc, char** argv) {
  std::optional<std::string> ini_path, host, port;
  const std::string_view command = argc > 1 && (std::string_view(argv[1]) == "migrate" ||
                                                 std::string_view(argv[1]) == "backup" ||
                                                 std::string_view(argv[1]) == "restore")
                                      ? std::string_view(argv[1])
                                      : std::string_view();
  const bool migrating = command == "migrate";
  const bool copying = command == "backup" || command == "restore";
  std::optional<std::string> copy_path; // DESTINATION or SOURCE
  bool dry_run = false;
  for (int i = command.empty() ? 1 : 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&](std::optional<std::string>& out) -> bool {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      return 0;
    }
    if (arg == "--version") {
      std::cout << kinto::http::build_version_json() << "\n";
      return 0;
    }
    bool ok = false;
    if (migrating && arg == "--dry-run") dry_run = ok = true;
    else if (arg == "--ini") ok = value(ini_path);
    else if (arg == "--host") ok = value(host);
    else if (arg == "--port") ok = value(port);
    else if (arg.rfind("--ini=", 0) == 0) ini_path = std::string(arg.substr(6)), ok = true;
    else if (arg.rfind("--host=", 0) == 0) host = std::string(arg.substr(7)), ok = true;
    else if (arg.rfind("--port=", 0) == 0) port = std::string(arg.substr(7)), ok = true;
    else if (copying && !copy_path && !arg.empty() && arg.front() != '-') copy_path = std::string(arg), ok = true;
    if (!ok) return usage_failure("unknown or incomplete argument '" + std::string(arg) + "'");
  }

  kinto::settings settings;
  kinto::http::config cfg;
  if (ini_path) {
    std::ifstream in(*ini_path);
    if (!in) return fail("cannot read " + *ini_path);
    std::stringstream text;
    text << in.rdbuf();
    std::string error;
    const auto dir = std::filesystem::absolute(*ini_path).parent_path().string();
    auto parsed = kinto::settings::from_ini(text.str(), dir, error);
    if (!parsed) return fail(*ini_path + ": " + error);
    settings = std::move(*parsed);
    cfg.ini_path = *ini_path;
    cfg.ini_hash = kinto::crypto::sha256_hex(text.str());
    struct stat st {};
    if (::stat(ini_path->c_str(), &st) == 0) {
      std::tm tm{};
      gmtime_r(&st.st_mtime, &tm);
      char buf[32];
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
      cfg.ini_modified = buf;
    }
  }
  if (!ini_path) {
    // No configuration file: what `kinto init` would write for a local
    // server, basicauth and accounts with open sign-up.
    settings.set("includes", "kinto.plugins.accounts");
    settings.set("multiauth.policies", "account basicauth");
    settings.set("account_create_principals", "system.Everyone");
    settings.set("account_write_principals", "account:admin");
  }
  if (host) settings.set_override("server.host", *host);
  if (port) settings.set_override("server.port", *port);

  kinto::setting_reader reader(settings);
  configure_log(reader);
  // Whatever way main ends, what the log holds is written first.
  struct log_written_at_exit {
    ~log_written_at_exit() { kinto::log::stop(); }
  } log_written;
  const std::string backend = reader.text("storage_backend", "lmdb");
  // Upstream's memory backend keeps nothing across restarts: kintod gives it
  // an LMDB store in a directory of its own that is removed at exit.
  const bool ephemeral = backend == memory_backend;
  if (migrating) {
    const int status = migrate(reader, backend, dry_run);
    return report_problems(reader) ? usage_error : status;
  }
  if (copying) {
    if (!copy_path) return usage_failure(std::string(command) + ": which directory?");
    return copy_command(command, reader, backend, *copy_path);
  }
  const bool on_postgresql = backend == postgresql_backend;
  if (!is_lmdb_backend(backend) && !ephemeral && !on_postgresql)
    return fail("storage backend '" + backend +
                "' is not supported; kintod stores its data in LMDB (kinto.storage_backend = lmdb, or "
                "kinto.core.storage.memory for data that does not outlive the process) or PostgreSQL "
                "(kinto.core.storage.postgresql)");
  (void)kinto::http::load_config(reader, cfg);

  constexpr std::int64_t any = INT64_MAX;
  kinto::http::server_options server_options;
  server_options.host = reader.text("server.host", "127.0.0.1");
  server_options.port = static_cast<unsigned short>(reader.integer("server.port", 8888, 0, 65535));
  // 0: one per core.
  server_options.io_threads = static_cast<std::size_t>(reader.integer("io_threads", 0, 0, 1024));
  // Limits (http/README.md): positive integers.
  server_options.body_limit = static_cast<std::size_t>(reader.integer("max_body_bytes", 8 * 1024 * 1024, 1, any));
  server_options.header_limit = static_cast<std::size_t>(reader.integer("max_header_bytes", 16 * 1024, 1, UINT32_MAX));
  server_options.url_limit = static_cast<std::size_t>(reader.integer("max_url_bytes", 8 * 1024, 1, any));
  server_options.read_timeout = std::chrono::seconds(reader.integer("read_timeout_seconds", 30, 1, any));
  server_options.idle_timeout = std::chrono::seconds(reader.integer("idle_timeout_seconds", 120, 1, any));
  server_options.max_connections = static_cast<std::size_t>(reader.integer("max_connections", 10000, 1, any));
  server_options.max_requests_in_flight =
    static_cast<std::size_t>(reader.integer("max_requests_in_flight", 4096, 1, any));
  server_options.stopping = [] {
    kinto::log::notice("stopping: no new connections; finishing the requests in flight");
    kinto::service_manager::notify_stopping();
  };

  kinto::storage::lmdb_options store_options;
  std::optional<kinto::storage::postgresql_options> database;
  std::optional<throwaway_directory> memory;
  if (on_postgresql) {
    std::string error;
    database = postgresql_settings(reader, error);
    if (!database) return fail(error);
  } else if (ephemeral) {
    memory.emplace();
    if (memory->path.empty()) return fail("kinto.core.storage.memory: cannot create a directory under $TMPDIR");
    store_options.directory = memory->path;
  } else {
    store_options.directory = reader.text("storage_url", "./kinto-data");
  }
  if (!on_postgresql) store_options.map_size = lmdb_map_size(reader);
  // On PostgreSQL the read that opens a request's snapshot is awaited
  // without holding its I/O thread, but what a listing reads after it waits
  // on the thread: by default there are two threads per core.
  if (on_postgresql && server_options.io_threads == 0)
    server_options.io_threads = 2 * std::max(1u, std::thread::hardware_concurrency());
  kinto::actors::write_service_options write_options;
  write_options.worker_threads = static_cast<std::size_t>(reader.integer("actor_threads", 0, 0, 1024));
  write_options.history = cfg.history;
  if (report_problems(reader)) return usage_error;
  const bool secret_configured = reader.value("userid_hmac_secret").has_value();
  report_configuration(reader);

  // From here on, lines are written by the log's own thread.
  kinto::log::start();
  raise_open_files_limit(server_options.max_connections);
  set_thread_stack_size();

  std::string error;
  store_options.log = log_line;
  auto store = on_postgresql ? kinto::storage::open_postgresql(*database, error)
                             : kinto::storage::open_lmdb(store_options, error);
  if (!store) return fail(error);
  // Without a configured userid_hmac_secret, the store keeps one of its own
  // (in the LMDB data directory, or among the database's facts, shared by
  // every head), so that user ids (and what their permissions name) survive
  // restarts. A value set explicitly, even empty, is used as given.
  if (!secret_configured && on_postgresql) {
    auto secret = shared_secret(*store, "userid_hmac_secret", error);
    if (!secret) {
      kinto::log::error("userid_hmac_secret: " + error);
      return 1;
    }
    kinto::log::info(std::string("userid_hmac_secret ") + (secret->generated ? "generated and stored" : "read") +
                     " in the database");
    kinto::http::use_userid_secret(cfg, std::move(secret->value));
  } else if (!secret_configured) {
    const std::string path = (std::filesystem::path(store_options.directory) / "userid_hmac_secret").string();
    auto secret = kinto::http::load_or_create_secret(path, error);
    if (!secret) {
      kinto::log::error("userid_hmac_secret: " + error);
      return 1;
    }
    kinto::log::info(std::string("userid_hmac_secret ") + (secret->generated ? "generated and stored at " : "read from ") +
                     std::filesystem::absolute(path).string());
    kinto::http::use_userid_secret(cfg, std::move(secret->value));
  }

  int status = 0;
  {
    kinto::actors::write_service writes(*store, write_options);
    kinto::http::app application(std::move(cfg), *store, writes);
    kinto::http::server server(
      server_options, kinto::http::make_handler(application), kinto::http::make_overload_handler(application),
      [&application](int code) { return kinto::http::server_error_response(application, code); });
    // The write path's figures go to the metrics until these are destroyed,
    // before the application.
    struct commit_figures_unobserved {
      kinto::actors::write_service& writes;
      ~commit_figures_unobserved() { writes.observe_commits({}); }
    } unobserved{writes};
    if (auto* stats = application.stats.get()) {
      const std::vector<double> seconds{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5};
      auto& commit = stats->add_histogram("commit_duration_seconds",
                                          "Group commits: from the group's first write applied to its commit durable.",
                                          seconds);
      auto& sync = stats->add_histogram("storage_commit_seconds",
                                        "The storage engine's durable commit of a group alone (its fsync).", seconds);
      auto& grouped = stats->add_histogram("writes_per_commit", "Writes (and batches) made durable by one commit.",
                                           {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024});
      writes.observe_commits([&commit, &sync, &grouped](const kinto::actors::commit_figures& f) {
        commit.observe(f.seconds);
        sync.observe(f.storage_seconds);
        grouped.observe(static_cast<double>(f.writes));
      });
      stats->gauge("write_queue_depth", "Writes submitted and not yet durable or refused.",
                   [&writes] { return static_cast<double>(writes.writes_pending()); });
      stats->gauge("live_list_actors", "List actors alive (one per list written lately).",
                   [&writes] { return static_cast<double>(writes.live_lists()); });
      stats->gauge("open_connections", "Connections open.",
                   [&server] { return static_cast<double>(server.open_connections()); });
      stats->gauge("requests_in_flight", "Requests admitted whose response is not yet written.",
                   [&server] { return static_cast<double>(server.requests_in_flight()); });
      if (!on_postgresql) {
        const double map_bytes = static_cast<double>(store_options.map_size);
        stats->gauge("storage_map_bytes", "Size of the LMDB map (storage_map_size).", [map_bytes] { return map_bytes; });
        stats->gauge("storage_used_bytes", "Bytes of the LMDB map in use (its pages used so far).", [&store] {
          auto figures = kinto::storage::figures_of(*store);
          return figures ? static_cast<double>(figures->used_bytes) : 0.0;
        });
        stats->gauge("storage_map_usage_ratio", "Share of the LMDB map in use.", [&store, map_bytes] {
          auto figures = kinto::storage::figures_of(*store);
          return figures && map_bytes > 0 ? static_cast<double>(figures->used_bytes) / map_bytes : 0.0;
        });
      }
    }
    if (!server.listen(error)) {
      kinto::log::error(error);
      status = 1;
    } else {
      std::string plugins;
      for (const auto& p : application.cfg.plugins) plugins += (plugins.empty() ? "" : ", ") + p.substr(p.rfind('.') + 1);
      const std::string listening =
        "listening on http://" + server_options.host + ":" + std::to_string(server.port()) + " (data: " +
        (on_postgresql ? std::string("PostgreSQL") : std::filesystem::absolute(store_options.directory).string()) +
        "; plugins: " + (plugins.empty() ? "none" : plugins) + ")";
      kinto::log::notice(listening);
      kinto::service_manager::notify_ready(listening);
      // A database's answers are awaited on the server's threads, which
      // serve other requests meanwhile.
      store->wait_through(server.readiness());
      server.run();
      store->wait_through({});
      kinto::log::notice("stopped accepting; requests in flight are done");
    }
    // Leaving this scope destroys, in order: the server, the application
    // (joining its threads, which talk to the actors) and the write service
    // (stopping the actors once every queued write is committed).
  }
  return status;
}
