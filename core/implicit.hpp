// What a request writes without asking: the objects it uses without naming
// them (the personal bucket of the default bucket plugin and a collection of
// it named in the path, batch-and-plugins.md §2), created on first use,
// before the operation runs; and the timestamp a list gets when it is first
// read. Internal to core/.
#pragma once

#include "core/ops.hpp"

namespace kinto::core {

/// Creates, in order, each of `objects` missing from what `p` holds (as a
/// POST of its id by `user_id` would), then runs `next` with nothing, or
/// with the failure that stopped it.
void create_implicit(const context& ctx, port& p, const std::string& user_id, std::vector<implicit_object> objects,
                     std::function<void(std::optional<failure>)> next);

/// Gives `list` its first timestamp, as its first read does upstream: a
/// touch through the write path, which keeps a timestamp already set. `then`
/// runs on the request's executor with the failure, if any.
void touch_list(const context& ctx, port& p, const list_key& list, std::function<void(std::optional<error>)> then);

} // namespace kinto::core
