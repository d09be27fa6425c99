// DELETE /__user_data__/{principal} (batch-and-plugins.md §7): the
// principal's data goes (core::op_delete_user_data); the answer names it.
#include "http/call.hpp"

#include "base/json.hpp"

namespace kinto::http {

void handle_user_data(const call_ptr& c) {
  core::user_data_removal r;
  r.user_id = c->who.user_id;
  r.principal = c->r.id;
  perform(c, core::op_delete_user_data, std::move(r),
          std::function<void(const call_ptr&, core::result<bool>)>([](const call_ptr& c, core::result<bool> result) {
            if (auto* f = std::get_if<core::failure>(&result)) return c->send(failure_response(c->cfg(), *f));
            json::value data = json::value::object();
            data.set("principal", json::value(c->r.id));
            json::value body = json::value::object();
            body.set("data", std::move(data));
            c->send_json(200, json::serialize(body));
          }));
}

} // namespace kinto::http
