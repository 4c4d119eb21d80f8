// bounded::as_completed and bounded::in_order, driven step by step with operations the test
// completes by hand, plus timers and coroutines for the rest. No network.
#include <bounded/as_completed.hpp>

#include "testing.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/dispatch.hpp>
#include <asio/execution/context.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/experimental/channel.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/query.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#if ASIO_VERSION >= 102400
#include <asio/deferred.hpp>
#else
#include <asio/experimental/deferred.hpp>
#endif

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <ranges>
#include <set>
#include <thread>
#include <vector>

using asio::awaitable;
using asio::use_awaitable;
using namespace std::chrono_literals;

namespace {

using value = std::tuple<std::error_code, int>; // what a manual operation completes with

// Operations the test completes by hand, in any order, with values of its choosing. Each honours
// cancellation by completing with operation_aborted.
class manual_ops {
public:
  // Operation `id`, made when the stream pulls it from its input.
  auto make(int id) {
    return [this, id](auto handler) {
      auto slot = asio::get_associated_cancellation_slot(handler);
      pending_[id] = std::make_unique<holder<decltype(handler)>>(std::move(handler));
      if (slot.is_connected()) {
        ++cancellable;
        slot.assign([this, id](asio::cancellation_type) {
          ++cancelled;
          finish(id, asio::error::operation_aborted, -1);
        });
      }
    };
  }

  // Completes operation `id`; its handler runs on its executor, at the next poll.
  void finish(int id, std::error_code ec, int v) {
    auto it = pending_.find(id);
    ASSERT_NE(it, pending_.end()) << "operation " << id << " is not running";
    auto h = std::move(it->second);
    pending_.erase(it);
    h->complete(ec, v);
  }

  std::vector<int> running() const {
    std::vector<int> ids;
    for (auto& [id, h] : pending_)
      ids.push_back(id);
    return ids;
  }

  int cancelled = 0;
  int cancellable = 0; // started with a connected cancellation slot

private:
  struct base {
    virtual ~base() = default;
    virtual void complete(std::error_code ec, int v) = 0;
  };
  template <class H> struct holder : base {
    explicit holder(H h) : handler(std::move(h)) {}
    void complete(std::error_code ec, int v) override {
      auto ex = asio::get_associated_executor(handler);
      asio::post(ex, [h = std::move(handler), ec, v]() mutable { std::move(h)(ec, v); });
    }
    H handler;
  };
  std::map<int, std::unique_ptr<base>> pending_;
};

// Reads a stream with plain callbacks, one async_next() at a time, so a test can look between.
template <class Stream> class reader {
public:
  explicit reader(Stream& s) : stream_(s) {}

  void ask() {
    ASSERT_FALSE(waiting_);
    waiting_ = true;
    stream_.async_next([this](std::exception_ptr e, std::optional<typename Stream::value_type> v) {
      waiting_ = false;
      error = e;
      if (v) values.push_back(std::move(*v));
      ended = !e && !v;
    });
  }

  bool waiting() const { return waiting_; }

  std::vector<typename Stream::value_type> values;
  std::exception_ptr error;
  bool ended = false;

private:
  Stream& stream_;
  bool waiting_ = false;
};

template <class Stream> reader(Stream&) -> reader<Stream>;

using bounded_testing::poll;
using bounded_testing::what;

// The input: `n` manual operations, recording when each is pulled and checking, at every pull,
// that the stream has room for it.
struct input {
  manual_ops ops;
  std::vector<int> pulled;
  std::size_t limit;
  std::function<std::size_t()> outstanding; // the stream's count, once it exists

  auto range(int n) {
    return std::views::iota(0, n) | std::views::transform([this](int i) {
             if (outstanding) {
               EXPECT_LT(outstanding(), limit) << "pulled with no room";
             }
             pulled.push_back(i);
             return ops.make(i);
           });
  }
};

TEST(AsCompleted, HandsOutResultsInCompletionOrder) {
  asio::io_context io;
  input in{.limit = 3};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(3), 3);
  reader r(s);
  r.ask();
  poll(io);
  EXPECT_EQ(in.pulled, (std::vector<int>{0, 1, 2})) << "the first async_next starts `limit`";
  for (int id : {2, 0, 1}) {
    in.ops.finish(id, {}, id * 10);
    poll(io);
    if (!r.waiting() && !r.ended) r.ask();
    poll(io);
  }
  EXPECT_EQ(r.values,
            (std::vector<value>{
                {std::error_code{}, 20}, {std::error_code{}, 0}, {std::error_code{}, 10}}));
  EXPECT_TRUE(r.ended);
}

TEST(InOrder, HandsOutResultsInInputOrder) {
  asio::io_context io;
  input in{.limit = 3};
  auto s = bounded::in_order<void(std::error_code, int)>(io.get_executor(), in.range(3), 3);
  reader r(s);
  r.ask();
  poll(io);
  in.ops.finish(2, {}, 20);
  in.ops.finish(1, {}, 10);
  poll(io);
  EXPECT_TRUE(r.values.empty()) << "1 and 2 wait for 0";
  in.ops.finish(0, {}, 0);
  poll(io);
  while (!r.ended) {
    r.ask();
    poll(io);
  }
  EXPECT_EQ(r.values,
            (std::vector<value>{
                {std::error_code{}, 0}, {std::error_code{}, 10}, {std::error_code{}, 20}}));
}

