// Header helpers of the handler-facing request and response, and the one
// parser of media types (Content-Type, Accept).
#include "http/message.hpp"

#include <cctype>
#include <strings.h>

namespace kinto::http {

std::optional<std::string_view> request::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers)
    if (name == lower_name) return std::string_view(value);
  return std::nullopt;
}

namespace {
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}
} // namespace

void response::set(std::string name, std::string value) {
  for (auto& [n, v] : headers) {
    if (iequals(n, name)) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string_view> response::get(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return std::string_view(v);
  return std::nullopt;
}

// ---- media types ---------------------------------------------------------------

namespace {

/// RFC 9110 §5.6.2 tchar.
bool is_tchar(char ch) {
  if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(ch) != std::string_view::npos;
}

bool is_ows(char ch) {
  return ch == ' ' || ch == '\t';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

/// Reads a token at `pos` (possibly empty) and moves past it.
std::string_view token_at(std::string_view text, std::size_t& pos) {
  const std::size_t from = pos;
  while (pos < text.size() && is_tchar(text[pos])) ++pos;
  return text.substr(from, pos - from);
}

void skip_ows(std::string_view text, std::size_t& pos) {
  while (pos < text.size() && is_ows(text[pos])) ++pos;
}

/// Reads a quoted string at `pos` (which holds the opening quote) into
/// `out`, unescaping quoted pairs; false when it is not closed.
bool quoted_at(std::string_view text, std::size_t& pos, std::string& out) {
  for (++pos; pos < text.size(); ++pos) {
    const char ch = text[pos];
    if (ch == '"') {
      ++pos;
      return true;
    }
    if (ch == '\\') {
      if (++pos == text.size()) return false;
      out += text[pos];
    } else if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t') {
      return false;
    } else {
      out += ch;
    }
  }
  return false;
}

} // namespace

bool media_type::is(std::string_view essence) const {
  return essence.size() == type.size() + 1 + subtype.size() && essence.starts_with(type) &&
         essence[type.size()] == '/' && essence.ends_with(subtype);
}

std::optional<std::string_view> media_type::parameter(std::string_view lower_name) const {
  for (const auto& [name, value] : parameters)
    if (name == lower_name) return std::string_view(value);
  return std::nullopt;
}

std::optional<media_type> parse_media_type(std::string_view text) {
  std::size_t pos = 0;
  skip_ows(text, pos);
  media_type m;
  const std::string_view type = token_at(text, pos);
  if (type.empty() || pos == text.size() || text[pos] != '/') return std::nullopt;
  ++pos;
  const std::string_view subtype = token_at(text, pos);
  if (subtype.empty()) return std::nullopt;
  m.type = lower(type);
  m.subtype = lower(subtype);
  skip_ows(text, pos);
  if (pos < text.size() && text[pos] != ';') return std::nullopt;
  // Parameters: as upstream (WebOb) only compares what precedes the first
  // ';', a malformed parameter ends the list rather than the media type.
  while (pos < text.size()) {
    ++pos; // the ';'
    skip_ows(text, pos);
    if (pos == text.size()) break;
    if (text[pos] == ';') continue; // an empty parameter
    const std::string_view name = token_at(text, pos);
    skip_ows(text, pos);
    if (name.empty() || pos == text.size() || text[pos] != '=') break;
    ++pos;
    skip_ows(text, pos);
    std::string value;
    if (pos < text.size() && text[pos] == '"') {
      if (!quoted_at(text, pos, value)) break;
    } else {
      value = token_at(text, pos);
      if (value.empty()) break;
    }
    m.parameters.emplace_back(lower(name), std::move(value));
    skip_ows(text, pos);
    if (pos < text.size() && text[pos] != ';') break;
  }
  return m;
}

bool accepts_any(std::string_view accept, std::initializer_list<std::string_view> ranges) {
  std::size_t i = 0;
  while (i < accept.size()) {
    std::size_t j = accept.find(',', i);
    if (j == std::string_view::npos) j = accept.size();
    const auto range = parse_media_type(accept.substr(i, j - i));
    i = j + 1;
    if (!range) continue;
    if (auto q = range->parameter("q")) {
      // q=0, 0.0, 0.000: not acceptable.
      if (q->substr(0, 1) == "0" && q->find_first_of("123456789") == std::string_view::npos) continue;
    }
    for (std::string_view r : ranges)
      if (range->is(r)) return true;
  }
  return false;
}

} // namespace kinto::http
