// The worker engine: each place's awaitable operations are awaited in turn by one coroutine of the
// stream's, resumed in place when its place is refilled, and a result is handed to a consumer who
// already waits on the stream's executor without a post. What such an engine gets wrong, tried
// here: an operation that completes inside its worker's first resumption, a consumer that stops
// the stream while a worker refills, the limit lowered while workers wait, a consumer who stops
// reading (the waiting workers must not keep run() from returning), a wait cancelled partially,
// and for_each() over a stream with a policy, a control handle, and partial cancellation.
// Compiled into bounded_hostile_tests; run it under ASan+UBSan and TSan.
#include <bounded/as_completed.hpp>

#include "testing.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <vector>

using asio::awaitable;
using asio::use_awaitable;

namespace {

bool is_aborted(std::exception_ptr e) {
  try {
    if (e) std::rethrow_exception(e);
  } catch (const std::system_error& x) {
    return x.code() == asio::error::operation_aborted;
  } catch (...) {
  }
  return false;
}

// A coroutine that never suspends: its worker gets its result inside the resumption that gave
// it the operation.
awaitable<int> at_once(int i) {
  co_return i;
}

awaitable<int> after_a_post(int i) {
  co_await asio::post(co_await asio::this_coro::executor, use_awaitable);
  co_return i;
}

TEST(Workers, OperationsThatCompleteInsideTheirWorkersResumption) {
  asio::io_context io;
  long long sum = 0;
  int results = 0;
  auto run = [&]() -> awaitable<void> {
    auto s = bounded::as_completed(co_await asio::this_coro::executor,
                                   std::views::iota(0, 50) | std::views::transform(at_once), 3);
    while (auto r = co_await s.async_next(use_awaitable)) {
      sum += std::get<1>(*r);
      ++results;
      EXPECT_LE(s.outstanding(), 3u);
    }
    auto c = s.counters();
    EXPECT_EQ(c.started, 50u);
    EXPECT_EQ(c.completed, 50u);
  };
  asio::co_spawn(io, run(), asio::detached);
  io.run();
  EXPECT_EQ(results, 50);
  EXPECT_EQ(sum, 49 * 50 / 2);
}

TEST(Workers, ForEachOverOperationsThatCompleteAtOnce) {
  asio::io_context io;
  long long sum = 0;
  std::exception_ptr done = std::make_exception_ptr(std::runtime_error("not completed"));
  bounded::for_each(
      io.get_executor(), std::views::iota(0, 50) | std::views::transform(at_once), 4,
      [&](std::tuple<std::exception_ptr, int> r) { sum += std::get<1>(r); },
      [&](std::exception_ptr e) { done = e; });
  io.run();
  EXPECT_FALSE(done);
  EXPECT_EQ(sum, 49 * 50 / 2);
}

// The consumer's handler runs as the first timer's coroutine completes, right after that worker's
// place was refilled with coroutine 2: cancel() there reaches coroutines 1 and 2 alike, and the
// stream ends once both have finished, with run() returning.
TEST(Workers, AConsumerCancelsWhileAWorkerRefills) {
  asio::io_context io;
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
  for (int i = 0; i < 4; ++i)
    timers.push_back(
        std::make_unique<asio::steady_timer>(io, i == 0 ? asio::steady_timer::time_point::min()
                                                        : asio::steady_timer::time_point::max()));
  int cancelled = 0;
  auto job = [&](int i) -> awaitable<int> {
    try {
      co_await timers[i]->async_wait(use_awaitable);
    } catch (const std::system_error&) {
      ++cancelled;
      throw;
    }
    co_return i;
  };
  auto s = bounded::as_completed(io.get_executor(),
                                 std::views::iota(0, 4) | std::views::transform(job), 2);
  int answers = 0;
  bool ended = false;
  std::function<void()> next = [&] {
    s.async_next([&](std::exception_ptr e, auto v) {
      if (!v) {
        ended = true;
        EXPECT_FALSE(e) << "cancel() by the owner ends the stream quietly";
        return;
      }
      ++answers;
      EXPECT_EQ(s.counters().started, 3u) << "coroutine 2 was started before this hand-out";
      s.cancel();
      next();
    });
  };
  next();
  io.run();
  EXPECT_EQ(answers, 1);
  EXPECT_TRUE(ended);
  EXPECT_EQ(cancelled, 2) << "coroutines 1 and 2, one running since the start, one just refilled";
  EXPECT_EQ(s.counters().completed, 3u);
}

// Results wait unread, every worker waits with them; then the limit falls to 1. Nothing is lost,
// and from then on no more than one is outstanding.
TEST(Workers, LoweringTheLimitWhileWorkersWait) {
  asio::io_context io;
  auto s = bounded::as_completed(io.get_executor(),
                                 std::views::iota(0, 12) | std::views::transform(after_a_post), 4);
  std::vector<int> seen;
  std::optional<int> first;
  s.async_next([&](std::exception_ptr, auto v) { first = std::get<1>(*v); });
  io.poll(); // four ran; one was handed out and refilled; the others wait with their workers
  io.restart();
  EXPECT_EQ(s.outstanding(), 4u);
  s.set_limit(1);
  std::function<void()> next = [&] {
    s.async_next([&](std::exception_ptr, auto v) {
      if (!v) return;
      seen.push_back(std::get<1>(*v));
      if (seen.size() >= 4) {
        EXPECT_LE(s.outstanding(), 1u) << "after " << seen.size();
      }
      next();
    });
  };
  next();
  io.run();
  ASSERT_TRUE(first);
  EXPECT_EQ(seen.size(), 11u);
  EXPECT_EQ(s.counters().started, 12u);
}

// A consumer who stops reading with results waiting: nothing runs, so run() returns, though the
// stream lives on; reading later starts workers anew.
TEST(Workers, WaitingWorkersDoNotKeepRunFromReturning) {
  asio::io_context io;
  auto s = bounded::as_completed(io.get_executor(),
                                 std::views::iota(0, 10) | std::views::transform(after_a_post), 3);
  int got = 0;
  s.async_next([&](std::exception_ptr, auto v) { got += v.has_value(); });
  io.run(); // returns: three finished, two wait unread, the refill's coroutine finished too
  EXPECT_EQ(got, 1);
  EXPECT_EQ(s.in_flight(), 0u);
  io.restart();
  std::function<void()> next = [&] {
    s.async_next([&](std::exception_ptr, auto v) {
      if (v) ++got, next();
    });
  };
  next();
  io.run();
  EXPECT_EQ(got, 10);
}

// Total and partial cancellation end the wait alone, as Asio documents them: the wait completes
// with operation_aborted, nothing was taken or cancelled, and the stream reads on. Terminal
// cancellation ends the stream (the other tests).
TEST(Workers, APartialOrTotalCancellationEndsTheWaitAlone) {
  for (auto type : {asio::cancellation_type::total, asio::cancellation_type::partial}) {
    asio::io_context io;
    auto timers = bounded_testing::waiting_timers(io, 3);
    auto job = [&](int i) -> awaitable<int> {
      co_await timers[i]->async_wait(use_awaitable);
      co_return i;
    };
    auto s = bounded::as_completed(io.get_executor(),
                                   std::views::iota(0, 3) | std::views::transform(job), 3);
    asio::cancellation_signal signal;
    std::exception_ptr aborted;
    bool ran = false;
    s.async_next(asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e, auto v) {
      ran = true, aborted = e;
      EXPECT_FALSE(v);
    }));
    bounded_testing::poll(io);
    signal.emit(type);
    bounded_testing::poll(io);
    ASSERT_TRUE(ran);
    EXPECT_TRUE(is_aborted(aborted));
    EXPECT_EQ(s.in_flight(), 3u) << "nothing was cancelled";
    int values = 0;
    std::function<void()> next = [&] {
      s.async_next([&](std::exception_ptr e, auto v) {
        EXPECT_FALSE(e);
        if (v) ++values, next();
      });
    };
    next();
    for (auto& t : timers) // they end now (cancelled), each with a result of its own
      t->cancel();
    io.restart();
    io.run();
    EXPECT_EQ(values, 3) << "each with its own result (its timer cancelled)";
  }
}