// The heart of it: at most `limit` started and not consumed, whatever the consumer does.
template <bounded::order Order> void check_bound_with_a_slow_consumer() {
  asio::io_context io;
  constexpr std::size_t limit = 4;
  input in{.limit = limit};
  auto s =
      bounded::stream<asio::io_context::executor_type, decltype(in.range(100)),
                      void(std::error_code, int), Order>(io.get_executor(), in.range(100), limit);
  in.outstanding = [&] { return s.outstanding(); };
  reader r(s);
  r.ask();
  poll(io);
  ASSERT_EQ(in.pulled.size(), limit);
  // Every operation completes, and nobody reads: nothing more may start.
  for (int id : in.ops.running())
    in.ops.finish(id, {}, id);
  poll(io);
  EXPECT_EQ(r.values.size(), 1u);
  EXPECT_EQ(in.pulled.size(), limit + 1) << "one taken, one refilled";
  for (int id : in.ops.running())
    in.ops.finish(id, {}, id);
  poll(io);
  EXPECT_EQ(in.pulled.size(), limit + 1) << "a slow consumer holds the input back";
  EXPECT_LE(s.outstanding(), limit);
  // Reading one result starts exactly one more operation.
  r.ask();
  poll(io);
  EXPECT_EQ(r.values.size(), 2u);
  EXPECT_EQ(in.pulled.size(), limit + 2);
  EXPECT_LE(s.outstanding(), limit);
}

TEST(AsCompleted, NeverMoreThanLimitStartedAndUnconsumed) {
  check_bound_with_a_slow_consumer<bounded::order::completion>();
}

TEST(InOrder, NeverMoreThanLimitStartedAndUnconsumed) {
  check_bound_with_a_slow_consumer<bounded::order::input>();
}

TEST(AsCompleted, RefillsBeforeHandingOutAResult) {
  asio::io_context io;
  input in{.limit = 2};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(10), 2);
  std::size_t pulled_when_handed_out = 0;
  s.async_next(
      [&](std::exception_ptr, std::optional<value>) { pulled_when_handed_out = in.pulled.size(); });
  poll(io);
  in.ops.finish(0, {}, 0);
  poll(io);
  EXPECT_EQ(pulled_when_handed_out, 3u) << "operation 2 started before result 0 reached us";
  EXPECT_EQ(in.ops.running(), (std::vector<int>{1, 2}));
}

TEST(AsCompleted, AllowsOneAsyncNextAtATime) {
  asio::io_context io;
  input in{.limit = 2};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(10), 2);
  reader r(s);
  r.ask();
  std::exception_ptr second;
  s.async_next([&](std::exception_ptr e, std::optional<value>) { second = e; });
  poll(io);
  EXPECT_EQ(what(second), "bounded: async_next called while another is pending");
  EXPECT_TRUE(r.waiting()) << "the first is still waiting, undisturbed";
}

TEST(AsCompleted, DeliversEveryResultExactlyOnceInAnyOrder) {
  asio::io_context io;
  constexpr int n = 500;
  input in{.limit = 16};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(n), 16);
  in.outstanding = [&] { return s.outstanding(); };
  reader r(s);
  std::mt19937 random(12345);
  r.ask();
  poll(io);
  while (!r.ended) {
    auto running = in.ops.running();
    if (!running.empty()) {
      auto id = running[random() % running.size()];
      in.ops.finish(id, {}, id);
    }
    poll(io);
    if (!r.waiting() && !r.ended) r.ask();
    poll(io);
    ASSERT_LE(s.outstanding(), 16u);
  }
  std::multiset<int> seen;
  for (auto& [ec, v] : r.values)
    seen.insert(v);
  EXPECT_EQ(seen.size(), std::size_t(n));
  for (int i = 0; i < n; ++i)
    EXPECT_EQ(seen.count(i), 1u) << i;
  EXPECT_EQ(in.pulled.size(), std::size_t(n));
}

TEST(AsCompleted, HandsOutEachErrorWithItsResult) {
  asio::io_context io;
  input in{.limit = 2};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(3), 2);
  reader r(s);
  r.ask();
  poll(io);
  in.ops.finish(0, asio::error::connection_refused, 0);
  poll(io);
  r.ask();
  in.ops.finish(1, {}, 1);
  poll(io);
  r.ask();
  in.ops.finish(2, {}, 2);
  poll(io);
  r.ask();
  poll(io);
  ASSERT_EQ(r.values.size(), 3u);
  EXPECT_EQ(std::get<0>(r.values[0]), asio::error::connection_refused);
  EXPECT_EQ(in.ops.cancelled, 0) << "an error ends nothing under errors::deliver";
  EXPECT_TRUE(r.ended);
}

TEST(AsCompleted, FailFastCancelsTheRestAndReportsTheFirstError) {
  asio::io_context io;
  input in{.limit = 3};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(100), 3,
                                                             bounded::errors::fail_fast);
  reader r(s);
  r.ask();
  poll(io);
  in.ops.finish(0, {}, 0);
  poll(io);
  EXPECT_EQ(r.values.size(), 1u);
  r.ask();
  poll(io);
  in.ops.finish(2, asio::error::host_unreachable, 2);
  poll(io);
  EXPECT_EQ(in.ops.cancelled, 2) << "1 and 3 were cancelled";
  EXPECT_TRUE(in.ops.running().empty());
  ASSERT_TRUE(r.error);
  EXPECT_EQ(what(r.error), std::system_error(asio::error::host_unreachable).what());
  EXPECT_EQ(in.pulled.size(), 4u) << "nothing pulled after the failure";
  r.ask();
  poll(io);
  EXPECT_TRUE(r.ended);
}

