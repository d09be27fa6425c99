#include "core/implicit.hpp"

#include <memory>

namespace kinto::core {

namespace {

struct creation {
  context ctx;
  port& p;
  std::string user_id;
  std::vector<implicit_object> objects;
  std::function<void(std::optional<failure>)> next;
};

void create_from(const std::shared_ptr<creation>& c, std::size_t i) {
  for (; i < c->objects.size(); ++i) {
    storage::snapshot snap = c->p.read();
    if (!snap.valid()) return c->next(failure{backend_unavailable()});
    const implicit_object& o = c->objects[i];
    auto existing = snap.get(o.list, o.id);
    if (snap.failed()) return c->next(failure{backend_unavailable()});
    if (existing && !existing->deleted) continue;
    write_command cmd;
    cmd.op = write_op::create;
    cmd.id = o.id;
    cmd.author = c->user_id;
    cmd.explicit_permissions = true;
    return c->p.write(
      o.list, std::move(cmd),
      [c, i](write_outcome out) {
        c->ctx.resume([c, i, out = std::move(out)] {
          if (out.failure) return c->next(failure{*out.failure, out.last_modified});
          create_from(c, i + 1);
        });
      },
      nullptr, c->ctx.resume);
  }
  c->next(std::nullopt);
}

} // namespace

void create_implicit(const context& ctx, port& p, const std::string& user_id, std::vector<implicit_object> objects,
                     std::function<void(std::optional<failure>)> next) {
  if (objects.empty()) return next(std::nullopt);
  create_from(std::make_shared<creation>(creation{ctx, p, user_id, std::move(objects), std::move(next)}), 0);
}

} // namespace kinto::core
