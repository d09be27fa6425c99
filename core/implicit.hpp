// Objects a request uses without naming them: the personal bucket of the
// default bucket plugin and a collection of it named in the path
// (batch-and-plugins.md §2), created on first use, before the operation
// runs. Internal to core/.
#pragma once

#include "core/ops.hpp"

namespace kinto::core {

/// Creates, in order, each of `objects` missing from what `p` holds (as a
/// POST of its id by `user_id` would), then runs `next` with nothing, or
/// with the failure that stopped it.
void create_implicit(const context& ctx, port& p, const std::string& user_id, std::vector<implicit_object> objects,
                     std::function<void(std::optional<failure>)> next);

} // namespace kinto::core
