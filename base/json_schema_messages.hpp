// Internal to base/: valijson's errors reworded as Python's jsonschema
// words them, with its field paths. Depends on base/json*.hpp only (valijson
// is only named); never include it outside base/.
#pragma once

#include "base/json.hpp"
#include "base/json_schema.hpp"

#include <string>
#include <string_view>

namespace valijson {
class ValidationResults;
}

namespace kinto::json_schema {

/// Python's repr() of a str, as jsonschema puts it in its messages.
std::string repr_str(std::string_view s);

/// jsonschema's first error among valijson's `errors` (which list nested
/// errors before the errors that summarise them).
failure describe(const valijson::ValidationResults& results, const json::value& schema, const json::value& instance);

} // namespace kinto::json_schema
