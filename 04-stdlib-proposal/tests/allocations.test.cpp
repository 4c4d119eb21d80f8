// The stream allocates its state once, up front; running a million operations through it costs
// no allocation per operation and no memory that grows. This test binary counts every heap
// allocation of the process (malloc and its family, so operator new and Asio's own allocations
// alike) to show it.
#include <bounded/as_completed.hpp>

#include "heap_counter.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#if ASIO_VERSION >= 102400
#include <asio/deferred.hpp>
#else
#include <asio/experimental/deferred.hpp>
#endif

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <ranges>

using heap_counter::allocations;
using heap_counter::live_bytes;
using heap_counter::peak_bytes;

namespace {

#if ASIO_VERSION >= 102400
constexpr auto deferred = asio::deferred;
#else
constexpr auto deferred = asio::experimental::deferred;
#endif

struct run_figures {
  long long allocations;
  long long peak_bytes_above_start;
  long long results;
};

// Runs `n` operations that complete at once (a post each) with the given limit, and counts.
run_figures run_trivial(long long n, std::size_t limit) {
  asio::io_context io(1);
  auto ex = io.get_executor();
  auto ops = std::views::iota(0LL, n) |
             std::views::transform([ex](long long) { return asio::post(ex, deferred); });
  long long results = 0;
  auto start_allocations = allocations.load();
  auto start_live = live_bytes.load();
  heap_counter::reset_peak();
  {
    auto s = bounded::as_completed(ex, ops, limit);
    std::function<void()> next = [&] {
      s.async_next([&](std::exception_ptr, std::optional<std::tuple<>> v) {
        if (!v) return;
        ++results;
        next();
      });
    };
    next();
    io.run();
  }
  return {allocations - start_allocations, peak_bytes - start_live, results};
}

TEST(Allocations, NoneForEachOperation) {
  if (!heap_counter::available) GTEST_SKIP() << "a sanitizer has its own malloc";
  run_trivial(1000, 64); // warms Asio's per-thread recycling caches
  auto small = run_trivial(1000, 64);
  auto large = run_trivial(100'000, 64);
  EXPECT_EQ(small.results, 1000);
  EXPECT_EQ(large.results, 100'000);
  std::printf("allocations: %lld for 1,000 operations, %lld for 100,000\n", small.allocations,
              large.allocations);
  EXPECT_LE(large.allocations - small.allocations, 16)
      << small.allocations << " allocations for 1,000 operations, " << large.allocations
      << " for 100,000";
}

TEST(Allocations, AMillionOperationsInFlatMemory) {
  if (!heap_counter::available) GTEST_SKIP() << "a sanitizer has its own malloc";
  auto small = run_trivial(10'000, 100);
  auto large = run_trivial(1'000'000, 100);
  EXPECT_EQ(large.results, 1'000'000);
  std::printf("peak heap above the start: %lld bytes for 10,000 operations, %lld for 1,000,000\n",
              small.peak_bytes_above_start, large.peak_bytes_above_start);
  EXPECT_LE(large.peak_bytes_above_start, small.peak_bytes_above_start + 16 * 1024)
      << "peak " << small.peak_bytes_above_start << " bytes above the start for 10,000 operations, "
      << large.peak_bytes_above_start << " for 1,000,000";
}

enum class executor_kind { type_erased, concrete };

// Runs `n` coroutines that yield once each, read by a coroutine, as stage 04 runs its requests,
// and returns the peak heap above the start. The stream's executor is the coroutine's own
// (asio::any_io_executor, as stage 04 has it) or the io_context's. `allocated`, if given, gets
// the number of allocations made.
long long peak_running_coroutines(int n, std::size_t limit,
                                  executor_kind kind = executor_kind::type_erased,
                                  long long* allocated = nullptr) {
  asio::io_context io(1);
  auto start_allocations = allocations.load();
  auto start_live = live_bytes.load();
  heap_counter::reset_peak();
  auto op = [](int i) -> asio::awaitable<int> {
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    co_return i;
  };
  long long results = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto read = [&](auto executor) -> asio::awaitable<void> {
          auto s = bounded::as_completed(executor,
                                         std::views::iota(0, n) | std::views::transform(op), limit);
          while (co_await s.async_next(asio::use_awaitable))
            ++results;
        };
        if (kind == executor_kind::type_erased)
          co_await read(co_await asio::this_coro::executor);
        else
          co_await read(io.get_executor());
      },
      asio::detached);
  io.run();
  EXPECT_EQ(results, n);
  if (allocated) *allocated = allocations - start_allocations;
  return peak_bytes - start_live;
}

// Each place's coroutines are awaited in turn by a worker of the stream's, so a coroutine costs
// no co_spawn and no posted hand-out: no allocation of the stream's (its own frames come from
// Asio's cache). On the coroutine's own executor and on the io_context's alike.
TEST(Allocations, NoneForEachCoroutineOnEitherExecutor) {
  if (!heap_counter::available) GTEST_SKIP() << "a sanitizer has its own malloc";
  for (auto kind : {executor_kind::type_erased, executor_kind::concrete}) {
    long long small = 0, large = 0;
    peak_running_coroutines(10'000, 1000, kind, &small);
    peak_running_coroutines(100'000, 1000, kind, &large);
    double each = static_cast<double>(large - small) / 90'000;
    std::printf("%s: %lld allocations for 10,000 coroutines, %lld for 100,000: %.3f each\n",
                kind == executor_kind::type_erased ? "asio::any_io_executor"
                                                   : "the io_context's executor",
                small, large, each);
    EXPECT_LE(each, 0.1);
  }
}

// A coroutine's handler runs inside its co_spawn frame. When the next coroutine was started from
// there, its frames were allocated before the old frame was freed, and Asio's per-thread cache of
// frame memory handed the freed larger blocks to smaller frames: the heap grew with every refill
// until each place held more than a fresh start needs. The refills must cost what the first fill
// did.
TEST(Allocations, RefillingPlacesWithCoroutinesCostsNoMoreThanTheFirstFill) {
  if (!heap_counter::available) GTEST_SKIP() << "a sanitizer has its own malloc";
  peak_running_coroutines(1000, 1000); // warms Asio's per-thread recycling caches
  auto first_fill = peak_running_coroutines(1000, 1000);
  auto refilled = peak_running_coroutines(20'000, 1000);
  std::printf("peak heap above the start, 1,000 places: %lld bytes for 1,000 coroutines, %lld for "
              "20,000\n",
              first_fill, refilled);
  EXPECT_LE(refilled, first_fill + first_fill / 20)
      << first_fill << " bytes at the peak when every place ran one coroutine, " << refilled
      << " when each was refilled twenty times";
}

// An operation keeps its handler's executor for as long as it runs: co_spawn keeps a copy in every
// coroutine's frame. A type-erased executor (asio::any_io_executor) is 56 bytes, so the stream's
// handlers name a reference to it, one pointer wide, and a place costs what it costs on the
// io_context's own executor.
TEST(Allocations, ATypeErasedExecutorCostsNoMoreThanAConcreteOne) {
  if (!heap_counter::available) GTEST_SKIP() << "a sanitizer has its own malloc";
  peak_running_coroutines(1000, 1000, executor_kind::concrete); // warms the caches
  auto concrete = peak_running_coroutines(1000, 1000, executor_kind::concrete);
  auto erased = peak_running_coroutines(1000, 1000, executor_kind::type_erased);
  std::printf("peak heap above the start, 1,000 coroutines in flight: %lld bytes on the "
              "io_context's executor, %lld on asio::any_io_executor\n",
              concrete, erased);
  EXPECT_LE(erased, concrete + 8 * 1000) << "more than 8 bytes a place for the type erasure";
}

// An allocator that counts what it hands out.
template <class T> struct counting_allocator {
  using value_type = T;
  long long* count;
  explicit counting_allocator(long long* c) noexcept : count(c) {}
  template <class U>
  counting_allocator(const counting_allocator<U>& other) noexcept : count(other.count) {}
  T* allocate(std::size_t n) {
    ++*count;
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>().deallocate(p, n); }
  template <class U> bool operator==(const counting_allocator<U>& o) const noexcept {
    return count == o.count;
  }
};

TEST(Allocations, TheStateComesFromTheGivenAllocator) {
  asio::io_context io(1);
  auto ex = io.get_executor();
  long long count = 0;
  auto ops = std::views::iota(0, 1000) |
             std::views::transform([ex](int) { return asio::post(ex, deferred); });
  auto s = bounded::as_completed(ex, ops, 10, bounded::errors::deliver,
                                 counting_allocator<void>(&count));
  EXPECT_GE(count, 1) << "the state";
  EXPECT_LE(count, 5) << "the state and its fixed arrays (the places, their free and ready "
                         "lists, their cancellation signals), nothing per operation";
  auto before = count;
  std::function<void()> next = [&] {
    s.async_next([&](std::exception_ptr, std::optional<std::tuple<>> v) {
      if (v) next();
    });
  };
  next();
  io.run();
  EXPECT_EQ(count, before) << "running allocates nothing more from it";
}

} // namespace