TEST(AsCompleted, CancellingTheConsumerCancelsAndWaitsForEverything) {
  asio::io_context io;
  input in{.limit = 5};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(100), 5);
  asio::cancellation_signal signal;
  std::exception_ptr error;
  bool done = false;
  s.async_next(asio::bind_cancellation_slot(
      signal.slot(), [&](std::exception_ptr e, std::optional<value>) { error = e, done = true; }));
  poll(io);
  EXPECT_EQ(in.ops.running().size(), 5u);
  signal.emit(asio::cancellation_type::terminal);
  EXPECT_FALSE(done) << "the consumer resumes only once nothing runs";
  poll(io);
  EXPECT_TRUE(done);
  EXPECT_EQ(in.ops.cancelled, 5);
  EXPECT_TRUE(in.ops.running().empty());
  EXPECT_EQ(what(error), std::system_error(asio::error::operation_aborted).what());
  EXPECT_EQ(in.pulled.size(), 5u);
  EXPECT_EQ(poll(io), 0u) << "nothing left to run";
}

TEST(AsCompleted, CancelThenReadToTheEndWaitsForTheOperations) {
  asio::io_context io;
  input in{.limit = 3};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(100), 3);
  reader r(s);
  r.ask();
  poll(io);
  in.ops.finish(1, {}, 1);
  poll(io);
  s.cancel();
  r.ask();
  poll(io);
  EXPECT_TRUE(r.ended);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(in.ops.cancelled, 3) << "0, 2, and 3 (started when 1 was read)";
  EXPECT_TRUE(in.ops.running().empty());
}

TEST(AsCompleted, AbandoningTheStreamCancelsWhatRuns) {
  asio::io_context io;
  input in{.limit = 4};
  {
    auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(100), 4);
    reader r(s);
    r.ask();
    poll(io);
    in.ops.finish(0, {}, 0);
    poll(io);
    ASSERT_EQ(r.values.size(), 1u);
  } // destroyed with four operations in flight, off the executor: the work is posted there
  EXPECT_EQ(in.ops.cancelled, 0);
  poll(io); // cancels them; their handlers run and touch only the state they share
  EXPECT_EQ(in.ops.cancelled, 4);
  EXPECT_TRUE(in.ops.running().empty());
  EXPECT_EQ(poll(io), 0u) << "nothing left";
  EXPECT_EQ(in.pulled.size(), 5u);
}

// on_stop::finish: stopping starts nothing more and cancels nothing; the stream ends once what
// runs has finished.
TEST(OnStopFinish, ConnectsNoCancellationSlot) {
  asio::io_context io;
  input in{.limit = 3};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(100), 3,
                                                             bounded::on_stop::finish);
  reader r(s);
  r.ask();
  poll(io);
  EXPECT_EQ(in.ops.running().size(), 3u);
  EXPECT_EQ(in.ops.cancellable, 0);
}

TEST(OnStopFinish, CancelLetsWhatRunsFinishAndThenEnds) {
  asio::io_context io;
  input in{.limit = 3};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(100), 3,
                                                             bounded::on_stop::finish);
  reader r(s);
  r.ask();
  poll(io);
  s.cancel();
  poll(io);
  EXPECT_TRUE(r.waiting()) << "three operations still run";
  EXPECT_EQ(in.ops.running().size(), 3u);
  in.ops.finish(0, {}, 0);
  in.ops.finish(2, {}, 2);
  poll(io);
  EXPECT_TRUE(r.waiting());
  in.ops.finish(1, {}, 1);
  poll(io);
  EXPECT_TRUE(r.ended);
  EXPECT_FALSE(r.error);
  EXPECT_TRUE(r.values.empty()) << "results of a cancelled stream are dropped";
  EXPECT_EQ(in.pulled.size(), 3u) << "nothing pulled after cancel()";
}

TEST(OnStopFinish, FailFastReportsTheFirstErrorOnceTheOthersHaveFinished) {
  asio::io_context io;
  input in{.limit = 3};
  auto s = bounded::as_completed<void(std::error_code, int)>(
      io.get_executor(), in.range(100), 3, bounded::errors::fail_fast | bounded::on_stop::finish);
  reader r(s);
  r.ask();
  poll(io);
  in.ops.finish(1, asio::error::host_unreachable, 1);
  poll(io);
  EXPECT_TRUE(r.waiting()) << "0 and 2 still run";
  EXPECT_EQ(in.ops.cancelled, 0);
  in.ops.finish(0, {}, 0);
  in.ops.finish(2, {}, 2);
  poll(io);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(what(r.error), std::system_error(asio::error::host_unreachable).what());
  EXPECT_EQ(in.pulled.size(), 3u);
  r.ask();
  poll(io);
  EXPECT_TRUE(r.ended);
}

TEST(OnStopFinish, ACancelledWaitCompletesOnceWhatRunsHasFinished) {
  asio::io_context io;
  input in{.limit = 2};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(100), 2,
                                                             bounded::on_stop::finish);
  asio::cancellation_signal signal;
  std::exception_ptr error;
  bool done = false;
  s.async_next(asio::bind_cancellation_slot(
      signal.slot(), [&](std::exception_ptr e, std::optional<value>) { error = e, done = true; }));
  poll(io);
  signal.emit(asio::cancellation_type::terminal);
  poll(io);
  EXPECT_FALSE(done);
  in.ops.finish(0, {}, 0);
  in.ops.finish(1, {}, 1);
  poll(io);
  ASSERT_TRUE(done);
  EXPECT_EQ(what(error), std::system_error(asio::error::operation_aborted).what());
  EXPECT_EQ(in.ops.cancelled, 0);
}

