// What every handler shares: the caller's principals, refusals, and
// running a core operation for a request.
#include "http/call.hpp"

namespace kinto::http {

void resolve_principals(call& c) { c.who = core::op_caller(*c.a.direct, std::move(c.who.user_id)); }

error denied(const call& c) { return core::denied(c.who); }

response failure_response(const config& cfg, const core::failure& f) {
  response res = error_response(cfg, f.e);
  if (f.e.status == 412 && f.last_modified) {
    res.set("ETag", "\"" + std::to_string(f.last_modified) + "\"");
    res.set("Last-Modified", http_date(f.last_modified));
  }
  return res;
}

core::context call::context() const {
  // The executor, not the call: a batch keeps its operations, and they
  // must not keep their calls.
  return core::context{a.cfg, *a.schemas, a.deletion_tokens, [post = req.post](std::function<void()> work) {
                         if (post) post(std::move(work));
                         else work();
                       }};
}

void call::perform(core::operation op, std::function<void()> answer) {
  if (collect) return collect(std::move(op), std::move(answer));
  // Operations finish on the request's executor (context()).
  op(*a.direct, [answer = std::move(answer)](int) { answer(); });
}

} // namespace kinto::http
