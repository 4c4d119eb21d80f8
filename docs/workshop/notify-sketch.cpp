// Exercise 8's pieces, alone: a channel that each finished operation puts itself into, and a
// consumer that waits on it instead of polling. Three timers stand in for three requests. The
// channel's signature is void(error_code, T): the form that Asio 1.22 and 1.28 both accept for
// try_send() and for `co_await async_receive(use_awaitable)`, which then returns the T.
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/channel.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <cstdio>
#include <memory>

using asio::awaitable;
using asio::use_awaitable;
using namespace std::chrono_literals;

struct future {
  bool done = false;
  int result = 0;
};

// Holds every future that has finished and has not been taken yet: at most `limit` of them.
using finished_channel =
    asio::experimental::channel<void(asio::error_code, std::shared_ptr<future>)>;

std::shared_ptr<future> ensure_future(asio::steady_timer& timer, int result,
                                      finished_channel& finished) {
  auto f = std::make_shared<future>();
  timer.async_wait([f, result, &finished](asio::error_code) {
    f->result = result;
    f->done = true;
    finished.try_send(asio::error_code{}, f); // never full: one message per running future
  });
  return f;
}

awaitable<void> first_to_finish(finished_channel& finished, int count) {
  for (int i = 0; i < count; ++i) {
    auto f = co_await finished.async_receive(use_awaitable); // sleeps until one has finished
    std::printf("finished: %d\n", f->result);
  }
}

int main() {
  constexpr int limit = 3; // operations in flight, and so the channel's room
  asio::io_context io;
  finished_channel finished(io, limit);
  asio::steady_timer a(io, 30ms), b(io, 10ms), c(io, 20ms);
  auto fa = ensure_future(a, 1, finished), fb = ensure_future(b, 2, finished),
       fc = ensure_future(c, 3, finished);
  asio::co_spawn(io, first_to_finish(finished, limit), asio::detached);
  io.run();
}
