// The default bucket plugin (batch-and-plugins.md §2): /buckets/default is
// the caller's personal bucket, whose id derives from their user id. The
// request runs on the real path; its operation creates the bucket, and a
// collection named in the path, when missing (core::implicit_object).
#include "http/call.hpp"

#include "base/crypto.hpp"

namespace kinto::http {

std::string personal_bucket_id(const config& cfg, std::string_view user_id) {
  const std::string hex = crypto::hmac_sha256_hex(cfg.default_bucket_secret, user_id);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20, 12);
}

bool is_default_bucket_path(const config& cfg, std::string_view path) {
  return cfg.default_bucket && (path == "/buckets/default" || path.rfind("/buckets/default/", 0) == 0);
}

void serve_default_bucket(const call_ptr& c, std::function<void(const call_ptr&)> rerun) {
  if (c->cfg().readonly) return c->fail(method_not_allowed());
  authenticate(c, [c, rerun = std::move(rerun)] {
    if (!c->who.authenticated()) return c->fail(unauthorized());
    const std::string bucket = personal_bucket_id(c->cfg(), c->who.user_id);
    const std::string rest = c->path.substr(std::string_view("/buckets/default").size());
    // The real target: same query string, `default` replaced by the id.
    std::string target = "/v1/buckets/" + bucket + rest + (c->raw_query.empty() ? "" : "?" + c->raw_query);
    const bool put_bucket = c->is("PUT") && rest.empty();
    // A collection named in the path is created too.
    std::optional<std::string> collection;
    if (rest.rfind("/collections/", 0) == 0) {
      std::string_view after = std::string_view(rest).substr(13);
      std::string cid(after.substr(0, after.find('/')));
      if (!valid_id(kind::collection, cid)) return c->fail(invalid_parameter("path", std::nullopt, "Invalid collection id"));
      const bool put_collection = c->is("PUT") && after.find('/') == std::string_view::npos;
      if (!put_collection) collection = cid;
    }
    if (!put_bucket) c->implicit.push_back({list_key{"", kind::bucket}, bucket});
    if (collection) c->implicit.push_back({list_key{"/buckets/" + bucket, kind::collection}, *collection});
    c->req.target = target;
    rerun(c);
  });
}

} // namespace kinto::http