TEST(OnStopFinish, OperationsOfADestroyedStreamFinishOnTheirOwn) {
  asio::io_context io;
  input in{.limit = 2};
  auto make = [&] {
    return bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(100), 2,
                                                             bounded::on_stop::finish);
  };
  std::optional<decltype(make())> s(make());
  reader r(*s);
  r.ask();
  poll(io);
  s.reset(); // destroyed with two operations in flight and a consumer waiting
  poll(io);
  EXPECT_TRUE(r.error) << "the waiting consumer completes with operation_aborted";
  EXPECT_EQ(in.ops.running().size(), 2u) << "not cancelled";
  in.ops.finish(1, {}, 1);
  in.ops.finish(0, {}, 0);
  poll(io); // their handlers touch only the state they share
  EXPECT_EQ(poll(io), 0u) << "nothing left";
  EXPECT_EQ(in.pulled.size(), 2u);
}

TEST(OnStopFinish, CoroutinesRunToTheirEndAfterCancel) {
  asio::io_context io;
  int finished = 0;
  auto job = [&](int) -> awaitable<int> {
    asio::steady_timer t(co_await asio::this_coro::executor, 1ms);
    co_await t.async_wait(use_awaitable); // cancelled, this would throw
    ++finished;
    co_return 0;
  };
  std::size_t read = 0;
  std::uint64_t started = 0;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        auto s = bounded::as_completed(co_await asio::this_coro::executor,
                                       std::views::iota(0, 50) | std::views::transform(job), 4,
                                       bounded::on_stop::finish);
        while (co_await s.async_next(use_awaitable)) {
          if (++read == 1) s.cancel();
        }
        started = s.counters().started;
      },
      asio::detached);
  io.run();
  EXPECT_EQ(read, 1u) << "cancel() dropped the results after the first";
  EXPECT_GE(started, 5u) << "four at first, and a refill before the first was read";
  EXPECT_EQ(finished, static_cast<int>(started)) << "every coroutine started ran to its end";
}

TEST(AsCompleted, LimitOneIsOneAtATime) {
  asio::io_context io;
  input in{.limit = 1};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(5), 1);
  in.outstanding = [&] { return s.outstanding(); };
  reader r(s);
  for (int i = 0; i < 5; ++i) {
    r.ask();
    poll(io);
    EXPECT_EQ(in.ops.running(), (std::vector<int>{i}));
    in.ops.finish(i, {}, i);
    poll(io);
  }
  r.ask();
  poll(io);
  EXPECT_TRUE(r.ended);
  EXPECT_EQ(r.values.size(), 5u);
}

TEST(AsCompleted, LimitAboveTheInputStartsEverything) {
  asio::io_context io;
  input in{.limit = 100};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(3), 100);
  reader r(s);
  r.ask();
  poll(io);
  EXPECT_EQ(in.ops.running().size(), 3u);
}

TEST(AsCompleted, EmptyInputEndsAtOnce) {
  asio::io_context io;
  input in{.limit = 4};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(0), 4);
  reader r(s);
  r.ask();
  EXPECT_FALSE(r.ended) << "never completed inside async_next itself";
  poll(io);
  EXPECT_TRUE(r.ended);
}

TEST(AsCompleted, LimitZeroIsRejected) {
  asio::io_context io;
  input in{.limit = 0};
  EXPECT_THROW(bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(3), 0),
               std::invalid_argument);
}

TEST(AsCompleted, TakesFromAnInfiniteInputOnlyWhatItNeeds) {
  asio::io_context io;
  manual_ops ops;
  int pulled = 0;
  auto endless = std::views::iota(0) | std::views::transform([&](int i) {
                   ++pulled;
                   return ops.make(i);
                 });
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), endless, 8);
  reader r(s);
  for (int i = 0; i < 10; ++i) {
    r.ask();
    poll(io);
    ops.finish(ops.running().front(), {}, i);
    poll(io);
  }
  EXPECT_EQ(r.values.size(), 10u);
  EXPECT_EQ(pulled, 8 + 10) << "the first 8, then one for each result read";
}

TEST(AsCompleted, AnInputThatThrowsEndsTheStreamAfterWhatRuns) {
  asio::io_context io;
  manual_ops ops;
  auto faulty = std::views::iota(0, 10) | std::views::transform([&](int i) {
                  if (i == 3) throw std::runtime_error("input broke at 3");
                  return ops.make(i);
                });
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), faulty, 3);
  reader r(s);
  r.ask();
  poll(io);
  ops.finish(0, {}, 0); // makes room: pulling 3 throws
  poll(io);
  ASSERT_EQ(r.values.size(), 1u);
  EXPECT_EQ(ops.cancelled, 2) << "what ran is cancelled";
  r.ask();
  poll(io);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(what(r.error), "input broke at 3");
  r.ask();
  poll(io);
  EXPECT_TRUE(r.ended);
}

TEST(AsCompleted, HandsOutTheValueBeforeAFailureItsRefillCaused) {
  // Limit 1: taking result 0 frees the only place, and pulling operation 1 throws.
  asio::io_context io;
  manual_ops ops;
  auto faulty = std::views::iota(0, 5) | std::views::transform([&](int i) {
                  if (i == 1) throw std::runtime_error("input broke at 1");
                  return ops.make(i);
                });
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), faulty, 1);
  reader r(s);
  r.ask();
  poll(io);
  ops.finish(0, {}, 0);
  poll(io);
  ASSERT_EQ(r.values.size(), 1u) << "the value first";
  EXPECT_FALSE(r.error);
  r.ask();
  poll(io);
  EXPECT_EQ(what(r.error), "input broke at 1") << "then the failure";
  r.ask();
  poll(io);
  EXPECT_TRUE(r.ended) << "then the end";
}

