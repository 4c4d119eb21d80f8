// The sender form: bounded_for_each and bounded_scope, driven step by step with items the test
// completes by hand, then across threads. The library's for_each, soft-limit and hostile tests,
// ported where they mean something for senders.
#include "testing.hpp"

#include <exec/static_thread_pool.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <ranges>
#include <stdexcept>
#include <thread>
#include <vector>

namespace ex = stdexec;
using bounded_exec::bounded_for_each;
using bounded_exec::bounded_scope;
using bounded_exec::concurrency_limit;
using senders_testing::manual_items;
using senders_testing::outcome;
using senders_testing::recorder;

namespace {

auto manual_range(manual_items& items, int n) {
  return std::views::iota(0, n) | std::views::transform([&items](int i) { return items.make(i); });
}

// ---- for_each

TEST(ForEach, CompletesOnlyOnceEveryItemHasFinished) {
  manual_items items;
  std::vector<int> seen;
  outcome out;
  auto op =
      ex::connect(bounded_for_each(manual_range(items, 5), 2, [&](int v) { seen.push_back(v); }),
                  recorder{&out});
  ex::start(op);
  EXPECT_EQ(items.started(), 2); // no more than the limit
  items.complete(1, 10);
  EXPECT_EQ(seen, std::vector<int>{10});
  EXPECT_EQ(items.started(), 3);
  for (int id : {0, 2, 3})
    items.complete(id, id * 10);
  EXPECT_EQ(out.how, outcome::pending); // item 4 still runs
  items.complete(4, 40);
  EXPECT_EQ(out.how, outcome::value);
  EXPECT_EQ(seen, (std::vector<int>{10, 0, 20, 30, 40}));
}

TEST(ForEach, RefillsBeforeHandingOutAValue) {
  manual_items items;
  std::vector<int> started_when_called;
  outcome out;
  auto op =
      ex::connect(bounded_for_each(manual_range(items, 4), 2,
                                   [&](int) { started_when_called.push_back(items.started()); }),
                  recorder{&out});
  ex::start(op);
  items.complete(0, 0);
  EXPECT_EQ(started_when_called, std::vector<int>{3}); // item 2 was running when fn saw item 0
  for (int id : {1, 2, 3})
    items.complete(id, id);
  EXPECT_EQ(out.how, outcome::value);
}

TEST(ForEach, TakesFromAnInfiniteInputOnlyWhatItNeeds) {
  int pulled = 0, seen = 0;
  auto input = std::views::iota(0) | std::views::transform([&](int i) {
                 ++pulled;
                 return ex::just(i);
               });
  outcome out;
  auto op = ex::connect(bounded_for_each(input, 8,
                                         [&](int) {
                                           if (++seen == 10) throw std::runtime_error("enough");
                                         }),
                        recorder{&out});
  ex::start(op); // every item completes inside its start
  EXPECT_EQ(out.how, outcome::error);
  EXPECT_EQ(out.message(), "enough");
  EXPECT_EQ(pulled, 18); // 8 to fill, then one per value taken, each before fn saw it
}

TEST(ForEach, StopsAtAnErrorAndWaitsForWhatRuns) {
  manual_items items;
  outcome out;
  int calls = 0;
  auto op = ex::connect(bounded_for_each(manual_range(items, 10), 3, [&](int) { ++calls; }),
                        recorder{&out});
  ex::start(op);
  items.fail(1, std::make_exception_ptr(std::runtime_error("item 1")));
  EXPECT_EQ(out.how, outcome::error); // items 0 and 2 were asked to stop, and did, inline
  EXPECT_EQ(out.message(), "item 1");
  EXPECT_EQ(items.stopped_count, 2);
  EXPECT_EQ(items.started(), 3); // nothing more was pulled
  EXPECT_EQ(calls, 0);
}

TEST(ForEach, StopsAtAThrowFromFnAndWaitsForWhatRuns) {
  manual_items items;
  outcome out;
  auto op = ex::connect(
      bounded_for_each(manual_range(items, 10), 3, [](int) { throw std::runtime_error("fn"); }),
      recorder{&out});
  ex::start(op);
  items.complete(0, 0); // fn throws; items 1, 2 and the refill 3 are stopped
  EXPECT_EQ(out.how, outcome::error);
  EXPECT_EQ(out.message(), "fn");
  EXPECT_EQ(items.running_count(), 0u);
}

TEST(ForEach, AnItemThatStopsStopsTheRestAsWhenAllDoes) {
  manual_items items;
  outcome out;
  auto op = ex::connect(bounded_for_each(manual_range(items, 10), 3, [](int) {}), recorder{&out});
  ex::start(op);
  items.stop(1);
  EXPECT_EQ(out.how, outcome::stopped);
  EXPECT_EQ(items.running_count(), 0u);
}

TEST(ForEach, StoppedThroughItsReceiverWaitsForEverything) {
  manual_items items;
  ex::inplace_stop_source stop;
  outcome out;
  auto op =
      ex::connect(bounded_for_each(manual_range(items, 10), 3, [](int) {}), recorder{&out, &stop});
  ex::start(op);
  stop.request_stop();
  EXPECT_EQ(out.how, outcome::stopped);
  EXPECT_EQ(items.stopped_count, 3);
  EXPECT_EQ(items.started(), 3);
}

TEST(ForEach, OnStopFinishLetsWhatRunsFinish) {
  manual_items items;
  ex::inplace_stop_source stop;
  outcome out;
  std::vector<int> seen;
  auto op =
      ex::connect(bounded_for_each(manual_range(items, 10), 3, [&](int v) { seen.push_back(v); },
                                   {.on_stop = bounded_exec::on_stop::finish}),
                  recorder{&out, &stop});
  ex::start(op);
  stop.request_stop();
  EXPECT_EQ(items.stopped_count, 0); // nothing was asked to stop
  EXPECT_EQ(out.how, outcome::pending);
  for (int id : {2, 0, 1})
    items.complete(id, id);
  EXPECT_EQ(out.how, outcome::stopped);
  EXPECT_TRUE(seen.empty()); // stopping hands nothing more to fn
  EXPECT_EQ(items.started(), 3);
}

TEST(ForEach, ALimitOfZeroIsRefused) {
  EXPECT_THROW(bounded_for_each(std::vector<decltype(ex::just(0))>{}, 0, [](int) {}),
               std::invalid_argument);
  EXPECT_THROW(concurrency_limit(0), std::invalid_argument);
  EXPECT_THROW(bounded_scope(0), std::invalid_argument);
}

TEST(ForEach, AnEmptyInputCompletesAtOnce) {
  outcome out;
  auto op = ex::connect(bounded_for_each(std::vector<decltype(ex::just(0))>{}, 4, [](int) {}),
                        recorder{&out});
  ex::start(op);
  EXPECT_EQ(out.how, outcome::value);
}

TEST(ForEach, RunsFnOneCallAtATimeAcrossThreads) {
  exec::static_thread_pool pool(4);
  auto sched = pool.get_scheduler();
  std::atomic<int> inside{0}, overlaps{0}, running{0}, peak{0};
  long long sum = 0; // no lock: fn calls are serialised
  auto input =
      std::views::iota(0, 5000) | std::views::transform([&](int i) {
        return ex::schedule(sched) | ex::then([&, i] {
                 int now = ++running;
                 for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
                 }
                 --running;
                 return i;
               });
      });
  ex::sync_wait(bounded_for_each(input, 64, [&](int v) {
    if (inside++ != 0) ++overlaps;
    sum += v;
    --inside;
  }));
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(sum, 5000LL * 4999 / 2);
  EXPECT_LE(peak.load(), 64);
}

