#include "common/session.hpp"

#include "common/asio_compat.hpp"
#include "common/connection.hpp"
#include "common/errors.hpp"
#include "common/http.hpp"

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <string>
#include <system_error>

namespace common {

using asio::ip::tcp;
using detail::clock;
using detail::connection;
using detail::pool;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = compat::as_tuple(asio::use_awaitable);

// Errors that mean the server closed a reused keep-alive connection before reading the request.
bool is_stale_connection(std::error_code ec) {
  return ec == asio::error::eof || ec == http::error::truncated ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

} // namespace

session::session(asio::any_io_executor executor, const url_template& url, session_options options)
    : pool_(std::make_shared<pool>(executor, options)) {
  pool_->authority = url.authority();
  pool_->connect_step = "connect to " + pool_->authority;
  tcp::resolver resolver(executor);
  std::error_code ec;
  auto results =
      resolver.resolve(url.host(), std::to_string(url.port()), tcp::resolver::numeric_service, ec);
  if (ec) throw std::system_error(ec, "cannot resolve " + url.host());
  for (const auto& entry : results)
    pool_->endpoints.push_back(entry.endpoint());
}

session::~session() {
  for (auto& c : pool_->connections)
    c->close();
  pool_->watchdog.cancel();
}

std::size_t session::connections_opened() const noexcept {
  return pool_->opened;
}

asio::awaitable<response> session::get(std::string url) {
  if (pipelined()) return async_get(std::move(url), asio::use_awaitable);
  return get_one(std::move(url));
}

asio::awaitable<response> session::get_one(std::string url) {
  std::string_view authority, target;
  auto p = pool_; // keeps the pool alive for as long as this request runs
  if (!split_url(url, authority, target) || authority != p->authority)
    co_return response{.step = "url", .error = std::make_error_code(std::errc::invalid_argument)};

  connection& c = p->checkout();
  struct give_back {
    pool& p;
    connection& c;
    ~give_back() { p.checkin(c); }
  } guard{*p, c};
  detail::watch(p);

  for (bool retried = false;; retried = true) {
    if (!c.socket.is_open())
      if (auto ec = co_await detail::connect(*p, c))
        co_return response{.step = p->connect_step, .error = ec};
    bool reused = c.exchanges > 0;

    // One exchange: the request in one write, then reads until the response is whole.
    c.format_request(target, p->authority);
    c.arm(p->options.timeout);
    std::string_view step = "write";
    auto [ec, written] = co_await asio::async_write(c.socket, asio::buffer(c.request), use_tuple);
    if (!ec) {
      step = "read";
      c.parser.reset();
      while (!c.parse(ec) && !ec) {
        auto space = c.in.space();
        if (space.size() == 0) {
          ec = http::error::headers_too_large;
          break;
        }
        auto [read_error, n] = co_await c.socket.async_read_some(space, use_tuple);
        c.in.commit(n);
        c.received |= n > 0;
        if (read_error == asio::error::eof)
          c.parser.parse_eof(ec);
        else
          ec = read_error;
        if (read_error) break;
      }
    }
    // Bytes beyond the response mean its framing is off (a Content-Length too short cuts the
    // body short): neither the response nor the connection can be trusted.
    if (!ec && !c.in.empty()) ec = http::error::extra_bytes;
    if (!ec) co_return c.take_response();

    if (ec == asio::error::operation_aborted && c.timed_out)
      ec = std::make_error_code(std::errc::timed_out);
    c.close();
    // A reused connection the server had closed: the request never reached it, so resend once.
    if (reused && !retried && !c.received && is_stale_connection(ec)) continue;
    co_return response{.step = step, .error = ec};
  }
}

bool session::pipelined() const noexcept {
  return pool_->options.pipeline > 1;
}

const asio::any_io_executor& session::executor() const noexcept {
  return pool_->executor;
}

void session::send(detail::exchange* x) {
  detail::send(pool_, x);
}

namespace detail {

// Rather than one timer per request, one watchdog looks over the busy connections a few times
// per timeout and cancels the operations of those past their deadline. A request then costs one
// clock read for its timeout instead of a timer's setup and cancellation.
void watch(const std::shared_ptr<pool>& p) {
  if (p->watching) return;
  p->watching = true;
  auto tick = std::clamp<std::chrono::milliseconds>(p->options.timeout / 4, 1ms, 250ms);
  p->watchdog.expires_after(tick);
  p->watchdog.async_wait([weak = std::weak_ptr<pool>(p)](std::error_code ec) {
    auto p = weak.lock();
    if (!p) return;
    p->watching = false;
    if (ec) { // cancelled when the pool fell idle; a request may have started since
      if (p->busy > 0) watch(p);
      return;
    }
    auto now = clock::now();
    for (auto& c : p->connections)
      if (c->busy && c->deadline <= now) {
        c->timed_out = true;
        c->deadline = clock::time_point::max();
        std::error_code ignored;
        c->socket.cancel(ignored);
      }
    if (p->busy > 0) watch(p);
  });
}

asio::awaitable<std::error_code> connect(pool& p, connection& c) {
  c.close();
  c.arm(p.options.timeout);
  auto [ec, endpoint] = co_await asio::async_connect(c.socket, p.endpoints, use_tuple);
  if (ec == asio::error::operation_aborted && c.timed_out)
    ec = std::make_error_code(std::errc::timed_out);
  if (ec) {
    c.close();
    co_return ec;
  }
  std::error_code ignored;
  c.socket.set_option(tcp::no_delay(true), ignored);
  ++p.opened;
  // Next time, try first the address that answered: "localhost" may name ::1 before 127.0.0.1.
  if (endpoint != p.endpoints.front())
    std::iter_swap(p.endpoints.begin(),
                   std::find(p.endpoints.begin(), p.endpoints.end(), endpoint));
  co_return std::error_code{};
}

} // namespace detail

} // namespace common
