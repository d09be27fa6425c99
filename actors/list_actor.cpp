// A list actor applies write_plan()s in arrival order. Versions handed to the
// committer but not yet durable stay in `pending`, so the next write of the
// same object sees them without waiting for the commit.
#include "actors/list_actor.hpp"

#include "actors/write_steps.hpp"

#include <unordered_map>

namespace kinto::actors {

namespace {

struct pending_version {
  std::uint64_t seq;
  storage::object object;
  std::string permissions;
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
      storage::snapshot snap = ctx->engine->read();
      if (!snap.valid()) {
        answer(job, failed_with(backend_unavailable()));
        return;
      }
      // The stored timestamp is the truth whenever nothing of this list is
      // on its way to storage (batch sessions write lists directly); a
      // history list also grows through the committer (entries are written
      // with the changes they describe).
      if (st.in_flight == 0 || list.of == kind::history) st.list_ts = snap.list_timestamp(list).value_or(0);
      const std::string id = job.cmd.id; // a copy: the job is moved away below
      current_state current;
      if (auto it = st.pending.find(id); it != st.pending.end()) {
        current.object = it->second.object;
        std::string err;
        if (auto perms = json::parse(it->second.permissions, err)) current.permissions = std::move(*perms);
      } else if (job.cmd.op != write_op::touch) {
        current = read_current(snap, list, id);
      }
      auto prepared = prepare_write(list, job.cmd, current, st.list_ts, ctx->engine->keys());
      if (auto* refused = std::get_if<write_outcome>(&prepared)) {
        answer(job, std::move(*refused));
        return;
      }
      prepared_write& write = std::get<prepared_write>(prepared);
      if (!write.needs_write()) {
        answer(job, std::move(write.outcome));
        return;
      }
      if (write.plan.list_timestamp > st.list_ts) st.list_ts = write.plan.list_timestamp;
      const std::uint64_t seq = ++st.next_seq;
      const bool touch = write.touch;
      if (!touch) st.pending[id] = pending_version{seq, write.plan.object, write.plan.permissions};
      ++st.in_flight;
      auto forget = [self, id, seq] {
        --self->state.in_flight;
        auto it = self->state.pending.find(id);
        if (it != self->state.pending.end() && it->second.seq == seq) self->state.pending.erase(it);
      };
      commit_job work{storage_work(list, id, write, job.cmd.author, ctx->history)};
      auto shared_job = std::make_shared<write_job>(std::move(job));
      auto shared_outcome = std::make_shared<write_outcome>(std::move(write.outcome));
      self->request(ctx->committer, caf::infinite, commit_atom::value, std::move(work))
        .then(
          [=](storage::status s) {
            forget();
            if (s != storage::status::ok) {
              answer(*shared_job, failed_with(failure_of(s, list)));
              return;
            }
            answer(*shared_job, std::move(*shared_outcome));
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
