// RFC 7396 merge-patch and RFC 6902 JSON-Patch (with RFC 6901 pointers) over
// the JSON document model. Depends only on base/json.hpp.
#include "base/json_patch.hpp"

#include <charconv>
#include <vector>

namespace kinto::json {

namespace {

using tokens_t = std::vector<std::string>;

std::string not_found(std::string_view path) {
  return "path '" + std::string(path) + "' not found";
}

/// Splits a pointer into decoded reference tokens. Pointers here always
/// start with '/', so the whole document can never be replaced or removed.
std::optional<std::string> parse_pointer(std::string_view text, tokens_t& tokens) {
  tokens.clear();
  if (text.empty() || text.front() != '/')
    return "invalid pointer '" + std::string(text) + "': must start with '/'";
  std::size_t start = 1;
  while (true) {
    const std::size_t slash = text.find('/', start);
    const std::string_view token =
        text.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    for (std::size_t i = 0; i < token.size(); ++i) {
      if (token[i] == '~' && (i + 1 == token.size() || (token[i + 1] != '0' && token[i + 1] != '1')))
        return "invalid pointer '" + std::string(text) + "': stray '~'";
    }
    tokens.push_back(unescape_pointer_token(token));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return std::nullopt;
}

/// An array index as RFC 6901 spells it: "0" or digits without a leading
/// zero. Returns false for anything else (including "-").
bool parse_index(std::string_view token, std::size_t& index) {
  if (token.empty() || (token.size() > 1 && token.front() == '0')) return false;
  for (char c : token)
    if (c < '0' || c > '9') return false;
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), index);
  return ec == std::errc{} && ptr == token.data() + token.size();
}

/// Walks `count` tokens down from `root`; nullptr when any step is missing.
value* walk(value& root, const tokens_t& tokens, std::size_t count) {
  value* cur = &root;
  for (std::size_t i = 0; i < count; ++i) {
    const std::string& token = tokens[i];
    if (cur->is_object()) {
      cur = cur->find(token);
      if (!cur) return nullptr;
    } else if (cur->is_array()) {
      std::size_t index = 0;
      if (!parse_index(token, index) || index >= cur->as_array().size()) return nullptr;
      cur = &cur->as_array()[index];
    } else {
      return nullptr;
    }
  }
  return cur;
}

value* resolve(value& root, const tokens_t& tokens) { return walk(root, tokens, tokens.size()); }

/// Values one patch may place beyond those of the document and the patch.
constexpr std::size_t extra_placements = 100000;

/// The number of values in `v` (containers and scalars).
std::size_t count_values(const value& v) {
  std::size_t n = 1;
  if (v.is_array())
    for (const value& item : v.as_array()) n += count_values(item);
  else if (v.is_object())
    for (const member& m : v.as_object()) n += count_values(m.val);
  return n;
}

/// Spends one unit of `budget` per value of `v` and checks that `v` nests
/// at most `depth_left` containers. Stops at the first value past either
/// limit (false), so it never walks more than `budget` values nor recurses
/// deeper than `depth_left`.
bool fits(const value& v, std::size_t depth_left, std::size_t& budget) {
  if (budget == 0) return false;
  --budget;
  if (!v.is_array() && !v.is_object()) return true;
  if (depth_left == 0) return false;
  if (v.is_array()) {
    for (const value& item : v.as_array())
      if (!fits(item, depth_left - 1, budget)) return false;
  } else {
    for (const member& m : v.as_object())
      if (!fits(m.val, depth_left - 1, budget)) return false;
  }
  return true;
}

/// The operations of one patch, applied to a working copy of the document.
/// Every value an operation places (add, replace, copy, move) is counted
/// against `budget` and must keep the document within `max_depth` nested
/// containers: without these limits, a few hundred bytes of `copy`
/// operations, each doubling a part of the document, exhaust memory, and
/// long paths nest the document deep enough to overflow the stack.
class patcher {
public:
  patcher(value& doc, std::size_t budget, std::size_t max_depth) : doc_(doc), budget_(budget), max_depth_(max_depth) {}

  std::optional<std::string> apply(const value& op) {
    if (!op.is_object()) return std::string("operation must be an object");
    const value* op_name = nullptr;
    const value* path = nullptr;
    const value* from = nullptr;
    const value* val = nullptr;
    for (const member& m : op.as_object()) {
      if (m.key == "op") op_name = &m.val;
      else if (m.key == "path") path = &m.val;
      else if (m.key == "from") from = &m.val;
      else if (m.key == "value") val = &m.val;
      else return "unknown member '" + m.key + "' in operation";
    }
    if (!op_name || !op_name->is_string()) return std::string("operation needs a string 'op'");
    if (!path || !path->is_string()) return std::string("operation needs a string 'path'");
    if (from && !from->is_string()) return std::string("'from' must be a string");
    const std::string& name = op_name->as_string();
    const std::string& path_text = path->as_string();
    if (auto err = parse_pointer(path_text, path_)) return err;
    if (from)
      if (auto err = parse_pointer(from->as_string(), from_)) return err;

    if (name == "add" || name == "replace" || name == "test") {
      if (!val) return "operation '" + name + "' needs a 'value'";
      if (name != "test")
        if (auto err = place(*val)) return err;
      if (name == "add") return add(path_text, value(*val));
      if (name == "replace") return replace(path_text, *val);
      return test(path_text, *val);
    }
    if (name == "remove") return remove(path_text, path_);
    if (name == "move" || name == "copy") {
      if (!from) return "operation '" + name + "' needs a 'from'";
      return name == "move" ? move(from->as_string(), path_text) : copy(from->as_string(), path_text);
    }
    return "unknown op '" + name + "'";
  }

private:
  /// Accounts for placing `v` at path_ (see the class comment).
  std::optional<std::string> place(const value& v) {
    if (path_.size() > max_depth_ || !fits(v, max_depth_ - path_.size(), budget_))
      return std::string("the patched document would be too large or too deeply nested");
    return std::nullopt;
  }

