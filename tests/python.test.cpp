// The article's programs in Python beside ours: client-sync.py against no server, our clients
// against server.py, and timed running them with {port} filled in. The other Python clients keep
// the contracts of clients.test.cpp and client-sync.test.cpp, where they are tested with ours.
// Every test is skipped, with a note, where Debian's python3-aiohttp or python3-requests is
// missing.
#include "tests/testing.hpp"

#include <gtest/gtest.h>

#include <regex>

using common::testing::bin;
using common::testing::run;
using common::testing::running_server;
using common::testing::server_process;

namespace {

class Python : public ::testing::Test {
protected:
  void SetUp() override {
    if (auto missing = common::testing::python_missing()) GTEST_SKIP() << missing;
  }
};

using PythonServer = Python;
using PythonSyncClient = Python;

TEST_F(PythonSyncClient, CountsFailuresWhenNoServerListens) {
  auto port = std::to_string(common::testing::unused_port());
  auto r = run({"client-sync.py", "3", "--url", "http://127.0.0.1:" + port + "/{}"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "3 requests: ok 0, failed 3 (first failure: connect to 127.0.0.1:" + port +
                       ": Connection refused)\n");
}

// Our clients against the article's server, rewritten for today's aiohttp.
TEST_F(PythonServer, AnswersEveryRequestOfOurClients) {
  for (auto client :
       {"client-sync", "client-async-sem", "client-async-as-completed", "client-async-proposal"}) {
    SCOPED_TRACE(client);
    server_process server({"--port", "0", "--max-delay", "0"}, bin("server.py"));
    bool sync = std::string(client) == "client-sync";
    std::string n = sync ? "20" : "500";
    std::vector<std::string> args = {client, n, "--url", server.url()};
    if (!sync) args.insert(args.end(), {"--limit", "50"});
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, n + " requests: ok " + n + ", failed 0\n");
    auto stopped = server.stop();
    EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
    EXPECT_TRUE(std::regex_match(
        stopped.out, std::regex("served " + n + " requests, peak [0-9]+ requests at once\n")))
        << stopped.out;
  }
}

TEST_F(PythonServer, RejectsBadArgumentsInOneLine) {
  for (auto args : std::vector<std::vector<std::string>>{{"server.py", "--port", "70000"},
                                                         {"server.py", "--max-delay", "x"},
                                                         {"server.py", "--delay-unit", "min"},
                                                         {"server.py", "--frobnicate"}}) {
    SCOPED_TRACE(::testing::PrintToString(args));
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_TRUE(std::regex_match(r.err, std::regex("server\\.py: [^\n]+\nUsage: server\\.py "
                                                   "[^\n]+\nExample: server\\.py [^\n]+\n")))
        << r.err;
  }
}

// The tour's runs: timed starts server.py (or ours), fills in {port}, and times a Python client.
TEST_F(Python, TimedRunsThemWithThePortFilledIn) {
  for (auto server : {"server", "server.py"}) {
    SCOPED_TRACE(server);
    auto r = run({"timed", "--server", bin(server), "--server-args", "--port 0 --max-delay 0", "--",
                  bin("client-async-as-completed.py"), "100", "--limit", "10", "--url",
                  "http://127.0.0.1:{port}/{}"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("100 requests: ok 100, failed 0\n"), std::string::npos) << r.err;
    EXPECT_TRUE(std::regex_search(r.err, std::regex("Memory usage: [0-9]+KB\tTime: [0-9.]+ "
                                                    "seconds\tCPU usage: [0-9]+%\n")))
        << r.err;
    EXPECT_NE(r.err.find("\nserver: served 100 requests, peak "), std::string::npos) << r.err;
  }
}

} // namespace
