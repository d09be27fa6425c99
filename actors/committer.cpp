// Group commit: jobs queue up while a group is being applied or committed; a
// flush message sent to self lands behind every job already in the mailbox
// (FIFO), so one transaction and one durable commit serve them all. The
// engine reports a commit back through `done`, maybe from another thread:
// `done` only sends the committer a message, and the group's answers go out
// from here when it arrives. The next group begins only then.
#include "actors/committer.hpp"

#include "actors/write_steps.hpp"
#include "base/log.hpp"

#include <deque>
#include <optional>
#include <vector>

namespace kinto::actors {

namespace {

/// A stamped write, answered with its outcome; or a batch session, by
/// ticket, answered with its status.
struct queued_job {
  std::optional<commit_request> write;
  std::uint64_t session = 0;
  caf::typed_response_promise<write_outcome> written;
  caf::typed_response_promise<storage::status> session_done;
  /// Whether, after a failed group transaction, the job may run again alone.
  /// A batch session may not: it has already answered its requests.
  bool retry_alone() const { return write.has_value(); }
};

/// Jobs applied in one transaction, with what each will be answered once
/// the transaction is durable.
struct group {
  std::uint64_t number = 0;
  std::vector<queued_job> jobs;
  std::vector<storage::status> results;
  bool alone = false; ///< one job retried alone after its group failed
  std::chrono::steady_clock::time_point began, committing_since; ///< its first write applied, its commit asked
};

struct committer_state {
  committer_state() = default; // not an aggregate: see list_state
  std::vector<queued_job> queue;  ///< jobs for the next group
  std::deque<queued_job> retries; ///< jobs of a failed group, to run one by one before the queue
  std::optional<group> committing; ///< the group whose commit has not reported back
  std::uint64_t groups_begun = 0;
  bool flush_scheduled = false;
  std::optional<caf::error> stopping; ///< the exit reason, once asked to stop
  static inline const char* name = "committer";
};

using committer_pointer = committer_actor::stateful_pointer<committer_state>;

/// Applies the jobs of `g` in a new transaction, filling `g.results`.
/// Returns ok with `txn` ready to commit, or the failure that keeps nothing
/// of it: the transaction could not begin, or a job spoiled it (map full,
/// I/O); for a job alone, also its refusal (nothing to commit).
storage::status apply(const committer_context& ctx, group& g, std::unique_ptr<storage::write_transaction>& txn) {
  if (storage::status s = ctx.engine->begin_write(txn); s != storage::status::ok) return s;
  for (auto& q : g.jobs) {
    storage::status s = q.write ? apply_write(*txn, q.write->list, q.write->write, ctx.history, ctx.creations)
                                : ctx.sessions->run(q.session, *txn);
    if (txn->failure() != storage::status::ok) return txn->failure();
    // Jobs check before they write, so a refusal left nothing behind; a
    // full map or an I/O error may have, and spoils the transaction.
    if (s == storage::status::full || s == storage::status::failed) return s;
    if (g.alone && s != storage::status::ok) return s;
    g.results.push_back(s);
  }
  return storage::status::ok;
}

void schedule_flush(committer_pointer self) {
  auto& st = self->state;
  if (st.flush_scheduled || st.committing || (st.queue.empty() && st.retries.empty())) return;
  st.flush_scheduled = true;
  self->send(self, flush_atom::value);
}

void quit_if_done(committer_pointer self) {
  auto& st = self->state;
  if (st.stopping && !st.committing && !st.flush_scheduled && st.queue.empty() && st.retries.empty())
    self->quit(*st.stopping);
}

/// Answers one job whose storage work ended with `s`: a write with its
/// outcome (and its list actor with its fate), a session with `s`.
void deliver(committer_pointer self, queued_job& q, storage::status s) {
  if (!q.write) {
    q.session_done.deliver(s);
    return;
  }
  const commit_request& w = *q.write;
  write_outcome outcome;
  if (s == storage::status::ok) {
    outcome = outcome_of(w.write);
  } else if (s == storage::status::stale) {
    outcome.stale = true;
  } else {
    outcome = failed_with(failure_of(s, w.list));
  }
  q.written.deliver(std::move(outcome));
  self->send(w.from, committed_atom::value, w.seq, w.write.id, s);
}

/// Answers the jobs of `g`, whose transaction ended with `s`. After a failed
/// group each job that may runs again alone, so that one oversized or
/// failing write does not take the others down.
void answer(committer_pointer self, group& g, storage::status s) {
  if (s == storage::status::ok) {
    for (std::size_t i = 0; i < g.jobs.size(); ++i) deliver(self, g.jobs[i], g.results[i]);
    return;
  }
  if (g.alone) {
    deliver(self, g.jobs.front(), s);
    return;
  }
  log::warning("group of " + std::to_string(g.jobs.size()) + " writes failed (" + std::string(storage::status_text(s)) +
               "); retrying one by one");
  for (auto& q : g.jobs) {
    if (q.retry_alone())
      self->state.retries.push_back(std::move(q));
    else
      deliver(self, q, s);
  }
}

/// Begins the next group, unless a commit is still to report back: the jobs
/// left to retry alone one at a time, then every queued job together.
void begin_next(committer_pointer self, const committer_context& ctx) {
  auto& st = self->state;
  while (!st.committing && (!st.retries.empty() || !st.queue.empty())) {
    group g;
    g.number = ++st.groups_begun;
    g.began = std::chrono::steady_clock::now();
    if (!st.retries.empty()) {
      g.jobs.push_back(std::move(st.retries.front()));
      st.retries.pop_front();
      g.alone = true;
    } else {
      g.jobs.swap(st.queue);
    }
    std::unique_ptr<storage::write_transaction> txn;
    if (storage::status s = apply(ctx, g, txn); s != storage::status::ok) {
      if (ctx.creations) ctx.creations->drop_unannounced();
      answer(self, g, s);
      continue;
    }
    // The other heads learn of the commit, and of what it created, with it.
    if (ctx.creations)
      for (auto& message : ctx.creations->announcements()) txn->announce(std::move(message));
    const std::uint64_t number = g.number;
    g.committing_since = std::chrono::steady_clock::now();
    st.committing = std::move(g);
    txn->commit([me = caf::actor_cast<committer_actor>(self), number](storage::status s) {
      caf::anon_send(me, committed_atom::value, number, s);
    });
  }
}

committer_actor::behavior_type committer(committer_pointer self, committer_context ctx) {
  // Asked to stop, the committer first commits and answers what it holds.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    self->state.stopping = msg.reason;
    quit_if_done(self);
  });
  return {
    [=](commit_atom, commit_request& request) -> caf::result<write_outcome> {
      queued_job q;
      q.write = std::move(request);
      q.written = self->make_response_promise<write_outcome>();
      auto promise = q.written;
      self->state.queue.push_back(std::move(q));
      schedule_flush(self);
      return promise;
    },
    [=](session_atom, std::uint64_t ticket) -> caf::result<storage::status> {
      queued_job q;
      q.session = ticket;
      q.session_done = self->make_response_promise<storage::status>();
      auto promise = q.session_done;
      self->state.queue.push_back(std::move(q));
      schedule_flush(self);
      return promise;
    },
    [=](flush_atom) {
      self->state.flush_scheduled = false;
      begin_next(self, ctx);
      quit_if_done(self);
    },
    [=](committed_atom, std::uint64_t number, storage::status s) {
      auto& st = self->state;
      if (!st.committing || st.committing->number != number) return;
      group g = std::move(*st.committing);
      st.committing.reset();
      if (s == storage::status::ok && ctx.committed) ctx.committed->raise();
      if (s == storage::status::ok && ctx.observed) {
        const auto now = std::chrono::steady_clock::now();
        ctx.observed->raise(commit_figures{std::chrono::duration<double>(now - g.began).count(),
                                           std::chrono::duration<double>(now - g.committing_since).count(),
                                           g.jobs.size()});
      }
      answer(self, g, s);
      // Jobs that arrived meanwhile form the next group, with those still in
      // the mailbox: the flush lands behind them.
      schedule_flush(self);
      quit_if_done(self);
    },
  };
}

} // namespace

committer_actor spawn_committer(caf::actor_system& system, committer_context context) {
  return system.spawn<caf::detached>(committer, std::move(context));
}

} // namespace kinto::actors