// ---- the soft limit

// Eight manual items under a limit the test changes.
auto eight_items(manual_items& items, concurrency_limit& limit, outcome& out) {
  return ex::connect(bounded_for_each(manual_range(items, 8), limit, [](int) {}), recorder{&out});
}

TEST(SoftLimit, LoweringItCancelsNothingAndHoldsRefillsBack) {
  manual_items items;
  concurrency_limit limit(4);
  outcome out;
  auto op = eight_items(items, limit, out);
  ex::start(op);
  EXPECT_EQ(items.running_count(), 4u);
  limit.set(2);
  EXPECT_EQ(items.stopped_count, 0);
  items.complete(0, 0); // 3 outstanding, not below 2
  EXPECT_EQ(items.started(), 4);
  items.complete(1, 1); // 2 outstanding
  EXPECT_EQ(items.started(), 4);
  items.complete(2, 2); // 1 outstanding: one more fits
  EXPECT_EQ(items.started(), 5);
  EXPECT_EQ(items.running_count(), 2u);
  items.complete_each(3, 8);
  EXPECT_EQ(out.how, outcome::value);
}

TEST(SoftLimit, RaisingItStartsWhatNowFits) {
  manual_items items;
  concurrency_limit limit(5, 2);
  outcome out;
  auto op = eight_items(items, limit, out);
  ex::start(op);
  EXPECT_EQ(items.running_count(), 2u);
  limit.set(5);
  EXPECT_EQ(items.running_count(), 5u); // at once, not at the next completion
  items.complete_each(0, 8);
  EXPECT_EQ(out.how, outcome::value);
}

