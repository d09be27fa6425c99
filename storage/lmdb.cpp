// RAII wrappers over LMDB: every handle is released exactly once.
#include "storage/lmdb.hpp"

#include "base/log.hpp"

#include <cstdlib>

namespace kinto::storage::lmdb {

env& env::operator=(env&& o) noexcept {
  if (this != &o) {
    if (env_) mdb_env_close(env_);
    env_ = o.env_;
    o.env_ = nullptr;
  }
  return *this;
}

env::~env() {
  if (env_) mdb_env_close(env_);
}

int env::open(const std::string& dir, std::size_t map_size, unsigned max_dbs, unsigned max_readers) {
  if (int rc = mdb_env_create(&env_); rc != MDB_SUCCESS) return rc;
  int rc = mdb_env_set_mapsize(env_, map_size);
  if (rc == MDB_SUCCESS) rc = mdb_env_set_maxdbs(env_, max_dbs);
  if (rc == MDB_SUCCESS) rc = mdb_env_set_maxreaders(env_, max_readers);
  if (rc == MDB_SUCCESS) rc = mdb_env_open(env_, dir.c_str(), MDB_NOTLS, 0600);
  if (rc != MDB_SUCCESS) {
    mdb_env_close(env_);
    env_ = nullptr;
  }
  return rc;
}

txn& txn::operator=(txn&& o) noexcept {
  if (this != &o) {
    abort();
    txn_ = o.txn_;
    o.txn_ = nullptr;
  }
  return *this;
}

int txn::begin(MDB_env* env, bool read_only, MDB_txn* parent) {
  abort();
  return mdb_txn_begin(env, parent, read_only ? MDB_RDONLY : 0u, &txn_);
}

int txn::commit() {
  if (!txn_) return EINVAL;
  int rc = mdb_txn_commit(txn_);
  txn_ = nullptr;
  return rc;
}

void txn::abort() noexcept {
  if (txn_) {
    mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
}

cursor::~cursor() {
  if (cur_) mdb_cursor_close(cur_);
}

int cursor::open(MDB_txn* txn, MDB_dbi dbi) { return mdb_cursor_open(txn, dbi, &cur_); }

int cursor::move(MDB_cursor_op op) { return mdb_cursor_get(cur_, &key_, &val_, op); }

int cursor::seek(std::string_view key) {
  key_ = to_val(key);
  return move(MDB_SET_RANGE);
}

int cursor::seek_before(std::string_view key) {
  const int rc = seek(key);
  if (rc == MDB_SUCCESS) return prev();
  if (rc == MDB_NOTFOUND) return last();
  return rc;
}

int cursor::first() { return move(MDB_FIRST); }
int cursor::last() { return move(MDB_LAST); }
int cursor::next() { return move(MDB_NEXT); }
int cursor::prev() { return move(MDB_PREV); }

int cursor::erase() { return mdb_cursor_del(cur_, 0); }

int get(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view& value) {
  MDB_val k = to_val(key);
  MDB_val v;
  const int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_BAD_VALSIZE) return MDB_NOTFOUND;
  if (rc == MDB_SUCCESS) value = to_view(v);
  return rc;
}

int put(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = to_val(key);
  MDB_val v = to_val(value);
  return mdb_put(txn, dbi, &k, &v, 0);
}

int del(MDB_txn* txn, MDB_dbi dbi, std::string_view key) {
  MDB_val k = to_val(key);
  int rc = mdb_del(txn, dbi, &k, nullptr);
  return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

bool is_fatal(int rc) {
  switch (rc) {
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_PANIC: return true;
    default: return false;
  }
}

void die(std::string_view where, int rc) {
  log::critical("fatal LMDB error in " + std::string(where) + ": " + mdb_strerror(rc));
  std::abort();
}

} // namespace kinto::storage::lmdb
