// A batch's transaction (batch-and-plugins.md §1.4). While a session runs,
// it is the only writer: its requests read what they wrote, their writes
// follow the same steps as alone, and all of it is committed durably
// together, or nothing is. CAF-free: http/ drives it.
#pragma once

#include "actors/commands.hpp"
#include "actors/history.hpp"
#include "storage/store.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kinto::actors {

class write_session {
public:
  /// A session whose writes go into a transaction nested in `parent`.
  write_session(storage::store& store, MDB_txn* parent, const history_options& history);
  ~write_session();
  write_session(const write_session&) = delete;
  write_session& operator=(const write_session&) = delete;

  /// A view of the store as this session left it (its own writes included).
  /// Valid until the next roll_back() or abort().
  storage::view read() const;

  /// Plans and applies one write, as a list actor would; the outcome holds
  /// once the session is committed.
  write_outcome write(const list_key& list, const write_command& cmd);

  /// Runs server-wide work (flush, user data) inside the session.
  storage::status run(const std::function<storage::status(storage::batch&)>& apply);

  /// Drops every write made so far; later writes start afresh (a 409).
  void roll_back();
  /// Drops everything and ends the session: nothing of it will be kept (a 5xx).
  void abort();
  bool aborted() const { return aborted_; }

  /// Puts what the session wrote into the parent transaction. `ok` unless
  /// storage failed, in which case nothing of the session is kept.
  storage::status finish();

private:
  storage::status begin();

  storage::store& store_;
  MDB_txn* parent_;
  history_options history_;
  storage::lmdb::txn txn_;
  bool spoiled_ = false; ///< a storage failure left the transaction unusable
  bool aborted_ = false;
};

} // namespace kinto::actors