TEST(SoftLimit, SettingItStartsNothingBeforeTheOperationStarts) {
  manual_items items;
  concurrency_limit limit(4, 1);
  outcome out;
  auto op = eight_items(items, limit, out);
  limit.set(3);
  EXPECT_EQ(items.started(), 0);
  ex::start(op);
  EXPECT_EQ(items.started(), 3);
  items.complete_each(0, 8);
  EXPECT_EQ(out.how, outcome::value);
}

TEST(SoftLimit, LoweringItFromFnWithValuesWaitingLosesNone) {
  concurrency_limit limit(4);
  int calls = 0;
  long long sum = 0;
  auto input = std::views::iota(0, 8) | std::views::transform([](int i) { return ex::just(i); });
  ex::sync_wait(bounded_for_each(input, limit, [&](int v) {
    if (calls++ == 0) limit.set(2); // three values wait in their places
    sum += v;
  }));
  EXPECT_EQ(calls, 8);
  EXPECT_EQ(sum, 28);
}

TEST(SoftLimit, OutOfRangeIsRefusedAndChangesNothing) {
  concurrency_limit limit(4, 2);
  EXPECT_THROW(limit.set(0), std::invalid_argument);
  EXPECT_THROW(limit.set(5), std::invalid_argument);
  EXPECT_EQ(limit.get(), 2u);
}

// ---- hostile uses

TEST(Hostile, AnItemThatCompletesInsideItsStopCallbackDuringTheStop) {
  manual_items items; // every manual item completes inside its stop callback
  outcome out;
  auto op = ex::connect(bounded_for_each(manual_range(items, 100), 50, [](int) {}), recorder{&out});
  ex::start(op);
  items.fail(7, std::make_exception_ptr(std::runtime_error("seven")));
  EXPECT_EQ(out.how, outcome::error);
  EXPECT_EQ(items.stopped_count, 49);
}

struct throws_when_copied {
  throws_when_copied() = default;
  throws_when_copied(const throws_when_copied&) { throw std::runtime_error("copy"); }
};

TEST(Hostile, AValueThatCannotBeStoredFailsTheWhole) {
  throws_when_copied v;
  auto input = std::views::iota(0, 3) | std::views::transform([&](int) {
                 return ex::just(std::ref(v)) |
                        ex::then([](auto r) -> throws_when_copied& { return r.get(); });
               });
  outcome out;
  bool called = false;
  auto op = ex::connect(bounded_for_each(input, 2, [&](throws_when_copied) { called = true; }),
                        recorder{&out});
  ex::start(op);
  EXPECT_EQ(out.how, outcome::error);
  EXPECT_EQ(out.message(), "copy");
  EXPECT_FALSE(called);
}

TEST(Hostile, AnInputThatThrowsEndsItAfterWhatRuns) {
  manual_items items;
  auto input = std::views::iota(0, 10) | std::views::transform([&](int i) {
                 if (i == 2) throw std::runtime_error("input");
                 return items.make(i);
               });
  outcome out;
  auto op = ex::connect(bounded_for_each(input, 4, [](int) {}), recorder{&out});
  ex::start(op);
  EXPECT_EQ(out.how, outcome::error);
  EXPECT_EQ(out.message(), "input");
  EXPECT_EQ(items.stopped_count, 2); // items 0 and 1 were asked to stop, and waited for
}