TEST(InOrder, CountsEveryFinishedResultAsOutstanding) {
  asio::io_context io;
  input in{.limit = 4};
  auto s = bounded::in_order<void(std::error_code, int)>(io.get_executor(), in.range(10), 4);
  reader r(s);
  r.ask();
  poll(io);
  for (int id : {1, 2, 3})
    in.ops.finish(id, {}, id); // all but the oldest
  poll(io);
  EXPECT_EQ(s.outstanding(), 4u);
  EXPECT_EQ(s.in_flight(), 1u);
  EXPECT_EQ(in.pulled.size(), 4u) << "three results wait behind the first: no room";
  EXPECT_TRUE(r.values.empty());
}

TEST(AsCompleted, ReportsAnOperationThatDropsItsHandler) {
  asio::io_context io;
  auto drops = [](auto handler) { auto gone = std::move(handler); }; // never calls it
  std::vector<decltype(drops)> ops(3, drops);
  auto s = bounded::as_completed<void(std::error_code)>(io.get_executor(), ops, 2);
  reader r(s);
  r.ask();
  poll(io);
  ASSERT_TRUE(r.error);
  EXPECT_NE(what(r.error).find("dropped its completion handler"), std::string::npos);
  r.ask();
  poll(io);
  EXPECT_TRUE(r.ended);
  EXPECT_EQ(io.run(), 0u) << "nothing left waiting";
}

TEST(AsCompleted, RejectsALimitOfFourBillionPlaces) {
  if constexpr (sizeof(std::size_t) > 4) {
    asio::io_context io;
    input in{.limit = 0};
    EXPECT_THROW(bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(1),
                                                                   std::size_t(1) << 32),
                 std::invalid_argument);
  }
}

TEST(AsCompleted, FailFastLooksOnlyAtTheFirstArgument) {
  // A single pair-valued argument carries no error of its own, whatever the pair holds.
  asio::io_context io;
  using pair = std::pair<std::error_code, int>;
  auto op = [&io](auto handler) {
    asio::post(io, [h = std::move(handler)]() mutable {
      std::move(h)(pair{asio::error::connection_reset, 7});
    });
  };
  std::vector<decltype(op)> ops(2, op);
  auto s = bounded::as_completed<void(pair)>(io.get_executor(), ops, 2, bounded::errors::fail_fast);
  reader r(s);
  while (!r.ended && !r.error) {
    r.ask();
    poll(io);
  }
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.values.size(), 2u);
}

TEST(AsCompleted, RunsCoroutines) {
  asio::io_context io;
  auto job = [&](int i) -> awaitable<int> {
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(i % 3));
    co_await t.async_wait(use_awaitable);
    co_return i;
  };
  std::vector<int> got;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        auto s = bounded::as_completed(co_await asio::this_coro::executor,
                                       std::views::iota(0, 50) | std::views::transform(job), 7);
        while (auto r = co_await s.async_next(use_awaitable)) {
          auto& [e, i] = *r;
          EXPECT_FALSE(e);
          EXPECT_LE(s.outstanding(), 7u);
          got.push_back(i);
        }
      },
      asio::detached);
  io.run();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got.size(), 50u);
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(got[i], i);
}

TEST(AsCompleted, RunsDeferredOperationsAndDeducesTheirSignature) {
  asio::io_context io;
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
  for (int i = 0; i < 20; ++i)
    timers.push_back(std::make_unique<asio::steady_timer>(io, std::chrono::milliseconds(i % 4)));
#if ASIO_VERSION >= 102400
  auto deferred = asio::deferred;
#else
  auto deferred = asio::experimental::deferred;
#endif
  auto waits = timers | std::views::transform([&](auto& t) { return t->async_wait(deferred); });
  auto s = bounded::as_completed(io.get_executor(), waits, 5);
  static_assert(std::is_same_v<decltype(s)::value_type, std::error_code>);
  int ok = 0;
  std::function<void()> next = [&] {
    s.async_next([&](std::exception_ptr e, std::optional<std::error_code> ec) {
      ASSERT_FALSE(e);
      if (!ec) return;
      ok += !*ec;
      next();
    });
  };
  next();
  io.run();
  EXPECT_EQ(ok, 20);
}

TEST(AsCompleted, WorksWithFuturesAndDeferredTokens) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  input in{.limit = 2};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(2), 2);
  auto first = s.async_next(asio::use_future);
  asio::post(io, [&] { in.ops.finish(1, {}, 11); });
  auto value1 = first.get();
  ASSERT_TRUE(value1);
  EXPECT_EQ(std::get<1>(*value1), 11);
#if ASIO_VERSION >= 102400
  auto later = s.async_next(asio::deferred);
#else
  auto later = s.async_next(asio::experimental::deferred);
#endif
  std::promise<int> second;
  std::move(later)(
      [&](std::exception_ptr, std::optional<value> v) { second.set_value(std::get<1>(*v)); });
  asio::post(io, [&] { in.ops.finish(0, {}, 10); });
  EXPECT_EQ(second.get_future().get(), 10);
  work.reset();
  runner.join();
}

