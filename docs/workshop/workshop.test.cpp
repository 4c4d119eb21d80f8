// The workshop's code does what the page says: the sketch hands over finished operations in the
// order they finish, and exercise 8's answer keeps the contract every async client keeps.
#include "tests/testing.hpp"

#include <gtest/gtest.h>

#include <string>

using common::testing::run;
using common::testing::running_server;
using common::testing::zero_delay;
using namespace std::chrono_literals;

namespace {

TEST(Workshop, SketchTakesEachFinishedOperationOnceInTheOrderTheyFinish) {
  auto r = run({"workshop-notify-sketch"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "finished: 2\nfinished: 3\nfinished: 1\n") << "timers of 30, 10 and 20 ms";
}

TEST(Workshop, NotifyingClientMakesEveryRequestExactlyOnceWithinTheLimit) {
  auto options = zero_delay();
  options.max_delay = 5; // 0-5 ms, so that requests overlap and the limit is exercised
  options.delay_unit = 1ms;
  options.seed = 7;
  running_server server(options);
  auto r = run({"workshop-notify", "3000", "--limit", "50", "--url", server.url()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "3000 requests: ok 3000, failed 0\n");
  auto names = server.names();
  ASSERT_EQ(names.size(), 3000u);
  for (int i = 0; i < 3000; ++i)
    ASSERT_EQ(names[std::to_string(i)], 1) << "request " << i;
  EXPECT_LE(server.stats().peak_in_flight, 50u);
}

} // namespace
