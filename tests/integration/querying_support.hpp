// Helpers shared by the querying integration tests: URLs, tokens, seeding,
// listing, bad-query checks and walking pages while the list changes.
#pragma once

#include "harness.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>

namespace querying_support {

using namespace kintod_test;
using kinto::json::value;


inline const std::string records = "/v1/buckets/b/collections/c/records";
constexpr std::int64_t day_ms = 24 * 3600 * 1000;

using ids = std::set<std::string>;
using id_list = std::vector<std::string>;
using seed_list = std::vector<std::pair<std::string, std::string>>;
using query_params = std::vector<std::pair<std::string, std::string>>;

// ---- URLs, query strings and tokens ------------------------------------------

// Percent-encodes every byte outside RFC 3986's unreserved set.
inline std::string url_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

inline int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes; '+' is kept as is.
inline std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The decoded name/value pairs of the query of a URL or request target, in order.
inline query_params params_of(std::string_view url) {
  query_params out;
  auto q = url.find('?');
  if (q == std::string_view::npos) return out;
  std::string_view rest = url.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    auto eq = pair.find('=');
    out.emplace_back(percent_decode(pair.substr(0, eq)),
                     eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1)));
  }
  return out;
}

inline std::vector<std::string> values_of(const query_params& params, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [n, v] : params)
    if (n == name) out.push_back(v);
  return out;
}

constexpr std::string_view base64_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

inline std::string base64_encode(std::string_view bytes) {
  std::string out;
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 2 < bytes.size(); i += 3) {
    std::uint32_t n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int shift : {18, 12, 6, 0}) out += base64_alphabet[(n >> shift) & 63];
  }
  if (i + 1 == bytes.size()) {
    std::uint32_t n = byte(i) << 16;
    out += base64_alphabet[(n >> 18) & 63];
    out += base64_alphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    std::uint32_t n = byte(i) << 16 | byte(i + 1) << 8;
    out += base64_alphabet[(n >> 18) & 63];
    out += base64_alphabet[(n >> 12) & 63];
    out += base64_alphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

// Standard base64 with padding; nullopt when `text` is not that.
inline std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint32_t n = 0;
    int padding = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      char c = text[i + k];
      bool last_group = i + 4 == text.size();
      if (c == '=' && last_group && k >= 2 && (k == 3 || text[i + 3] == '=')) {
        ++padding;
        n <<= 6;
        continue;
      }
      auto pos = base64_alphabet.find(c);
      if (pos == std::string_view::npos || padding > 0) return std::nullopt;
      n = n << 6 | static_cast<std::uint32_t>(pos);
    }
    out += static_cast<char>((n >> 16) & 255);
    if (padding < 2) out += static_cast<char>((n >> 8) & 255);
    if (padding < 1) out += static_cast<char>(n & 255);
  }
  return out;
}

// The request target of an absolute Next-Page URL of `server`.
inline std::string target_of(const kintod_process& server, const std::string& next_page) {
  std::string prefix = server.url("");
  REQUIRE(next_page.starts_with(prefix + "/v1/"));
  return next_page.substr(prefix.size());
}

// The decoded JSON of the `_token` carried by a Next-Page URL.
inline value token_of(const std::string& next_page) {
  auto tokens = values_of(params_of(next_page), "_token");
  REQUIRE(tokens.size() == 1);
  auto raw = base64_decode(tokens.front());
  if (!raw) throw std::runtime_error("_token is not standard base64: " + tokens.front());
  return parse_json(*raw);
}

// ---- records and lists ----------------------------------------------------------

inline std::int64_t put_record(kintod_process& server, const std::string& id, const std::string& data) {
  auto body = must(server.request("PUT", records + "/" + id, R"({"data": )" + data + "}", owner()), 201);
  return int_at(body, "data.last_modified");
}

