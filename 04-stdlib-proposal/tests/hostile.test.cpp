// bounded::as_completed used the way a careful user would use it and a naive implementation would
// not survive: a place reused by an operation that installs no cancellation handler, cancellation
// from another thread, operations that complete inside their own initiation, a value conversion
// that throws, a destructor called while a consumer waits, and operations whose execution context
// goes away. Each test is a defect that was found and fixed; run them under ASan+UBSan and TSan.
#include <bounded/as_completed.hpp>

#include "testing.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <asio/version.hpp>
#if ASIO_VERSION >= 102400 // as_tuple left asio::experimental in 1.24; its old header went in 1.33
#include <asio/as_tuple.hpp>
using asio::as_tuple;
#else
#include <asio/experimental/as_tuple.hpp>
using asio::experimental::as_tuple;
#endif

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <ranges>
#include <stdexcept>
#include <thread>
#include <vector>

using asio::awaitable;
using asio::use_awaitable;
using namespace std::chrono_literals;

namespace {

using bounded_testing::poll;
using bounded_testing::what;

// A completion handler the test holds and calls later, whatever its type.
template <class... Args> class parked {
public:
  template <class H> void hold(H h) { held_ = std::make_unique<holder<H>>(std::move(h)); }
  explicit operator bool() const { return held_ != nullptr; }
  void complete(Args... args) { std::exchange(held_, nullptr)->call(args...); }

private:
  struct base {
    virtual ~base() = default;
    virtual void call(Args...) = 0;
  };
  template <class H> struct holder : base {
    explicit holder(H h) : handler(std::move(h)) {}
    void call(Args... args) override { std::move(handler)(args...); }
    H handler;
  };
  std::unique_ptr<base> held_;
};

// A consumer that records what one async_next() completed with.
struct answer {
  bool ran = false;
  std::exception_ptr error;
  bool value = false;
  auto handler() {
    return [this](std::exception_ptr e, auto v) { ran = true, error = e, value = v.has_value(); };
  }
};

// Defect 1. A place's cancellation slot keeps the handler of the operation that used it last,
// unless the stream clears it. Operation 0, a timer wait, installs one that points into its timer;
// the timer is gone once it has completed. Operation 1, in the same place, installs none. Then
// cancel() emits on the slot: it must reach nothing, not the destroyed timer.
TEST(Hostile, ClearsAPlacesCancellationSlotWhenItsOperationCompletes) {
  asio::io_context io;
  parked<std::error_code> second;
  auto op = [&](int i) {
    return [&, i](auto handler) {
      if (i == 0) {
        auto timer = std::make_unique<asio::steady_timer>(io, 0ms);
        auto& t = *timer;
        auto slot = asio::get_associated_cancellation_slot(handler);
        t.async_wait(asio::bind_cancellation_slot(
            slot, [timer = std::move(timer), h = std::move(handler)](std::error_code ec) mutable {
              timer.reset();
              std::move(h)(ec);
            }));
      } else {
        second.hold(std::move(handler)); // a cache hit, say: nothing to cancel
      }
    };
  };
  auto ops = std::views::iota(0, 2) | std::views::transform(op);
  auto s = bounded::as_completed<void(std::error_code)>(io.get_executor(), ops, 1);
  answer first;
  s.async_next(first.handler());
  poll(io);
  ASSERT_TRUE(first.ran && first.value) << "the timer's wait completed";
  ASSERT_TRUE(second) << "operation 1 runs in the place operation 0 left";
  s.cancel(); // emits on the place's slot: ASan reports a use after free if the timer's is there
  poll(io);
  second.complete({});
  answer end;
  s.async_next(end.handler());
  poll(io);
  EXPECT_TRUE(end.ran);
  EXPECT_FALSE(end.error);
  EXPECT_FALSE(end.value) << "cancel() dropped the result; then the end";
}

// Defect 2. The everyday timeout: the stream on a strand of a pool of four threads, the consumer
// a coroutine on a strand of its own, waiting with `async_next() || timer`, then reading the
// rest. Cancellation arrives on the consumer's strand; the stream must take it on its own, and a
// signal that arrives after the wait has completed must change nothing. (The consumer needs a
// strand for Asio's sake: the two waits of `||` on the bare pool complete on two threads at once,
// and the group's emission races with the timer's own slot, inside Asio.)
TEST(Hostile, TakesTheConsumersCancellationFromAnotherThread) {
  using namespace asio::experimental::awaitable_operators;
  asio::thread_pool pool(4);
  auto job = [](int i) -> awaitable<int> {
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::microseconds(i % 40));
    co_await t.async_wait(use_awaitable);
    co_return i;
  };
  std::atomic<int> drains_that_threw = 0, timeouts = 0, results = 0;
  auto consumer = [&](int round) -> awaitable<void> {
    auto strand = asio::make_strand(pool.get_executor());
    auto s = bounded::as_completed(strand, std::views::iota(0, 12) | std::views::transform(job), 4);
    // Most rounds race a timeout of a few microseconds against the first result; every fifth
    // waits an hour, so that some rounds read results whatever the machine's load (the `||`
    // cancels the timer once the result comes).
    auto wait = round % 5 == 0 ? std::chrono::microseconds(std::chrono::hours(1))
                               : std::chrono::microseconds(round % 30);
    asio::steady_timer timeout(co_await asio::this_coro::executor, wait);
    auto first = co_await (s.async_next(use_awaitable) || timeout.async_wait(use_awaitable));
    if (first.index() == 1) ++timeouts;
    try {
      while (co_await s.async_next(use_awaitable))
        ++results;
    } catch (const std::exception&) {
      ++drains_that_threw;
    }
  };
  std::vector<std::future<void>> rounds;
  for (int round = 0; round < 300; ++round)
    rounds.push_back(asio::co_spawn(asio::make_strand(pool), consumer(round), asio::use_future));
  for (auto& r : rounds)
    r.get(); // rethrows what the consumer threw
  pool.join();
  EXPECT_EQ(drains_that_threw, 0) << "after a cancelled wait, reading on ends quietly";
  EXPECT_GT(results, 0) << "the rounds whose timeout is an hour read their results";
  std::printf("%d of 300 first waits timed out\n", timeouts.load());
}

