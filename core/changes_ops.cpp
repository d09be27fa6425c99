// The changes plugin (batch-and-plugins.md §10): the monitor/changes list of
// the monitored collections' timestamps, the changeset of a collection, and
// the broadcast of the newest timestamp. What it monitors is read from the
// view an operation runs on, like everything else.
#include "core/ops.hpp"

#include "core/implicit.hpp"
#include "core/objects.hpp"
#include "base/crypto.hpp"
#include "storage/listing.hpp"

#include <algorithm>
#include <memory>
#include <set>
#include <tuple>

namespace kinto::core {

namespace {

constexpr std::string_view monitor_bucket = "monitor", changes_collection = "changes";

/// "/buckets/b" -> ("b", nullopt); "/buckets/b/collections/c" -> ("b", "c");
/// nullopt for anything else.
std::optional<std::pair<std::string, std::optional<std::string>>> resource_of(std::string_view uri) {
  constexpr std::string_view buckets = "/buckets/", collections = "/collections/";
  if (uri.substr(0, buckets.size()) != buckets) return std::nullopt;
  uri.remove_prefix(buckets.size());
  const auto slash = uri.find('/');
  if (slash == std::string_view::npos) {
    if (uri.empty()) return std::nullopt;
    return std::pair{std::string(uri), std::optional<std::string>()};
  }
  const std::string_view bucket = uri.substr(0, slash), rest = uri.substr(slash);
  if (bucket.empty() || rest.substr(0, collections.size()) != collections || rest.size() == collections.size() ||
      rest.find('/', collections.size()) != std::string_view::npos)
    return std::nullopt;
  return std::pair{std::string(bucket), std::optional<std::string>(std::string(rest.substr(collections.size())))};
}

bool named_by(const std::vector<std::string>& uris, const std::string& bucket, const std::string& collection) {
  return std::any_of(uris.begin(), uris.end(), [&](const std::string& uri) {
    auto r = resource_of(uri);
    return r && r->first == bucket && (!r->second || *r->second == collection);
  });
}

bool is_monitor(std::string_view bucket, std::string_view collection) {
  return bucket == monitor_bucket && collection == changes_collection;
}

/// The timestamp of monitor/changes: its newest entry's, or now.
std::uint64_t monitor_timestamp(const std::vector<monitored_collection>& all) {
  std::uint64_t newest = 0;
  for (const auto& m : all) newest = std::max(newest, m.timestamp);
  return newest ? newest : static_cast<std::uint64_t>(now_ms());
}

std::uint64_t timestamp_of(const json::value& entry) {
  const json::value* ts = entry.find("last_modified");
  const auto n = ts ? ts->as_int64() : std::nullopt;
  return n ? static_cast<std::uint64_t>(*n) : 0;
}

void monitor_changeset(const context& ctx, const storage::view& v, const changeset_read& req,
                       const std::function<void(result<changeset>)>& done) {
  const auto all = monitored(ctx.cfg.changes, v);
  changeset out;
  out.timestamp = out.last_modified = monitor_timestamp(all);
  json::value metadata = json::value::object();
  metadata.set("bucket", json::value(std::string(monitor_bucket)));
  out.metadata = json::serialize(metadata);
  std::vector<json::value> entries;
  for (const auto& m : all) {
    if (req.since && m.timestamp <= *req.since) continue;
    if (req.bucket_filter && m.bucket != *req.bucket_filter) continue;
    if (req.collection_filter && m.collection != *req.collection_filter) continue;
    entries.push_back(change_entry(ctx.cfg.changes.host, m));
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const json::value& a, const json::value& b) { return timestamp_of(a) > timestamp_of(b); });
  if (entries.size() > req.limit) entries.resize(req.limit);
  for (const auto& e : entries) out.changes.push_back(json::serialize(e));
  done(std::move(out));
}

/// The changeset of a collection, once its records list has a timestamp in `v`.
void collection_changeset(const storage::view& v, const changeset_read& req, const json::value& collection,
                          std::uint64_t records_ts, const std::function<void(result<changeset>)>& done) {
  changeset out;
  out.timestamp = records_ts;
  json::value metadata = collection;
  metadata.set("bucket", json::value(req.bucket_id));
  out.metadata = json::serialize(metadata);
  out.last_modified = timestamp_of(collection);
  if (req.limit > 0) {
    query::request q;
    q.sort.push_back({"last_modified", {"last_modified"}, true});
    if (req.since) {
      query::filter since;
      since.operation = query::op::gt;
      since.param = "_since";
      since.field = "last_modified";
      since.value = json::value(*req.since);
      query::prepare(since);
      q.filters.push_back(std::move(since));
      q.since = req.since;
    }
    storage::page_request wanted;
    wanted.limit = req.limit;
    wanted.live_only = !req.since;
    const list_key records{"/buckets/" + req.bucket_id + "/collections/" + req.collection_id, kind::record};
    out.changes = storage::read_page(v, records, q, wanted).objects;
  }
  done(std::move(out));
}

void read_changeset(const context& ctx, port& p, std::shared_ptr<const changeset_read> req,
                    std::function<void(result<changeset>)> answer) {
  storage::snapshot snap = p.read();
  if (!snap.valid()) return answer(failure{backend_unavailable()});
  const std::function<void(result<changeset>)> done = trusted(snap, answer);
  if (is_monitor(req->bucket_id, req->collection_id)) {
    if (req->invalid) return done(failure{*req->invalid});
    return monitor_changeset(ctx, snap, *req, done);
  }
  const caller who = resolve_caller(req->user_id, snap);
  const list_key collections{"/buckets/" + req->bucket_id, kind::collection};
  if (!decider(snap, who, ctx.cfg.principal_settings).may(collections, req->collection_id, permissions::action::read))
    return done(failure{denied(who)});
  if (req->invalid) return done(failure{*req->invalid});
  auto stored = snap.get(collections, req->collection_id);
  std::string err;
  auto collection = stored && !stored->deleted ? json::parse(stored->data, err) : std::nullopt;
  if (!collection) return done(failure{route_not_found()});
  const list_key records{collections.object_uri(req->collection_id), kind::record};
  if (auto ts = snap.list_timestamp(records)) return collection_changeset(snap, *req, *collection, *ts, done);
  if (snap.failed()) return answer(failure{backend_unavailable()});
  // Read-only, a list that was never read has no timestamp to give.
  if (ctx.cfg.readonly) return done(failure{route_not_found()});
  touch_list(ctx, p, records, [&p, req, records, answer](std::optional<error> e) {
    if (e) return answer(failure{std::move(*e)});
    storage::snapshot again = p.read();
    if (!again.valid()) return answer(failure{backend_unavailable()});
    const std::function<void(result<changeset>)> done = trusted(again, answer);
    const list_key collections{"/buckets/" + req->bucket_id, kind::collection};
    auto stored = again.get(collections, req->collection_id);
    std::string err;
    auto collection = stored && !stored->deleted ? json::parse(stored->data, err) : std::nullopt;
    auto ts = again.list_timestamp(records);
    if (!collection || !ts) return done(failure{route_not_found()});
    collection_changeset(again, *req, *collection, *ts, done);
  });
}

} // namespace