// Creates bucket b and collection c, then the records in order; returns their timestamps.
inline std::map<std::string, std::int64_t> seed(kintod_process& server, const seed_list& objects) {
  create_collection(server, "b", "c");
  std::map<std::string, std::int64_t> timestamps;
  for (const auto& [id, data] : objects) timestamps[id] = put_record(server, id, data);
  return timestamps;
}

inline std::int64_t delete_record(kintod_process& server, const std::string& id) {
  return int_at(must(server.request("DELETE", records + "/" + id, {}, owner()), 200), "data.last_modified");
}

inline id_list ids_of(const value& body) {
  id_list out;
  for (const auto& obj : at(body, "data").as_array()) out.push_back(str_at(obj, "id"));
  return out;
}

// Ids listed by a GET of `target`, in order.
inline id_list listed(kintod_process& server, const std::string& target, const header_list& as = owner()) {
  return ids_of(must(server.request("GET", target, {}, as), 200));
}

// Ids listed by a GET of `target`, as a set.
inline ids matching(kintod_process& server, const std::string& target, const header_list& as = owner()) {
  auto list = listed(server, target, as);
  return ids(list.begin(), list.end());
}

inline std::int64_t list_etag(kintod_process& server, const std::string& plural) {
  auto r = server.request("GET", plural, {}, owner());
  if (r.status != 200) throw std::runtime_error("cannot read the list timestamp:\n" + r.describe());
  return etag_value(r);
}

inline bool is_tombstone(const value& obj) {
  const auto* deleted = obj.find("deleted");
  return deleted && deleted->is_bool() && deleted->as_bool();
}

inline value tombstone(const std::string& id, std::int64_t timestamp) {
  return parse_json(R"({"id": ")" + id + R"(", "last_modified": )" + std::to_string(timestamp) +
                    R"(, "deleted": true})");
}

// Checks a 400 errno 107 answer to a bad query parameter: its first detail is
// in the querystring and carries `name` (null when nullopt) and, unless
// `description` is empty, that description; the message is built from that
// detail as errors.md §2 says.
inline void check_bad_query(const http_response& r, const std::optional<std::string>& name, const std::string& description) {
  REQUIRE_THAT(r, is_kinto_error(400, 107));
  auto body = r.json();
  CHECK(str_at(body, "error") == "Invalid parameters");
  const auto& detail = at(body, "details.0");
  CHECK(str_at(detail, "location") == "querystring");
  if (name)
    CHECK(at(detail, "name") == value(*name));
  else
    CHECK(at(detail, "name").is_null());
  std::string got = str_at(detail, "description");
  if (!description.empty()) CHECK(got == description);
  std::string expected_message = !name                                  ? "querystring: " + got
                                 : got.find(*name) != std::string::npos ? got
                                                                        : *name + " in querystring: " + got;
  CHECK(str_at(body, "message") == expected_message);
}

// ---- walking through pages while the list changes ----------------------------------

using page_list = std::vector<std::vector<value>>;

struct walk_result {
  page_list pages;
  std::int64_t first_etag = 0;
};

// Follows Next-Page links from `target`, calling `between` after each page that has a successor.
inline walk_result walk(kintod_process& server, std::string target, const std::function<void(const page_list&)>& between) {
  walk_result out;
  for (int guard = 0; guard < 50; ++guard) {
    auto r = server.request("GET", target, {}, owner());
    REQUIRE_THAT(r, is_json(200));
    if (out.pages.empty()) out.first_etag = etag_value(r);
    out.pages.push_back(at(r.json(), "data").as_array());
    if (!r.has_header("Next-Page")) return out;
    between(out.pages);
    target = target_of(server, r.header("Next-Page"));
  }
  FAIL("Next-Page links did not end after 50 pages");
  return out;
}

