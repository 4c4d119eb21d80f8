// bounded_for_each per item: N items at limit L, each scheduled on a second thread's run loop
// (`scheduled`) or completing inside its start (`inline`). Prints allocations per item; its
// instructions per item come from instructions.sh, which runs it under callgrind.
// Usage: bounded-senders-benchmark scheduled|inline N [L]
#include <heap_counter.hpp>

#include <bounded/senders.hpp>

#include <exec/single_thread_context.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ranges>

namespace ex = stdexec;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s scheduled|inline N [LIMIT]\n", argv[0]);
    return 2;
  }
  bool scheduled = std::strcmp(argv[1], "scheduled") == 0;
  int n = std::atoi(argv[2]);
  std::size_t limit = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 1000;
  exec::single_thread_context ctx;
  auto sched = ctx.get_scheduler();
  long long sum = 0;
  auto before = heap_counter::allocations.load();
  if (scheduled) {
    auto input = std::views::iota(0, n) | std::views::transform([sched](int i) {
                   return ex::schedule(sched) | ex::then([i] { return i; });
                 });
    ex::sync_wait(bounded_exec::bounded_for_each(input, limit, [&](int v) { sum += v; }));
  } else {
    auto input = std::views::iota(0, n) | std::views::transform([](int i) { return ex::just(i); });
    ex::sync_wait(bounded_exec::bounded_for_each(input, limit, [&](int v) { sum += v; }));
  }
  auto allocations = heap_counter::allocations.load() - before;
  std::printf("%s n=%d limit=%zu sum=%lld allocations=%lld allocations/item=%.4f\n", argv[1], n,
              limit, sum, allocations, static_cast<double>(allocations) / n);
}
