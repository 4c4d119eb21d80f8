// server: the article's delay server, from its "Setup: Server" section. Every `GET /{name}` is
// answered "Hello, World!" after randint(0, 3) seconds, one coroutine per connection. serve(), at
// the end, is the article's handler plus what a server facing real clients must add, each named
// there; the connection (connection.hpp) turns bytes into whole requests and sends the answers it
// is given, so serve() only waits for requests and their delays. This file accepts connections,
// caps their number, and closes those idle past the idle timeout.
#include "server/server.hpp"

#include "server/connection.hpp"
#include "server/replies.hpp"

#include <asio/co_spawn.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <utility>

namespace server {

using asio::ip::tcp;
using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

bool is_out_of_descriptors(std::error_code ec) {
  return ec == asio::error::no_descriptors || ec == std::errc::too_many_files_open_in_system ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

} // namespace

delays::delays(const options& opts)
    : random_(opts.seed ? *opts.seed : std::random_device{}()), distribution_(0, opts.max_delay),
      unit_(opts.delay_unit) {}

delay_server::delay_server(asio::io_context& io, options opts)
    : io_(io), options_(std::move(opts)), acceptor_(io), delays_(options_), watchdog_(io) {
  tcp::endpoint endpoint(asio::ip::make_address(options_.host), options_.port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
}

delay_server::~delay_server() = default;

void delay_server::start() {
  asio::co_spawn(io_, accept(), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  watch();
}

void delay_server::stop() {
  stopping_ = true;
  std::error_code ignored;
  acceptor_.close(ignored);
  watchdog_.cancel();
  for (auto* c = connections_; c; c = c->next) {
    c->socket.close(ignored);
    c->timer.cancel();
  }
}

// Closes connections that have been idle, or slow to send or to read, past the idle timeout.
void delay_server::watch() {
  now_ = clock::now();
  auto tick = std::clamp<std::chrono::milliseconds>(options_.idle_timeout / 4, 10ms, 1000ms);
  watchdog_.expires_after(tick);
  watchdog_.async_wait([this](std::error_code ec) {
    if (ec || stopping_) return;
    auto now = clock::now();
    std::error_code ignored;
    for (auto* c = connections_; c; c = c->next)
      if (c->deadline <= now) c->socket.close(ignored);
    watch();
  });
}

asio::awaitable<void> delay_server::accept() {
  asio::steady_timer pause(io_);
  bool warned = false;
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
    if (stopping_) break;
    if (is_out_of_descriptors(ec)) {
      if (!warned)
        std::fprintf(stderr, "server: accept: %s with %zu connections open; raise `ulimit -n`\n",
                     ec.message().c_str(), stats_.open_connections);
      warned = true;
      pause.expires_after(50ms);
      co_await pause.async_wait(use_tuple);
      continue;
    }
    if (ec) continue; // the client gave up before we accepted it
    // The connection cap: each connection holds a file descriptor and some memory until it ends.
    // Past the cap, a new client gets a quick 503 rather than the server running out of either.
    if (stats_.open_connections >= options_.max_connections) {
      ++stats_.rejected;
      socket.non_blocking(true, ec);
      socket.send(asio::buffer(replies::busy), 0, ec);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(io_, serve(std::move(socket)), [](std::exception_ptr e) {
      try {
        if (e) std::rethrow_exception(e);
      } catch (const std::exception& x) {
        std::fprintf(stderr, "server: connection: %s\n", x.what());
      }
    });
  }
}

// The article's handler is the delay and the response. Around them, what a real server adds: it
// serves request after request on a keep-alive connection, takes each whole and within limits
// (take_request), answers what is not `GET /{name}` with an error, ends the delay at stop(), and
// closes without losing the last response (close).
asio::awaitable<void> delay_server::serve(tcp::socket socket) {
  connection c(*this, std::move(socket));
  while (!stopping_) {               // keep-alive: request after request
    auto request = c.take_request(); // a whole request, within the limits, from the bytes in hand
    if (!request) {                  // not yet: the answers in hand go out, or more bytes come in
      if (!c.transferred(co_await c.transfer())) break;
      continue;
    }
    if (request->status != 200) { // an error, for a request that is not `GET /{name}`
      c.answer_error(request->status, request->keep_alive);
      if (!request->keep_alive) break;
      continue;
    }
    if (on_request) on_request(request->name);
    if (request->delay > 0ms) { // await asyncio.sleep(random.randint(0, 3))
      c.timer.expires_after(request->delay);
      auto [cancelled] = co_await c.timer.async_wait(use_tuple);
      if (cancelled) break; // stop() ends the delay
    }
    // return web.Response(text="Hello, World!"), as the connection's last answer when stopping
    auto keep_alive = request->keep_alive && !stopping_;
    c.answer(replies::hello(keep_alive, request->minor_version));
    if (!keep_alive) break;
  }
  co_await c.close(); // the answers in hand go out first
}

} // namespace server
