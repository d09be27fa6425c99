// GET /buckets/{bid}/snapshot/collections/{cid}@{timestamp} (history plugin,
// batch-and-plugins.md §3.5): the records of a collection as they were at a
// timestamp, rebuilt from the current records and the bucket's history.
#include "http/call.hpp"

#include <charconv>

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

  core::history_snapshot_read r;
  r.user_id = c->who.user_id;
  r.bucket_id = c->r.list.parent.substr(std::string_view("/buckets/").size());
  r.collection_id = cid;
  r.at = when;
  r.implicit = c->implicit;
  perform(c, core::op_history_snapshot, std::move(r),
          std::function<void(const call_ptr&, core::result<std::vector<std::string>>)>(
            [](const call_ptr& c, core::result<std::vector<std::string>> result) {
              if (auto* f = std::get_if<core::failure>(&result)) return c->send(failure_response(c->cfg(), *f));
              std::string body = "{\"data\":[";
              bool first = true;
              for (const auto& record : std::get<std::vector<std::string>>(result)) {
                body += first ? "" : ",";
                body += record;
                first = false;
              }
              body += "]}";
              c->send_json(200, std::move(body));
            }));
}

} // namespace kinto::http
