// Group commit: jobs queue up in the mailbox while a commit is in progress;
// a flush message sent to self lands behind all of them (FIFO), so one
// transaction and one fsync serve the whole batch.
#include "actors/committer.hpp"

#include <cerrno>
#include <iostream>
#include <vector>

namespace kinto::actors {

namespace {

struct queued_job {
  commit_job job;
  caf::typed_response_promise<storage::status> promise;
};

struct committer_state {
  committer_state() = default; // not an aggregate: see list_state
  std::vector<queued_job> queue;
  bool flush_scheduled = false;
  static inline const char* name = "committer";
};

storage::status status_of_commit(int rc) { return storage::status_of(rc == ENOSPC ? MDB_MAP_FULL : rc); }

/// Runs the jobs in one transaction. Returns the status of the transaction
/// as a whole: anything but ok means nothing of it was kept (map full, I/O).
storage::status apply_together(storage::store& store, std::vector<queued_job>& jobs,
                               std::vector<storage::status>& results) {
  storage::lmdb::txn txn;
  if (int rc = store.begin_write(txn); rc != MDB_SUCCESS) return storage::status_of(rc);
  storage::batch batch(txn.get(), store.dbs());
  results.clear();
  for (auto& q : jobs) {
    storage::status s = q.job.apply(batch);
    // Jobs check before they write, so a conflict left nothing behind; a
    // full map or an I/O error may have, and spoils the transaction.
    if (s == storage::status::full || s == storage::status::failed) return s;
    results.push_back(s);
  }
  return status_of_commit(txn.commit());
}

/// Fallback after a failed batch: each job alone, so one oversized or
/// failing write does not take the others down.
storage::status apply_alone(storage::store& store, queued_job& q) {
  storage::lmdb::txn txn;
  if (int rc = store.begin_write(txn); rc != MDB_SUCCESS) return storage::status_of(rc);
  storage::batch batch(txn.get(), store.dbs());
  storage::status s = q.job.apply(batch);
  if (s != storage::status::ok) return s;
  return status_of_commit(txn.commit());
}

caf::behavior committer(caf::stateful_actor<committer_state>* self, storage::store* store) {
  return {
    [=](commit_atom, commit_job& job) -> caf::result<storage::status> {
      auto promise = self->make_response_promise<storage::status>();
      self->state.queue.push_back(queued_job{std::move(job), promise});
      if (!self->state.flush_scheduled) {
        self->state.flush_scheduled = true;
        self->send(self, flush_atom::value);
      }
      return promise;
    },
    [=](flush_atom) {
      self->state.flush_scheduled = false;
      std::vector<queued_job> jobs;
      jobs.swap(self->state.queue);
      std::vector<storage::status> results;
      const storage::status together = apply_together(*store, jobs, results);
      if (together == storage::status::ok) {
        for (std::size_t i = 0; i < jobs.size(); ++i) jobs[i].promise.deliver(results[i]);
        return;
      }
      std::cerr << "kintod: group of " << jobs.size() << " writes failed; retrying one by one\n";
      for (auto& q : jobs) q.promise.deliver(q.job.retry_alone ? apply_alone(*store, q) : together);
    },
  };
}

} // namespace

caf::actor spawn_committer(caf::actor_system& system, storage::store& store) {
  return system.spawn<caf::detached>(committer, &store);
}

} // namespace kinto::actors
