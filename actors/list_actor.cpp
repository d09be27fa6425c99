// A list actor applies write_plan()s in arrival order. Versions handed to the
// committer but not yet durable stay in `pending`, so the next write of the
// same object sees them without waiting for the commit.
#include "actors/list_actor.hpp"

#include "actors/permission_actor.hpp"
#include "actors/write_logic.hpp"

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
  bool loaded = false;
  std::uint64_t list_ts = 0;
  std::uint64_t next_seq = 0;
  std::unordered_map<std::string, pending_version> pending;
  static inline const char* name = "list";
};

error failure_of(storage::status s, const list_key& list) {
  switch (s) {
    case storage::status::conflict: return conflict();
    case storage::status::full: return insufficient_storage();
    case storage::status::missing: {
      auto owner = owner_of(list.parent);
      return parent_not_found(owner ? owner->id : "", owner ? kind_name(owner->list.of) : "bucket");
    }
    default: return backend_unavailable();
  }
}

/// The storage work of one planned write; checks come before any write.
std::function<storage::status(storage::batch&)> storage_work(const list_key& list, const std::string& id,
                                                             const write_plan& plan, bool touch, std::string author,
                                                             const history_options& history) {
  return [list, id, plan, touch, author = std::move(author), history](storage::batch& b) -> storage::status {
    if (touch) {
      if (b.list_timestamp(list)) return storage::status::ok;
      return b.set_list_timestamp(list, plan.list_timestamp);
    }
    if (auto owner = owner_of(list.parent)) {
      auto parent = b.get(owner->list, owner->id);
      if (!parent || parent->deleted) return storage::status::missing;
    }
    if (auto s = b.put(list, id, plan.object, plan.previous); s != storage::status::ok) return s;
    const std::string uri = list.object_uri(id);
    if (auto s = b.set_permissions(uri, plan.permissions); s != storage::status::ok) return s;
    for (const auto& m : plan.members_removed)
      if (auto s = b.remove_member(m, uri); s != storage::status::ok) return s;
    for (const auto& m : plan.members_added)
      if (auto s = b.add_member(m, uri); s != storage::status::ok) return s;
    if (plan.erase_children)
      if (auto s = b.erase_children(uri); s != storage::status::ok) return s;
    if (auto s = record_history(b, history, list, id, plan, author); s != storage::status::ok) return s;
    return b.set_list_timestamp(list, plan.list_timestamp);
  };
}

caf::behavior list_actor(caf::stateful_actor<list_state>* self, std::shared_ptr<const list_context> ctx,
                         list_key list, std::shared_ptr<std::atomic<std::size_t>> queued) {
  const std::string list_id = storage::list_prefix(list);
  auto answer = [queued](write_job& job, write_outcome outcome) {
    job.done(std::move(outcome));
    queued->fetch_sub(1, std::memory_order_acq_rel);
  };
  return {
    [=](write_atom, write_job& job) {
      auto& st = self->state;
      storage::snapshot snap = ctx->store->read();
      if (!snap.valid()) {
        answer(job, failed_with(backend_unavailable()));
        return;
      }
      // A history list also grows through the committer (entries are written
      // with the changes they describe): its timestamp is read afresh.
      if (!st.loaded || list.of == kind::history) {
        st.list_ts = snap.list_timestamp(list).value_or(0);
        st.loaded = true;
      }
      const std::string id = job.cmd.id; // a copy: the job is moved away below
      current_state current;
      if (auto it = st.pending.find(id); it != st.pending.end()) {
        current.object = it->second.object;
        std::string err;
        if (auto perms = json::parse(it->second.permissions, err)) current.permissions = std::move(*perms);
      } else if (job.cmd.op != write_op::touch) {
        current.object = snap.get(list, id);
        if (current.exists()) {
          std::string err;
          if (auto text = snap.permissions(list.object_uri(id)))
            if (auto perms = json::parse(*text, err)) current.permissions = std::move(*perms);
        }
      }
      auto planned = plan_write(list, job.cmd, current, st.list_ts, now_ms());
      if (auto* failure = std::get_if<error>(&planned)) {
        write_outcome outcome = failed_with(std::move(*failure));
        // A 412 carries the current timestamp of its target (concurrency.md §3).
        outcome.last_modified = current.exists() ? current.object->last_modified : st.list_ts;
        answer(job, std::move(outcome));
        return;
      }
      write_plan plan = std::move(std::get<write_plan>(planned));
      const bool touch = job.cmd.op == write_op::touch;
      write_outcome outcome;
      outcome.created = plan.created;
      outcome.last_modified = touch ? plan.list_timestamp : plan.object.last_modified;
      outcome.permissions = plan.permissions;
      if (job.cmd.op == write_op::patch && current.exists()) outcome.previous = current.object->data;
      outcome.data = plan.object.deleted
                       ? "{\"deleted\":true,\"id\":" + json::serialize(json::value(id)) +
                           ",\"last_modified\":" + std::to_string(plan.object.last_modified) + "}"
                       : plan.object.data;
      if (!plan.needs_write) {
        answer(job, std::move(outcome));
        return;
      }
      if (plan.list_timestamp > st.list_ts) st.list_ts = plan.list_timestamp;
      const std::uint64_t seq = ++st.next_seq;
      if (!touch) st.pending[id] = pending_version{seq, plan.object, plan.permissions};
      auto forget = [self, id, seq] {
        auto it = self->state.pending.find(id);
        if (it != self->state.pending.end() && it->second.seq == seq) self->state.pending.erase(it);
      };
      // What the permission actor must forget once this write is durable.
      invalidation changed;
      if (!touch) {
        const std::string uri = list.object_uri(id);
        changed.uris.push_back(uri);
        if (plan.erase_children) changed.prefixes.push_back(uri + "/");
        changed.memberships = !plan.members_added.empty() || !plan.members_removed.empty() || plan.erase_children;
      }
      auto shared_job = std::make_shared<write_job>(std::move(job));
      auto shared_outcome = std::make_shared<write_outcome>(std::move(outcome));
      self->request(ctx->committer, caf::infinite, commit_atom::value, commit_job{storage_work(list, id, plan, touch, shared_job->cmd.author, ctx->history)})
        .then(
          [=](storage::status s) {
            forget();
            if (s != storage::status::ok) {
              answer(*shared_job, failed_with(failure_of(s, list)));
              return;
            }
            // Before the client hears of it: later requests see the change.
            if (!touch) self->send(ctx->permissions, invalidate_atom::value, changed);
            answer(*shared_job, std::move(*shared_outcome));
          },
          [=](caf::error&) {
            forget();
            answer(*shared_job, failed_with(backend_unavailable()));
          });
    },
    caf::after(ctx->idle_retirement) >> [=] {
      if (self->state.pending.empty() && ctx->retire(list_id)) self->quit();
    },
  };
}

} // namespace

caf::actor spawn_list_actor(caf::actor_system& system, std::shared_ptr<const list_context> context,
                            list_key list, std::shared_ptr<std::atomic<std::size_t>> queued) {
  return system.spawn(list_actor, std::move(context), std::move(list), std::move(queued));
}

} // namespace kinto::actors
