// Counts every heap allocation of the process while bounded_for_each runs: the places are
// allocated once, when the operation is connected, and nothing is allocated per item.
#include <heap_counter.hpp> // the library's counter: it stands in for malloc

#include <bounded/senders.hpp>

#include <exec/single_thread_context.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <ranges>

namespace ex = stdexec;

namespace {

struct run {
  long long allocations;
  long long peak_bytes_above_start;
  long long items;
};

template <class Input> run measure(Input input, std::size_t limit) {
  long long items = 0;
  auto start_allocations = heap_counter::allocations.load();
  auto start_live = heap_counter::live_bytes.load();
  heap_counter::reset_peak();
  ex::sync_wait(bounded_exec::bounded_for_each(input, limit, [&](int) { ++items; }));
  return {heap_counter::allocations - start_allocations, heap_counter::peak_bytes - start_live,
          items};
}

// n items, each scheduled on another thread's run loop (the item really waits).
run run_scheduled(int n, std::size_t limit) {
  exec::single_thread_context ctx;
  auto sched = ctx.get_scheduler();
  return measure(std::views::iota(0, n) | std::views::transform([sched](int i) {
                   return ex::schedule(sched) | ex::then([i] { return i; });
                 }),
                 limit);
}

// n items that complete inside their own start.
run run_inline(int n, std::size_t limit) {
  return measure(std::views::iota(0, n) | std::views::transform([](int i) { return ex::just(i); }),
                 limit);
}

TEST(Allocations, NoneForEachItem) {
  if (!heap_counter::available) GTEST_SKIP() << "a sanitizer has its own malloc";
  run_scheduled(1000, 64); // warms what the thread and its run loop allocate once
  auto small = run_scheduled(1000, 64);
  auto large = run_scheduled(100'000, 64);
  EXPECT_EQ(small.items, 1000);
  EXPECT_EQ(large.items, 100'000);
  std::printf("scheduled items, limit 64: %lld allocations for 1,000 items, %lld for 100,000\n",
              small.allocations, large.allocations);
  EXPECT_EQ(large.allocations, small.allocations);
}

TEST(Allocations, OneForThePlacesWhateverTheNumberOfItems) {
  if (!heap_counter::available) GTEST_SKIP() << "a sanitizer has its own malloc";
  auto small = run_inline(1000, 64);
  auto large = run_inline(1'000'000, 64);
  std::printf("inline items, limit 64: %lld allocations for 1,000 items, %lld for 1,000,000\n",
              small.allocations, large.allocations);
  EXPECT_EQ(small.allocations, 1); // the array of places
  EXPECT_EQ(large.allocations, 1);
}

TEST(Allocations, PeakHeapDoesNotGrowWithTheNumberOfItems) {
  if (!heap_counter::available) GTEST_SKIP() << "a sanitizer has its own malloc";
  auto small = run_scheduled(10'000, 100);
  auto large = run_scheduled(1'000'000, 100);
  EXPECT_EQ(large.items, 1'000'000);
  std::printf("scheduled items, limit 100: peak heap above the start: %lld bytes for 10,000 "
              "items, %lld for 1,000,000\n",
              small.peak_bytes_above_start, large.peak_bytes_above_start);
  EXPECT_EQ(large.peak_bytes_above_start, small.peak_bytes_above_start);
}

} // namespace
