// One client connection of the delay server: it turns the bytes a client sends into whole
// requests within the server's limits, sends the answers it is given, and closes without losing
// the last of them. serve() in server.cpp drives it: it takes requests, waits their delays and
// hands over their answers; when the connection has no whole request in hand, serve() awaits its
// next transfer.
#pragma once

#include "common/asio_compat.hpp"
#include "common/http.hpp"
#include "common/read_buffer.hpp"
#include "server/replies.hpp"
#include "server/server.hpp"

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>

namespace server {

constexpr auto use_tuple = compat::as_tuple(asio::use_awaitable);

// Ends a request's time in flight when the request is destroyed: answered, or given up.
struct leave_flight {
  void operator()(stats* s) const noexcept { --s->in_flight; }
};

// A request read whole, with what serve() needs to answer it. Nothing in it points into the read
// buffer, which the next read may overwrite: its name is a copy, in a buffer the connection reuses.
struct request {
  int status = 200;                   // 200 for `GET /{name}`; otherwise the error status it gets
  bool keep_alive = true;             // whether the connection stays open after the answer
  int minor_version = 1;              // 0 for HTTP/1.0, which needs keep-alive said in the answer
  std::string_view name;              // the `{name}`
  std::chrono::milliseconds delay{0}; // randint(0, 3) s for a `GET /{name}` (server::delays)
  std::unique_ptr<stats, leave_flight> in_flight; // counts it in stats::in_flight meanwhile
};

/// One client connection: its socket, delay timer, read buffer, deadline and the answers it has
/// not sent yet. It lives in the frame of the coroutine that serves it and links itself into the
/// server's list meanwhile.
class connection {
public:
  connection(delay_server& server, asio::ip::tcp::socket socket);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // The next whole request among the bytes in hand, if they hold one, and the answers in hand
  // allow it; nothing while transfer() must run first.
  std::optional<request> take_request();

  // What a transfer brought: an error, and a count of bytes.
  using transfer_result = std::tuple<std::error_code, std::size_t>;
  // The connection's next step on the socket, for serve() to await: writes the answers in hand,
  // if there are any, or else reads more bytes. Pass its result to transferred().
  asio::awaitable<transfer_result> transfer();
  // Counts what a transfer() did; false when the connection is done (closed, failed, or a full
  // buffer, which the head limit makes an error first).
  bool transferred(transfer_result result);

  // Gives the connection an answer to send, in order, with its next transfer() or its close().
  // The common one is counted (the prebuilt answers show which one they are in where they point,
  // without a compare); another is kept as the tail, and take_request() takes no request until it
  // has gone out.
  void answer(std::string_view prebuilt) noexcept {
    if (prebuilt.data() == replies::hello_http11.data())
      ++queued;
    else
      tail = prebuilt;
  }
  // Gives the connection the error answer to a request that is not a well-formed `GET /{name}`.
  void answer_error(int status, bool keep_alive);

  // Sends the answers in hand, then ends the connection without destroying one the client has not
  // read yet.
  asio::awaitable<void> close();

  // Reached by serve() for the delay, and by the server's watchdog and stop().
  asio::ip::tcp::socket socket;
  asio::steady_timer timer;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  connection* prev = nullptr;
  connection* next;

private:
  void arm() noexcept;
  void disarm() noexcept;
  asio::awaitable<transfer_result> write();

  delay_server& server;
  common::http::request_parser parser;
  common::read_buffer in;
  std::optional<request> pending; // a request whose body is still arriving, or that must wait
  bool whole = false;             // whether `pending` is all in
  std::uint64_t body_left = 0;    // the bytes of its body still to come
  bool reading = false;           // a read for the next request has started its deadline
  bool writing = false;           // the transfer in progress is a write
  std::size_t queued = 0;         // "Hello, World!" answers not sent yet (all hello_http11)
  std::string_view tail;          // another answer not sent yet, after those
  std::string name;               // the last request's name
  std::string scratch;            // the last error answer
};

} // namespace server
