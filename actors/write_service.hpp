// The write path as seen from outside the actors: submit a command for one
// object of a list and get the outcome through a callback once it is durable.
// Hides CAF entirely (http/ includes this header, never the actor runtime).
#pragma once

#include "actors/commands.hpp"
#include "actors/creation_log.hpp"
#include "actors/history.hpp"
#include "actors/write_session.hpp"
#include "storage/engine.hpp"

#include <chrono>
#include <functional>
#include <memory>

namespace kinto::actors {

struct write_service_options {
  std::size_t worker_threads = 0;                       ///< 0 = one per core
  std::chrono::milliseconds idle_retirement{30000};     ///< idle list actors stop after this
  std::size_t max_pending_per_list = 10000;             ///< beyond it, 503
  history_options history;                              ///< the history plugin
};

/// Owns the actor system: one list actor per (parent, kind), spawned on
/// demand and retired when idle; the committer that applies queued writes
/// in one write transaction per batch (group commit); and the gate that
/// lets batch sessions run alone.
class write_service {
public:
  write_service(storage::engine& engine, write_service_options options);
  ~write_service();
  write_service(const write_service&) = delete;
  write_service& operator=(const write_service&) = delete;

  /// Queues `write`, planned on a version of its target, for its list;
  /// `done` runs once (on an actor thread) after the write is durable, has
  /// failed, or was found stale (planned on a version that another write
  /// replaced: `write_outcome::stale`, nothing written). Never blocks on
  /// the actors.
  void submit(const list_key& list, planned_write write, std::function<void(write_outcome)> done);

  /// Runs `body` in a batch session (write_session.hpp): alone, once every
  /// write submitted before it is answered, on a thread where it may work
  /// synchronously; writes submitted meanwhile wait for it. `done` runs
  /// once what the session kept is durable (ok), or with the storage
  /// failure that made it keep nothing.
  void run_session(std::function<void(write_session&)> body, std::function<void(storage::status)> done);

  /// Runs `apply` alone in a session of its own (flush, server-wide facts).
  /// `done` gets its status.
  void run_exclusive(std::function<storage::status(storage::writer&)> apply,
                     std::function<void(storage::status)> done);

  /// Calls `hook` after each durable commit, on the committer's thread
  /// (it must only take note); empty: nobody.
  void on_commit(std::function<void()> hook);
  /// Calls `hook` with what each durable commit took, on the committer's
  /// thread (metrics); empty: nobody.
  void observe_commits(std::function<void(const commit_figures&)> hook);
  /// Writes submitted and not yet answered: the write queue (metrics).
  std::size_t writes_pending() const;

  /// When the objects this process created were created (the change feed
  /// tells creations from updates with it).
  const creation_log& creations() const;

  /// Number of list actors alive (for tests and diagnostics).
  std::size_t live_lists() const;

  /// Stops every actor after the writes already queued are committed.
  /// Threads other than the caller's that submitted writes must have ended
  /// (the actor runtime keeps per-thread state that holds it open).
  void shutdown();

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace kinto::actors
