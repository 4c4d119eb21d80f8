// What every async client promises, whatever its mechanism: each request made exactly once, never
// more than --limit in flight, failures counted and reported, bad input refused.
#include "common/testing.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <regex>

using common::testing::run;
using common::testing::running_server;
using common::testing::zero_delay;
using namespace std::chrono_literals;

namespace {

class AsyncClient : public ::testing::TestWithParam<const char*> {
protected:
  common::testing::process_result client(std::vector<std::string> args) {
    args.insert(args.begin(), GetParam());
    return run(args);
  }
};

// The server sleeps 0-5 ms per request, so that requests overlap and the limit is exercised.
server::options short_delays() {
  auto options = zero_delay();
  options.max_delay = 5;
  options.delay_unit = 1ms;
  options.seed = 7;
  return options;
}

TEST_P(AsyncClient, MakesEveryRequestExactlyOnceWithinTheLimit) {
  running_server server(short_delays());
  auto r = client({"3000", "--limit", "50", "--url", server.url()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "3000 requests: ok 3000, failed 0\n");
  auto names = server.names();
  ASSERT_EQ(names.size(), 3000u);
  for (int i = 0; i < 3000; ++i)
    ASSERT_EQ(names[std::to_string(i)], 1) << "request " << i;
  auto stats = server.stats();
  EXPECT_LE(stats.peak_in_flight, 50u);
  EXPECT_LE(stats.peak_connections, 50u) << "connections are reused, never more than the limit";
}

TEST_P(AsyncClient, LimitOneMakesOneRequestAtATime) {
  running_server server(short_delays());
  auto r = client({"200", "--limit", "1", "--url", server.url()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.names().size(), 200u);
  EXPECT_EQ(server.stats().peak_in_flight, 1u);
  EXPECT_EQ(server.stats().connections, 1u);
}

TEST_P(AsyncClient, LimitAboveNMakesAllAtOnce) {
  running_server server(short_delays());
  auto r = client({"10", "--limit", "1000", "--url", server.url()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "10 requests: ok 10, failed 0\n");
  EXPECT_LE(server.stats().peak_connections, 10u);
}

TEST_P(AsyncClient, ZeroRequestsIsDoneAtOnce) {
  auto r = client({"0", "--url", "http://127.0.0.1:1/{}"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "0 requests: ok 0, failed 0\n");
}

TEST_P(AsyncClient, CountsFailuresWhenNoServerListens) {
  auto port = std::to_string(common::testing::unused_port());
  auto r = client({"100", "--limit", "10", "--url", "http://127.0.0.1:" + port + "/{}"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "100 requests: ok 0, failed 100 (first failure: connect to 127.0.0.1:" + port +
                       ": Connection refused)\n");
}

TEST_P(AsyncClient, CountsFailuresWhenTheServerStopsMidRun) {
  auto options = short_delays();
  options.max_delay = 20;
  running_server server(options);
  auto result = std::async(std::launch::async, [&] {
    return client({"100000", "--limit", "20", "--url", server.url(), "--timeout", "10"});
  });
  while (server.stats().requests < 100)
    std::this_thread::yield();
  server.stop();
  auto r = result.get();
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      r.err, m,
      std::regex("^100000 requests: ok ([0-9]+), failed ([0-9]+) \\(first failure: "
                 "(read|write|connect to 127.0.0.1:[0-9]+): [^)]+\\)\n$")))
      << r.err;
  EXPECT_EQ(std::stoull(m[1]) + std::stoull(m[2]), 100000u);
  EXPECT_GE(std::stoull(m[1]), 100u - 20u) << "the requests answered before the stop count as ok";
}

TEST_P(AsyncClient, RejectsBadArguments) {
  for (auto args : std::vector<std::vector<std::string>>{
           {}, {"many"}, {"10", "--limit", "0"}, {"10", "--limit"}, {"10", "--url", "x"}}) {
    auto r = client(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(std::string("\nUsage: ") + GetParam() + " N [--limit L] [--url TEMPLATE]"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find(std::string("\nExample: ") + GetParam() + " 10000 --limit 1000"),
              std::string::npos)
        << r.err;
  }
}

TEST_P(AsyncClient, SaysWhichLimitTheFileDescriptorsAllow) {
  // A shell lowers the open-file limit for the client alone.
  auto r = run({"/bin/sh", "-c",
                std::string("ulimit -n 64 && exec ") + common::testing::bin(GetParam()) +
                    " 10 --limit 1000"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--limit 1000 needs 1032 open files, but this process may open 64; raise "
                       "the limit with `ulimit -n` or lower --limit"),
            std::string::npos)
      << r.err;
}

TEST_P(AsyncClient, ShowsProgressWhenAsked) {
  // 1,000 requests one at a time, each delayed 0-3 ms: well over the one second between reports.
  auto options = short_delays();
  options.max_delay = 3;
  running_server server(options);
  auto r = run({"/bin/sh", "-c",
                std::string("PROGRESS=1 exec ") + common::testing::bin(GetParam()) +
                    " 1000 --limit 1 --url " + server.url()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_search(
      r.err, std::regex("progress: [0-9]+ s, [0-9]+ of 1000 requests \\([0-9.]+%\\), [0-9]+/s, "
                        "RSS [0-9.]+ MB, 0 failed, ETA [0-9:]+\n")))
      << r.err;
  EXPECT_NE(r.err.find("\n1000 requests: ok 1000, failed 0\n"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Stages, AsyncClient,
                         ::testing::Values("client-async-sem", "client-async-as-completed",
                                           "client-async-proposal"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

} // namespace
