// A list actor gives the writes planned for its list their timestamps, in
// arrival order, and hands them to the committer. It reads nothing but its
// list's timestamp: writes come planned on a version of their target. The
// versions it handed on and that are not yet durable stay in `pending`, so
// that a write planned on an older version is recognised (and answered
// stale once the newer one is durable, to be planned again on it).
#include "actors/list_actor.hpp"

#include "actors/write_steps.hpp"

#include <unordered_map>

namespace kinto::actors {

namespace {

struct pending_version {
  std::uint64_t seq;
  std::uint64_t last_modified;
  /// Writes planned on another version, to be answered stale once this
  /// one's fate is known.
  std::vector<write_job> parked;
};

// State structs declare their constructor: CAF 0.17 constructs a state from
// the actor pointer when it can, and C++20 would let an aggregate take it
// (turning the pointer into the first member).
struct list_state {
  list_state() = default;
  std::uint64_t list_ts = 0;
  std::uint64_t next_seq = 0;
  std::size_t in_flight = 0; ///< writes handed to the committer, not yet answered
  std::uint64_t handled = 0, handled_at_last_check = 0; ///< writes received (idle retirement)
  std::unordered_map<std::string, pending_version> pending;
  static inline const char* name = "list";
};

write_outcome stale_outcome() {
  write_outcome outcome;
  outcome.stale = true;
  return outcome;
}

caf::behavior list_actor(caf::stateful_actor<list_state>* self, std::shared_ptr<const list_context> ctx,
                         list_key list, std::shared_ptr<std::atomic<std::size_t>> queued) {
  const std::string list_id = storage::list_id(list);
  auto answer = [queued](write_job& job, write_outcome outcome) {
    job.done(std::move(outcome));
    queued->fetch_sub(1, std::memory_order_acq_rel);
  };
  return {
    [=](write_atom, write_job& job) {
      auto& st = self->state;
      ++st.handled;
      // The stored timestamp is the truth whenever nothing of this list is
      // on its way to storage (batch sessions write lists directly); a
      // history list also grows through the committer (entries are written
      // with the changes they describe).
      if (st.in_flight == 0 || list.of == kind::history) {
        storage::snapshot snap = ctx->engine->read();
        if (!snap.valid()) return answer(job, failed_with(backend_unavailable()));
        st.list_ts = snap.list_timestamp(list).value_or(0);
      }
      write_plan& plan = job.write.plan;
      const std::string id = job.write.id; // a copy: the job is moved away below
      std::vector<write_job> parked;
      if (!plan.touch) {
        if (auto it = st.pending.find(id); it != st.pending.end()) {
          if (plan.previous != it->second.last_modified) {
            it->second.parked.push_back(std::move(job));
            return;
          }
          parked = std::move(it->second.parked);
        }
      }
      stamp(plan, st.list_ts, now_ms());
      if (plan.list_timestamp > st.list_ts) st.list_ts = plan.list_timestamp;
      const std::uint64_t seq = ++st.next_seq;
      if (!plan.touch) st.pending[id] = pending_version{seq, plan.object.last_modified, std::move(parked)};
      ++st.in_flight;
      // Once the write's fate is known, the writes planned on another
      // version than this one are planned again.
      auto forget = [self, id, seq, answer] {
        --self->state.in_flight;
        auto it = self->state.pending.find(id);
        if (it == self->state.pending.end() || it->second.seq != seq) return;
        std::vector<write_job> stale = std::move(it->second.parked);
        self->state.pending.erase(it);
        for (auto& j : stale) answer(j, stale_outcome());
      };
      auto shared_job = std::make_shared<write_job>(std::move(job));
      commit_job work{[list, shared_job, history = ctx->history](storage::write_transaction& txn) {
        return apply_write(txn, list, shared_job->write, history);
      }};
      self->request(ctx->committer, caf::infinite, commit_atom::value, std::move(work))
        .then(
          [=](storage::status s) {
            forget();
            if (s == storage::status::stale) return answer(*shared_job, stale_outcome());
            if (s != storage::status::ok) return answer(*shared_job, failed_with(failure_of(s, list)));
            answer(*shared_job, outcome_of(shared_job->write));
          },
          [=](caf::error&) {
            forget();
            answer(*shared_job, failed_with(backend_unavailable()));
          });
    },
    // One timer per idle period, not one per message: the actor retires
    // when a whole period went by without a write.
    [=](retire_atom) {
      auto& st = self->state;
      if (st.handled == st.handled_at_last_check && st.in_flight == 0 && ctx->retire(list_id)) return self->quit();
      st.handled_at_last_check = st.handled;
      self->delayed_send(self, ctx->idle_retirement, retire_atom::value);
    },
  };
}

} // namespace

caf::actor spawn_list_actor(caf::actor_system& system, std::shared_ptr<const list_context> context,
                            list_key list, std::shared_ptr<std::atomic<std::size_t>> queued) {
  const auto idle = context->idle_retirement;
  caf::actor actor = system.spawn(list_actor, std::move(context), std::move(list), std::move(queued));
  caf::delayed_anon_send(actor, idle, retire_atom::value);
  return actor;
}

} // namespace kinto::actors