std::vector<monitored_collection> monitored(const changes_options& cfg, const storage::view& v) {
  std::set<std::pair<std::string, std::string>> seen;
  std::vector<monitored_collection> out;
  auto consider = [&](const std::string& bucket, const std::string& collection) {
    if (named_by(cfg.excluded, bucket, collection) || !seen.emplace(bucket, collection).second) return;
    const std::string uri = "/buckets/" + bucket + "/collections/" + collection;
    if (auto ts = v.list_timestamp(list_key{uri, kind::record})) out.push_back({bucket, collection, *ts});
  };
  for (const auto& uri : cfg.resources) {
    auto r = resource_of(uri);
    if (!r) continue;
    const list_key collections{"/buckets/" + r->first, kind::collection};
    if (r->second) {
      auto stored = v.get(collections, *r->second);
      if (stored && !stored->deleted) consider(r->first, *r->second);
      continue;
    }
    std::vector<std::string> ids;
    v.walk_all(collections, [&](const storage::change& ch) {
      if (!ch.deleted) ids.emplace_back(ch.id);
      return true;
    });
    for (const auto& id : ids) consider(r->first, id);
  }
  std::sort(out.begin(), out.end(), [](const monitored_collection& a, const monitored_collection& b) {
    return std::tie(a.bucket, a.collection) < std::tie(b.bucket, b.collection);
  });
  return out;
}

json::value change_entry(const std::string& host, const monitored_collection& m) {
  json::value entry = json::value::object();
  entry.set("id", json::value(crypto::md5_uuid(host + "/buckets/" + m.bucket + "/collections/" + m.collection)));
  entry.set("last_modified", json::value(m.timestamp));
  entry.set("bucket", json::value(m.bucket));
  entry.set("collection", json::value(m.collection));
  entry.set("host", json::value(host));
  return entry;
}

