// GET /buckets/{bid}/snapshot/collections/{cid}@{timestamp} (history plugin,
// batch-and-plugins.md §3.5): the records of a collection as they were at a
// timestamp, rebuilt from the current records and the bucket's history.
#include "http/call.hpp"

#include <charconv>
#include <map>

namespace kinto::http {

void handle_history_snapshot(const call_ptr& c) {
  const std::string& spec = c->r.id; // "<cid>@<timestamp>"
  const auto at = spec.rfind('@');
  std::uint64_t when = 0;
  const std::string cid = at == std::string::npos ? spec : spec.substr(0, at);
  const char* first = spec.data() + (at == std::string::npos ? spec.size() : at + 1);
  const char* last = spec.data() + spec.size();
  auto [end, ec] = std::from_chars(first, last, when);
  if (at == std::string::npos || first == last || ec != std::errc() || end != last)
    return c->fail(invalid_parameter("path", "timestamp", "The timestamp should be a non-negative integer"));

  storage::snapshot snap = c->read();
  if (!snap.valid()) return c->fail(backend_unavailable());
  const std::string bucket_uri = c->r.list.parent;
  const std::string collection_uri = bucket_uri + "/collections/" + cid;
  // Read or write on the bucket or the collection, through their ACLs only.
  permissions::requirement needed;
  for (const std::string& uri : {bucket_uri, collection_uri})
    for (const char* name : {"read", "write"}) needed.entries.push_back({uri, name});
  if (!c->decider(snap).satisfies(needed)) return c->fail(denied(*c));

  // Records as stored, and where they changed after `when`, the newest
  // version at or before it from the history.
  std::map<std::string, json::value> versions;
  std::map<std::string, std::uint64_t> newer; // id -> changed after `when`
  const list_key records{collection_uri, kind::record};
  snap.walk_all(records, [&](const storage::change& ch) {
    if (ch.last_modified <= when) {
      if (!ch.deleted) {
        std::string err;
        if (auto data = json::parse(ch.data, err)) versions[std::string(ch.id)] = std::move(*data);
      }
    } else {
      newer[std::string(ch.id)] = ch.last_modified;
    }
    return true;
  });
  if (!newer.empty()) {
    const std::string prefix = collection_uri + "/records/";
    std::map<std::string, std::pair<std::uint64_t, json::value>> best;
    snap.walk_all(list_key{bucket_uri, kind::history}, [&](const storage::change& ch) {
      if (ch.deleted || ch.data.find(prefix) == std::string_view::npos) return true;
      std::string err;
      auto entry = json::parse(ch.data, err);
      const json::value* uri = entry ? entry->find("uri") : nullptr;
      if (!uri || !uri->is_string() || uri->as_string().rfind(prefix, 0) != 0) return true;
      const std::string id = uri->as_string().substr(prefix.size());
      if (!newer.count(id)) return true;
      const json::value* target = entry->find("target");
      const json::value* data = target ? target->find("data") : nullptr;
      const json::value* ts = data ? data->find("last_modified") : nullptr;
      if (!ts || !ts->as_int64() || static_cast<std::uint64_t>(*ts->as_int64()) > when) return true;
      const auto version = static_cast<std::uint64_t>(*ts->as_int64());
      auto it = best.find(id);
      if (it == best.end() || it->second.first < version) best[id] = {version, *data};
      return true;
    });
    for (auto& [id, version] : best)
      if (!version.second.find("deleted")) versions[id] = std::move(version.second);
  }

  std::vector<json::value*> ordered;
  for (auto& [id, v] : versions) ordered.push_back(&v);
  auto ts_of = [](const json::value* v) {
    const json::value* t = v->find("last_modified");
    return t && t->as_int64() ? *t->as_int64() : 0;
  };
  std::sort(ordered.begin(), ordered.end(), [&](const json::value* a, const json::value* b) { return ts_of(a) > ts_of(b); });
  std::string body = "{\"data\":[";
  for (std::size_t i = 0; i < ordered.size(); ++i) body += (i ? "," : "") + json::serialize(*ordered[i]);
  body += "]}";
  c->send_json(200, std::move(body));
}

} // namespace kinto::http