// On a type-erased executor an operation's handler names a reference to the stream's executor,
// one pointer wide, and what is posted or dispatched through it runs there.
TEST(AsCompleted, AHandlersExecutorRefersToTheStreamsExecutor) {
  asio::io_context io;
  asio::any_io_executor executor = io.get_executor();
  std::size_t width = 0;
  bool same_context = false, posted_ran_on_io = false;
  auto op = [&](int i) {
    return [&, i](auto handler) {
      auto ex = asio::get_associated_executor(handler);
      width = sizeof(ex);
      same_context = &asio::query(ex, asio::execution::context) == &io;
      asio::post(ex, [&, h = std::move(handler), i]() mutable {
        posted_ran_on_io = io.get_executor().running_in_this_thread();
        auto inner = asio::get_associated_executor(h);
        asio::dispatch(inner,
                       [h = std::move(h), i]() mutable { std::move(h)(std::error_code{}, i); });
      });
    };
  };
  auto s = bounded::as_completed<void(std::error_code, int)>(
      executor, std::views::iota(0, 3) | std::views::transform(op), 2);
  reader r(s);
  while (!r.ended && !r.error) {
    r.ask();
    poll(io);
  }
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.values.size(), 3u);
  EXPECT_EQ(width, sizeof(void*));
  EXPECT_TRUE(same_context);
  EXPECT_TRUE(posted_ran_on_io);
}

TEST(AsCompleted, CompletesOnTheConsumersExecutor) {
  asio::io_context io, other;
  input in{.limit = 1};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(1), 1);
  bool ran = false;
  s.async_next(
      asio::bind_executor(other, [&](std::exception_ptr, std::optional<value>) { ran = true; }));
  poll(io);
  in.ops.finish(0, {}, 0);
  poll(io);
  EXPECT_FALSE(ran) << "not on the stream's executor";
  poll(other);
  EXPECT_TRUE(ran);
}

TEST(AsCompleted, IsSafeOnAStrandOfManyThreads) {
  asio::thread_pool pool(4);
  auto strand = asio::make_strand(pool.get_executor());
  std::atomic<int> started = 0;
  auto job = [&](int i) -> awaitable<int> {
    ++started;
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::microseconds(i % 50));
    co_await t.async_wait(use_awaitable);
    co_return i;
  };
  auto sum = asio::co_spawn(
      strand,
      [&]() -> awaitable<long> {
        auto s = bounded::as_completed(strand,
                                       std::views::iota(0, 5000) | std::views::transform(job), 64);
        long total = 0;
        while (auto r = co_await s.async_next(use_awaitable))
          total += std::get<1>(*r);
        co_return total;
      },
      asio::use_future);
  EXPECT_EQ(sum.get(), 5000L * 4999 / 2);
  EXPECT_EQ(started, 5000);
  pool.join();
}

// --- for_each: structured, it completes only once everything it started has finished ----------

TEST(ForEach, CompletesOnlyOnceEveryOperationHasFinished) {
  asio::io_context io;
  input in{.limit = 3};
  std::vector<int> seen;
  bool done = false;
  std::exception_ptr error;
  bounded::for_each<void(std::error_code, int)>(
      io.get_executor(), in.range(5), 3,
      [&](value v) {
        EXPECT_LE(in.ops.running().size(), 3u);
        seen.push_back(std::get<1>(v));
      },
      [&](std::exception_ptr e) { done = true, error = e; });
  poll(io);
  EXPECT_EQ(in.ops.running().size(), 3u);
  for (int id : {1, 0, 2, 4, 3}) {
    EXPECT_FALSE(done);
    in.ops.finish(id, {}, id);
    poll(io);
  }
  EXPECT_TRUE(done);
  EXPECT_FALSE(error);
  EXPECT_EQ(seen, (std::vector<int>{1, 0, 2, 4, 3}));
}

TEST(ForEach, StopsAtAThrowAndWaitsForWhatRuns) {
  asio::io_context io;
  input in{.limit = 4};
  int calls = 0;
  bool done = false;
  std::exception_ptr error;
  bounded::for_each<void(std::error_code, int)>(
      io.get_executor(), in.range(100), 4,
      [&](value) {
        if (++calls == 2) throw std::runtime_error("enough");
      },
      [&](std::exception_ptr e) { done = true, error = e; });
  poll(io);
  in.ops.finish(0, {}, 0);
  poll(io);
  in.ops.finish(1, {}, 1); // the second call throws: the rest are cancelled
  poll(io);
  EXPECT_TRUE(done);
  EXPECT_EQ(what(error), "enough");
  EXPECT_EQ(calls, 2) << "the cancelled results are not passed on";
  EXPECT_TRUE(in.ops.running().empty());
  EXPECT_EQ(in.ops.cancelled, 4);
  EXPECT_EQ(in.pulled.size(), 6u) << "nothing started after the throw";
}

TEST(ForEach, CancelledThroughItsSlotWaitsForEverything) {
  asio::io_context io;
  input in{.limit = 3};
  asio::cancellation_signal signal;
  bool done = false;
  std::exception_ptr error;
  bounded::for_each<void(std::error_code, int)>(
      io.get_executor(), in.range(100), 3, [](value) {},
      asio::bind_cancellation_slot(signal.slot(),
                                   [&](std::exception_ptr e) { done = true, error = e; }));
  poll(io);
  signal.emit(asio::cancellation_type::terminal);
  EXPECT_FALSE(done) << "not inside the emission";
  poll(io);
  EXPECT_TRUE(done);
  EXPECT_EQ(what(error), std::system_error(asio::error::operation_aborted).what());
  EXPECT_TRUE(in.ops.running().empty());
}

TEST(ForEach, RunsCoroutinesWithAnyToken) {
  asio::io_context io;
  auto job = [](int i) -> awaitable<int> { co_return i; };
  long sum = 0;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        co_await bounded::for_each(
            co_await asio::this_coro::executor,
            std::views::iota(0, 1000) | std::views::transform(job), 16,
            [&](std::tuple<std::exception_ptr, int> r) { sum += std::get<1>(r); }, use_awaitable);
      },
      asio::detached);
  io.run();
  EXPECT_EQ(sum, 1000L * 999 / 2);
}

