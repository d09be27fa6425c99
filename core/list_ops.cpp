// The operations on a list (resources.md §3, querying.md, auth-permissions.md
// §6): reading a page or counting, and deleting a page. What the caller may
// see of a list is decided on the view the page is read from.
#include "core/ops.hpp"

#include "core/implicit.hpp"
#include "core/objects.hpp"
#include "storage/listing.hpp"

#include <algorithm>
#include <memory>

namespace kinto::core {

void touch_list(const context& ctx, port& p, const list_key& list, std::function<void(std::optional<error>)> then) {
  write_command touch;
  touch.op = write_op::touch;
  p.write(
    list, std::move(touch),
    [resume = ctx.resume, then = std::move(then)](write_outcome out) {
      resume([then, out = std::move(out)] { then(out.failure); });
    },
    nullptr, ctx.resume);
}

namespace {

/// Which objects of a list the caller may see (or delete), over a view:
/// empty = all.
using access_rule = std::function<storage::visibility(const storage::view&)>;

/// auth-permissions.md §6: the whole list, the objects the caller holds a
/// permission on, or nothing (when the caller may only create); nullopt
/// when the caller may not use the list at all. Accounts: non-administrators
/// only see their own.
std::optional<access_rule> list_access(const rules& cfg, const std::shared_ptr<const caller>& who,
                                       const list_key& list, const storage::view& v, bool write) {
  if (list.of == kind::account) {
    if (is_account_admin(cfg, *who, write)) return access_rule{};
    return access_rule{[who](const storage::view&) -> storage::visibility {
      return [who](std::string_view id) { return who->user_id == "account:" + std::string(id); };
    }};
  }
  decider access(v, *who, cfg.principal_settings);
  if (access.may(list, "", write ? permissions::action::write_all : permissions::action::read_all)) return access_rule{};
  std::vector<std::string_view> names = write ? std::vector<std::string_view>{"write"} : permissions::listing_names(list.of);
  if (access.holds_on_some(list, names))
    return access_rule{[who, list, names](const storage::view& snap) { return holding(snap, who, list, names); }};
  if (access.may(list, "", permissions::action::create))
    return access_rule{[](const storage::view&) -> storage::visibility { return [](std::string_view) { return false; }; }};
  return std::nullopt;
}

/// The caller, what it may do on the list, from `v`; or why not.
struct list_use {
  std::shared_ptr<const caller> who;
  access_rule rule;
};

result<list_use> use_of(const rules& cfg, const std::string& user_id, const list_key& list, const storage::view& v,
                        bool write, const std::optional<error>& invalid) {
  if (auto owner = owner_of(list.parent))
    v.read_ahead({.list = owner->list, .id = owner->id, .members = members_of(user_id)});
  auto who = std::make_shared<const caller>(resolve_caller(user_id, v));
  const auto owner_missing = missing_owner(v, list);
  if (list.of == kind::account && !who->authenticated()) return failure{unauthorized()};
  auto rule = list_access(cfg, who, list, v, write);
  if (!rule) return failure{denied(*who)};
  if (owner_missing) return failure{*owner_missing};
  if (invalid) return failure{*invalid};
  return list_use{who, std::move(*rule)};
}

void read_page(const context& ctx, const list_read& req, const storage::view& snap, std::uint64_t list_ts,
               const list_use& use, const std::function<void(result<list_page>)>& done) {
  list_page page;
  page.list_timestamp = list_ts;
  if (req.if_none_match && *req.if_none_match == list_ts) {
    page.not_modified = true;
    return done(std::move(page));
  }
  if (req.pre.if_none_match_any || (req.pre.if_match && *req.pre.if_match != list_ts))
    return done(failure{precondition_failed(std::nullopt), list_ts});
  page.cache_seconds = cache_seconds(ctx.cfg, *use.who, snap, req.list);
  const storage::visibility visible = use.rule ? use.rule(snap) : storage::visibility{};
  if (req.count_only) {
    page.total = storage::count(snap, req.list, req.q, visible);
    return done(std::move(page));
  }
  storage::page_request wanted;
  wanted.limit = req.limit;
  wanted.visible = visible;
  std::int64_t offset = 0;
  if (req.after) {
    wanted.after = req.after->last_object;
    offset = req.after->offset;
  }
  storage::page found = storage::read_page(snap, req.list, req.q, wanted);
  page.objects.reserve(found.objects.size());
  for (auto& text : found.objects) {
    if (req.q.fields) {
      std::string err;
      auto object = json::parse(text, err);
      page.objects.push_back(object ? json::serialize(query::project(*object, *req.q.fields)) : std::move(text));
    } else {
      page.objects.push_back(std::move(text));
    }
  }
  if (found.more) page.next = query::token_after(req.q.sort, found.last, offset + static_cast<std::int64_t>(req.limit) + 1);
  done(std::move(page));
}

void read_list(const context& ctx, port& p, std::shared_ptr<list_read> req, std::function<void(result<list_page>)> answer) {
  storage::snapshot snap = p.read();
  if (!snap.valid()) return answer(failure{backend_unavailable()});
  const std::function<void(result<list_page>)> done = trusted(snap, answer);
  auto use = use_of(ctx.cfg, req->user_id, req->list, snap, false, req->invalid);
  if (auto* f = std::get_if<failure>(&use)) return done(std::move(*f));
  if (auto ts = snap.list_timestamp(req->list)) return read_page(ctx, *req, snap, *ts, std::get<list_use>(use), done);
  if (snap.failed()) return answer(failure{backend_unavailable()});
  if (ctx.cfg.readonly) {
    error e = backend_unavailable();
    e.message = "Resource timestamp cannot be written. Plural endpoint must be hit at least once from a writable instance.";
    return done(failure{e});
  }
  touch_list(ctx, p, req->list, [ctx, &p, req, use = std::get<list_use>(std::move(use)), answer](std::optional<error> e) {
    if (e) return answer(failure{std::move(*e)});
    // Read back what is stored: a concurrent write may have set it first.
    storage::snapshot again = p.read();
    auto ts = again.valid() ? again.list_timestamp(req->list) : std::nullopt;
    if (!ts) return answer(failure{backend_unavailable()});
    read_page(ctx, *req, again, *ts, use, trusted(again, answer));
  });
}

} // namespace

result<storage::visibility> list_visibility(const rules& cfg, const std::string& user_id, const list_key& list,
                                            const storage::view& v) {
  auto use = use_of(cfg, user_id, list, v, false, std::nullopt);
  if (auto* f = std::get_if<failure>(&use)) return std::move(*f);
  auto& allowed = std::get<list_use>(use);
  return allowed.rule ? allowed.rule(v) : storage::visibility{};
}

namespace {

/// One page of a plural DELETE, chosen on a view: the ids to remove in sort
/// order, the next token, the list timestamp; or the refusal (400, 412).
struct deletion_page {
  std::vector<std::string> ids;
  std::optional<query::token> next;
  std::uint64_t list_ts = 0;
};

result<deletion_page> choose_deletions(const context& ctx, const list_removal& req, const list_use& use,
                                       const storage::view& v) {
  deletion_page chosen;
  chosen.list_ts = v.list_timestamp(req.list).value_or(0);
  if (req.pre.if_none_match_any || (req.pre.if_match && *req.pre.if_match != chosen.list_ts))
    return failure{precondition_failed(std::nullopt), chosen.list_ts};
  storage::page_request wanted;
  wanted.limit = req.limit;
  if (use.rule) wanted.visible = use.rule(v);
  wanted.live_only = true;
  std::int64_t offset = 0;
  if (req.after) {
    // Deletion tokens are single use.
    if (!ctx.deletion_tokens.consume(req.after->nonce))
      return failure{invalid_parameter("querystring", std::nullopt, "_token was already used or has expired.")};
    wanted.after = req.after->last_object;
    offset = req.after->offset;
  }
  storage::page page = storage::read_page(v, req.list, req.q, wanted);
  for (const auto& text : page.objects) {
    std::string err;
    auto object = json::parse(text, err);
    const json::value* id = object ? object->find("id") : nullptr;
    if (id && id->is_string()) chosen.ids.push_back(id->as_string());
  }
  if (page.more) {
    chosen.next = query::token_after(req.q.sort, page.last, offset + static_cast<std::int64_t>(chosen.ids.size()));
    ctx.deletion_tokens.remember(chosen.next->nonce);
  }
  return chosen;
}

write_command removal(const caller& who, const std::string& id) {
  write_command cmd;
  cmd.op = write_op::remove;
  cmd.id = id;
  cmd.author = who.author();
  return cmd;
}

/// What a plural DELETE answers: the tombstones of the removals that took
/// place, in the page's order.
list_removed removed_of(const deletion_page& page, std::vector<std::optional<std::string>>& tombstones,
                        std::uint64_t newest) {
  list_removed out;
  out.last_modified = newest;
  out.next = page.next;
  for (auto& t : tombstones)
    if (t) out.tombstones.push_back(std::move(*t));
  return out;
}

/// Plural DELETE of a history: one transaction chooses the entries and
/// removes them. History entries are appended by the committer, inside the
/// transactions of the changes they describe, not by the history's list
/// actor; so only a writer reads every entry acknowledged so far and the
/// history's true timestamp. Removals planned elsewhere (by the list actor,
/// against a snapshot) could take a timestamp that an earlier removal of
/// the same purge, or a new entry, already held, and be refused.
void purge_history(const context& ctx, port& p, std::shared_ptr<list_removal> req,
                   std::function<void(result<list_removed>)> done) {
  struct purge {
    result<deletion_page> chosen = failure{backend_unavailable()};
    std::vector<std::optional<std::string>> tombstones;
    std::uint64_t newest = 0;
  };
  auto out = std::make_shared<purge>();
  auto run = [ctx, req, out](transaction& t) {
    const storage::snapshot current = t.read();
    if (!current.valid()) return t.abort();
    auto use = use_of(ctx.cfg, req->user_id, req->list, current, true, req->invalid);
    if (auto* f = std::get_if<failure>(&use)) {
      out->chosen = std::move(*f);
      return;
    }
    const list_use& allowed = std::get<list_use>(use);
    out->chosen = choose_deletions(ctx, *req, allowed, current);
    auto* page = std::get_if<deletion_page>(&out->chosen);
    if (!page) return;
    out->newest = page->list_ts;
    for (const auto& id : page->ids) {
      // Writes in a transaction are answered before write() returns.
      t.write(req->list, removal(*allowed.who, id), [out](write_outcome removed) {
        if (removed.failure) {
          out->tombstones.emplace_back();
          return;
        }
        out->tombstones.emplace_back(std::move(removed.data));
        out->newest = std::max(out->newest, removed.last_modified);
      }, nullptr, ctx.resume);
    }
  };
  p.transact(run, [ctx, out, done](storage::status s) {
    ctx.resume([out, done, s] {
      if (s != storage::status::ok) return done(failure{s == storage::status::full ? insufficient_storage() : backend_unavailable()});
      if (auto* f = std::get_if<failure>(&out->chosen)) return done(std::move(*f));
      done(removed_of(std::get<deletion_page>(out->chosen), out->tombstones, out->newest));
    });
  });
}

/// Plural DELETE (querying.md §8): the matching live objects of one page,
/// each deleted by its own write, in sort order.
void delete_list(const context& ctx, port& p, std::shared_ptr<list_removal> req,
                 std::function<void(result<list_removed>)> done) {
  if (req->list.of == kind::history) return purge_history(ctx, p, std::move(req), std::move(done));
  storage::snapshot snap = p.read();
  if (!snap.valid()) return done(failure{backend_unavailable()});
  const auto refuse = trusted(snap, done);
  auto use = use_of(ctx.cfg, req->user_id, req->list, snap, true, req->invalid);
  if (auto* f = std::get_if<failure>(&use)) return refuse(std::move(*f));
  auto chosen = choose_deletions(ctx, *req, std::get<list_use>(use), snap);
  if (auto* f = std::get_if<failure>(&chosen)) return refuse(std::move(*f));
  if (snap.failed()) return done(failure{backend_unavailable()});
  struct progress {
    std::mutex mutex;
    deletion_page page;
    std::vector<std::optional<std::string>> tombstones;
    std::size_t remaining = 0;
    std::uint64_t newest = 0;
  };
  auto state = std::make_shared<progress>();
  state->page = std::move(std::get<deletion_page>(chosen));
  const std::size_t n = state->page.ids.size();
  state->tombstones.resize(n);
  state->remaining = n;
  state->newest = state->page.list_ts;
  auto finish = [state, done] { done(removed_of(state->page, state->tombstones, state->newest)); };
  if (n == 0) return finish();
  const caller& who = *std::get<list_use>(use).who;
  for (std::size_t i = 0; i < n; ++i) {
    p.write(req->list, removal(who, state->page.ids[i]), [ctx, state, finish, i](write_outcome out) {
      bool last = false;
      {
        std::lock_guard<std::mutex> lock(state->mutex);
        if (!out.failure) {
          state->tombstones[i] = std::move(out.data);
          state->newest = std::max(state->newest, out.last_modified);
        }
        last = --state->remaining == 0;
      }
      if (last) ctx.resume(finish);
    }, nullptr, ctx.resume);
  }
}

} // namespace

std::size_t page_size(const rules& r, const query::request& q) {
  const std::int64_t max_fetch = std::max<std::int64_t>(r.storage_max_fetch_size, 1);
  std::optional<std::int64_t> size = q.limit;
  if (size && *size == 0) return static_cast<std::size_t>(max_fetch);
  if (r.paginate_by && *r.paginate_by > 0) size = size ? std::min(*size, *r.paginate_by) : *r.paginate_by;
  return static_cast<std::size_t>(size ? std::min(*size, max_fetch) : max_fetch);
}

void op_watch(const context& ctx, port& p, list_selection req, std::function<void(result<std::uint64_t>)> done) {
  auto shared = std::make_shared<list_selection>(std::move(req));
  create_implicit(ctx, p, shared->user_id, std::move(shared->implicit),
                  [ctx, &p, shared, done = std::move(done)](std::optional<failure> f) {
                    if (f) return done(std::move(*f));
                    storage::snapshot snap = p.read();
                    if (!snap.valid()) return done(failure{backend_unavailable()});
                    const auto reply = trusted(snap, done);
                    auto use = use_of(ctx.cfg, shared->user_id, shared->list, snap, false, shared->invalid);
                    if (auto* refused = std::get_if<failure>(&use)) return reply(std::move(*refused));
                    const std::uint64_t ts = snap.list_timestamp(shared->list).value_or(0);
                    reply(ts);
                  });
}

void op_list(const context& ctx, port& p, list_read req, std::function<void(result<list_page>)> done) {
  auto shared = std::make_shared<list_read>(std::move(req));
  create_implicit(ctx, p, shared->user_id, std::move(shared->implicit),
                  [ctx, &p, shared, done = std::move(done)](std::optional<failure> f) {
                    if (f) return done(std::move(*f));
                    read_list(ctx, p, shared, done);
                  });
}

void op_delete_list(const context& ctx, port& p, list_removal req, std::function<void(result<list_removed>)> done) {
  auto shared = std::make_shared<list_removal>(std::move(req));
  create_implicit(ctx, p, shared->user_id, std::move(shared->implicit),
                  [ctx, &p, shared, done = std::move(done)](std::optional<failure> f) {
                    if (f) return done(std::move(*f));
                    delete_list(ctx, p, shared, done);
                  });
}

} // namespace kinto::core
