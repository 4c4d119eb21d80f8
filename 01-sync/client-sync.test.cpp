#include "tests/testing.hpp"

#include <gtest/gtest.h>

using common::testing::run;
using common::testing::running_server;

namespace {

// The C++ client, and the article's in Python (client-sync.py, skipped where Debian's
// python3-requests is missing), which keeps the same contract.
class ClientSync : public ::testing::TestWithParam<std::string> {
protected:
  void SetUp() override {
    if (GetParam().ends_with(".py") && common::testing::python_missing())
      GTEST_SKIP() << common::testing::python_missing();
  }
};

TEST_P(ClientSync, MakesEveryRequestOnceOnANewConnection) {
  running_server server;
  auto r = run({GetParam(), "20", "--url", server.url()});
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

TEST_P(ClientSync, ZeroRequestsSucceedsAtOnce) {
  auto r = run({GetParam(), "0"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "0 requests: ok 0, failed 0\n");
}

TEST(ClientSyncCpp, CountsFailuresWhenNoServerListens) {
  auto port = std::to_string(common::testing::unused_port());
  auto r = run({"client-sync", "3", "--url", "http://127.0.0.1:" + port + "/{}"},
               std::chrono::seconds(20));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "3 requests: ok 0, failed 3 (first failure: connect to 127.0.0.1:" + port +
                       ": connection failed)\n");
}

TEST_P(ClientSync, CountsErrorStatuses) {
  running_server server;
  auto r = run(
      {GetParam(), "2", "--url", "http://127.0.0.1:" + std::to_string(server.port()) + "/a/{}"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "2 requests: ok 0, failed 2 (first failure: status: HTTP 404)\n");
}

TEST_P(ClientSync, RejectsBadArguments) {
  for (auto args : std::vector<std::vector<std::string>>{{},
                                                         {"ten"},
                                                         {"-1"},
                                                         {"10", "--limit", "5"},
                                                         {"10", "--url", "ftp://x/{}"},
                                                         {"10", "--timeout", "soon"}}) {
    args.insert(args.begin(), GetParam());
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.err.find(GetParam() + ": "), 0u) << "one line saying what is wrong:\n" << r.err;
    EXPECT_NE(r.err.find("\nUsage: " + GetParam() + " N [--url TEMPLATE] [--timeout SECONDS]\n"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("\nExample: " + GetParam() + " 10 --url http://localhost:8080/{}\n"),
              std::string::npos)
        << r.err;
  }
}

INSTANTIATE_TEST_SUITE_P(Programs, ClientSync, ::testing::Values("client-sync", "client-sync.py"),
                         [](const auto& info) {
                           return info.param == "client-sync" ? std::string("cpp")
                                                              : std::string("python");
                         });

} // namespace
