// JSON Schema draft-07 over kintod's JSON model: schema checking (structure,
// patterns, $refs), compilation and validation. Depends on base/json*.hpp,
// the internal json_schema_*.hpp headers and valijson; error wording lives in json_schema_messages.cpp.
#include "base/json_schema.hpp"
#include "base/json_schema_adapter.hpp"
#include "base/json_schema_messages.hpp"
#include "base/json_schema_walk.hpp"

#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kinto::json_schema {
namespace {

// ---------------------------------------------------------------------------
// Walking a schema document.

// Keywords whose value is a schema, an array of schemas, or a map of schemas.
constexpr std::string_view single_keywords[] = {
    "additionalItems", "additionalProperties", "contains", "propertyNames", "not", "if", "then", "else", "items"};
constexpr std::string_view array_keywords[] = {"allOf", "anyOf", "oneOf", "items"};
constexpr std::string_view map_keywords[] = {"properties", "patternProperties", "definitions", "$defs", "dependencies"};
// Of these, the ones applied to the value itself rather than to a part of it.
constexpr std::string_view in_place_keywords[] = {"allOf", "anyOf", "oneOf", "not",
                                                  "if",    "then",  "else",  "dependencies"};

/// Calls f(child, key) for every subschema directly inside `schema`.
template <typename Value, typename F> void for_each_subschema(Value& schema, F&& f) {
  if (!schema.is_object()) return;
  for (auto& m : schema.as_object()) {
    auto& v = m.val;
    if (one_of(m.key, single_keywords) && !v.is_array()) f(v, m.key);
    if (one_of(m.key, array_keywords) && v.is_array())
      for (auto& item : v.as_array()) f(item, m.key);
    if (one_of(m.key, map_keywords) && v.is_object())
      for (auto& entry : v.as_object())
        if (!entry.val.is_array()) f(entry.val, m.key); // dependencies may list names
  }
}

/// Drops the keywords that have no effect here but that valijson acts on:
/// `format` (upstream passes no format checker) and `id` (draft-04's `$id`,
/// ignored by draft-07; valijson would change the resolution scope, and
/// tests URNs with std::regex, which can overflow the stack).
void strip_ignored(json::value& schema) {
  if (!schema.is_object()) return;
  schema.erase("format");
  schema.erase("id");
  for_each_subschema(schema, [](json::value& child, std::string_view) { strip_ignored(child); });
}

/// jsonschema's check_schema() checks patterns with its "regex" format.
std::optional<std::string> check_patterns(const json::value& schema) {
  const auto bad = [](const std::string& pattern) {
    try {
      make_regex(pattern);
      return false;
    } catch (const std::exception&) {
      return true;
    }
  };
  if (!schema.is_object()) return std::nullopt;
  if (const json::value* p = schema.find("pattern"); p && p->is_string() && bad(p->as_string()))
    return repr_str(p->as_string()) + " is not a 'regex'";
  if (const json::value* pp = schema.find("patternProperties"); pp && pp->is_object())
    for (const json::member& m : pp->as_object())
      if (bad(m.key)) return repr_str(m.key) + " is not a 'regex'";
  return std::nullopt;
}

/// Longest path through `edges` (nodes 0..n-1), a node of a cycle counting
/// for its whole strongly connected component; `cyclic` tells whether there
/// is any cycle. Kosaraju's algorithm, iterative.
struct path_bound {
  std::size_t longest = 0;
  bool cyclic = false;
};
path_bound bound_paths(const std::vector<std::vector<std::size_t>>& edges) {
  const std::size_t n = edges.size();
  std::vector<std::vector<std::size_t>> reverse(n);
  for (std::size_t a = 0; a < n; ++a)
    for (std::size_t b : edges[a]) reverse[b].push_back(a);
  std::vector<std::size_t> finished;
  std::vector<bool> seen(n);
  for (std::size_t start = 0; start < n; ++start) {
    if (seen[start]) continue;
    std::vector<std::pair<std::size_t, std::size_t>> stack{{start, 0}};
    seen[start] = true;
    while (!stack.empty()) {
      auto& [a, next] = stack.back();
      if (next == edges[a].size()) {
        finished.push_back(a);
        stack.pop_back();
      } else if (const std::size_t b = edges[a][next++]; !seen[b]) {
        seen[b] = true;
        stack.emplace_back(b, 0);
      }
    }
  }
  // Components come out in topological order, sources first.
  constexpr std::size_t none = static_cast<std::size_t>(-1);
  std::vector<std::size_t> component(n, none), weight;
  for (auto it = finished.rbegin(); it != finished.rend(); ++it) {
    if (component[*it] != none) continue;
    const std::size_t c = weight.size();
    weight.push_back(0);
    std::vector<std::size_t> stack{*it};
    component[*it] = c;
    while (!stack.empty()) {
      const std::size_t a = stack.back();
      stack.pop_back();
      ++weight[c];
      for (std::size_t b : reverse[a])
        if (component[b] == none) {
          component[b] = c;
          stack.push_back(b);
        }
    }
  }
  path_bound result;
  std::vector<std::size_t> best(weight.size(), 0);
  std::vector<std::vector<std::size_t>> members(weight.size());
  for (std::size_t a = 0; a < n; ++a) members[component[a]].push_back(a);
  for (std::size_t c = weight.size(); c-- > 0;) {
    std::size_t tail = 0;
    for (std::size_t a : members[c])
      for (std::size_t b : edges[a]) {
        if (component[b] != c) tail = std::max(tail, best[component[b]]);
        if (b == a) result.cyclic = true;
      }
    if (weight[c] > 1) result.cyclic = true;
    best[c] = weight[c] + tail;
    result.longest = std::max(result.longest, best[c]);
  }
  return result;
}

/// Every pattern must compile and every `$ref` resolve within the schema.
/// valijson recurses once per
/// subschema when compiling and once per in-place step ($ref, allOf, not,
/// if...) and instance level when validating, so: no loop of in-place steps
/// (it would never end), and bounded chains of both kinds (deep ones would
/// overflow the stack). A schema that refers back to itself through a
/// descent into the document repeats its in-place chain at every level of
/// the document, up to json::max_depth of them: its chain is bounded more
/// tightly (20 steps: 1.4 MiB of stack at json::max_depth in a Release
/// build, 9.2 MiB under AddressSanitizer; json::thread_stack_bytes).
std::optional<std::string> check_structure(const json::value& root) {
  constexpr std::size_t max_chain = 1000, max_in_place_chain = 100, max_recursive_in_place_chain = 20;
  std::unordered_map<const json::value*, std::size_t> index{{&root, 0}};
  std::vector<const json::value*> nodes{&root};
  std::vector<std::vector<std::size_t>> all(1), in_place(1);
  const auto id = [&](const json::value* s) {
    auto [it, added] = index.emplace(s, nodes.size());
    if (added) {
      nodes.push_back(s);
      all.emplace_back();
      in_place.emplace_back();
    }
    return it->second;
  };
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const json::value& s = *nodes[i];
    if (auto problem = check_patterns(s)) return problem;
    if (!s.is_object()) continue;
    // Left by strip_ignored() only where a $ref points outside the keywords.
    for (const char* keyword : {"format", "id"})
      if (const json::value* v = s.find(keyword); v && v->is_string())
        return std::string("'") + keyword + "' is not supported where a $ref points outside the schema's keywords";
    if (const json::value* ref = s.find("$ref"); ref && ref->is_string()) {
      const json::value* target = resolve_ref(root, ref->as_string());
      if (!target) return "unresolvable reference " + repr_str(ref->as_string());
      const std::size_t t = id(target);
      all[i].push_back(t);
      in_place[i].push_back(t);
    }
    for_each_subschema(s, [&](const json::value& child, std::string_view key) {
      const std::size_t c = id(&child);
      all[i].push_back(c);
      if (one_of(key, in_place_keywords)) in_place[i].push_back(c);
    });
  }
  const path_bound steps = bound_paths(in_place);
  if (steps.cyclic) return std::string("the schema refers to itself in a loop that never descends into the document");
  if (steps.longest > max_in_place_chain)
    return "the schema chains more than " + std::to_string(max_in_place_chain) +
           " $ref/allOf/anyOf/oneOf/not/if levels";
  const path_bound descents = bound_paths(all);
  if (descents.longest > max_chain)
    return "the schema nests more than " + std::to_string(max_chain) + " subschemas deep";
  // No loop of in-place steps: every loop descends into the document.
  if (descents.cyclic && steps.longest > max_recursive_in_place_chain)
    return "the schema refers to itself and chains more than " + std::to_string(max_recursive_in_place_chain) +
           " $ref/allOf/anyOf/oneOf/not/if levels";
  return std::nullopt;
}

} // namespace

