#include "storage/lmdb_backup.hpp"

#include <lmdb.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

namespace kinto::storage {

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

constexpr const char* lock_name = "kintod.lock";

std::string errno_text() { return std::strerror(errno); }

/// An environment opened read-only, closed on destruction.
struct read_only_env {
  MDB_env* env = nullptr;
  ~read_only_env() {
    if (env) mdb_env_close(env);
  }
  int open(const std::string& dir) {
    int rc = mdb_env_create(&env);
    if (rc == MDB_SUCCESS) rc = mdb_env_set_maxdbs(env, 64);
    if (rc == MDB_SUCCESS) rc = mdb_env_open(env, dir.c_str(), MDB_RDONLY | MDB_NOTLS, 0600);
    return rc;
  }
};

/// Writes all of `data` to `fd`.
bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

/// fsyncs the directory `dir`, so that the names made in it last.
bool sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

/// A directory that is new or empty, created if missing.
bool fresh_directory(const fs::path& dir, std::string& error) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec) || !fs::is_empty(dir, ec)) {
      error = dir.string() + " exists and is not an empty directory: nothing was written";
      return false;
    }
    return true;
  }
  fs::create_directories(dir, ec);
  if (ec) error = "cannot create " + dir.string() + ": " + ec.message();
  return !ec;
}

/// Reads every entry of every database of `env`.
std::optional<lmdb_copy_summary> walk_every_database(MDB_env* env, std::string& error) {
  lmdb_copy_summary summary;
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn); rc != MDB_SUCCESS) {
    error = std::string("cannot begin a read transaction: ") + mdb_strerror(rc);
    return std::nullopt;
  }
  auto fail = [&](const std::string& what, int rc) {
    error = what + ": " + mdb_strerror(rc);
    mdb_txn_abort(txn);
    return std::nullopt;
  };
  MDB_dbi main_db = 0;
  if (int rc = mdb_dbi_open(txn, nullptr, 0, &main_db); rc != MDB_SUCCESS) return fail("cannot open the main database", rc);
  std::vector<std::string> names;
  {
    MDB_cursor* c = nullptr;
    if (int rc = mdb_cursor_open(txn, main_db, &c); rc != MDB_SUCCESS) return fail("cannot list the databases", rc);
    MDB_val key, value;
    int rc = mdb_cursor_get(c, &key, &value, MDB_FIRST);
    for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(c, &key, &value, MDB_NEXT))
      names.emplace_back(static_cast<const char*>(key.mv_data), key.mv_size);
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND) return fail("cannot list the databases", rc);
  }
  for (const std::string& name : names) {
    MDB_dbi db = 0;
    if (int rc = mdb_dbi_open(txn, name.c_str(), 0, &db); rc != MDB_SUCCESS) return fail("cannot open database " + name, rc);
    MDB_cursor* c = nullptr;
    if (int rc = mdb_cursor_open(txn, db, &c); rc != MDB_SUCCESS) return fail("cannot read database " + name, rc);
    std::uint64_t n = 0;
    MDB_val key, value;
    int rc = mdb_cursor_get(c, &key, &value, MDB_FIRST);
    for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(c, &key, &value, MDB_NEXT)) ++n;
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND) return fail("cannot read database " + name, rc);
    ++summary.databases;
    summary.entries += n;
    if (name == "objects") summary.objects = n;
  }
  mdb_txn_abort(txn);
  if (summary.databases == 0) {
    error = "no database in it: not a kintod data directory";
    return std::nullopt;
  }
  return summary;
}

} // namespace

data_dir_lock::data_dir_lock(const std::string& dir, std::string& error) {
  const std::string path = (fs::path(dir) / lock_name).string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    error = "cannot open " + path + ": " + errno_text();
    return;
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    error = errno == EWOULDBLOCK ? "a kintod has " + dir + " open (" + path + " is locked)"
                                 : "cannot lock " + path + ": " + errno_text();
    ::close(fd_);
    fd_ = -1;
  }
}

data_dir_lock::~data_dir_lock() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<lmdb_copy_summary> check_lmdb_copy(const std::string& dir, std::string& error) {
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(dir) / "data.mdb", ec)) {
    error = "no data.mdb in " + dir;
    return std::nullopt;
  }
  read_only_env e;
  if (int rc = e.open(dir); rc != MDB_SUCCESS) {
    error = "cannot open " + dir + ": " + mdb_strerror(rc);
    return std::nullopt;
  }
  auto summary = walk_every_database(e.env, error);
  if (!summary) {
    error = dir + ": " + error;
    return std::nullopt;
  }
  summary->bytes = fs::file_size(fs::path(dir) / "data.mdb", ec);
  return summary;
}

