#include "common/summary.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using common::parse_progress_line;
using common::progress;
using common::progress_line;

TEST(ProgressLine, ReadsBackWhatItWrites) {
  progress p{.seconds = 12,
             .done = 3456,
             .requests = 10000,
             .rate = 288,
             .rss_mib = 5.9,
             .failed = 2,
             .eta = "0:00:23"};
  auto line = progress_line(p);
  EXPECT_EQ(line, "progress: 12 s, 3456 of 10000 requests (34.6%), 288/s, RSS 5.9 MiB, 2 failed, "
                  "ETA 0:00:23");
  auto back = parse_progress_line(line);
  ASSERT_TRUE(back) << line;
  EXPECT_EQ(back->seconds, p.seconds);
  EXPECT_EQ(back->done, p.done);
  EXPECT_EQ(back->requests, p.requests);
  EXPECT_EQ(back->rate, p.rate);
  EXPECT_DOUBLE_EQ(back->rss_mib, p.rss_mib);
  EXPECT_EQ(back->failed, p.failed);
  EXPECT_EQ(back->eta, p.eta);
}

TEST(ProgressLine, RoundsAsItPrints) {
  auto back = parse_progress_line(progress_line(
      {.seconds = 1.6, .done = 1, .requests = 3, .rate = 0.4, .rss_mib = 1.26, .eta = "?"}));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->seconds, 2);
  EXPECT_EQ(back->rate, 0);
  EXPECT_DOUBLE_EQ(back->rss_mib, 1.3);
  EXPECT_EQ(back->eta, "?");
}

TEST(ProgressLine, RefusesOtherLines) {
  for (std::string line : {"", "10 requests: ok 10, failed 0", "progress: 3 s, 5 of 9 requests",
                           "Memory usage: 6000KB\tTime: 1.00 seconds\tCPU usage: 99%"})
    EXPECT_FALSE(parse_progress_line(line)) << line;
}

} // namespace
