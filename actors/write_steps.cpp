#include "actors/write_steps.hpp"

#include <chrono>

namespace kinto::actors {

std::uint64_t now_ms() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

std::pair<std::uint64_t, std::uint64_t> assign_timestamp(std::optional<std::uint64_t> proposed, std::uint64_t list_ts,
                                                         std::uint64_t now) {
  if (proposed) {
    if (*proposed > list_ts) return {*proposed, *proposed};
    if (*proposed == list_ts) return {list_ts + 1, list_ts + 1};
    return {*proposed, list_ts};
  }
  std::uint64_t t = now > list_ts ? now : list_ts + 1;
  return {t, t};
}

void stamp(write_plan& plan, std::uint64_t list_ts, std::uint64_t now) {
  if (plan.touch) {
    plan.list_timestamp = now > list_ts ? now : list_ts + 1;
    return;
  }
  if (!plan.needs_write) return;
  auto [ts, list_after] = assign_timestamp(plan.proposed, list_ts, now);
  plan.object.last_modified = ts;
  plan.list_timestamp = list_after;
  if (!plan.object.deleted) {
    plan.object.data.resize(plan.stamp_at);
    plan.object.data += std::to_string(ts);
    plan.object.data += '}';
  }
}

write_outcome outcome_of(const planned_write& w) {
  const write_plan& plan = w.plan;
  write_outcome outcome;
  outcome.created = plan.created;
  outcome.last_modified = plan.touch ? plan.list_timestamp : plan.object.last_modified;
  outcome.permissions = plan.object.deleted || plan.object.permissions.empty() ? "{}" : plan.object.permissions;
  outcome.previous = w.previous;
  outcome.data = plan.object.deleted ? "{\"deleted\":true,\"id\":" + json::serialize(json::value(w.id)) +
                                         ",\"last_modified\":" + std::to_string(plan.object.last_modified) + "}"
                                     : plan.object.data;
  return outcome;
}

storage::status apply_write(storage::writer& b, const list_key& list, const planned_write& w,
                            const history_options& history, creation_log* creations) {
  const write_plan& plan = w.plan;
  const std::string& id = w.id;
  if (plan.touch) {
    if (b.list_timestamp(list)) return storage::status::ok;
    return b.set_list_timestamp(list, plan.list_timestamp);
  }
  // Another writer of the list (another head on a shared database) may have
  // stamped it since this write was stamped: it is then planned and stamped
  // again. A write keeping an older timestamp of its own leaves the list's
  // as the list actor knew it.
  if (auto stored = b.list_timestamp(list)) {
    const bool stamped_list = plan.list_timestamp == plan.object.last_modified;
    if (stamped_list ? *stored >= plan.list_timestamp : *stored > plan.list_timestamp) return storage::status::stale;
  }
  if (auto owner = owner_of(list.parent)) {
    auto parent = b.get(owner->list, owner->id);
    if (!parent || parent->deleted) return storage::status::missing;
  }
  if (auto s = b.put(list, id, plan.object, plan.previous); s != storage::status::ok) return s;
  const std::string uri = list.object_uri(id);
  for (const auto& m : plan.members_removed)
    if (auto s = b.remove_member(m, uri); s != storage::status::ok) return s;
  for (const auto& m : plan.members_added)
    if (auto s = b.add_member(m, uri); s != storage::status::ok) return s;
  if (plan.erase_children)
    if (auto s = b.erase_children(uri); s != storage::status::ok) return s;
  if (auto s = record_history(b, history, list, id, plan, w.author); s != storage::status::ok) return s;
  if (auto s = b.set_list_timestamp(list, plan.list_timestamp); s != storage::status::ok) return s;
  if (plan.created && creations) creations->created(list, id, plan.object.last_modified);
  return storage::status::ok;
}

error failure_of(storage::status s, const list_key& list) {
  switch (s) {
    case storage::status::conflict:
    case storage::status::stale: return conflict();
    case storage::status::full: return insufficient_storage();
    case storage::status::missing: {
      auto owner = owner_of(list.parent);
      return parent_not_found(owner ? owner->id : "", owner ? kind_name(owner->list.of) : "bucket");
    }
    default: return backend_unavailable();
  }
}

} // namespace kinto::actors