// The same cancellation, one thread, step by step: the cancelled wait completes with
// operation_aborted once the operations have finished, and a second signal, after that, is
// harmless.
TEST(Hostile, IgnoresACancellationThatArrivesAfterTheWaitCompleted) {
  asio::io_context io;
  std::vector<parked<std::error_code, int>> ops(3);
  auto make = [&](int i) {
    return [&, i](auto handler) {
      auto slot = asio::get_associated_cancellation_slot(handler);
      ops[i].hold(std::move(handler));
      if (slot.is_connected())
        slot.assign([&, i](asio::cancellation_type) {
          if (ops[i])
            asio::post(io, [&, i] { ops[i].complete(asio::error::operation_aborted, -1); });
        });
    };
  };
  auto s = bounded::as_completed<void(std::error_code, int)>(
      io.get_executor(), std::views::iota(0, 3) | std::views::transform(make), 2);
  asio::cancellation_signal signal;
  answer first;
  s.async_next(asio::bind_cancellation_slot(signal.slot(), first.handler()));
  poll(io);
  ops[0].complete({}, 0); // the wait completes with a value...
  poll(io);
  ASSERT_TRUE(first.ran && first.value);
  signal.emit(asio::cancellation_type::terminal); // ...and the consumer's signal comes too late
  poll(io);
  int values = 0;
  for (int i = 1; i < 3; ++i) {
    answer next;
    s.async_next(next.handler());
    poll(io);
    if (ops[i]) ops[i].complete({}, i);
    poll(io);
    ASSERT_TRUE(next.ran);
    EXPECT_FALSE(next.error) << "the late signal did not stop the stream";
    values += next.value;
  }
  EXPECT_EQ(values, 2);
}

// Found with the hand-out of coroutine results by a post: a coroutine completes, its result is
// there and its hand-out queued, and the consumer's cancellation arrives before the hand-out runs.
// The wait has in effect completed with that value, so the signal must change nothing: handing
// the value to the cancelled wait and the failure to the next one broke "reading on ends quietly".
TEST(Hostile, IgnoresACancellationThatArrivesWhileACoroutinesResultIsBeingHandedOut) {
  asio::io_context io;
  auto timers = bounded_testing::waiting_timers(io, 3);
  auto job = [&](int i) -> awaitable<int> {
    co_await timers[i]->async_wait(as_tuple(use_awaitable));
    co_return i;
  };
  auto s = bounded::as_completed(io.get_executor(),
                                 std::views::iota(0, 3) | std::views::transform(job), 1);
  asio::cancellation_signal signal;
  answer first;
  s.async_next(asio::bind_cancellation_slot(signal.slot(), first.handler()));
  poll(io);
  timers[0]->cancel();                            // coroutine 0 resumes at the next poll...
  signal.emit(asio::cancellation_type::terminal); // ...and the consumer's cancellation after it
  poll(io);
  ASSERT_TRUE(first.ran);
  EXPECT_FALSE(first.error);
  EXPECT_TRUE(first.value) << "the answer was there before the signal";
  for (int i = 1; i < 3; ++i) {
    answer next;
    s.async_next(next.handler());
    poll(io);
    timers[i]->cancel();
    poll(io);
    ASSERT_TRUE(next.ran);
    EXPECT_FALSE(next.error) << "the signal did not stop the stream";
    EXPECT_TRUE(next.value);
  }
}