// for_each() over a stream made with a policy: the first error ends it, once everything has
// finished; the control handle reads the counters after the stream has gone.
TEST(Workers, ForEachTakesAStreamWithItsPolicyAndGivesAControl) {
  asio::io_context io;
  auto job = [](int i) -> awaitable<int> {
    co_await asio::post(co_await asio::this_coro::executor, use_awaitable);
    if (i == 5) throw std::runtime_error("five");
    co_return i;
  };
  auto s = bounded::as_completed(io.get_executor(),
                                 std::views::iota(0, 100) | std::views::transform(job), 4,
                                 bounded::errors::fail_fast);
  auto control = s.control();
  int items = 0;
  std::exception_ptr done;
  bool completed = false;
  bounded::for_each(
      std::move(s), [&](auto) { ++items; },
      [&](std::exception_ptr e) { completed = true, done = e; });
  io.run();
  ASSERT_TRUE(completed);
  EXPECT_EQ(bounded_testing::what(done), "five");
  EXPECT_LT(items, 100);
  auto c = control.counters();
  EXPECT_EQ(c.started, c.completed) << "it completes only once nothing runs";
  EXPECT_EQ(control.in_flight(), 0u);
}

// Partial cancellation of a for_each(): nothing more starts, the results of what runs are still
// passed on, and it completes with operation_aborted.
TEST(Workers, ForEachUnderPartialCancellationFinishesWhatRuns) {
  asio::io_context io;
  auto timers = bounded_testing::waiting_timers(io, 10);
  auto job = [&](int i) -> awaitable<int> {
    co_await timers[i]->async_wait(use_awaitable);
    co_return i;
  };
  asio::cancellation_signal signal;
  int items = 0;
  std::exception_ptr done;
  bool completed = false;
  bounded::for_each(
      io.get_executor(), std::views::iota(0, 10) | std::views::transform(job), 3,
      [&](auto) { ++items; },
      asio::bind_cancellation_slot(signal.slot(),
                                   [&](std::exception_ptr e) { completed = true, done = e; }));
  bounded_testing::poll(io);
  signal.emit(asio::cancellation_type::partial);
  bounded_testing::poll(io);
  EXPECT_FALSE(completed) << "three still run";
  for (auto& t : timers) // the three running end now (cancelled), each with a result
    t->cancel();
  io.restart();
  io.run();
  ASSERT_TRUE(completed);
  EXPECT_TRUE(is_aborted(done));
  EXPECT_EQ(items, 3) << "the three that ran, passed on; none started after";
}

// The consumer's handler throws, answered in place inside a worker's report: the exception goes
// out of run(), as it would from any handler, and the stream is still whole.
TEST(Workers, AConsumerThatThrowsInItsHandlerThrowsOutOfRun) {
  asio::io_context io;
  auto s = bounded::as_completed(io.get_executor(),
                                 std::views::iota(0, 3) | std::views::transform(after_a_post), 2);
  s.async_next([](std::exception_ptr, auto) { throw std::logic_error("consumer"); });
  EXPECT_THROW(io.run(), std::logic_error);
  io.restart();
  int rest = 0;
  std::function<void()> next = [&] {
    s.async_next([&](std::exception_ptr, auto v) {
      if (v) ++rest, next();
    });
  };
  next();
  io.run();
  EXPECT_EQ(rest, 2);
}

} // namespace
