// GET /v1/changes: one WebSocket, many subscriptions to the change feed
// (core::feed). Each subscription is a read of a list that follows it, run
// through the application like any request, with the socket's identity:
// the same routes, checks, filters and errors as the Server-Sent Events of
// that list. Messages (JSON text):
//
//   client  {"action":"authenticate","authorization":"Basic ..."}  (before any subscription)
//           {"action":"subscribe","id":"s1","resource":"/buckets/b/collections/c/records",
//            "since":1700000000000,"filters":"status=done&_fields=title"}
//           {"action":"unsubscribe","id":"s1"}
//   server  {"action":"authenticated","user":{"id":...}}
//           {"action":"subscribed","subscription":"s1"}
//           {"subscription":"s1","timestamp":T,"action":"create|update|delete","data":{...}}
//           {"action":"end","subscription":"s1","error":{...}}   (permission lost, parent deleted)
//           {"action":"unsubscribed","subscription":"s1"}
//           {"action":"error","subscription":"s1","error":{...}} (a refused message)
#include "http/call.hpp"

#include "base/json.hpp"

#include <map>
#include <mutex>
#include <set>

namespace kinto::http {

namespace {

std::string quoted(std::string_view text) { return json::serialize(json::value(std::string(text))); }

/// A message refused, with the error (JSON text) saying why.
std::string error_message(const std::optional<std::string>& id, std::string_view error_json) {
  std::string m = "{\"action\":\"error\",";
  if (id) m += "\"subscription\":" + quoted(*id) + ",";
  m += "\"error\":";
  m += error_json;
  m += '}';
  return m;
}

/// The events of one subscription, as messages on its socket.
class subscription_sink final : public core::feed_sink {
public:
  subscription_sink(std::shared_ptr<socket_channel> channel, std::string id)
      : channel_(std::move(channel)), id_json_(quoted(id)) {}

  bool send(const core::feed_event& e) override {
    std::string m;
    m.reserve(e.data.size() + id_json_.size() + 64);
    m += "{\"subscription\":";
    m += id_json_;
    m += ",\"timestamp\":";
    m += std::to_string(e.timestamp);
    m += ",\"action\":\"";
    m += core::action_name(e.what);
    m += "\",\"data\":";
    m += e.data;
    m += '}';
    std::lock_guard<std::mutex> lock(mutex_);
    return !over_ && channel_->send(std::move(m));
  }
  // The WebSocket pings an idle client itself.
  bool heartbeat() override { return open(); }
  std::size_t queued() const override { return channel_->queued(); }
  void end(std::string_view reason) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (std::exchange(over_, true)) return;
    if (reason.empty()) channel_->close(1001, "server stopping");
    else channel_->send("{\"action\":\"end\",\"subscription\":" + id_json_ + ",\"error\":" + std::string(reason) + "}");
  }
  bool open() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return !over_ && channel_->open();
  }
  /// Ends the subscription, with `last` as its last message (if any): no
  /// event follows it.
  void cancel(std::string last) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (std::exchange(over_, true)) return;
    if (!last.empty()) channel_->send(std::move(last));
  }

private:
  std::shared_ptr<socket_channel> channel_;
  const std::string id_json_;
  mutable std::mutex mutex_;
  bool over_ = false;
};

class socket_session;

/// Takes the subscription of one subscribe's read (list_follower): the
/// socket acknowledges it, then the feed sends its events.
struct session_follower final : list_follower {
  session_follower(std::shared_ptr<socket_session> s, std::string i) : session(std::move(s)), id(std::move(i)) {}
  void follow(core::subscription sub) override;
  std::shared_ptr<socket_session> session;
  std::string id;
  bool followed = false;
};

/// One socket: its identity and its subscriptions. Used on the connection's
/// executor only (the socket's callbacks, and the answers to its reads,
/// posted there).
class socket_session : public std::enable_shared_from_this<socket_session> {
public:
  socket_session(app& a, std::optional<std::string> user_id, std::string host,
                 std::function<void(std::function<void()>)> post)
      : a_(a), user_id_(std::move(user_id)), host_(std::move(host)), post_(std::move(post)) {}

  void opened(std::shared_ptr<socket_channel> channel) { channel_ = std::move(channel); }

