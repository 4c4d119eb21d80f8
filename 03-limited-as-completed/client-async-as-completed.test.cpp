#include "tests/testing.hpp"

#include <gtest/gtest.h>

using common::testing::run;
using common::testing::running_server;

namespace {

TEST(ClientAsyncAsCompleted, MemoryStaysFlatAsRequestsGrow) {
#ifdef SANITIZED_BUILD
  GTEST_SKIP() << "a sanitizer's shadow memory hides the client's own";
#endif
  running_server server;
  auto small = run({"client-async-as-completed", "20000", "--url", server.url()});
  auto large = run({"client-async-as-completed", "200000", "--url", server.url()});
  ASSERT_EQ(small.exit_code, 0) << small.err;
  ASSERT_EQ(large.exit_code, 0) << large.err;
  EXPECT_LT(large.max_rss_kb, small.max_rss_kb * 12 / 10)
      << "peak RSS " << small.max_rss_kb << " KB at 20,000 requests, " << large.max_rss_kb
      << " KB at 200,000: only `limit` requests exist at a time";
}

} // namespace
