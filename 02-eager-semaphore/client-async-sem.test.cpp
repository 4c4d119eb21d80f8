#include "common/platform.hpp"
#include "tests/testing.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <string>

using common::testing::run;
using common::testing::running_server;

namespace {

TEST(ClientAsyncSem, MemoryGrowsWithTheNumberOfRequests) {
#ifdef SANITIZED_BUILD
  GTEST_SKIP() << "a sanitizer's shadow memory hides the client's own";
#endif
  running_server server;
  auto small = run({"client-async-sem", "20000", "--url", server.url()});
  auto large = run({"client-async-sem", "200000", "--url", server.url()});
  ASSERT_EQ(small.exit_code, 0) << small.err;
  ASSERT_EQ(large.exit_code, 0) << large.err;
  EXPECT_GT(large.max_rss_kb, 3 * small.max_rss_kb)
      << "peak RSS " << small.max_rss_kb << " KB at 20,000 requests, " << large.max_rss_kb
      << " KB at 200,000: every request waits in memory from the start";
}

TEST(ClientAsyncSem, MemoryLimitFailsFastWithAClearMessage) {
#ifdef SANITIZED_BUILD
  GTEST_SKIP() << "a sanitizer reserves more address space than the limit";
#endif
  auto url = "http://127.0.0.1:" + std::to_string(common::testing::unused_port()) + "/{}";
  auto r = run({"client-async-sem", "100000000", "--memory-limit", "256M", "--url", url},
               std::chrono::seconds(60));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  if (std::string(common::platform::name()) == "posix") {
    // No RLIMIT_AS: the resident size is checked every 10 ms, and may pass the cap by what the
    // client allocates in that time.
    EXPECT_TRUE(std::regex_match(
        r.err, std::regex("out of memory: the resident size reached [0-9]+ KB, over "
                          "--memory-limit's 262144 KB \\(checked every 10 ms: [^\n]*\\)\n")))
        << r.err;
    EXPECT_LT(r.max_rss_kb, 320 * 1024);
    return;
  }
  std::smatch m;
  ASSERT_TRUE(std::regex_match(r.err, m,
                               std::regex("out of memory after creating ([0-9]+) of 100000000 "
                                          "requests \\(~([0-9]+) bytes each\\)\n")))
      << r.err;
  EXPECT_GT(std::stoull(m[1]), 10000u);
  EXPECT_LT(std::stoull(m[1]), 100000000u);
  EXPECT_GT(std::stoull(m[2]), 100u);
  EXPECT_LT(r.max_rss_kb, 256 * 1024);
}

// Against a server that answers at once, the first requests run while the loop still creates the
// others, and memory could run out inside one of them, in Asio, where a std::bad_alloc ends the
// program with std::terminate (exit 134). It must end as above, every time.
TEST(ClientAsyncSem, MemoryLimitWhileRequestsRunFailsTheSameWay) {
#ifdef SANITIZED_BUILD
  GTEST_SKIP() << "a sanitizer reserves more address space than the limit";
#endif
  running_server server;
  for (const char* limit : {"256M", "512M", "640M"}) {
    auto r = run({"/bin/sh", "-c",
                  std::string("PROGRESS=1 exec ") + common::testing::bin("client-async-sem") +
                      " 100000000 --memory-limit " + limit + " --url " + server.url()},
                 std::chrono::seconds(60));
    EXPECT_FALSE(r.timed_out) << limit;
    EXPECT_EQ(r.exit_code, 3) << limit << ": " << r.err;
    auto line =
        std::string(common::platform::name()) == "posix"
            ? "(^|\n)out of memory: the resident size reached [0-9]+ KB, over "
              "--memory-limit's [0-9]+ KB \\(checked every 10 ms: [^\n]*\\)\n$" // no RLIMIT_AS
            : "(^|\n)out of memory after creating [0-9]+ of 100000000 requests "
              "\\(~[0-9]+ bytes each\\)\n$";
    EXPECT_TRUE(std::regex_search(r.err, std::regex(line))) << limit << ": " << r.err;
  }
}

} // namespace