  void receive(const std::string& text) {
    std::string problem;
    auto message = json::parse(text, problem, 8);
    if (!message || !message->is_object()) return refuse({}, "body", "A JSON object is expected");
    const json::value* action = message->find("action");
    if (!action || !action->is_string()) return refuse({}, "action", "action: one of authenticate, subscribe, unsubscribe");
    const std::string& name = action->as_string();
    if (name == "authenticate") return authenticate(*message);
    std::optional<std::string> id;
    if (const json::value* v = message->find("id"); v && v->is_string() && !v->as_string().empty() &&
                                                    v->as_string().size() <= 256)
      id = v->as_string();
    if (name != "subscribe" && name != "unsubscribe")
      return refuse(id, "action", "action: one of authenticate, subscribe, unsubscribe");
    if (!id) return refuse({}, "id", "id: a string of 1 to 256 characters is expected");
    if (name == "subscribe") return subscribe(*id, *message);
    unsubscribe(*id);
  }

  /// The client takes messages again: its subscriptions may go on.
  void drained() {
    for (auto& [id, sink] : subscriptions_) a_.feed->drained(sink);
  }

  /// The socket is closed: its subscriptions end (the feed lets them go).
  void closed() {
    for (auto& [id, sink] : subscriptions_) sink->cancel({});
    subscriptions_.clear();
    closed_ = true;
  }

private:
  friend struct session_follower;

  void send(std::string m) {
    if (channel_) channel_->send(std::move(m));
  }
  void refuse(const std::optional<std::string>& id, std::string name, std::string description) {
    send(error_message(id, render(invalid_parameter("body", std::move(name), std::move(description)))));
  }

  /// Runs `req` through the application with the socket's identity; its
  /// answer comes back here on the connection's executor.
  void run(request req, std::function<void(socket_session&, response)> then) {
    req.host = host_;
    req.post = post_;
    if (user_id_) req.authenticated_as = *user_id_;
    auto self = shared_from_this();
    handle(a_, std::move(req),
           [self, then = std::move(then), post = post_](response res) mutable {
             post([self, then = std::move(then), res = std::move(res)]() mutable {
               if (!self->closed_) then(*self, std::move(res));
             });
           },
           {});
  }

  void authenticate(const json::value& message) {
    const json::value* authorization = message.find("authorization");
    if (!authorization || !authorization->is_string())
      return refuse({}, "authorization", "authorization: the value of an Authorization header is expected");
    if (!subscriptions_.empty() || !pending_.empty() || authenticating_)
      return refuse({}, "action", "authenticate comes before any subscription");
    request req;
    req.method = "GET";
    req.target = "/v1/";
    req.headers.emplace_back("authorization", authorization->as_string());
    authenticating_ = true;
    user_id_.reset();
    run(std::move(req), [](socket_session& s, response res) {
      s.authenticating_ = false;
      if (res.status != 200) return s.send(error_message({}, res.body));
      std::string problem;
      auto hello = json::parse(res.body, problem);
      const json::value* user = hello ? hello->find("user") : nullptr;
      const json::value* id = user && user->is_object() ? user->find("id") : nullptr;
      if (!id || !id->is_string()) {
        s.user_id_ = std::string();
        return s.send(error_message({}, render(unauthorized())));
      }
      s.user_id_ = id->as_string();
      s.send("{\"action\":\"authenticated\",\"user\":{\"id\":" + quoted(id->as_string()) + "}}");
    });
  }

