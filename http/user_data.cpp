// DELETE /__user_data__/{principal} (batch-and-plugins.md §7): deletes the
// objects only that principal may write, then removes it from every other
// permission and group membership. For operators listed in
// `user-data_delete_principals`.
#include "http/call.hpp"

#include <algorithm>
#include <atomic>

namespace kinto::http {

void handle_user_data(const call_ptr& c) {
  if (!c->who.holds_any(c->cfg().user_data_delete_principals)) return c->fail(denied(*c));
  const std::string principal = c->r.id;
  storage::snapshot snap = c->read();
  if (!snap.valid()) return c->fail(backend_unavailable());

  // Objects whose write permission names this principal alone.
  std::vector<std::string> owned;
  snap.walk_grants(principal, "/", [&](std::string_view uri, std::string_view name) {
    if (name != "write") return true;
    std::string err;
    auto perms = json::parse(snap.permissions(uri).value_or("{}"), err);
    const json::value* writers = perms ? perms->find("write") : nullptr;
    if (writers && writers->is_array() && writers->as_array().size() == 1) owned.emplace_back(uri);
    return true;
  });
  // Parents first; children of a deleted object go with it.
  std::sort(owned.begin(), owned.end(), [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
  std::vector<std::string> roots;
  for (const auto& uri : owned) {
    const bool below = std::any_of(roots.begin(), roots.end(), [&](const std::string& r) { return uri.rfind(r + "/", 0) == 0; });
    if (!below) roots.push_back(uri);
  }

  auto finish = [c, principal] {
    c->run_exclusive([principal](storage::writer& b) { return b.forget_principal(principal); },
                              [c, principal](storage::status s) {
                                c->resume([c, principal, s] {
                                  if (s != storage::status::ok) return c->fail(backend_unavailable());
                                  json::value data = json::value::object();
                                  data.set("principal", json::value(principal));
                                  json::value body = json::value::object();
                                  body.set("data", std::move(data));
                                  c->send_json(200, json::serialize(body));
                                });
                              });
  };
  // The writes: deletions of what only they could write, and the groups
  // they belong to, without them.
  std::vector<std::pair<list_key, actors::write_command>> writes;
  for (const auto& uri : roots) {
    auto ref = owner_of(uri);
    if (!ref) continue;
    actors::write_command cmd;
    cmd.op = actors::write_op::remove;
    cmd.id = ref->id;
    cmd.author = c->who.author();
    writes.emplace_back(ref->list, std::move(cmd));
  }
  for (const auto& group_uri : snap.groups_of(principal)) {
    const bool deleted = std::any_of(roots.begin(), roots.end(), [&](const std::string& r) {
      return group_uri == r || group_uri.rfind(r + "/", 0) == 0;
    });
    auto ref = owner_of(group_uri);
    if (deleted || !ref) continue;
    auto group = snap.get(ref->list, ref->id);
    std::string err;
    auto data = group && !group->deleted ? json::parse(group->data, err) : std::nullopt;
    const json::value* members = data ? data->find("members") : nullptr;
    if (!members || !members->is_array()) continue;
    json::value kept = json::value::array();
    for (const auto& m : members->as_array())
      if (!(m.is_string() && m.as_string() == principal)) kept.as_array().push_back(m);
    actors::write_command cmd;
    cmd.op = actors::write_op::patch;
    cmd.id = ref->id;
    cmd.author = c->who.author();
    cmd.explicit_permissions = false; // an operator's clean-up, not an edit of theirs
    json::value patch = json::value::object();
    patch.set("members", std::move(kept));
    cmd.data = std::move(patch);
    writes.emplace_back(ref->list, std::move(cmd));
  }
  if (writes.empty()) return finish();
  auto remaining = std::make_shared<std::atomic<std::size_t>>(writes.size());
  for (auto& [list, cmd] : writes)
    c->submit(list, std::move(cmd), [remaining, finish](actors::write_outcome) {
      if (remaining->fetch_sub(1) == 1) finish();
    });
}

} // namespace kinto::http
