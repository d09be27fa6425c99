// Thin move-only RAII over the LMDB C API: environment, transactions and
// cursors. Knows nothing of Kinto. Return codes are LMDB's (MDB_SUCCESS = 0);
// "not found" is MDB_NOTFOUND, apart from every error.
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace kinto::storage::lmdb {

inline MDB_val to_val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view to_view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

/// An open environment. Owns the MDB_env; closes it on destruction.
class env {
public:
  env() = default;
  env(env&& o) noexcept : env_(o.env_) { o.env_ = nullptr; }
  env& operator=(env&& o) noexcept;
  env(const env&) = delete;
  env& operator=(const env&) = delete;
  ~env();

  /// Opens `dir` (which must exist) with MDB_NOTLS; `map_size` bytes of
  /// sparse address space, `max_dbs` named databases.
  [[nodiscard]] int open(const std::string& dir, std::size_t map_size, unsigned max_dbs, unsigned max_readers);
  MDB_env* get() const { return env_; }

private:
  MDB_env* env_ = nullptr;
};

/// A transaction; aborted on destruction unless committed. A read
/// transaction may move between threads (the env uses MDB_NOTLS).
class txn {
public:
  txn() = default;
  txn(txn&& o) noexcept : txn_(o.txn_) { o.txn_ = nullptr; }
  txn& operator=(txn&& o) noexcept;
  txn(const txn&) = delete;
  txn& operator=(const txn&) = delete;
  ~txn() { abort(); }

  /// Begins a transaction; `parent` makes it a nested write transaction.
  [[nodiscard]] int begin(MDB_env* env, bool read_only, MDB_txn* parent = nullptr);
  /// Commits (durable with the env's default sync). The txn is ended either way.
  [[nodiscard]] int commit();
  void abort() noexcept;
  bool active() const { return txn_ != nullptr; }
  MDB_txn* get() const { return txn_; }

private:
  MDB_txn* txn_ = nullptr;
};

/// A cursor on one database of a transaction; closed on destruction, which
/// must happen before its transaction ends.
class cursor {
public:
  cursor() = default;
  cursor(cursor&& o) noexcept : cur_(o.cur_) { o.cur_ = nullptr; }
  cursor& operator=(cursor&&) = delete;
  cursor(const cursor&) = delete;
  ~cursor();

  [[nodiscard]] int open(MDB_txn* txn, MDB_dbi dbi);
  // Moves answer MDB_SUCCESS when positioned on an entry, MDB_NOTFOUND when
  // there is none (the end of the data), or another LMDB error.
  /// Positions on the first key >= `key`.
  [[nodiscard]] int seek(std::string_view key);
  /// Positions on the last key < `key`.
  [[nodiscard]] int seek_before(std::string_view key);
  [[nodiscard]] int first();
  [[nodiscard]] int last();
  [[nodiscard]] int next();
  [[nodiscard]] int prev();
  /// Deletes the current entry; seek again before reading.
  [[nodiscard]] int erase();
  /// Key and value of the current entry, once a move answered MDB_SUCCESS;
  /// valid until the txn ends or writes.
  std::string_view key() const { return to_view(key_); }
  std::string_view value() const { return to_view(val_); }

private:
  int move(MDB_cursor_op op);
  MDB_cursor* cur_ = nullptr;
  MDB_val key_{0, nullptr};
  MDB_val val_{0, nullptr};
};

/// Reads the value stored under `key` into `value`: MDB_SUCCESS, MDB_NOTFOUND
/// (also for a key LMDB could not store, MDB_BAD_VALSIZE: empty or longer
/// than it allows), or another LMDB error. The value lives until the
/// transaction ends or writes to this database.
[[nodiscard]] int get(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view& value);
[[nodiscard]] int put(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view value);
/// Deletes `key`; MDB_NOTFOUND counts as success.
[[nodiscard]] int del(MDB_txn* txn, MDB_dbi dbi, std::string_view key);

/// Whether `rc` says the data is damaged, or not what this LMDB can read
/// (MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_INVALID, MDB_VERSION_MISMATCH), or
/// that the environment met a fatal error (MDB_PANIC): nothing read from it
/// can be trusted any more.
bool is_fatal(int rc);
/// Writes one line to stderr naming `where` ("database objects") and the
/// LMDB error, then aborts the process.
[[noreturn]] void die(std::string_view where, int rc);

} // namespace kinto::storage::lmdb
