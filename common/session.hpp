// The async clients' HTTP session, in the role of aiohttp's ClientSession: keep-alive connections
// to one server, reused from an idle pool, so that a hundred million requests do not need a
// hundred million TCP connections (and the ephemeral ports and TIME_WAIT states that would cost).
#pragma once

#include "common/response.hpp"
#include "common/url.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>

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

  /// TCP connections opened so far.
  std::size_t connections_opened() const noexcept;

private:
  struct connection;
  struct pool;

  struct exchange;
  struct exchange_queue;

  asio::awaitable<response> get_one(std::string url);
  asio::awaitable<response> get_pipelined(std::string url);
  static asio::awaitable<void> write_requests(std::shared_ptr<pool> p, connection& c);
  static asio::awaitable<void> read_responses(std::shared_ptr<pool> p, connection& c);
  static asio::awaitable<std::error_code> connect(pool& p, connection& c);

  std::shared_ptr<pool> pool_;
};

} // namespace common
