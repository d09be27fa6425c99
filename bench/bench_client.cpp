// Asio/Beast side of the load engine: connections write requests serialized
// by hand (cheaper than a Beast serializer per request) and read responses
// with a fresh Beast parser each. The only kinto-bench file that includes
// Beast; each client thread runs its own io_context, so no strands.
#include "bench_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <thread>

namespace kinto::bench {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

constexpr auto tick_period = std::chrono::milliseconds(50);
constexpr auto reconnect_pause = std::chrono::milliseconds(10);

/// What every shard of a run reads (never writes) while it runs.
struct run_plan {
  workload& work;
  const run_limits& limits;
  const std::atomic<bool>* stop;
  tcp::resolver::results_type endpoints;
  std::string fixed_headers; ///< "Host: ...\r\nAuthorization: ...\r\n"
  clock_type::time_point start, measure_from, measure_until;
  bool timed = false;
};

class connection;

/// One client thread: its io_context, its connections, its counts.
struct shard {
  explicit shard(const run_plan& p) : plan(p), tick(ioc) {}

  void record_response(clock_type::time_point sent, clock_type::time_point now, int status, bool rejected);
  void record_error(clock_type::time_point now, std::string_view what);
  bool in_window(clock_type::time_point t) const {
    return !plan.timed || (t >= plan.measure_from && t < plan.measure_until);
  }
  bool past_end(clock_type::time_point t) const { return plan.timed && t >= plan.measure_until; }
  void start_ticking();
  void on_tick();
  void stop_all();
  void connection_finished();

  const run_plan& plan;
  asio::io_context ioc{1};
  asio::steady_timer tick;
  std::vector<std::shared_ptr<connection>> connections;
  std::size_t active = 0;
  bool stopping = false;
  run_result result;
  std::array<std::uint64_t, 600> status_counts{};
};

class connection : public std::enable_shared_from_this<connection> {
public:
  connection(shard& s, std::size_t index) : shard_(s), index_(index), socket_(s.ioc), pause_(s.ioc) {}

  void start() { issue(); }

  void close() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    pause_.cancel();
    buffer_.consume(buffer_.size());
  }

  /// Called by the shard's tick: closes the socket of a request past its
  /// deadline, which makes the pending operation fail.
  void check_deadline(clock_type::time_point now) {
    if (deadline_ != clock_type::time_point::max() && now > deadline_) {
      timed_out_ = true;
      close();
    }
  }

private:
  void issue() {
    if (shard_.stopping) return finish();
    req_.clear();
    if (!shard_.plan.work.next(index_, req_)) return finish();
    serialize();
    deadline_ = clock_type::now() + shard_.plan.limits.request_timeout;
    if (socket_.is_open()) return send();
    asio::async_connect(socket_, shard_.plan.endpoints,
                        [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
                          if (ec) return self->fail("connect", ec);
                          beast::error_code ignored;
                          self->socket_.set_option(tcp::no_delay(true), ignored);
                          self->send();
                        });
  }

  void serialize() {
    out_.clear();
    out_ += req_.method;
    out_ += ' ';
    out_ += req_.target;
    out_ += " HTTP/1.1\r\n";
    out_ += shard_.plan.fixed_headers;
    if (!req_.if_match.empty()) out_.append("If-Match: ").append(req_.if_match).append("\r\n");
    if (!req_.if_none_match.empty()) out_.append("If-None-Match: ").append(req_.if_none_match).append("\r\n");
    if (!req_.body.empty() || req_.method == "POST" || req_.method == "PUT" || req_.method == "PATCH") {
      if (!req_.body.empty()) out_ += "Content-Type: application/json\r\n";
      out_.append("Content-Length: ").append(std::to_string(req_.body.size())).append("\r\n");
    }
    out_ += "\r\n";
    out_ += req_.body;
  }

  void send() {
    sent_ = clock_type::now();
    asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->fail("write", ec);
      self->read();
    });
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    parser_->header_limit(64 * 1024);
    bhttp::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->fail("read", ec);
      self->on_response();
    });
  }

  void on_response() {
    deadline_ = clock_type::time_point::max();
    const auto now = clock_type::now();
    auto& msg = parser_->get();
    response res;
    res.status = static_cast<int>(msg.result_int());
    res.etag = msg[bhttp::field::etag];
    res.body = msg.body();
    const bool accepted = shard_.plan.work.done(index_, req_, res);
    shard_.record_response(sent_, now, res.status, !accepted && res.status >= 200 && res.status < 300);
    if (!msg.keep_alive()) close();
    if (shard_.past_end(now)) return finish();
    issue();
  }

  void fail(std::string_view what, beast::error_code ec) {
    deadline_ = clock_type::time_point::max();
    if (shard_.stopping) return finish();
    const std::string text = std::string(what) + ": " + (timed_out_ ? std::string("timed out") : ec.message());
    timed_out_ = false;
    const auto now = clock_type::now();
    close();
    shard_.record_error(now, text);
    response res;
    res.error = text;
    shard_.plan.work.done(index_, req_, res);
    if (shard_.past_end(now)) return finish();
    if (what != "connect") return issue();
    // A refused connect fails at once: pause rather than spin.
    pause_.expires_after(reconnect_pause);
    pause_.async_wait([self = shared_from_this()](beast::error_code wec) {
      if (wec) return self->finish();
      self->issue();
    });
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    close();
    shard_.connection_finished();
  }

  shard& shard_;
  std::size_t index_;
  tcp::socket socket_;
  asio::steady_timer pause_;
  beast::flat_buffer buffer_;
  request req_;
  std::string out_;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser_;
  clock_type::time_point sent_;
  clock_type::time_point deadline_ = clock_type::time_point::max();
  bool timed_out_ = false;
  bool finished_ = false;
};