// Defect 3. With a limit of 1, operation 0 completes later; operation 1, started by the refill
// that handing out 0's result causes, completes inside its own initiation. Its result must wait
// for the next async_next().
TEST(Hostile, HoldsAResultThatCompletesInsideItsInitiationDuringARefill) {
  asio::io_context io;
  auto op = [&](int i) {
    return [&, i](auto handler) {
      if (i == 0)
        asio::post(io, [h = std::move(handler)]() mutable { std::move(h)(std::error_code{}, 0); });
      else
        std::move(handler)(std::error_code{}, i); // inline, inside the initiation
    };
  };
  auto s = bounded::as_completed<void(std::error_code, int)>(
      io.get_executor(), std::views::iota(0, 3) | std::views::transform(op), 1);
  std::vector<int> got;
  bool ended = false;
  std::function<void()> next = [&] {
    s.async_next([&](std::exception_ptr e, std::optional<std::tuple<std::error_code, int>> v) {
      ASSERT_FALSE(e);
      if (!v) {
        ended = true;
        return;
      }
      got.push_back(std::get<1>(*v));
      next();
    });
  };
  next();
  poll(io);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(ended);
}

// Never inside the consumer's own initiation either: the first operation completes at once.
TEST(Hostile, NeverCompletesTheConsumerInsideAsyncNext) {
  asio::io_context io;
  auto op = [](auto handler) { std::move(handler)(std::error_code{}); };
  std::vector<decltype(op)> ops(2, op);
  auto s = bounded::as_completed<void(std::error_code)>(io.get_executor(), ops, 1);
  answer a;
  asio::post(io, [&] {
    s.async_next(a.handler());
    EXPECT_FALSE(a.ran) << "not inside async_next()";
  });
  poll(io);
  EXPECT_TRUE(a.ran && a.value);
}

// Defect 4. The value is built from the completion's arguments; if that throws, the stream fails
// with the exception (as when its input throws), and the place is freed.
struct picky {
  explicit picky(int v) : value(v) {
    if (v < 0) throw std::runtime_error("picky: no negative values");
  }
  int value;
};

TEST(Hostile, EndsTheStreamWhenBuildingAValueThrows) {
  asio::io_context io;
  auto op = [&](int i) {
    return [&, i](auto handler) {
      asio::post(io, [h = std::move(handler), i]() mutable { std::move(h)(i == 1 ? -1 : i); });
    };
  };
  auto s = bounded::as_completed<void(picky)>(
      io.get_executor(), std::views::iota(0, 4) | std::views::transform(op), 2);
  std::vector<int> got;
  std::exception_ptr error;
  bool ended = false;
  std::function<void()> next = [&] {
    s.async_next([&](std::exception_ptr e, std::optional<picky> v) {
      if (v) got.push_back(v->value);
      if (e) error = e;
      ended = !e && !v;
      if (!ended) next();
    });
  };
  next();
  EXPECT_NO_THROW(poll(io)) << "the conversion's exception does not escape run()";
  EXPECT_EQ(got, (std::vector<int>{0}));
  ASSERT_TRUE(error);
  EXPECT_EQ(what(error), "picky: no negative values");
  EXPECT_TRUE(ended);
  EXPECT_EQ(s.in_flight(), 0u) << "every place is free";
}

// Defect 5. Destroying the stream while a consumer waits completes that consumer with
// operation_aborted, but never inside the destructor.
TEST(Hostile, DoesNotRunTheConsumerInsideTheDestructor) {
  asio::io_context io;
  parked<std::error_code> op;
  auto start = [&](auto handler) { op.hold(std::move(handler)); };
  std::vector<decltype(start)> ops(1, start);
  std::optional s(bounded::as_completed<void(std::error_code)>(io.get_executor(), ops, 1));
  answer a;
  s->async_next(a.handler());
  poll(io);
  ASSERT_FALSE(a.ran);
  asio::post(io, [&] {
    s.reset(); // on the stream's executor
    EXPECT_FALSE(a.ran) << "not inside the destructor";
  });
  poll(io);
  EXPECT_TRUE(a.ran);
  ASSERT_TRUE(a.error);
  EXPECT_EQ(what(a.error), std::system_error(asio::error::operation_aborted).what());
  op.complete({}); // late: it touches only the state it shares
  poll(io);
}