// ---------------------------------------------------------------------------
// compiled

struct compiled::state {
  json::value document; ///< the schema, without the keywords strip_ignored() drops
  valijson::Schema schema;
};

std::optional<compiled> compiled::build(const json::value& schema, std::string& error) {
  try {
    auto s = std::make_shared<state>();
    s->document = schema;
    strip_ignored(s->document);
    if (auto problem = check_structure(s->document)) {
      error = *problem;
      return std::nullopt;
    }
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    parser.populateSchema(node(s->document), s->schema);
    return compiled(std::move(s));
  } catch (const std::exception& e) {
    error = e.what();
    return std::nullopt;
  }
}

std::optional<compiled> compiled::compile(const json::value& schema, std::string& error) {
  static const std::optional<compiled> metaschema = [] {
    std::string problem;
    auto document = json::parse(draft07_metaschema(), problem);
    return document ? build(*document, problem) : std::nullopt;
  }();
  if (!metaschema) {
    error = "the draft-07 meta-schema could not be loaded";
    return std::nullopt;
  }
  if (auto f = metaschema->validate(schema)) {
    error = std::move(f->description);
    return std::nullopt;
  }
  return build(schema, error);
}

std::optional<failure> compiled::validate(const json::value& instance) const {
  try {
    // One validator per call: valijson's validator holds a regex cache
    // without locking, while the compiled schema is only read.
    valijson::Validator validator;
    const node target(instance);
    if (validator.validate(state_->schema, target, nullptr)) return std::nullopt;
    // Invalid: validate again, collecting every error this time.
    valijson::ValidationResults results;
    validator.validate(state_->schema, target, &results);
    return describe(results, state_->document, instance);
  } catch (const std::exception& e) {
    return failure{"", std::string("the document could not be validated: ") + e.what(), "schema"};
  }
}

std::optional<std::string> check_schema(const json::value& schema) {
  std::string error;
  if (compiled::compile(schema, error)) return std::nullopt;
  return error;
}

} // namespace kinto::json_schema
