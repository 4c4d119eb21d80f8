// Three timers of 300, 100 and 50 ms, at most two at a time, read as they finish.
#include <bounded/as_completed.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <cstdio>
#include <ranges>

using asio::awaitable;
using asio::use_awaitable;

awaitable<int> sleep_ms(int ms) {
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
  co_await timer.async_wait(use_awaitable);
  co_return ms;
}

awaitable<void> run() {
  int delays[] = {300, 100, 50};
  auto sleeps = delays | std::views::transform(sleep_ms); // nothing starts yet
  auto results = bounded::as_completed(co_await asio::this_coro::executor, sleeps, /*limit=*/2);
  while (auto r = co_await results.async_next(use_awaitable))
    std::printf("%d ms\n", std::get<1>(*r)); // 100 ms, 50 ms, 300 ms
}

int main() {
  asio::io_context io;
  asio::co_spawn(io, run(), asio::detached);
  io.run();
}
