// Query execution over the timestamp index. Two plans:
//  - ordered by last_modified: walk the index in that order between the
//    query's bounds and stop once the page is full (cost follows the result);
//  - any other order: walk the index once between the bounds and keep the
//    best `limit + 1` objects in a heap (memory bounded by the page size).
#include "storage/listing.hpp"

#include <algorithm>

namespace kinto::storage {

namespace {

std::string tombstone_text(std::string_view id, std::uint64_t ts) {
  std::string out = "{\"deleted\":true,\"id\":";
  json::quote_to(id, out);
  out += ",\"last_modified\":";
  out += std::to_string(ts);
  out += '}';
  return out;
}

json::value tombstone_value(std::string_view id, std::uint64_t ts) {
  json::value t = json::value::object();
  t.set("deleted", json::value(true));
  t.set("id", json::value(id));
  t.set("last_modified", json::value(ts));
  return t;
}


} // namespace

std::string change_text(const change& c) {
  return c.deleted ? tombstone_text(c.id, c.last_modified) : std::string(c.data);
}

json::value change_value(const change& c) {
  if (c.deleted) return tombstone_value(c.id, c.last_modified);
  std::string err;
  auto v = json::parse(c.data, err);
  return v ? std::move(*v) : json::value::object();
}

namespace {

/// Filters that the index bounds already enforce need no evaluation.
bool bound_filter(const query::filter& f) {
  return f.field == "last_modified" && (f.operation == query::op::gt || f.operation == query::op::lt);
}

bool needs_evaluation(const query::request& q) {
  return std::any_of(q.filters.begin(), q.filters.end(), [](const query::filter& f) { return !bound_filter(f); });
}

struct bounds {
  std::uint64_t after = 0;  ///< exclusive
  std::uint64_t before = 0; ///< exclusive, 0 = none
};

/// Index bounds from every gt/lt filter on last_modified (_since, _before...).
bounds bounds_of(const query::request& q) {
  bounds b;
  for (const auto& f : q.filters) {
    if (!bound_filter(f)) continue;
    auto v = f.value.as_int64();
    if (!v || *v < 0) continue;
    const auto ts = static_cast<std::uint64_t>(*v);
    if (f.operation == query::op::gt)
      b.after = std::max(b.after, ts);
    else if (b.before == 0 || ts < b.before)
      b.before = ts;
  }
  return b;
}

/// Every entry between the bounds, in no particular order: the id-ordered
/// walk of the objects when the whole list is wanted (no lookup per entry),
/// the timestamp index otherwise.
void walk_between(const view& v, const list_key& list, const bounds& b, bool whole_list,
                  const std::function<bool(const change&)>& visit) {
  if (whole_list) v.walk_all(list, visit);
  else v.walk(list, b.after, b.before, true, visit);
}

bool ordered_by_timestamp(const query::request& q) {
  return q.sort.size() == 1 && q.sort[0].field == "last_modified";
}

} // namespace

page read_page(const view& v, const list_key& list, const query::request& q, const page_request& p) {
  page out;
  const bool tombstones = q.includes_tombstones() && !p.live_only;
  const bool evaluate = needs_evaluation(q);
  bounds b = bounds_of(q);
  const std::size_t limit = std::max<std::size_t>(p.limit, 1);
  bool whole_list = b.after == 0 && b.before == 0;

  if (ordered_by_timestamp(q)) {
    const bool newest_first = q.sort[0].descending;
    if (p.after) {
      // Continue strictly after the last timestamp of the previous page.
      if (const json::value* last = p.after->find("last_modified"); last && last->as_int64()) {
        const auto ts = static_cast<std::uint64_t>(std::max<std::int64_t>(*last->as_int64(), 0));
        if (newest_first)
          b.before = b.before == 0 ? ts : std::min(b.before, ts);
        else
          b.after = std::max(b.after, ts);
      }
    }
    // A filter may match rarely: past a budget of visited entries, reading
    // the whole list in id order (no lookup per entry) with the heap below
    // is cheaper than going on through the index.
    const std::size_t budget = evaluate ? std::max<std::size_t>(10000, 4 * limit) : SIZE_MAX;
    std::size_t visited = 0;
    bool over_budget = false;
    v.walk(
        list, b.after, b.before, newest_first,
        [&](const change& c) {
          if (++visited > budget) {
            over_budget = true;
            return false;
          }
          if (c.deleted && !tombstones) return true;
          if (evaluate && !query::matches_all(q.filters, change_value(c))) return true;
          if (out.objects.size() == limit) {
            out.more = true;
            return false;
          }
          out.objects.push_back(change_text(c));
          return true;
        },
        p.visible); // permission filtering by id, before the object is read
    if (!over_budget) {
      if (!out.objects.empty()) {
        std::string err;
        if (auto last = json::parse(out.objects.back(), err)) out.last = std::move(*last);
      }
      return out;
    }
    out = page{};
    whole_list = true;
  }

  // Any other order: one pass, the best limit + 1 in a max-heap.
  auto earlier = [&q](const json::value& a, const json::value& b) { return query::compare_by(q.sort, a, b) < 0; };
  std::vector<json::value> heap;
  heap.reserve(std::min<std::size_t>(limit + 1, 1024));
  walk_between(v, list, b, whole_list, [&](const change& c) {
    if (c.last_modified <= b.after || (b.before != 0 && c.last_modified >= b.before)) return true;
    if (c.deleted && !tombstones) return true;
    if (p.visible && !p.visible(c.id)) return true;
    json::value value = change_value(c);
    if (!query::matches_all(q.filters, value)) return true;
    if (p.after && !query::after_token(q.sort, *p.after, value)) return true;
    if (heap.size() == limit + 1) {
      if (!earlier(value, heap.front())) return true;
      std::pop_heap(heap.begin(), heap.end(), earlier);
      heap.back() = std::move(value);
    } else {
      heap.push_back(std::move(value));
    }
    std::push_heap(heap.begin(), heap.end(), earlier);
    return true;
  });
  std::sort_heap(heap.begin(), heap.end(), earlier);
  if (heap.size() > limit) {
    out.more = true;
    heap.pop_back();
  }
  for (const auto& value : heap) out.objects.push_back(json::serialize(value));
  if (!heap.empty()) out.last = std::move(heap.back());
  return out;
}

std::size_t count(const view& v, const list_key& list, const query::request& q, const visibility& visible) {
  const bool evaluate = needs_evaluation(q);
  const bounds b = bounds_of(q);
  std::size_t n = 0;
  auto visit = [&](const change& c) {
    if (c.deleted) return true;
    if (visible && !visible(c.id)) return true;
    if (evaluate && !query::matches_all(q.filters, change_value(c))) return true;
    ++n;
    return true;
  };
  walk_between(v, list, b, b.after == 0 && b.before == 0, visit);
  return n;
}

} // namespace kinto::storage
