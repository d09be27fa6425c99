// History entries, written by the committer inside the transaction of the
// change they describe.
#include "actors/history.hpp"

#include "base/crypto.hpp"
#include "base/json.hpp"

#include <algorithm>
#include <ctime>

namespace kinto::actors {

namespace {

json::value parsed(std::string_view text) {
  std::string err;
  auto v = json::parse(text.empty() ? "{}" : text, err);
  return v ? std::move(*v) : json::value::object();
}

/// ISO 8601 UTC with microseconds, as upstream writes `date`.
std::string iso_date(std::uint64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06u+00:00", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<unsigned>(ms % 1000) * 1000u);
  return text;
}

/// Adds the read and write principals of the ACL at `uri` to `into`.
void add_readers(const storage::view& v, std::string_view uri, json::value& into) {
  const json::value acl = parsed(v.permissions(uri).value_or("{}"));
  for (std::string_view name : {"read", "write"}) {
    const json::value* list = acl.find(name);
    if (!list || !list->is_array()) continue;
    for (const auto& p : list->as_array()) {
      const auto& existing = into.as_array();
      if (p.is_string() && std::find(existing.begin(), existing.end(), p) == existing.end()) into.as_array().push_back(p);
    }
  }
}

bool excluded(const history_options& options, std::string_view uri, std::string_view author) {
  for (const auto& prefix : options.exclude_resources)
    if (uri == prefix || uri.rfind(prefix + "/", 0) == 0) return true;
  return std::find(options.exclude_user_ids.begin(), options.exclude_user_ids.end(), author) !=
         options.exclude_user_ids.end();
}

/// Trims the history of `bucket_uri` for the entry just written, if it is
/// tracked: a counter per (bucket, resource name[, user]) in the meta
/// database says when to look; the look counts exactly and deletes the
/// oldest entries beyond max_count.
storage::status trim(storage::writer& b, const history_options& options, const std::string& bucket_uri,
                     std::string_view resource, const std::string& author) {
  if (options.auto_trim_max_count <= 0) return storage::status::ok;
  const bool per_user = !options.auto_trim_user_ids.empty();
  if (per_user && std::find(options.auto_trim_user_ids.begin(), options.auto_trim_user_ids.end(), author) ==
                    options.auto_trim_user_ids.end())
    return storage::status::ok;
  std::string counter = "history-count";
  counter += '\0';
  counter += bucket_uri;
  counter += '\0';
  counter += resource;
  if (per_user) {
    counter += '\0';
    counter += author;
  }
  std::int64_t count = 1;
  if (auto text = b.meta(counter)) count = std::stoll(*text) + 1;
  if (count <= options.auto_trim_max_count + options.auto_trim_threshold)
    return b.set_meta(counter, std::to_string(count));

  const list_key history{bucket_uri, kind::history};
  std::vector<std::string> matching; // oldest first
  b.walk(history, 0, 0, false, [&](const storage::change& ch) {
    if (ch.deleted) return true;
    const json::value entry = parsed(ch.data);
    const json::value* name = entry.find("resource_name");
    const json::value* user = entry.find("user_id");
    if (!name || !name->is_string() || name->as_string() != resource) return true;
    if (per_user && !(user && user->is_string() && user->as_string() == author)) return true;
    matching.emplace_back(ch.id);
    return true;
  });
  const auto keep = static_cast<std::size_t>(options.auto_trim_max_count);
  for (std::size_t i = 0; i + keep < matching.size(); ++i)
    if (auto s = b.erase_object(history, matching[i]); s != storage::status::ok) return s;
  return b.set_meta(counter, std::to_string(std::min(matching.size(), keep)));
}

} // namespace

storage::status record_history(storage::writer& b, const history_options& options, const list_key& list,
                               const std::string& id, const write_plan& plan, const std::string& author) {
  const kind k = list.of;
  if (!options.enabled || !(k == kind::bucket || k == kind::group || k == kind::collection || k == kind::record))
    return storage::status::ok;
  const std::string uri = list.object_uri(id);
  if (excluded(options, uri, author)) return storage::status::ok;
  // A deleted bucket takes its history with it.
  if (k == kind::bucket && plan.object.deleted) return storage::status::ok;
  const std::string bucket_uri = k == kind::bucket ? uri : list.parent.substr(0, list.parent.find('/', 9));
  const std::string bucket_id = bucket_uri.substr(9);

  json::value entry = json::value::object();
  entry.set("action", json::value(plan.object.deleted ? "delete" : plan.created ? "create" : "update"));
  entry.set("uri", json::value(uri));
  entry.set("user_id", author == everyone ? json::value() : json::value(author));
  entry.set("resource_name", json::value(kind_name(k)));
  switch (k) {
    case kind::bucket: entry.set("bucket_id", json::value(id)); break;
    case kind::group: entry.set("bucket_id", json::value(bucket_id)); entry.set("group_id", json::value(id)); break;
    case kind::collection:
      entry.set("bucket_id", json::value(bucket_id));
      entry.set("collection_id", json::value(id));
      break;
    default: {
      entry.set("bucket_id", json::value(bucket_id));
      entry.set("collection_id", json::value(list.parent.substr(list.parent.rfind('/') + 1)));
      entry.set("record_id", json::value(id));
      break;
    }
  }
  entry.set("date", json::value(iso_date(plan.object.last_modified)));
  json::value target = json::value::object();
  if (plan.object.deleted) {
    json::value tombstone = json::value::object();
    tombstone.set("deleted", json::value(true));
    tombstone.set("id", json::value(id));
    tombstone.set("last_modified", json::value(plan.object.last_modified));
    target.set("data", std::move(tombstone));
    target.set("permissions", json::value::object());
  } else {
    target.set("data", parsed(plan.object.data));
    target.set("permissions", parsed(plan.object.permissions));
  }
  entry.set("target", std::move(target));

  // Who may read this entry, fixed now: readers and writers of the bucket,
  // of the collection (collection and record entries), and of the object.
  json::value readers = json::value::array();
  add_readers(b, bucket_uri, readers);
  if (k == kind::record) add_readers(b, list.parent, readers);
  if (k != kind::bucket) {
    const json::value acl = parsed(plan.object.permissions);
    for (std::string_view name : {"read", "write"})
      if (const json::value* l = acl.find(name); l && l->is_array())
        for (const auto& p : l->as_array())
          if (p.is_string() && std::find(readers.as_array().begin(), readers.as_array().end(), p) == readers.as_array().end())
            readers.as_array().push_back(p);
  }

  const list_key history{bucket_uri, kind::history};
  const std::uint64_t previous = b.list_timestamp(history).value_or(0);
  const std::uint64_t now = now_ms();
  const std::uint64_t ts = now > previous ? now : previous + 1;
  const std::string entry_id = crypto::uuid4();
  entry.set("id", json::value(entry_id));
  entry.set("last_modified", json::value(ts));
  json::value acl = json::value::object();
  if (!readers.as_array().empty()) acl.set("read", std::move(readers));
  if (auto s = b.put(history, entry_id, storage::object{ts, false, json::serialize(entry), json::serialize(acl)},
                     std::nullopt);
      s != storage::status::ok)
    return s;
  if (auto s = b.set_list_timestamp(history, ts); s != storage::status::ok) return s;
  return trim(b, options, bucket_uri, kind_name(k), author);
}

} // namespace kinto::actors
