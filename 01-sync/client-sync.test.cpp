#include "common/testing.hpp"

#include <gtest/gtest.h>

using common::testing::run;
using common::testing::running_server;

namespace {

TEST(ClientSync, MakesEveryRequestOnceOnANewConnection) {
  running_server server;
  auto r = run({"client-sync", "20", "--url", server.url()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "20 requests: ok 20, failed 0\n");
  auto names = server.names();
  ASSERT_EQ(names.size(), 20u);
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(names[std::to_string(i)], 1) << i;
  auto stats = server.stats();
  EXPECT_EQ(stats.connections, 20u) << "one connection per request, as requests.get makes";
  EXPECT_EQ(stats.peak_in_flight, 1u) << "one request at a time";
}

TEST(ClientSync, ZeroRequestsSucceedsAtOnce) {
  auto r = run({"client-sync", "0"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "0 requests: ok 0, failed 0\n");
}

TEST(ClientSync, CountsFailuresWhenNoServerListens) {
  auto port = std::to_string(common::testing::unused_port());
  auto r = run({"client-sync", "3", "--url", "http://127.0.0.1:" + port + "/{}"},
               std::chrono::seconds(20));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "3 requests: ok 0, failed 3 (first failure: connect to 127.0.0.1:" + port +
                       ": connection failed)\n");
}

TEST(ClientSync, CountsErrorStatuses) {
  running_server server;
  auto r = run(
      {"client-sync", "2", "--url", "http://127.0.0.1:" + std::to_string(server.port()) + "/a/{}"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "2 requests: ok 0, failed 2 (first failure: status: HTTP 404)\n");
}

TEST(ClientSync, RejectsBadArguments) {
  for (auto args :
       std::vector<std::vector<std::string>>{{"client-sync"},
                                             {"client-sync", "ten"},
                                             {"client-sync", "-1"},
                                             {"client-sync", "10", "--limit", "5"},
                                             {"client-sync", "10", "--url", "ftp://x/{}"},
                                             {"client-sync", "10", "--timeout", "soon"}}) {
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("\nUsage: client-sync N [--url TEMPLATE] [--timeout SECONDS]\n"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("\nExample: client-sync 10 --url http://localhost:8080/{}\n"),
              std::string::npos)
        << r.err;
  }
}

} // namespace