std::optional<lmdb_copy_summary> back_up_lmdb(const std::string& data_dir, const std::string& destination,
                                              const copy_progress& progress, std::string& error) {
  const auto started = clock_type::now();
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(data_dir) / "data.mdb", ec)) {
    error = "no data in " + data_dir + " (no data.mdb)";
    return std::nullopt;
  }
  if (!fresh_directory(destination, error)) return std::nullopt;
  read_only_env source;
  if (int rc = source.open(data_dir); rc != MDB_SUCCESS) {
    error = "cannot open " + data_dir + ": " + mdb_strerror(rc);
    return std::nullopt;
  }
  MDB_envinfo info{};
  MDB_stat stat{};
  std::uint64_t expected = 0;
  if (mdb_env_info(source.env, &info) == MDB_SUCCESS && mdb_env_stat(source.env, &stat) == MDB_SUCCESS)
    expected = (static_cast<std::uint64_t>(info.me_last_pgno) + 1) * stat.ms_psize;

  const fs::path target = fs::path(destination) / "data.mdb";
  const int out = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) {
    error = "cannot create " + target.string() + ": " + errno_text();
    return std::nullopt;
  }
  // LMDB writes the compacted copy into a pipe, read here to count it.
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    error = "cannot make a pipe: " + errno_text();
    ::close(out);
    return std::nullopt;
  }
  int copy_rc = MDB_SUCCESS;
  std::thread copier([&] {
    copy_rc = mdb_env_copyfd2(source.env, pipe_fds[1], MDB_CP_COMPACT);
    ::close(pipe_fds[1]);
  });
  std::vector<char> buffer(1 << 20);
  std::uint64_t written = 0;
  bool write_failed = false;
  for (;;) {
    const ssize_t n = ::read(pipe_fds[0], buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!write_failed && !write_all(out, buffer.data(), static_cast<std::size_t>(n))) {
      write_failed = true;
      error = "cannot write " + target.string() + ": " + errno_text();
    }
    written += static_cast<std::uint64_t>(n);
    if (progress) progress(written, std::max(expected, written));
  }
  copier.join();
  ::close(pipe_fds[0]);
  const bool synced = !write_failed && ::fsync(out) == 0;
  if (!write_failed && !synced) error = "cannot fsync " + target.string() + ": " + errno_text();
  ::close(out);
  if (copy_rc != MDB_SUCCESS) error = std::string("the copy failed: ") + mdb_strerror(copy_rc);
  if (copy_rc != MDB_SUCCESS || !synced || !sync_directory(destination)) {
    if (error.empty()) error = "cannot fsync " + destination;
    fs::remove(target, ec);
    return std::nullopt;
  }
  auto summary = check_lmdb_copy(destination, error);
  if (!summary) return std::nullopt;
  // The check opened the copy, which made its lock file: not part of it.
  fs::remove(fs::path(destination) / "lock.mdb", ec);
  summary->seconds = std::chrono::duration<double>(clock_type::now() - started).count();
  return summary;
}

std::optional<lmdb_copy_summary> restore_lmdb(const std::string& source, const std::string& data_dir,
                                              std::string& error) {
  const auto started = clock_type::now();
  auto summary = check_lmdb_copy(source, error);
  if (!summary) return std::nullopt;
  std::error_code ec;
  fs::remove(fs::path(source) / "lock.mdb", ec);
  fs::create_directories(data_dir, ec);
  if (ec) {
    error = "cannot create " + data_dir + ": " + ec.message();
    return std::nullopt;
  }
  // Held until the data is in place: no kintod starts on it meanwhile.
  data_dir_lock lock(data_dir, error);
  if (!lock.held()) return std::nullopt;
  const fs::path from = fs::path(source) / "data.mdb";
  const fs::path into = fs::path(data_dir) / "data.mdb";
  const fs::path partial = fs::path(data_dir) / "data.mdb.restoring";
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  const int out = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = in >= 0 && out >= 0;
  if (!ok) error = "cannot open " + (in < 0 ? from : partial).string() + ": " + errno_text();
  std::vector<char> buffer(1 << 20);
  while (ok) {
    const ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) break;
    if (n < 0 || !write_all(out, buffer.data(), static_cast<std::size_t>(n))) {
      error = "cannot copy " + from.string() + " to " + partial.string() + ": " + errno_text();
      ok = false;
    }
  }
  if (ok && ::fsync(out) != 0) {
    error = "cannot fsync " + partial.string() + ": " + errno_text();
    ok = false;
  }
  if (in >= 0) ::close(in);
  if (out >= 0) ::close(out);
  if (ok) {
    // The old environment's lock file describes the old data.
    fs::remove(fs::path(data_dir) / "lock.mdb", ec);
    fs::rename(partial, into, ec);
    if (ec) error = "cannot put " + partial.string() + " in place: " + ec.message();
    ok = !ec && sync_directory(data_dir);
    if (ok == false && error.empty()) error = "cannot fsync " + data_dir;
  }
  if (!ok) {
    fs::remove(partial, ec);
    return std::nullopt;
  }
  summary->seconds = std::chrono::duration<double>(clock_type::now() - started).count();
  return summary;
}

} // namespace kinto::storage
