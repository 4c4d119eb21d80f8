// The async clients' HTTP session, in the role of aiohttp's ClientSession: keep-alive connections
// to one server, reused from an idle pool, so that a hundred million requests do not need a
// hundred million TCP connections (and the ephemeral ports and TIME_WAIT states that would cost).
#pragma once

#include "common/pipeline.hpp"
#include "common/response.hpp"
#include "common/url.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <string>

namespace common {

/// Knobs of a session.
struct session_options {
  std::chrono::milliseconds timeout{30'000}; ///< for connecting, and for each request
  std::size_t max_body_bytes = 1u << 20;     ///< a longer body fails the request
  std::size_t pipeline = 1; ///< requests written on one connection before their responses are read
};

/// A pool of keep-alive HTTP/1.1 connections to the server of one URL.
///
/// `co_await session.get(url)` sends a GET and returns the whole response. A request takes an
/// idle connection, or opens one when none is idle, and gives it back when done; so the pool
/// grows to the largest number of requests ever in flight at once, and no further. Failures
/// (refused, reset, timed out, malformed response) are returned in the response, never thrown.
///
/// A session belongs to one thread (or strand) and must outlive the requests it runs.
class session {
public:
  /// Resolves the URL's host (blocking, once); throws std::system_error when it cannot.
  session(asio::any_io_executor executor, const url_template& url, session_options options = {});
  /// Closes every connection and stops the watchdog.
  ~session();
  /// Not copyable: the connections belong to one session.
  session(const session&) = delete;
  /// Not copyable.
  session& operator=(const session&) = delete;

  /// GETs `url`, which must have this session's scheme, host and port. The URL is taken by value
  /// because the request may start after the caller's string is gone (a spawned task).
  ///
  /// A request that finds its reused connection closed by the server before any response
  /// arrived is retried once on a new connection; the server never saw it.
  ///
  /// With `pipeline` K above 1, up to K requests share a connection: they are written back to
  /// back, in as few writes as possible, and their responses read in the same order (HTTP/1.1
  /// pipelining). A request whose connection ends before any byte of its response arrived is
  /// sent again on another connection when that connection had answered some request (so the
  /// retries end: each needs a connection that answered one), and fails otherwise. A connection
  /// that times out or says `Connection: close` with requests still unanswered turns pipelining off
  /// for the session.
  asio::awaitable<response> get(std::string url);

  /// get() as an Asio operation, for any completion token: it completes with
  /// `void(std::exception_ptr, response)`, as get() run by co_spawn would. Pipelined, a request is
  /// then no coroutine at all, only an entry in its connection's queue that holds the handler,
  /// allocated with the handler's allocator; without pipelining it runs get() in a coroutine.
  /// The handler runs on its associated executor (the session's by default); a connected
  /// cancellation slot cancels the request, and with it the connection it was sent on. Without
  /// pipelining the handler is called from inside the coroutine's frame: a caller that starts the
  /// next request from there (bounded::as_completed does, for an operation that is not a
  /// coroutine) holds both requests' frames at once, which fragmented the heap by about 0.5 KB per
  /// request in flight (docs/syscalls.md); stage 04 starts get() instead.
  template <class CompletionToken> auto async_get(std::string url, CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(std::exception_ptr, response)>(
        [this](auto handler, std::string url) {
          if (pipelined())
            send(detail::exchange_for<decltype(handler)>::make(std::move(url), std::move(handler)));
          else
            asio::co_spawn(executor(), get_one(std::move(url)), std::move(handler));
        },
        token, std::move(url));
  }

  /// TCP connections opened so far.
  std::size_t connections_opened() const noexcept;

private:
  bool pipelined() const noexcept;
  const asio::any_io_executor& executor() const noexcept;
  void send(detail::exchange* x);
  asio::awaitable<response> get_one(std::string url);

  std::shared_ptr<detail::pool> pool_;
};

} // namespace common