  void subscribe(const std::string& id, const json::value& message) {
    if (subscriptions_.count(id) || pending_.count(id)) return refuse(id, "id", "id: already subscribed");
    if (authenticating_) return refuse(id, "action", "subscribe after the authentication's answer");
    if (pending_.size() >= max_pending) {
      error e = backend_unavailable();
      e.message = "Too many subscriptions being set up on this socket: subscribe again once they are answered";
      return send(error_message(id, render(e)));
    }
    const json::value* resource = message.find("resource");
    if (!resource || !resource->is_string() || resource->as_string().empty() || resource->as_string().front() != '/' ||
        resource->as_string().find_first_of("?#") != std::string::npos)
      return refuse(id, "resource", "resource: the path of a list, such as /buckets/b/collections/c/records");
    std::string target = resource->as_string();
    if (target.rfind("/v1/", 0) != 0) target = "/v1" + target;
    std::string query;
    if (const json::value* filters = message.find("filters")) {
      if (!filters->is_string() || filters->as_string().find('#') != std::string::npos)
        return refuse(id, "filters", "filters: a query string, such as status=done&_fields=title");
      query = filters->as_string();
      if (!query.empty() && query.front() == '?') query.erase(0, 1);
    }
    if (const json::value* since = message.find("since"); since && !since->is_null()) {
      const auto t = since->as_int64();
      if (!since->is_integer() || !t || *t < 0) return refuse(id, "since", "since: a timestamp is expected");
      query += (query.empty() ? "_since=" : "&_since=") + std::to_string(*t);
    }
    if (!query.empty()) target += "?" + query;

    request req;
    req.method = "GET";
    req.target = std::move(target);
    req.headers.emplace_back("accept", "text/event-stream");
    auto f = std::make_shared<session_follower>(shared_from_this(), id);
    req.follower = f;
    pending_.insert(id);
    run(std::move(req), [id, f](socket_session& s, response res) {
      s.pending_.erase(id);
      if (s.cancelled_.erase(id)) return;
      if (res.status >= 300) return s.send(error_message(id, res.body));
      if (!f->followed)
        s.send(error_message(id, render(invalid_parameter("body", "resource", "resource: not a list that can be followed"))));
    });
  }

  void unsubscribe(const std::string& id) {
    if (pending_.count(id)) {
      // Its read is still running: it ends as soon as it is answered.
      if (!cancelled_.insert(id).second) return refuse(id, "id", "id: no such subscription");
      return send(unsubscribed(id));
    }
    auto it = subscriptions_.find(id);
    if (it == subscriptions_.end()) return refuse(id, "id", "id: no such subscription");
    it->second->cancel(unsubscribed(id));
    subscriptions_.erase(it);
  }

  static std::string unsubscribed(const std::string& id) {
    return "{\"action\":\"unsubscribed\",\"subscription\":" + quoted(id) + "}";
  }

  /// Subscriptions whose read runs at once, per socket; beyond, refused.
  static constexpr std::size_t max_pending = 64;

  app& a_;
  std::optional<std::string> user_id_; ///< nullopt while an authentication runs
  const std::string host_;
  const std::function<void(std::function<void()>)> post_;
  std::shared_ptr<socket_channel> channel_;
  std::map<std::string, std::shared_ptr<subscription_sink>> subscriptions_;
  std::set<std::string> pending_; ///< subscriptions whose read has not answered
  std::set<std::string> cancelled_; ///< ... and that were unsubscribed meanwhile
  bool authenticating_ = false;
  bool closed_ = false;
};

void session_follower::follow(core::subscription sub) {
  followed = true;
  socket_session& s = *session;
  if (s.closed_ || !s.channel_ || s.cancelled_.count(id)) return;
  auto sink = std::make_shared<subscription_sink>(s.channel_, id);
  s.send("{\"action\":\"subscribed\",\"subscription\":" + quoted(id) + "}");
  if (!s.a_.feed->subscribe(std::move(sub), sink)) return sink->end(render(backend_unavailable()));
  s.subscriptions_[id] = std::move(sink);
}

} // namespace

void handle_changes_socket(const call_ptr& c) {
  if (!c->req.websocket) {
    response res = error_response(
      c->cfg(), invalid_parameters({{"header", "Upgrade", "This endpoint is a WebSocket: Upgrade: websocket is expected"}}, 426));
    res.set("Upgrade", "websocket");
    res.set("Connection", "Upgrade");
    return c->send(std::move(res));
  }
  auto session = std::make_shared<socket_session>(c->a, c->who.user_id, c->req.host, c->req.post);
  auto handler = std::make_shared<socket_handler>();
  handler->high_water = c->cfg().push.max_buffer_bytes;
  handler->opened = [session](std::shared_ptr<socket_channel> channel) { session->opened(std::move(channel)); };
  handler->message = [session](std::string text) { session->receive(text); };
  handler->drained = [session] { session->drained(); };
  handler->closed = [session] { session->closed(); };
  response res;
  res.status = 101;
  res.socket = std::move(handler);
  c->send(std::move(res));
}

} // namespace kinto::http