// Defect 6. The operations run on a second io_context, which is destroyed while the consumer
// waits; the stream's own executor lives on. The consumer completes with operation_aborted.
TEST(Hostile, CompletesTheConsumerWhenTheOperationsContextIsDestroyed) {
  asio::io_context io;
  std::optional<asio::io_context> other(std::in_place);
  auto op = [&](auto handler) { asio::post(*other, std::move(handler)); }; // other never runs
  std::vector<decltype(op)> ops(3, op);
  auto s = bounded::as_completed<void(std::error_code)>(io.get_executor(), ops, 2);
  answer a;
  s.async_next(a.handler());
  poll(io);
  ASSERT_FALSE(a.ran);
  other.reset(); // destroys the two waits' handlers without calling them
  poll(io);
  ASSERT_TRUE(a.ran) << "the consumer is completed, not destroyed";
  ASSERT_TRUE(a.error);
  EXPECT_EQ(what(a.error), std::system_error(asio::error::operation_aborted).what());
  answer end;
  s.async_next(end.handler());
  poll(io);
  EXPECT_TRUE(end.ran);
  EXPECT_FALSE(end.error);
  EXPECT_FALSE(end.value);
}

// From the audit: an operation that completes inside its own cancellation handler, that is inside
// the stream's emission, must not have that handler destroyed under it; and a failure that comes
// that way under fail_fast must not start a second emission.
TEST(Hostile, SurvivesOperationsThatCompleteInsideTheirCancellationHandler) {
  for (auto policy : {bounded::errors::deliver, bounded::errors::fail_fast}) {
    asio::io_context io;
    std::vector<parked<std::error_code>> ops(4);
    int cancelled = 0;
    auto make = [&](int i) {
      return [&, i](auto handler) {
        auto slot = asio::get_associated_cancellation_slot(handler);
        ops[i].hold(std::move(handler));
        slot.assign([&, i](asio::cancellation_type) {
          ++cancelled;
          ops[i].complete(asio::error::operation_aborted); // inline, inside the emission
        });
      };
    };
    auto s = bounded::as_completed<void(std::error_code)>(
        io.get_executor(), std::views::iota(0, 4) | std::views::transform(make), 4, policy);
    answer a;
    s.async_next(a.handler());
    poll(io);
    ASSERT_FALSE(a.ran);
    s.cancel();
    poll(io);
    EXPECT_EQ(cancelled, 4);
    ASSERT_TRUE(a.ran);
    EXPECT_FALSE(a.value);
    EXPECT_FALSE(a.error) << "cancel() reports no error of its own";
    EXPECT_EQ(s.in_flight(), 0u);
  }
}

// cancel() called on another thread while the consumer waits on the stream's strand: it is done
// on the strand, and the consumer reads to a quiet end.
TEST(Hostile, TakesCancelFromAnotherThread) {
  asio::thread_pool pool(4);
  for (int round = 0; round < 50; ++round) {
    auto strand = asio::make_strand(pool.get_executor());
    auto job = [](int i) -> awaitable<int> {
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::microseconds(i % 20));
      co_await t.async_wait(use_awaitable);
      co_return i;
    };
    auto s =
        bounded::as_completed(strand, std::views::iota(0, 1000) | std::views::transform(job), 8);
    std::atomic<int> read = 0;
    auto done = asio::co_spawn(
        strand,
        [&]() -> awaitable<void> {
          while (co_await s.async_next(use_awaitable))
            ++read;
        },
        asio::use_future);
    while (read < round % 10) // let it run a little, for a different moment each round
      std::this_thread::yield();
    s.cancel(); // this thread is not the strand
    EXPECT_NO_THROW(done.get()) << "reading on after cancel() ends quietly";
    EXPECT_LE(read, 1000);
  }
  pool.join();
}