// --- Asynchronous input: one request to the source at a time, only when a place is free -------

// A source the test answers by hand.
struct manual_source {
  using operation_type = decltype(std::declval<manual_ops&>().make(0));
  struct shared {
    std::function<void(std::exception_ptr, std::optional<operation_type>)> answer;
    int requests = 0;
    bool cancelled = false;
  };
  std::shared_ptr<shared> state = std::make_shared<shared>();

  template <class Handler> void async_next(Handler handler) {
    ++state->requests;
    auto slot = asio::get_associated_cancellation_slot(handler);
    auto h = std::make_shared<Handler>(std::move(handler));
    state->answer = [h](std::exception_ptr e, std::optional<operation_type> op) {
      auto ex = asio::get_associated_executor(*h);
      asio::post(ex, [h, e, op = std::move(op)]() mutable { std::move (*h)(e, std::move(op)); });
    };
    if (slot.is_connected())
      slot.assign([s = state](asio::cancellation_type) {
        s->cancelled = true;
        std::exchange(s->answer, nullptr)(nullptr, std::nullopt);
      });
  }
};

TEST(AsyncInput, AsksOnlyWhenAPlaceIsFree) {
  asio::io_context io;
  manual_ops ops;
  manual_source source;
  auto src = source.state;
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), source, 2);
  reader r(s);
  r.ask();
  poll(io);
  EXPECT_EQ(src->requests, 1) << "one request at a time";
  std::exchange(src->answer, nullptr)(nullptr, ops.make(0));
  poll(io);
  EXPECT_EQ(src->requests, 2);
  std::exchange(src->answer, nullptr)(nullptr, ops.make(1));
  poll(io);
  EXPECT_EQ(ops.running(), (std::vector<int>{0, 1}));
  EXPECT_EQ(src->requests, 2) << "no place is free: the producer waits";
  ops.finish(1, {}, 1);
  poll(io);
  ASSERT_EQ(r.values.size(), 1u);
  EXPECT_EQ(src->requests, 3) << "the result taken frees a place";
  std::exchange(src->answer, nullptr)(nullptr, std::nullopt); // the end of the input
  poll(io);
  ops.finish(0, {}, 0);
  r.ask();
  poll(io);
  r.ask();
  poll(io);
  EXPECT_TRUE(r.ended);
  EXPECT_EQ(r.values.size(), 2u);
}

TEST(AsyncInput, ASourceErrorEndsTheStreamAfterWhatRuns) {
  asio::io_context io;
  manual_ops ops;
  manual_source source;
  auto src = source.state;
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), source, 3);
  reader r(s);
  r.ask();
  poll(io);
  std::exchange(src->answer, nullptr)(nullptr, ops.make(0));
  poll(io);
  std::exchange(src->answer, nullptr)(std::make_exception_ptr(std::runtime_error("feed lost")),
                                      std::nullopt);
  poll(io); // operation 0 is cancelled, finishes, and then the failure is handed out
  EXPECT_EQ(ops.cancelled, 1);
  EXPECT_TRUE(ops.running().empty());
  ASSERT_TRUE(r.error);
  EXPECT_EQ(what(r.error), "feed lost");
  r.ask();
  poll(io);
  EXPECT_TRUE(r.ended);
}

TEST(AsyncInput, CancelReachesARequestUnderWay) {
  asio::io_context io;
  manual_source source;
  auto src = source.state;
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), source, 3);
  reader r(s);
  r.ask();
  poll(io);
  s.cancel();
  poll(io);
  EXPECT_TRUE(src->cancelled);
  EXPECT_TRUE(r.ended);
}

TEST(AsyncInput, AChannelsProducerGoesNoFasterThanTheConsumer) {
  asio::io_context io;
  using op = awaitable<int>;
  asio::experimental::channel<void(std::error_code, op)> channel(io, 0);
  constexpr int n = 200, limit = 5;
  int sent = 0, read = 0, most_ahead = 0;
  auto job = [](int i) -> op { co_return i; };
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        for (int i = 0; i < n; ++i) {
          co_await channel.async_send(std::error_code{}, job(i), use_awaitable);
          ++sent;
        }
        channel.close();
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        auto s = bounded::as_completed(co_await asio::this_coro::executor,
                                       bounded::channel_source(channel), limit);
        while (auto r = co_await s.async_next(use_awaitable)) {
          ++read;
          most_ahead = std::max(most_ahead, sent - read);
        }
      },
      asio::detached);
  io.run();
  EXPECT_EQ(read, n);
  EXPECT_LE(most_ahead, limit + 1) << "back-pressure reaches the producer";
}

// --- A soft limit
// ---------------------------------------------------------------------------------

TEST(SoftLimit, LoweringItCancelsNothingAndHoldsRefillsBack) {
  asio::io_context io;
  input in{.limit = 4};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(100), 4);
  reader r(s);
  r.ask();
  poll(io);
  ASSERT_EQ(in.ops.running().size(), 4u);
  s.set_limit(2);
  poll(io);
  EXPECT_EQ(s.limit(), 2u);
  EXPECT_EQ(s.capacity(), 4u);
  EXPECT_EQ(in.ops.cancelled, 0);
  for (int id : {0, 1}) { // 4, then 3 outstanding: nothing starts
    in.ops.finish(id, {}, id);
    poll(io);
    r.ask();
    poll(io);
  }
  EXPECT_EQ(in.pulled.size(), 4u);
  in.ops.finish(2, {}, 2); // read: 1 outstanding, below the limit of 2
  poll(io);
  EXPECT_EQ(in.pulled.size(), 5u);
  EXPECT_LE(s.outstanding(), 2u);
}