struct throws_on_connect {
  using sender_concept = ex::sender_tag;
  using completion_signatures = ex::completion_signatures<ex::set_value_t(int)>;
  template <class Rcvr>
  decltype(ex::connect(ex::just(0), std::declval<Rcvr>())) connect(Rcvr) const {
    throw std::runtime_error("connect");
  }
};

TEST(Hostile, AConnectThatThrowsEndsIt) {
  outcome out;
  auto op = ex::connect(bounded_for_each(std::vector<throws_on_connect>(3), 2, [](int) {}),
                        recorder{&out});
  ex::start(op);
  EXPECT_EQ(out.how, outcome::error);
  EXPECT_EQ(out.message(), "connect");
}

// The receiver destroys the operation state inside its completion, as a coroutine's frame does.
TEST(Hostile, SurvivesTheReceiverDestroyingTheOperationInItsCompletion) {
  manual_items items;
  struct deleting {
    using receiver_concept = ex::receiver_tag;
    std::function<void()>* done;
    void set_value() && noexcept { (*done)(); }
    void set_error(std::exception_ptr) && noexcept { (*done)(); }
    void set_stopped() && noexcept { (*done)(); }
  };
  auto nothing = [](int) {};
  using op_t = ex::connect_result_t<decltype(bounded_for_each(manual_range(items, 4), 2, nothing)),
                                    deleting>;
  std::function<void()> done;
  bool completed = false;
  auto* op =
      new op_t(ex::connect(bounded_for_each(manual_range(items, 4), 2, nothing), deleting{&done}));
  done = [&] {
    completed = true;
    delete op;
  };
  ex::start(*op);
  items.complete_each(0, 4);
  EXPECT_TRUE(completed);
}

TEST(Hostile, TakesAStopRequestFromAnotherThreadWhileItemsCompleteOnAPool) {
  for (int round = 0; round < 20; ++round) {
    exec::static_thread_pool pool(3);
    auto sched = pool.get_scheduler();
    std::atomic<int> alive{0}, after{0};
    std::atomic<bool> finished{false};
    ex::inplace_stop_source stop;
    auto input = std::views::iota(0) | std::views::transform([&](int i) {
                   ++alive;
                   return ex::schedule(sched) | ex::then([&, i] {
                            if (finished) ++after;
                            --alive;
                            return i;
                          }) |
                          ex::upon_stopped([&] { // the pool may stop it before it runs
                            if (finished) ++after;
                            --alive;
                            return -1;
                          });
                 });
    std::atomic<int> seen{0};
    std::thread stopper([&] {
      while (seen < 200)
        std::this_thread::yield();
      stop.request_stop();
    });
    struct waiter {
      using receiver_concept = ex::receiver_tag;
      std::atomic<bool>* finished;
      ex::inplace_stop_source* stop;
      void set_value() && noexcept { finished->store(true); }
      void set_error(std::exception_ptr) && noexcept { finished->store(true); }
      void set_stopped() && noexcept { finished->store(true); }
      auto get_env() const noexcept { return ex::prop{ex::get_stop_token, stop->get_token()}; }
    };
    auto op =
        ex::connect(bounded_for_each(input, 16, [&](int) { ++seen; }), waiter{&finished, &stop});
    ex::start(op);
    while (!finished)
      std::this_thread::yield();
    stopper.join();
    EXPECT_EQ(alive.load(), 0) << "an item outlived the operation";
    EXPECT_EQ(after.load(), 0);
  }
}

// ---- the bounded scope

struct association_holder {
  using receiver_concept = ex::receiver_tag;
  std::optional<bounded_scope::association>* held;
  bool* stopped;
  ex::inplace_stop_source* stop = nullptr;
  void set_value(bounded_scope::association a) && noexcept { held->emplace(std::move(a)); }
  void set_stopped() && noexcept { *stopped = true; }
  auto get_env() const noexcept {
    return ex::prop{ex::get_stop_token, stop ? stop->get_token() : ex::inplace_stop_token()};
  }
};

TEST(Scope, ModelsTheStandardsConcepts) {
  static_assert(ex::scope_token<bounded_scope::token>);
  static_assert(ex::scope_association<bounded_scope::association>);
}

