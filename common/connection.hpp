// What a session's requests stand on: one keep-alive TCP connection, the pool of them, the
// watchdog that times them out, and connecting. A detail of common::session: session.cpp sends
// requests one at a time on these connections, pipeline.cpp several at a time (HTTP/1.1
// pipelining).
#pragma once

#include "common/http.hpp"
#include "common/pipeline.hpp"
#include "common/read_buffer.hpp"
#include "common/session.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace common::detail {

using clock = std::chrono::steady_clock;

// A connection's first read buffer: the server's whole "Hello, World!" response (93 bytes) fits.
inline constexpr std::size_t initial_buffer_bytes = 128;

/// One TCP connection with its read buffer, its parser and its deadline.
struct connection {
  connection(const asio::any_io_executor& executor, http::response_parser::limits limits)
      : socket(executor), parser(limits), in(initial_buffer_bytes, limits.max_head_bytes) {}
  ~connection() { // the session is gone, and its executor with it: nothing is left to answer them
    while (!queue.empty()) {
      auto* x = queue.front();
      queue.pop_front();
      x->discard();
    }
  }

  void arm(std::chrono::milliseconds timeout) noexcept {
    deadline = clock::now() + timeout;
    timed_out = false;
    received = false;
  }

  void format_request(std::string_view target, std::string_view authority) {
    request.clear();
    append_request(target, authority);
  }

  void append_request(std::string_view target, std::string_view authority) {
    request.append("GET ").append(target).append(" HTTP/1.1\r\nHost: ");
    request.append(authority).append("\r\n\r\n");
  }

  // Parses what has arrived; true once the response is whole (or `ec` says it is malformed).
  bool parse(std::error_code& ec) {
    in.consume(parser.parse(in.data(), ec));
    return parser.done();
  }

  response take_response() {
    deadline = clock::time_point::max();
    ++exchanges;
    response r{.status = parser.status(), .body = std::move(parser.body())};
    if (!parser.keep_alive()) close();
    return r;
  }

  void close() noexcept {
    std::error_code ignored;
    socket.close(ignored);
    in.clear();
    exchanges = 0;
  }

  asio::ip::tcp::socket socket;
  http::response_parser parser;
  read_buffer in;
  std::string request; // the request's bytes, reused
  clock::time_point deadline = clock::time_point::max();
  bool timed_out = false; // set by the watchdog when it cancels
  bool busy = false;
  bool received = false;       // any byte of the current response arrived
  std::uint64_t exchanges = 0; // responses read on this TCP connection

  // Pipelining only (pipeline.cpp). `request` collects the next write.
  exchange_queue queue;                  // its requests, in the order they are written
  std::size_t sent = 0;                  // how many of the queue's first requests were written
  std::string sending;                   // the bytes being written now
  bool writing = false, reading = false; // its writer, its reader coroutine runs
  bool retired = false;                  // failed: takes no request until both have stopped
  bool listed = false;                   // in pool::room
  std::uint64_t generation = 0;          // counts failures: a coroutine of an earlier one stops
};

/// Everything the watchdog needs, shared with it so that it never outlives what it watches.
struct pool : std::enable_shared_from_this<pool> {
  pool(const asio::any_io_executor& executor, session_options options)
      : executor(executor), options(options), watchdog(executor) {}

  connection& open() {
    connections.push_back(std::make_unique<connection>(
        executor, http::response_parser::limits{.max_body_bytes = options.max_body_bytes}));
    return *connections.back();
  }

  // An idle connection, or a new one when none is idle: the pool grows to the peak in flight.
  connection& checkout() {
    connection* c = nullptr;
    if (!idle.empty()) {
      c = idle.back();
      idle.pop_back();
    } else {
      c = &open();
    }
    c->busy = true;
    ++busy;
    return *c;
  }

  void checkin(connection& c) noexcept {
    c.busy = false;
    c.deadline = clock::time_point::max();
    idle.push_back(&c);
    if (--busy == 0) watchdog.cancel(); // nothing left to watch: a pending tick would delay the end
  }

  asio::any_io_executor executor;
  session_options options;
  std::string authority;
  std::string connect_step;
  std::vector<asio::ip::tcp::endpoint> endpoints;
  std::vector<std::unique_ptr<connection>> connections;
  std::vector<connection*> idle;
  std::size_t busy = 0;
  std::size_t opened = 0;
  asio::steady_timer watchdog;
  bool watching = false;

  // Pipelining only (pipeline.cpp): `room` is a stack of the connections that take another
  // request, the most recently freed on top, so that one connection fills to `depth` before
  // another is opened.
  std::vector<connection*> room;
  std::size_t depth = options.pipeline; // 1 once the server has shown it does not pipeline
};

/// Starts the watchdog, unless it runs: it looks over the busy connections a few times per timeout.
void watch(const std::shared_ptr<pool>& p);

/// Opens `c` to the first of the pool's addresses that answers, before `c`'s deadline.
asio::awaitable<std::error_code> connect(pool& p, connection& c);

} // namespace common::detail
