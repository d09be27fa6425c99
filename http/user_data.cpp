// DELETE /__user_data__/{principal} (batch-and-plugins.md §7): deletes the
// objects only that principal may write, then removes it from every other
// permission and group membership. For operators listed in
// `user-data_delete_principals`.
#include "http/authorization.hpp"
#include "http/call.hpp"

#include <algorithm>
#include <mutex>

namespace kinto::http {

void handle_user_data(const call_ptr& c) {
  if (!c->who.holds_any(c->cfg().user_data_delete_principals)) return c->fail(denied(*c));
  const std::string principal = c->r.id;
  storage::snapshot snap = c->a.store.read();
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
    c->a.writes.run_exclusive([principal](storage::batch& b) { return b.forget_principal(principal); },
                              [c, principal](storage::status s) {
                                if (s != storage::status::ok) return c->fail(backend_unavailable());
                                json::value data = json::value::object();
                                data.set("principal", json::value(principal));
                                json::value body = json::value::object();
                                body.set("data", std::move(data));
                                c->send_json(200, json::serialize(body));
                              });
  };
  if (roots.empty()) return finish();
  struct progress {
    std::mutex mutex;
    std::size_t remaining;
  };
  auto state = std::make_shared<progress>();
  state->remaining = roots.size();
  for (const auto& uri : roots) {
    auto ref = owner_of(uri);
    if (!ref) {
      std::lock_guard<std::mutex> lock(state->mutex);
      if (--state->remaining == 0) finish();
      continue;
    }
    actors::write_command cmd;
    cmd.op = actors::write_op::remove;
    cmd.id = ref->id;
    cmd.author = c->who.author();
    c->a.writes.submit(ref->list, std::move(cmd), [state, finish](actors::write_outcome) {
      bool last = false;
      {
        std::lock_guard<std::mutex> lock(state->mutex);
        last = --state->remaining == 0;
      }
      if (last) finish();
    });
  }
}

} // namespace kinto::http
