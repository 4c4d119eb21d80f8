// What running N operations costs per operation, several ways, with at most `limit` at a time
// where the method has a limit at all:
//   alone      each operation awaited in turn by one coroutine, one at a time: the floor, what
//              the operations cost without any machinery around them
//   bounded    bounded::as_completed over a lazy range
//   finish     the same under bounded::on_stop::finish: operations that cannot be cancelled
//              (stage 04's client)
//   for_each   bounded::for_each over the same range, a function called for each result
//   channel    bounded::as_completed fed by a producer coroutine through an Asio channel
//   eager      every operation spawned up front, waiting on a channel semaphore (stage 02)
//   group      Asio's ranged experimental::make_parallel_group, every operation launched at once
//              (Asio 1.26 or later)
// Each operation is a coroutine that yields once to the event loop and returns its number, so
// what is measured is the machinery around it. Reported per operation: time, heap allocations
// (every malloc of the process, Asio's own included), and peak heap in use.
#include <bounded/as_completed.hpp>

#include "../tests/heap_counter.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/channel.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/version.hpp>
#if ASIO_VERSION >= 102600
#include <asio/deferred.hpp>
#include <asio/experimental/parallel_group.hpp>
#endif

#include <benchmark/benchmark.h>

#include <atomic>
#include <ranges>
#include <vector>

using heap_counter::allocations;
using heap_counter::live_bytes;
using heap_counter::peak_bytes;

namespace {

using asio::awaitable;
using asio::use_awaitable;

constexpr std::size_t limit = 1000; // operations at once, as in the article

awaitable<int> operation(int i) {
  co_await asio::post(co_await asio::this_coro::executor, use_awaitable);
  co_return i;
}

awaitable<void> alone_run(int n, long long& sum) {
  for (int i = 0; i < n; ++i)
    sum += co_await operation(i);
}

template <bounded::on_stop OnStop> awaitable<void> bounded_run(int n, long long& sum) {
  auto ex = co_await asio::this_coro::executor;
  auto results = bounded::as_completed(
      ex, std::views::iota(0, n) | std::views::transform(operation), limit, OnStop);
  while (auto r = co_await results.async_next(use_awaitable))
    sum += std::get<1>(*r);
}

awaitable<void> for_each_run(int n, long long& sum) {
  auto ex = co_await asio::this_coro::executor;
  co_await bounded::for_each(
      ex, std::views::iota(0, n) | std::views::transform(operation), limit,
      [&](std::tuple<std::exception_ptr, int> r) { sum += std::get<1>(r); }, use_awaitable);
}

awaitable<void> channel_run(int n, long long& sum) {
  auto ex = co_await asio::this_coro::executor;
  asio::experimental::channel<void(std::error_code, awaitable<int>)> channel(ex, limit);
  asio::co_spawn(
      ex,
      [&]() -> awaitable<void> {
        for (int i = 0; i < n; ++i)
          co_await channel.async_send(std::error_code{}, operation(i), use_awaitable);
        channel.close();
      },
      asio::detached);
  auto results = bounded::as_completed(ex, bounded::channel_source(channel), limit);
  while (auto r = co_await results.async_next(use_awaitable))
    sum += std::get<1>(*r);
}

awaitable<void> eager_run(int n, long long& sum) {
  auto ex = co_await asio::this_coro::executor;
  asio::experimental::channel<void()> permits(ex, limit), done(ex, 0);
  int finished = 0;
  for (int i = 0; i < n; ++i)
    asio::co_spawn(
        ex,
        [&, i]() -> awaitable<void> {
          co_await permits.async_send(use_awaitable);
          sum += co_await operation(i);
          permits.try_receive([](auto...) {});
        },
        [&](std::exception_ptr) {
          if (++finished == n) done.try_receive([](auto...) {});
        });
  if (finished < n) co_await done.async_send(use_awaitable);
}

#if ASIO_VERSION >= 102600
awaitable<void> group_run(int n, long long& sum) {
  auto ex = co_await asio::this_coro::executor;
  using op = decltype(asio::co_spawn(ex, operation(0), asio::deferred));
  std::vector<op> ops;
  ops.reserve(n);
  for (int i = 0; i < n; ++i)
    ops.push_back(asio::co_spawn(ex, operation(i), asio::deferred));
  auto [order, exceptions, values] =
      co_await asio::experimental::make_parallel_group(std::move(ops))
          .async_wait(asio::experimental::wait_for_all(), use_awaitable);
  for (int v : values)
    sum += v;
}
#endif

template <awaitable<void> (*Run)(int, long long&)> void measure(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  long long total_allocations = 0, peak = 0;
  for (auto _ : state) {
    asio::io_context io(1);
    long long sum = 0;
    auto start_allocations = allocations.load();
    auto start_live = live_bytes.load();
    heap_counter::reset_peak();
    asio::co_spawn(io, Run(n, sum), asio::detached);
    io.run();
    total_allocations += allocations.load() - start_allocations;
    peak = std::max(peak, peak_bytes.load() - start_live);
    if (sum != static_cast<long long>(n) * (n - 1) / 2) state.SkipWithError("wrong sum");
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["allocs/op"] = static_cast<double>(total_allocations) / (state.iterations() * n);
  state.counters["peak heap/op"] = static_cast<double>(peak) / n;
  state.counters["peak heap"] = static_cast<double>(peak);
}

void sizes(benchmark::internal::Benchmark* b) {
  for (int n : {1'000, 10'000, 100'000, 1'000'000})
    b->Arg(n);
  b->Unit(benchmark::kMillisecond);
}

BENCHMARK(measure<alone_run>)->Name("alone")->Apply(sizes);
BENCHMARK(measure<bounded_run<bounded::on_stop::cancel>>)->Name("bounded")->Apply(sizes);
BENCHMARK(measure<bounded_run<bounded::on_stop::finish>>)->Name("finish")->Apply(sizes);
BENCHMARK(measure<for_each_run>)->Name("for_each")->Apply(sizes);
BENCHMARK(measure<channel_run>)->Name("channel")->Apply(sizes);
BENCHMARK(measure<eager_run>)->Name("eager")->Apply(sizes);
#if ASIO_VERSION >= 102600
BENCHMARK(measure<group_run>)->Name("group")->Apply(sizes);
#endif

} // namespace

int main(int argc, char** argv) {
#if ASIO_VERSION < 102600
  std::printf("note: make_parallel_group over a range needs Asio 1.26 or later; this build has "
              "%d.%d.%d, so `group` is left out\n",
              ASIO_VERSION / 100000, ASIO_VERSION / 100 % 1000, ASIO_VERSION % 100);
#endif
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
