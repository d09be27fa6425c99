// The operations on one object (resources.md §4-§8, concurrency.md,
// auth-permissions.md §5): reading it, and writing it with POST, PUT,
// PATCH or DELETE. The target is read once, from the view the decision is
// taken on, and the write is planned on that same read.
#include "core/ops.hpp"

#include "core/implicit.hpp"
#include "core/objects.hpp"

namespace kinto::core {

namespace {

error invalid_id() { return invalid_parameter("path", std::nullopt, "Invalid object id"); }

/// The permissions text as `viewer` may see it: whole for its writers.
std::string shown_permissions(const caller& viewer, const std::string& text) {
  return acl::decode(text).grants("write", viewer.principals) ? text : std::string("{}");
}

/// The answer to `req`, read from `snap`.
void answer_read(const context& ctx, const storage::snapshot& snap, const object_read& req,
                 const std::function<void(result<object_found>)>& answer) {
  if (!snap.valid()) return answer(failure{backend_unavailable()});
  const auto done = trusted(snap, answer);
  const caller who = resolve_caller(req.user_id, snap);
  const list_key& list = req.list;
  const kind k = list.of;
  if (k == kind::account && !valid_id(k, req.id)) return done(failure{invalid_id()});
  if (k == kind::account) {
    if (auto e = account_access(ctx.cfg, who, req.id, false)) return done(failure{*e});
  } else if (!decider(snap, who, ctx.cfg.principal_settings).may(list, req.id, permissions::action::read)) {
    return done(failure{denied(who)});
  }
  if (auto e = missing_owner(snap, list)) return done(failure{*e});
  if (!valid_id(k, req.id)) return done(failure{invalid_id()});
  auto obj = snap.get(list, req.id);
  if (!obj || obj->deleted) return done(failure{object_not_found(req.id, kind_name(k))});
  if (req.invalid) return done(failure{*req.invalid});
  object_found found;
  found.last_modified = obj->last_modified;
  if (req.if_none_match && *req.if_none_match == obj->last_modified) {
    found.not_modified = true;
    return done(std::move(found));
  }
  if (req.pre.if_none_match_any || (req.pre.if_match && *req.pre.if_match != obj->last_modified)) {
    std::string err;
    return done(failure{precondition_failed(json::parse(obj->data, err)), obj->last_modified});
  }
  found.permissions = shown_permissions(who, snap.permissions(list.object_uri(req.id)).value_or("{}"));
  found.data = std::move(obj->data);
  if (req.fields) {
    // Partial response (querying.md §6), as on lists.
    std::string err;
    if (auto full = json::parse(found.data, err)) found.data = json::serialize(query::project(*full, *req.fields));
  }
  found.cache_seconds = cache_seconds(ctx.cfg, who, snap, list);
  done(std::move(found));
}

void read_object(const context& ctx, port& p, std::shared_ptr<const object_read> req,
                 std::function<void(result<object_found>)> done) {
  const std::vector<std::string_view> members = members_of(req->user_id);
  p.read({.list = req->list, .id = req->id, .members = members},
         [ctx, req, done = std::move(done)](storage::snapshot snap) { answer_read(ctx, snap, *req, done); });
}

/// Submits `cmd` and turns its outcome into the operation's result, back
/// on the request's executor. `viewer` decides what of the permissions it
/// sees.
void submit(const context& ctx, port& p, const list_key& list, write_command cmd, caller viewer,
            std::optional<json::value> sent, std::string behaviour, const target_read* read,
            std::function<void(result<object_written>)> done) {
  const bool removes = cmd.op == write_op::remove;
  auto settle = [viewer = std::move(viewer), sent = std::move(sent), behaviour = std::move(behaviour), removes,
                 done = std::move(done)](write_outcome out) {
    if (out.failure) return done(failure{std::move(*out.failure), out.last_modified});
    object_written written;
    written.created = out.created;
    written.removed = removes;
    written.last_modified = out.last_modified;
    if (!removes) written.permissions = shown_permissions(viewer, out.permissions);
    written.data = sent ? shape_patch_response(behaviour, *sent, out.previous, out.data) : std::move(out.data);
    done(std::move(written));
  };
  p.write(
    list, std::move(cmd),
    [resume = ctx.resume, settle = std::move(settle)](write_outcome out) mutable {
      resume([settle = std::move(settle), out = std::move(out)]() mutable { settle(std::move(out)); });
    },
    read, ctx.resume);
}

/// Accounts (batch-and-plugins.md §2): seen and changed by themselves and
/// administrators; written in their own name.
void write_account(const context& ctx, port& p, const storage::view& snap, const caller& who, object_write& req,
                   std::function<void(result<object_written>)> done) {
  write_command& cmd = req.cmd;
  auto existing = snap.get(req.list, cmd.id);
  if (snap.failed()) return done(failure{backend_unavailable()});
  const bool exists = existing && !existing->deleted;
  const bool replacing = cmd.op == write_op::put;
  if (cmd.op == write_op::create) {
    if (exists) {
      if (auto e = account_access(ctx.cfg, who, cmd.id, false)) return done(failure{*e});
    } else {
      if (auto e = account_creation(ctx.cfg, who, cmd.id)) return done(failure{*e});
      if (auto e = account_password(true, cmd.data)) return done(failure{*e});
    }
  } else {
    if (exists || !replacing) {
      if (auto e = account_access(ctx.cfg, who, cmd.id, true)) return done(failure{*e});
    } else if (auto e = account_creation(ctx.cfg, who, cmd.id)) {
      return done(failure{*e});
    }
    if (replacing || cmd.data)
      if (auto e = account_password(replacing, cmd.data)) return done(failure{*e});
  }
  cmd.author = "account:" + cmd.id;
  // An account's write is made in its own name, also when an administrator
  // or an anonymous sign-up makes it: it sees the account's permissions.
  caller viewer = who;
  viewer.principals.push_back(cmd.author);
  submit(ctx, p, req.list, std::move(cmd), std::move(viewer), std::move(req.sent), std::move(req.behaviour), nullptr,
         std::move(done));
}

/// Plans `req` on `snap` and submits it.
void plan_write(const context& ctx, port& p, const storage::snapshot& snap, object_write& req,
                std::function<void(result<object_written>)> answer) {
  if (!snap.valid()) return answer(failure{backend_unavailable()});
  // Refusals are answered from here; a write planned on a failed read is not submitted.
  const auto done = trusted(snap, answer);
  const caller who = resolve_caller(req.user_id, snap);
  const list_key& list = req.list;
  const kind k = list.of;
  write_command& cmd = req.cmd;
  cmd.author = who.author();
  cmd.explicit_permissions = ctx.cfg.explicit_permissions;
  const bool posted = cmd.op == write_op::create;
  const std::optional<error> owner_missing = missing_owner(snap, list);
  if (k == kind::account) {
    if (!posted && !valid_id(k, cmd.id)) return done(failure{invalid_id()});
    if (req.invalid) return done(failure{*req.invalid});
    return write_account(ctx, p, snap, who, req, std::move(answer));
  }
  // Writes of records in a missing collection are refused before
  // authorization (resources.md §8).
  if (k == kind::record && owner_missing) return done(failure{*owner_missing});
  if (req.invalid) return done(failure{*req.invalid});

  // auth-permissions.md §5.1-§5.2; posting an existing id reads it.
  const current_state target = read_current(snap, list, cmd.id);
  const bool exists = target.exists();
  decider access(snap, who, ctx.cfg.principal_settings);
  if (exists) access.know(list.object_uri(cmd.id), acl::from(target.permissions));
  const permissions::action needed = posted ? (exists ? permissions::action::read : permissions::action::create)
                                            : needed_for_write(cmd.op, exists, cmd.pre);
  if (!access.may(list, cmd.id, needed)) return done(failure{denied(who)});
  if (owner_missing) return done(failure{*owner_missing});
  if (!valid_id(k, cmd.id)) return done(failure{invalid_id()});
  if (cmd.op != write_op::remove) {
    auto validator = schema_validator(ctx.cfg, ctx.schemas, snap, list);
    if (auto* e = std::get_if<error>(&validator)) return done(failure{*e});
    cmd.validate = std::move(std::get<write_validator>(validator));
  }
  if (snap.failed()) return done(failure{backend_unavailable()});
  const target_read read{snap, target};
  submit(ctx, p, list, std::move(cmd), who, std::move(req.sent), std::move(req.behaviour), &read, std::move(answer));
}

void write_object(const context& ctx, port& p, std::shared_ptr<object_write> req,
                  std::function<void(result<object_written>)> done) {
  const std::vector<std::string_view> members = members_of(req->user_id);
  // A write plans against the list's timestamp too.
  p.read({.list = req->list, .id = req->cmd.id, .members = members, .stamped = &req->list},
         [ctx, &p, req, done = std::move(done)](storage::snapshot snap) mutable {
           plan_write(ctx, p, snap, *req, std::move(done));
         });
}

} // namespace

void op_get(const context& ctx, port& p, object_read req, std::function<void(result<object_found>)> done) {
  auto implicit = std::move(req.implicit);
  const std::string user_id = req.user_id;
  auto shared = std::make_shared<const object_read>(std::move(req));
  create_implicit(ctx, p, user_id, std::move(implicit), [ctx, &p, shared, done](std::optional<failure> f) {
    if (f) return done(std::move(*f));
    read_object(ctx, p, shared, done);
  });
}

void op_write(const context& ctx, port& p, object_write req, std::function<void(result<object_written>)> done) {
  auto implicit = std::move(req.implicit);
  const std::string user_id = req.user_id;
  auto shared = std::make_shared<object_write>(std::move(req));
  create_implicit(ctx, p, user_id, std::move(implicit), [ctx, &p, shared, done](std::optional<failure> f) {
    if (f) return done(std::move(*f));
    write_object(ctx, p, shared, done);
  });
}

} // namespace kinto::core
