// A batch's transaction (batch-and-plugins.md §1.4). While a session runs,
// it is the only writer: its requests read what they wrote, their writes
// follow the same steps as alone, and all of it is committed durably
// together, or nothing is. CAF-free: http/ drives it.
#pragma once

#include "actors/commands.hpp"
#include "actors/creation_log.hpp"
#include "actors/history.hpp"
#include "storage/engine.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kinto::actors {

class write_session {
public:
  /// A session whose writes go into a savepoint of `group`, the committer's
  /// write transaction, which outlives the session and is not used while
  /// it runs. Its creations are noted in `creations` (when given).
  write_session(storage::engine& engine, storage::write_transaction& group, const history_options& history,
                creation_log* creations = nullptr);
  ~write_session();
  write_session(const write_session&) = delete;
  write_session& operator=(const write_session&) = delete;

  /// A view of the data as this session left it (its own writes included).
  /// Valid until the next roll_back(), abort() or finish().
  const storage::view& read() const;

  /// Stamps and applies one write planned on the session's own state (read()),
  /// as a list actor would; the outcome holds once the session is committed.
  write_outcome write(const list_key& list, planned_write w);

  /// What fits in the engine's keys (for planning writes).
  const storage::key_limits& keys() const { return engine_.keys(); }

  /// Runs server-wide work (flush, user data) inside the session.
  storage::status run(const std::function<storage::status(storage::writer&)>& apply);

  /// Drops every write made so far; later writes start afresh (a 409).
  void roll_back();
  /// Drops everything and ends the session: nothing of it will be kept (a 5xx).
  void abort();
  bool aborted() const { return aborted_; }

  /// Puts what the session wrote into the group's transaction. `ok` unless
  /// storage failed, in which case nothing of the session is kept.
  storage::status finish();

private:
  void begin();

  storage::engine& engine_;
  storage::write_transaction& group_;
  history_options history_;
  creation_log* creations_;
  std::unique_ptr<storage::savepoint> writes_; ///< null once dropped, or when none could begin
  bool spoiled_ = false; ///< a storage failure left the savepoint unusable
  bool aborted_ = false;
};

} // namespace kinto::actors