void op_monitor_changes(const context& ctx, port& p, monitor_read req, std::function<void(result<list_page>)> answer) {
  storage::snapshot snap = p.read();
  if (!snap.valid()) return answer(failure{backend_unavailable()});
  if (req.invalid) return answer(failure{*req.invalid});
  const auto all = monitored(ctx.cfg.changes, snap);
  const auto done = trusted(snap, answer);
  list_page page;
  page.list_timestamp = monitor_timestamp(all);
  if (req.pre.if_none_match_any || (req.pre.if_match && *req.pre.if_match != page.list_timestamp))
    return done(failure{precondition_failed(std::nullopt), page.list_timestamp});
  // Unchanged: an empty page rather than a 304, which CDNs do not cache.
  if (req.if_none_match && *req.if_none_match == page.list_timestamp) return done(std::move(page));
  std::vector<json::value> matching;
  for (const auto& m : all) {
    json::value entry = change_entry(ctx.cfg.changes.host, m);
    if (query::matches_all(req.q.filters, entry)) matching.push_back(std::move(entry));
  }
  if (req.count_only) {
    page.total = matching.size();
    return done(std::move(page));
  }
  std::stable_sort(matching.begin(), matching.end(), [&](const json::value& a, const json::value& b) {
    return query::compare_by(req.q.sort, a, b) < 0;
  });
  std::int64_t offset = 0;
  auto first = matching.begin();
  if (req.after) {
    offset = req.after->offset;
    first = std::find_if(matching.begin(), matching.end(), [&](const json::value& e) {
      return query::after_token(req.q.sort, req.after->last_object, e);
    });
  }
  const std::size_t available = static_cast<std::size_t>(matching.end() - first);
  const std::size_t taken = std::min(available, req.limit);
  for (auto it = first; it != first + static_cast<std::ptrdiff_t>(taken); ++it) {
    page.objects.push_back(json::serialize(req.q.fields ? query::project(*it, *req.q.fields) : *it));
  }
  if (taken < available && taken > 0)
    page.next = query::token_after(req.q.sort, *(first + static_cast<std::ptrdiff_t>(taken) - 1),
                                   offset + static_cast<std::int64_t>(req.limit) + 1);
  done(std::move(page));
}

void op_changeset(const context& ctx, port& p, changeset_read req, std::function<void(result<changeset>)> done) {
  auto shared = std::make_shared<changeset_read>(std::move(req));
  create_implicit(ctx, p, shared->user_id, std::move(shared->implicit),
                  [ctx, &p, shared, done = std::move(done)](std::optional<failure> f) {
                    if (f) return done(std::move(*f));
                    read_changeset(ctx, p, shared, done);
                  });
}

std::uint64_t broadcast_debounce::publish(std::uint64_t now_ms, const std::function<std::uint64_t()>& newest) {
  constexpr std::int64_t day_ms = 24ll * 3600 * 1000;
  const auto age_ms = [now_ms](std::uint64_t ts) { return static_cast<std::int64_t>(now_ms) - static_cast<std::int64_t>(ts); };
  std::lock_guard<std::mutex> lock(mutex_);
  if (published_ && age_ms(published_at_) > day_ms) published_.reset();
  if (!published_) {
    published_ = newest();
    published_at_ = now_ms;
    return *published_;
  }
  // In whole seconds, as upstream counts them, but for the age of the new
  // timestamp itself.
  const std::uint64_t last = *published_;
  if (age_ms(last) / 1000 <= interval_ms_ / 1000) return last;
  const std::uint64_t current = newest();
  if (current <= last) return last;
  if (static_cast<std::int64_t>(current - last) / 1000 > interval_ms_ / 1000 || age_ms(current) > interval_ms_) {
    published_ = current;
    published_at_ = now_ms;
  }
  return *published_;
}

void op_broadcast(const context& ctx, port& p, broadcast_read req, std::function<void(result<std::uint64_t>)> answer) {
  storage::snapshot snap = p.read();
  if (!snap.valid()) return answer(failure{backend_unavailable()});
  const auto done = trusted(snap, answer);
  const auto newest = [&] {
    std::uint64_t ts = 0;
    for (const auto& m : monitored(ctx.cfg.changes, snap))
      if ((m.bucket + "/" + m.collection).find("-preview") == std::string::npos) ts = std::max(ts, m.timestamp);
    return ts;
  };
  done(req.debounce->publish(static_cast<std::uint64_t>(now_ms()), newest));
}

} // namespace kinto::core
