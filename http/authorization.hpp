// Authorization of a request against the permission rules of
// schema/permissions.hpp: ACEs read from the request's snapshot, settings
// from the config. Internal to http/.
#pragma once

#include "http/call.hpp"
#include "schema/permissions.hpp"
#include "storage/listing.hpp"

namespace kinto::http {

/// True when one of `who`'s principals is in the permission `name` of
/// `perms` (a JSON object of principal lists).
bool listed(const identity& who, const json::value& perms, std::string_view name);

/// True when one of the caller's principals satisfies the requirement.
bool satisfies(const call& c, const storage::view& v, const permissions::requirement& r);

/// May the caller do `a` on object `id` of `list` (or on the list)?
bool may(const call& c, const storage::view& v, const list_key& list, std::string_view id, permissions::action a);

/// 401 for anonymous callers, 403 for authenticated ones.
error denied(const call& c);

/// True when the caller holds, directly on some object of `list`, one of
/// `names` (the reverse index; costs what the caller holds).
bool holds_on_some(const call& c, const storage::view& v, const list_key& list,
                   const std::vector<std::string_view>& names);

/// A visibility filter keeping the objects of `list` on which the caller
/// directly holds one of `names`: one permission lookup per candidate.
storage::visibility holding(const call_ptr& c, const storage::view& v, const list_key& list,
                            std::vector<std::string_view> names);

} // namespace kinto::http