TEST(SoftLimit, RaisingItStartsWhatNowFits) {
  asio::io_context io;
  input in{.limit = 4};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(100), 4);
  s.set_limit(1);
  reader r(s);
  r.ask();
  poll(io);
  EXPECT_EQ(in.ops.running().size(), 1u);
  s.set_limit(4);
  poll(io);
  EXPECT_EQ(in.ops.running().size(), 4u);
  EXPECT_THROW(s.set_limit(0), std::invalid_argument);
  EXPECT_THROW(s.set_limit(5), std::invalid_argument);
}

// Lowering the limit with results waiting must lose none of them: the places are indexed by the
// capacity, not by the limit of the moment.
template <bounded::order Order> void check_lowering_with_results_waiting() {
  asio::io_context io;
  input in{.limit = 4};
  auto s = bounded::stream<asio::io_context::executor_type, decltype(in.range(8)),
                           void(std::error_code, int), Order>(io.get_executor(), in.range(8), 4);
  reader r(s);
  r.ask();
  poll(io);
  for (int id : {0, 1, 2, 3})
    in.ops.finish(id, {}, id);
  poll(io); // 0 handed out, 4 started, 1 to 3 waiting
  s.set_limit(2);
  poll(io);
  for (int round = 0; round < 50 && !r.ended && !r.error; ++round) { // bounded: a stall fails
    r.ask();
    poll(io);
    for (int id : in.ops.running())
      in.ops.finish(id, {}, id);
    poll(io);
  }
  EXPECT_FALSE(r.error);
  std::vector<int> ids;
  for (auto& v : r.values)
    ids.push_back(std::get<1>(v));
  if constexpr (Order == bounded::order::completion) std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(SoftLimit, LoweringItWithResultsWaitingLosesNone) {
  check_lowering_with_results_waiting<bounded::order::completion>();
}

TEST(SoftLimit, LoweringItWithResultsWaitingLosesNoneInInputOrder) {
  check_lowering_with_results_waiting<bounded::order::input>();
}

TEST(SoftLimit, SettingItStartsNothingBeforeTheFirstAsyncNext) {
  asio::io_context io;
  input in{.limit = 4};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(100), 4);
  s.set_limit(2);
  poll(io);
  EXPECT_TRUE(in.pulled.empty());
  reader r(s);
  r.ask();
  poll(io);
  EXPECT_EQ(in.pulled.size(), 2u);
}

// A source that answers inside its own async_next(): each answer is started, and the stream goes
// on asking while there is room.
struct posted_op { // completes with (no error, i) at the next poll
  asio::io_context* io;
  int i;
  template <class Handler> void operator()(Handler h) const {
    asio::post(*io, [h = std::move(h), i = i]() mutable { std::move(h)(std::error_code{}, i); });
  }
};

struct eager_source {
  using operation_type = posted_op;
  asio::io_context* io;
  int next = 0, n = 0;
  template <class Handler> void async_next(Handler handler) {
    std::optional<posted_op> op;
    if (next < n) op = posted_op{io, next++};
    std::move(handler)(nullptr, std::move(op)); // inline
  }
};

TEST(AsyncInput, ASourceThatAnswersInsideItsInitiation) {
  asio::io_context io;
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(),
                                                             eager_source{&io, 0, 10}, 3);
  reader r(s);
  for (int round = 0; round < 50 && !r.ended && !r.error; ++round) { // bounded: a stall fails
    r.ask();
    poll(io);
  }
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.values.size(), 10u);
}

// --- Counters
// -------------------------------------------------------------------------------------

TEST(Counters, CountStartsCompletionsFailuresAndThePeak) {
  asio::io_context io;
  input in{.limit = 3};
  auto s = bounded::as_completed<void(std::error_code, int)>(io.get_executor(), in.range(5), 3);
  reader r(s);
  r.ask();
  poll(io);
  EXPECT_EQ(s.counters().started, 3u);
  in.ops.finish(0, asio::error::connection_reset, 0);
  in.ops.finish(1, {}, 1);
  poll(io);
  while (!r.ended) {
    for (int id : in.ops.running())
      in.ops.finish(id, {}, id);
    r.ask();
    poll(io);
  }
  auto c = s.counters();
  EXPECT_EQ(c.started, 5u);
  EXPECT_EQ(c.completed, 5u);
  EXPECT_EQ(c.failed, 1u);
  EXPECT_EQ(c.peak_in_flight, 3u);
}

// --- A timeout for each operation, with what Asio has: `op || timer` ---------------------------

awaitable<void> timeout(std::chrono::steady_clock::duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(use_awaitable);
}

TEST(PerItemTimeout, IsOneLineWithAwaitableOperators) {
  using namespace asio::experimental::awaitable_operators;
  asio::io_context io;
  auto slow = [](int i) -> awaitable<int> { // never answers in time
    co_await timeout(std::chrono::hours(1));
    co_return i;
  };
  int timed_out = 0, results = 0;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        auto ops = std::views::iota(0, 20) |
                   std::views::transform([&](int i) { return slow(i) || timeout(1ms); });
        auto s = bounded::as_completed(co_await asio::this_coro::executor, ops, 5);
        while (auto r = co_await s.async_next(use_awaitable)) {
          ++results;
          timed_out += std::get<1>(*r).index() == 1;
        }
      },
      asio::detached);
  io.run(); // returns: every slow operation was cancelled by its timer
  EXPECT_EQ(results, 20);
  EXPECT_EQ(timed_out, 20);
}

} // namespace
