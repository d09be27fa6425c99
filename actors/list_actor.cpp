// A list actor gives the writes planned for its list their timestamps, in
// arrival order, and delegates them to the committer, which answers their
// submitters once they are durable. It reads nothing: writes come planned
// on a version of their target and of the list's timestamp. The versions
// it handed on and whose fate it does not know yet stay in `pending`, so
// that a write planned on an older version is recognised (and answered
// stale once the newer one's fate is known, to be planned again).
#include "actors/list_actor.hpp"

#include "actors/write_steps.hpp"

#include <unordered_map>

namespace kinto::actors {

namespace {

struct pending_version {
  std::uint64_t seq;
  std::uint64_t last_modified;
  /// Writes planned on another version, answered stale once this one's
  /// fate is known.
  std::vector<caf::typed_response_promise<write_outcome>> parked;
};

// State structs declare their constructor: CAF 0.17 constructs a state from
// the actor pointer when it can, and C++20 would let an aggregate take it
// (turning the pointer into the first member).
struct list_state {
  list_state() = default;
  std::uint64_t list_ts = 0;
  std::uint64_t next_seq = 0;
  std::size_t in_flight = 0; ///< writes handed to the committer, fate unknown
  std::uint64_t handled = 0, handled_at_last_check = 0; ///< writes received (idle retirement)
  std::unordered_map<std::string, pending_version> pending;
  static inline const char* name = "list";
};

using list_pointer = list_actor::stateful_pointer<list_state>;

write_outcome stale_outcome() {
  write_outcome outcome;
  outcome.stale = true;
  return outcome;
}

list_actor::behavior_type list_behavior(list_pointer self, std::shared_ptr<const list_context> ctx, list_key list,
                                        std::shared_ptr<std::atomic<std::size_t>> queued) {
  const std::string list_id = storage::list_id(list);
  auto settled = [queued] { queued->fetch_sub(1, std::memory_order_acq_rel); };
  return {
    [=](write_atom, planned_write& w) -> caf::result<write_outcome> {
      auto& st = self->state;
      ++st.handled;
      // Others stamp the list too: batch sessions, which write lists
      // directly, the committer, which writes history entries with the
      // changes they describe, and other heads on a shared database. Each
      // write brings the list's timestamp as its planner read it; one
      // stamped after that is found stale when it is applied, and planned
      // again on what is stored.
      write_plan& plan = w.plan;
      if (plan.list_seen > st.list_ts) st.list_ts = plan.list_seen;
      std::vector<caf::typed_response_promise<write_outcome>> parked;
      if (!plan.touch) {
        if (auto it = st.pending.find(w.id); it != st.pending.end()) {
          if (plan.previous != it->second.last_modified) {
            auto promise = self->make_response_promise<write_outcome>();
            it->second.parked.push_back(promise);
            return promise;
          }
          parked = std::move(it->second.parked);
        }
      }
      stamp(plan, st.list_ts, now_ms());
      if (plan.list_timestamp > st.list_ts) st.list_ts = plan.list_timestamp;
      const std::uint64_t seq = ++st.next_seq;
      if (!plan.touch) st.pending[w.id] = pending_version{seq, plan.object.last_modified, std::move(parked)};
      ++st.in_flight;
      return self->delegate(ctx->committer, commit_atom::value,
                            commit_request{list, std::move(w), self, seq});
    },
    // The committer's word on a write handed on: the versions planned on
    // something else than it are planned again.
    [=](committed_atom, std::uint64_t seq, const std::string& id, storage::status) {
      auto& st = self->state;
      --st.in_flight;
      settled();
      auto it = st.pending.find(id);
      if (it == st.pending.end() || it->second.seq != seq) return;
      auto stale = std::move(it->second.parked);
      st.pending.erase(it);
      for (auto& promise : stale) {
        promise.deliver(stale_outcome());
        settled();
      }
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

list_actor spawn_list_actor(caf::actor_system& system, std::shared_ptr<const list_context> context, list_key list,
                            std::shared_ptr<std::atomic<std::size_t>> queued) {
  const auto idle = context->idle_retirement;
  list_actor actor = system.spawn(list_behavior, std::move(context), std::move(list), std::move(queued));
  caf::delayed_anon_send(actor, idle, retire_atom::value);
  return actor;
}

} // namespace kinto::actors