TEST(Scope, APermitWaitsForRoomFirstInFirstOut) {
  bounded_scope scope(2);
  std::optional<bounded_scope::association> a[4];
  bool stopped[4] = {};
  auto op0 = ex::connect(scope.associate(), association_holder{&a[0], &stopped[0]});
  auto op1 = ex::connect(scope.associate(), association_holder{&a[1], &stopped[1]});
  auto op2 = ex::connect(scope.associate(), association_holder{&a[2], &stopped[2]});
  auto op3 = ex::connect(scope.associate(), association_holder{&a[3], &stopped[3]});
  ex::start(op0);
  ex::start(op1);
  ex::start(op2);
  ex::start(op3);
  EXPECT_TRUE(a[0] && *a[0] && a[1] && *a[1]);
  EXPECT_FALSE(a[2] || a[3]);
  EXPECT_FALSE(scope.get_token().try_associate()); // full: the standard's refusal
  a[1].reset();                                    // a place frees: the first waiter has it
  EXPECT_TRUE(a[2] && *a[2]);
  EXPECT_FALSE(a[3]);
  a[0].reset();
  EXPECT_TRUE(a[3] && *a[3]);
  a[2].reset();
  a[3].reset();
  ex::sync_wait(scope.join());
}

TEST(Scope, AStoppedPermitTakesNoPlace) {
  bounded_scope scope(1);
  auto held = scope.get_token().try_associate();
  ASSERT_TRUE(held);
  std::optional<bounded_scope::association> a;
  bool stopped = false;
  ex::inplace_stop_source stop;
  auto op = ex::connect(scope.associate(), association_holder{&a, &stopped, &stop});
  ex::start(op);
  stop.request_stop();
  EXPECT_TRUE(stopped);
  held = {};
  EXPECT_TRUE(scope.get_token().try_associate()); // the place went back, to nobody
}

TEST(Scope, ClosingRefusesWaitersAndNewAssociations) {
  bounded_scope scope(1);
  auto held = scope.get_token().try_associate();
  std::optional<bounded_scope::association> a;
  bool stopped = false;
  auto op = ex::connect(scope.associate(), association_holder{&a, &stopped});
  ex::start(op);
  scope.close();
  EXPECT_TRUE(stopped);
  held = {};
  EXPECT_FALSE(scope.get_token().try_associate());
  ex::sync_wait(scope.join());
}

TEST(Scope, RaisingTheLimitGrantsWaitersAndLoweringStopsNothing) {
  bounded_scope scope(3);
  scope.set_limit(1);
  auto held = scope.get_token().try_associate();
  std::optional<bounded_scope::association> a;
  bool stopped = false;
  auto op = ex::connect(scope.associate(), association_holder{&a, &stopped});
  ex::start(op);
  EXPECT_FALSE(a);
  scope.set_limit(2);
  EXPECT_TRUE(a && *a);
  scope.set_limit(1); // two held, limit one: nothing is taken back
  EXPECT_TRUE(held && *a);
  EXPECT_THROW(scope.set_limit(4), std::invalid_argument);
  a.reset();
  held = {};
  ex::sync_wait(scope.join());
}

TEST(Scope, BoundedSpawnNeverDropsWorkAndNeverExceedsTheLimit) {
  exec::static_thread_pool pool(4);
  bounded_scope scope(3);
  std::atomic<int> running{0}, peak{0}, done{0};
  for (int i = 0; i < 2000; ++i) {
    auto work = ex::schedule(pool.get_scheduler()) | ex::then([&]() noexcept {
                  int now = ++running;
                  for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
                  }
                  --running;
                  ++done;
                });
    ex::sync_wait(bounded_exec::bounded_spawn(std::move(work), scope)); // waits for room
  }
  ex::sync_wait(scope.join());
  EXPECT_EQ(done.load(), 2000);
  EXPECT_LE(peak.load(), 3);
}

TEST(Scope, PermitsRaceReleasesOnManyThreads) {
  bounded_scope scope(3);
  std::atomic<int> inside{0}, peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto [a] = ex::sync_wait(scope.associate()).value();
        int now = ++inside;
        for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
        }
        --inside;
      }
    });
  for (auto& t : threads)
    t.join();
  EXPECT_LE(peak.load(), 3);
  ex::sync_wait(scope.join());
}

} // namespace
