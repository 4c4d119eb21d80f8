// Three timers, two at a time, results as they finish: prints 100, 50, 300.
#include <bounded/as_completed.hpp>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <cstdio>
#include <ranges>

asio::awaitable<int> sleep_ms(int ms) {
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
  co_await timer.async_wait(asio::use_awaitable);
  co_return ms;
}

int main() {
  asio::io_context io;
  asio::co_spawn(
      io,
      []() -> asio::awaitable<void> {
        int ms[] = {300, 100, 50};
        auto results = bounded::as_completed(co_await asio::this_coro::executor,
                                             ms | std::views::transform(sleep_ms), 2);
        while (auto r = co_await results.async_next(asio::use_awaitable))
          std::printf("%d\n", std::get<1>(*r));
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
}
