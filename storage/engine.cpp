// What every engine shares: status texts, list ids, key limits, and the
// snapshot that forwards to an engine's view.
#include "storage/engine.hpp"

#include <utility>

namespace kinto::storage {

std::string_view status_text(status s) {
  switch (s) {
    case status::ok: return "ok";
    case status::conflict: return "conflict";
    case status::missing: return "missing parent";
    case status::full: return "storage full";
    case status::failed: return "I/O or engine failure";
    case status::stale: return "planned on another version";
  }
  return "unknown status";
}

std::string list_id(const list_key& list) {
  // The path of the list's plural endpoint: ids never hold '/'.
  std::string id;
  const std::string_view plural = kind_plural(list.of);
  id.reserve(list.parent.size() + 1 + plural.size());
  id += list.parent;
  id += '/';
  id += plural;
  return id;
}

key_limits::key_limits(std::size_t principal_bytes, const std::function<std::size_t(kind)>& uri_bytes)
    : principal_bytes_(principal_bytes) {
  for (std::size_t k = 0; k < kinds; ++k) uri_bytes_[k] = uri_bytes(static_cast<kind>(k));
}

void engine::read(const read_hint& hint, std::function<void(snapshot)> then) const {
  snapshot s = read();
  if (s.valid()) s.read_ahead(hint);
  then(std::move(s));
}

bool key_limits::uri_fits(const list_key& list, std::string_view id) const {
  const std::size_t uri = list.parent.size() + 2 + kind_plural(list.of).size() + id.size();
  return uri <= uri_bytes(list.of);
}

// ---- snapshot -------------------------------------------------------------------

snapshot::snapshot(std::unique_ptr<const view> engine_view)
    : owned_(std::move(engine_view)), target_(owned_.get()) {}

snapshot::snapshot(const view& borrowed) : target_(&borrowed) {}

snapshot::snapshot(snapshot&& o) noexcept
    : view(o), owned_(std::move(o.owned_)), target_(std::exchange(o.target_, nullptr)) {}

snapshot& snapshot::operator=(snapshot&& o) noexcept {
  if (this != &o) {
    view::operator=(o);
    owned_ = std::move(o.owned_);
    target_ = std::exchange(o.target_, nullptr);
  }
  return *this;
}

std::optional<object> snapshot::get(const list_key& list, std::string_view id) const {
  if (!target_) return std::nullopt;
  return target_->get(list, id);
}

std::optional<std::uint64_t> snapshot::list_timestamp(const list_key& list) const {
  if (!target_) return std::nullopt;
  return target_->list_timestamp(list);
}

std::optional<std::string> snapshot::read_permissions(std::string_view uri) const {
  if (!target_) return std::nullopt;
  return target_->permissions(uri);
}

std::vector<std::string> snapshot::groups_of_any(std::span<const std::string_view> principals) const {
  if (!target_) return {};
  return target_->groups_of_any(principals);
}

void snapshot::walk(const list_key& list, std::uint64_t after, std::uint64_t before, bool newest_first,
                    const std::function<bool(const change&)>& visit,
                    const std::function<bool(std::string_view id)>& wanted) const {
  if (target_) target_->walk(list, after, before, newest_first, visit, wanted);
}

void snapshot::walk_all(const list_key& list, const std::function<bool(const change&)>& visit) const {
  if (target_) target_->walk_all(list, visit);
}

void snapshot::walk_grants_in(std::string_view principal, const list_key* list, const grant_visitor& visit) const {
  if (!target_) return;
  if (list) {
    target_->walk_grants(principal, *list, visit);
  } else {
    target_->walk_grants(principal, visit);
  }
}

void snapshot::read_ahead(const read_hint& hint) const {
  if (target_) target_->read_ahead(hint);
}

std::optional<std::string> snapshot::meta(std::string_view key) const {
  if (!target_) return std::nullopt;
  return target_->meta(key);
}

} // namespace kinto::storage
