// The committer: a detached actor (own thread, since commits block) that
// applies every job queued since its last commit in one write transaction,
// commits it durably, then answers each job (group commit).
#pragma once

#include "actors/creation_log.hpp"
#include "actors/history.hpp"
#include "actors/messages.hpp"
#include "actors/session_board.hpp"

#include <functional>
#include <mutex>

namespace kinto::actors {

/// Who is told, on the committer's thread, that a transaction was committed:
/// the change feed (commit_signal), the metrics (commit_observer). It must
/// only take note and return. Set from any thread.
template <class... Args>
class hook_slot {
public:
  void set(std::function<void(Args...)> hook) {
    std::lock_guard<std::mutex> lock(mutex_);
    hook_ = std::move(hook);
  }
  void raise(Args... args) const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (hook_) hook_(args...);
  }

private:
  mutable std::mutex mutex_;
  std::function<void(Args...)> hook_;
};
using commit_signal = hook_slot<>;
using commit_observer = hook_slot<const commit_figures&>;

struct committer_context {
  storage::engine* engine = nullptr;
  history_options history;          ///< the history plugin, for the writes' storage work
  session_board* sessions = nullptr; ///< the bodies of batch sessions, by ticket
  const commit_signal* committed = nullptr; ///< told after each durable commit
  creation_log* creations = nullptr; ///< where the writes note the objects they create
  const commit_observer* observed = nullptr; ///< told what each durable commit took
};

/// Spawns the committer. Stamped writes, (commit_atom, commit_request), are
/// answered with their outcome once durable (and their list actor told);
/// batch sessions, (session_atom, ticket), with their status.
committer_actor spawn_committer(caf::actor_system& system, committer_context context);

} // namespace kinto::actors
