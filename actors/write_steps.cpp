#include "actors/write_steps.hpp"

namespace kinto::actors {

current_state read_current(const storage::view& snap, const list_key& list, const std::string& id) {
  current_state current;
  current.object = snap.get(list, id);
  if (current.exists()) {
    std::string err;
    if (auto text = snap.permissions(list.object_uri(id)))
      if (auto perms = json::parse(*text, err)) current.permissions = std::move(*perms);
  }
  return current;
}

std::variant<prepared_write, write_outcome> prepare_write(const list_key& list, const write_command& cmd,
                                                          const current_state& current, std::uint64_t list_ts,
                                                          const storage::key_limits& keys) {
  auto planned = plan_write(list, cmd, current, list_ts, now_ms(), keys);
  if (auto* failure = std::get_if<error>(&planned)) {
    write_outcome outcome = failed_with(std::move(*failure));
    // A 412 carries the current timestamp of its target (concurrency.md §3).
    outcome.last_modified = current.exists() ? current.object->last_modified : list_ts;
    return outcome;
  }
  prepared_write w;
  w.plan = std::move(std::get<write_plan>(planned));
  w.touch = cmd.op == write_op::touch;
  const write_plan& plan = w.plan;
  w.outcome.created = plan.created;
  w.outcome.last_modified = w.touch ? plan.list_timestamp : plan.object.last_modified;
  w.outcome.permissions = plan.permissions;
  if (cmd.op == write_op::patch && current.exists()) w.outcome.previous = current.object->data;
  w.outcome.data = plan.object.deleted ? "{\"deleted\":true,\"id\":" + json::serialize(json::value(cmd.id)) +
                                           ",\"last_modified\":" + std::to_string(plan.object.last_modified) + "}"
                                       : plan.object.data;
  return w;
}

std::function<storage::status(storage::batch&)> storage_work(const list_key& list, const std::string& id,
                                                             const prepared_write& write, std::string author,
                                                             const history_options& history) {
  return [list, id, plan = write.plan, touch = write.touch, author = std::move(author),
          history](storage::batch& b) -> storage::status {
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

} // namespace kinto::actors