void shard::record_response(clock_type::time_point sent, clock_type::time_point now, int status, bool rejected) {
  if (!in_window(now)) return;
  ++result.responses;
  ++status_counts[status >= 0 && status < int(status_counts.size()) ? status : 0];
  if (rejected) ++result.rejected;
  result.latency.record(static_cast<std::uint64_t>(std::chrono::nanoseconds(now - sent).count()));
  const auto second =
      static_cast<std::size_t>((now - (plan.timed ? plan.measure_from : plan.start)) / std::chrono::seconds(1));
  if (second >= result.per_second.size()) result.per_second.resize(second + 1, 0);
  ++result.per_second[second];
}

void shard::record_error(clock_type::time_point now, std::string_view what) {
  if (!in_window(now)) return;
  ++result.errors;
  if (result.first_error.empty()) result.first_error = std::string(what);
}

void shard::start_ticking() {
  tick.expires_after(tick_period);
  tick.async_wait([this](beast::error_code ec) {
    // A tick already due when the last connection finished is not
    // cancelled by that cancel(): `stopping` ends the ticking then.
    if (!ec && !stopping) on_tick();
  });
}

void shard::on_tick() {
  const auto now = clock_type::now();
  if (past_end(now) || (plan.stop && plan.stop->load())) return stop_all();
  for (auto& c : connections) c->check_deadline(now);
  start_ticking();
}

void shard::stop_all() {
  stopping = true;
  tick.cancel();
  for (auto& c : connections) c->close();
}

void shard::connection_finished() {
  if (--active == 0) {
    stopping = true;
    tick.cancel();
  }
}

std::string fixed_headers(const client_target& target) {
  std::string h = "Host: ";
  const bool ipv6 = target.host.find(':') != std::string::npos;
  h += ipv6 ? "[" + target.host + "]" : target.host;
  if (target.port != 80) h += ":" + std::to_string(target.port);
  h += "\r\nUser-Agent: kinto-bench\r\nAccept: application/json\r\n";
  if (!target.authorization.empty()) h += "Authorization: " + target.authorization + "\r\n";
  return h;
}

} // namespace

run_result run_load(const client_target& target, workload& work, const run_limits& limits,
                    const std::atomic<bool>* stop) {
  if (limits.connections == 0) return {};
  run_plan plan{work, limits, stop, {}, fixed_headers(target), {}, {}, {}, limits.duration > 0};
  {
    asio::io_context resolve_ctx;
    tcp::resolver resolver(resolve_ctx);
    beast::error_code ec;
    plan.endpoints = resolver.resolve(target.host, std::to_string(target.port), ec);
    if (ec || plan.endpoints.empty()) {
      run_result failed;
      failed.errors = 1;
      failed.first_error = "cannot resolve " + target.host + ": " + (ec ? ec.message() : "no address");
      return failed;
    }
  }

  const std::size_t threads = std::max<std::size_t>(1, std::min(limits.threads, limits.connections));
  std::vector<std::unique_ptr<shard>> shards;
  for (std::size_t t = 0; t < threads; ++t) shards.push_back(std::make_unique<shard>(plan));
  for (std::size_t c = 0; c < limits.connections; ++c) {
    auto& s = *shards[c % threads];
    s.connections.push_back(std::make_shared<connection>(s, c));
    ++s.active;
  }

  plan.start = clock_type::now();
  plan.measure_from =
      plan.start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(limits.warmup));
  plan.measure_until = plan.measure_from +
                       std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(limits.duration));
  for (auto& s : shards) {
    for (auto& c : s->connections) c->start();
    s->start_ticking();
  }
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back([&s = *shards[t]] { s.ioc.run(); });
  shards[0]->ioc.run();
  for (auto& t : pool) t.join();
  const auto finished = clock_type::now();

  run_result total;
  total.seconds = plan.timed ? limits.duration : std::chrono::duration<double>(finished - plan.start).count();
  std::array<std::uint64_t, 600> statuses{};
  for (auto& s : shards) {
    // Handlers hold the connections; drop them before the io_context goes.
    s->connections.clear();
    const auto& r = s->result;
    total.responses += r.responses;
    total.errors += r.errors;
    total.rejected += r.rejected;
    total.latency.merge(r.latency);
    if (total.first_error.empty()) total.first_error = r.first_error;
    if (r.per_second.size() > total.per_second.size()) total.per_second.resize(r.per_second.size(), 0);
    for (std::size_t i = 0; i < r.per_second.size(); ++i) total.per_second[i] += r.per_second[i];
    for (std::size_t i = 0; i < statuses.size(); ++i) statuses[i] += s->status_counts[i];
  }
  for (std::size_t i = 0; i < statuses.size(); ++i)
    if (statuses[i]) total.statuses[static_cast<int>(i)] = statuses[i];
  // A timed run that was stopped early measured only what it ran.
  if (plan.timed && finished < plan.measure_until)
    total.seconds = std::max(0.0, std::chrono::duration<double>(finished - plan.measure_from).count());
  if (plan.timed) total.per_second.resize(static_cast<std::size_t>(std::ceil(total.seconds)), 0);
  return total;
}

} // namespace kinto::bench