// The writes made between the pages of a walk: after each page it modifies one
// object that page listed and deletes another (never the page's last one),
// deletes an object not listed yet (not the next one: that may be the
// tie-break case), modifies another not yet listed on every other step, and
// creates one record.
class churner {
public:
  churner(kintod_process& server, const value& snapshot, std::function<std::string(int)> modified_data,
          std::function<std::string(int)> created_data)
      : server_(server), modified_data_(std::move(modified_data)), created_data_(std::move(created_data)) {
    for (const auto& obj : at(snapshot, "data").as_array()) {
      initial_order.push_back(str_at(obj, "id"));
      if (is_tombstone(obj)) initial_tombstones.insert(str_at(obj, "id"));
    }
  }

  void between_pages(const page_list& pages) {
    ++step_;
    // Live objects this page lists for the first time, except its last one:
    // the last is the cursor and repeats are shown only by untouched objects.
    id_list fresh;
    const auto& page = pages.back();
    for (std::size_t i = 0; i < page.size(); ++i) {
      std::string id = str_at(page[i], "id");
      bool first_time = seen_.insert(id).second;
      if (first_time && i + 1 < page.size() && !is_tombstone(page[i]) && !deleted.count(id)) fresh.push_back(id);
    }
    if (!fresh.empty()) modify(fresh[0]);
    if (fresh.size() > 1) remove(fresh[1]);
    id_list pending;
    for (const auto& id : initial_order)
      if (!seen_.count(id) && !touched.count(id) && !initial_tombstones.count(id)) pending.push_back(id);
    if (pending.size() > 1) {
      remove(pending[1]);
      deleted_unseen.insert(pending[1]);
    }
    if (pending.size() > 2 && step_ % 2 == 1) modify(pending[2]);
    auto created = must(server_.request("POST", records, R"({"data": )" + created_data_(step_) + "}", owner()), 201);
    written.insert(str_at(created, "data.id"));
  }

  id_list initial_order;         ///< the list when the first page was read, in list order
  ids initial_tombstones;        ///< ids of initial_order that were tombstones
  ids touched;                   ///< initial ids modified or deleted during the walk
  ids deleted_unseen;            ///< initial ids deleted before any page listed them
  ids deleted;                   ///< every id deleted during the walk
  ids written;                   ///< every id modified, deleted or created during the walk

  /// Deletes an object; for objects outside the snapshot too.
  void remove(const std::string& id) {
    delete_record(server_, id);
    touched.insert(id);
    written.insert(id);
    deleted.insert(id);
  }

private:
  void modify(const std::string& id) {
    must(server_.request("PATCH", records + "/" + id, R"({"data": )" + modified_data_(step_) + "}", owner()), 200);
    touched.insert(id);
    written.insert(id);
  }

  kintod_process& server_;
  std::function<std::string(int)> modified_data_;
  std::function<std::string(int)> created_data_;
  ids seen_;
  int step_ = 0;
};

// Every object of the first snapshot not written since is listed exactly once;
// objects deleted before being listed never are.
inline void check_walk(const walk_result& result, const churner& churn) {
  std::map<std::string, int> occurrences;
  std::map<std::string, bool> listed_as_tombstone;
  for (const auto& page : result.pages)
    for (const auto& obj : page) {
      ++occurrences[str_at(obj, "id")];
      listed_as_tombstone[str_at(obj, "id")] = is_tombstone(obj);
    }
  CHECK(result.pages.size() >= 3);
  CHECK_FALSE(churn.deleted_unseen.empty());
  std::size_t untouched = 0;
  for (const auto& id : churn.initial_order) {
    if (churn.touched.count(id)) continue;
    ++untouched;
    INFO("object " << id << " was neither modified nor deleted during the walk");
    CHECK(occurrences[id] == 1);
    CHECK(listed_as_tombstone[id] == static_cast<bool>(churn.initial_tombstones.count(id)));
  }
  CHECK(untouched >= 3);
  for (const auto& id : churn.deleted_unseen) {
    INFO("object " << id << " was deleted before it was listed");
    CHECK(occurrences[id] == 0);
  }
}

} // namespace querying_support