// The operations' context is destroyed on one thread while another runs the stream's: the
// abandoned places are taken to the stream's executor, and the consumer completes there.
TEST(Hostile, TakesAbandonedOperationsToTheStreamsThread) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  std::optional<asio::io_context> other(std::in_place);
  auto op = [&](auto handler) { asio::post(*other, std::move(handler)); }; // other never runs
  std::vector<decltype(op)> ops(50, op);
  auto s = bounded::as_completed<void(std::error_code)>(io.get_executor(), ops, 16);
  std::promise<std::exception_ptr> got;
  s.async_next([&](std::exception_ptr e, auto) { got.set_value(e); });
  std::promise<void> started;
  asio::post(io, [&] { started.set_value(); }); // after the initiation, which started 16
  started.get_future().get();
  other.reset(); // here, while `runner` may be inside the stream
  auto e = got.get_future().get();
  ASSERT_TRUE(e);
  EXPECT_EQ(what(e), std::system_error(asio::error::operation_aborted).what());
  work.reset();
  runner.join();
}

// A consumer that destroys the stream from inside its handler, with a wait of its own just
// answered (by a post) and more results ready: the answer already given still arrives, the ready
// results are dropped, and the coroutines the refills started finish in the background. (A wait
// made while a result is ready is answered by a post; one made before, by the completion itself.
// So the first wait, answered as coroutine 0 completes, lets the others finish first.)
TEST(Hostile, SurvivesTheConsumerDestroyingTheStreamInItsHandler) {
  asio::io_context io;
  int finished = 0;
  auto job = [&](int i) -> awaitable<int> {
    co_await asio::post(co_await asio::this_coro::executor, use_awaitable);
    ++finished;
    co_return i;
  };
  auto make = [&] {
    return bounded::as_completed(io.get_executor(),
                                 std::views::iota(0, 8) | std::views::transform(job), 4,
                                 bounded::on_stop::finish);
  };
  std::optional<decltype(make())> s(make());
  int answers = 0;
  bool second_had_a_value = false;
  s->async_next([](std::exception_ptr, auto) {}); // result 0; its refill starts coroutine 4
  io.poll();                                      // 1, 2, 3 and 4 finish, and wait
  io.restart();
  s->async_next([&](std::exception_ptr, auto) {
    ++answers;
    s->async_next(
        [&](std::exception_ptr, auto v) { ++answers, second_had_a_value = v.has_value(); });
    s.reset(); // results 2 and 3 are ready: dropped
  });
  io.run();
  EXPECT_EQ(answers, 2);
  EXPECT_TRUE(second_had_a_value) << "its answer was taken before the stream went";
  EXPECT_EQ(finished, 7) << "four at once, and one refill for each of the three answers";
}

} // namespace

namespace {

// On asio::any_io_executor, an operation's handler names a reference into the stream's state as
// its executor. Here the operations are timers of another io_context, run by another thread,
// which posts each handler back through that reference while this thread runs the stream's
// io_context, after the stream was destroyed with all eight in flight (the other thread starts
// only then, so that none completes before). The state, and the work
// it counts for the handlers, must last until the last of them is gone: io.run() returns only
// then.
TEST(Hostile, OperationsOnAnotherThreadCompleteThroughTheHandlersExecutorAfterTheStreamWent) {
  asio::io_context io, other;
  auto other_work = asio::make_work_guard(other);
  std::atomic<int> fired{0};
  auto op = [&](int i) {
    return [&, i](auto handler) {
      auto timer = std::make_shared<asio::steady_timer>(other, std::chrono::microseconds(50 * i));
      timer->async_wait([timer, &fired, h = std::move(handler)](std::error_code) mutable {
        ++fired;
        auto ex = asio::get_associated_executor(h);
        asio::post(ex, [h = std::move(h)]() mutable { std::move(h)(std::error_code{}, 1); });
      });
    };
  };
  auto make = [&] {
    return bounded::as_completed<void(std::error_code, int)>(
        asio::any_io_executor(io.get_executor()),
        std::views::iota(0, 20) | std::views::transform(op), 8, bounded::on_stop::finish);
  };
  std::optional<decltype(make())> s(make());
  std::exception_ptr error;
  s->async_next([&](std::exception_ptr e, auto) { error = e; });
  poll(io); // eight timers start, on an io_context nothing runs yet
  s.reset();
  std::thread other_thread([&] { other.run(); });
  other_work.reset();
  io.restart();
  io.run();
  EXPECT_EQ(fired.load(), 8) << "io.run() returned while a handler was still away";
  other_thread.join();
  ASSERT_TRUE(error) << "the waiting consumer got a value";
  EXPECT_EQ(what(error), std::system_error(asio::error::operation_aborted).what());
}

} // namespace