  std::optional<std::string> add(std::string_view path_text, value v) {
    value* parent = walk(doc_, path_, path_.size() - 1);
    if (!parent) return not_found(path_text);
    const std::string& last = path_.back();
    if (parent->is_object()) {
      parent->set(last, std::move(v));
      return std::nullopt;
    }
    if (!parent->is_array()) return not_found(path_text);
    array_t& items = parent->as_array();
    if (last == "-") {
      items.push_back(std::move(v));
      return std::nullopt;
    }
    std::size_t index = 0;
    if (!parse_index(last, index)) return "invalid array index in '" + std::string(path_text) + "'";
    if (index > items.size()) return "array index out of range in '" + std::string(path_text) + "'";
    items.insert(items.begin() + static_cast<std::ptrdiff_t>(index), std::move(v));
    return std::nullopt;
  }

  std::optional<std::string> remove(std::string_view path_text, const tokens_t& tokens) {
    value* parent = walk(doc_, tokens, tokens.size() - 1);
    if (!parent) return not_found(path_text);
    const std::string& last = tokens.back();
    if (parent->is_object()) {
      if (!parent->erase(last)) return not_found(path_text);
      return std::nullopt;
    }
    if (!parent->is_array()) return not_found(path_text);
    array_t& items = parent->as_array();
    std::size_t index = 0;
    if (!parse_index(last, index) || index >= items.size()) return not_found(path_text);
    items.erase(items.begin() + static_cast<std::ptrdiff_t>(index));
    return std::nullopt;
  }

  std::optional<std::string> replace(std::string_view path_text, const value& v) {
    value* target = resolve(doc_, path_);
    if (!target) return not_found(path_text);
    *target = v;
    return std::nullopt;
  }

  std::optional<std::string> test(std::string_view path_text, const value& v) {
    const value* target = resolve(doc_, path_);
    if (!target) return not_found(path_text);
    if (*target != v) return std::string("test failed");
    return std::nullopt;
  }

  std::optional<std::string> copy(std::string_view from_text, std::string_view path_text) {
    const value* source = resolve(doc_, from_);
    if (!source) return not_found(from_text);
    if (auto err = place(*source)) return err;
    return add(path_text, *source);
  }

  std::optional<std::string> move(std::string_view from_text, std::string_view path_text) {
    value* source = resolve(doc_, from_);
    if (!source) return not_found(from_text);
    if (from_ == path_) return std::nullopt;
    if (from_.size() < path_.size() && std::equal(from_.begin(), from_.end(), path_.begin()))
      return "cannot move '" + std::string(from_text) + "' into its own child";
    if (auto err = place(*source)) return err;
    value moved = std::move(*source);
    if (auto err = remove(from_text, from_)) return err;
    return add(path_text, std::move(moved));
  }

  value& doc_;
  std::size_t budget_;
  std::size_t max_depth_;
  tokens_t path_;
  tokens_t from_;
};

} // namespace

std::string unescape_pointer_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out.push_back(token[i + 1] == '0' ? '~' : '/');
      ++i;
    } else {
      out.push_back(token[i]);
    }
  }
  return out;
}

void merge_patch(value& target, const value& patch) {
  if (&target == &patch) {
    const value copy = patch;
    merge_patch(target, copy);
    return;
  }
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = value::object();
  for (const member& m : patch.as_object()) {
    if (m.val.is_null()) {
      target.erase(m.key);
      continue;
    }
    value* slot = target.find(m.key);
    if (!slot) {
      target.as_object().push_back(member{m.key, value()});
      slot = &target.as_object().back().val;
    }
    merge_patch(*slot, m.val);
  }
}

std::optional<std::string> apply_json_patch(value& doc, const value& patch) {
  if (!patch.is_array()) return std::string("patch must be an array of operations");
  value work = doc;
  patcher p(work, count_values(doc) + count_values(patch) + extra_placements, default_max_depth);
  for (const value& op : patch.as_array())
    if (auto err = p.apply(op)) return err;
  doc = std::move(work);
  return std::nullopt;
}

} // namespace kinto::json
