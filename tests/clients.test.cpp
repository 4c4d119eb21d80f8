// What every async client promises, whatever its mechanism: each request made exactly once, never
// more than --limit in flight, failures counted and reported, bad input refused, and an
// interrupted run's summary printed (the synchronous client keeps that last promise too).
#include "tests/testing.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <future>
#include <regex>

#include <unistd.h>

using common::testing::run;
using common::testing::running_server;
using common::testing::zero_delay;
using namespace std::chrono_literals;

namespace {

// Each async client: the C++ stages' and the article's Python programs (named NAME.py), which
// keep the same contract.
class AsyncClient : public ::testing::TestWithParam<const char*> {
protected:
  void SetUp() override {
    if (is_python() && common::testing::python_missing())
      GTEST_SKIP() << common::testing::python_missing();
  }
  bool is_python() const { return std::string_view(GetParam()).ends_with(".py"); }
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
    return client({"10000", "--limit", "20", "--url", server.url(), "--timeout", "10"});
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
      std::regex("^10000 requests: ok ([0-9]+), failed ([0-9]+) \\(first failure: "
                 "(read|write|connect to 127.0.0.1:[0-9]+): [^)]+\\)\n$")))
      << r.err;
  EXPECT_EQ(std::stoull(m[1]) + std::stoull(m[2]), 10000u);
  EXPECT_GE(std::stoull(m[1]), 100u - 20u) << "the requests answered before the stop count as ok";
}

TEST_P(AsyncClient, RejectsBadArguments) {
  for (auto args : std::vector<std::vector<std::string>>{{},
                                                         {"many"},
                                                         {"10", "--limit", "0"},
                                                         {"10", "--limit"},
                                                         {"10", "--url", "x"},
                                                         {"10", "--url", "http://h:{port}/{}"}}) {
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

TEST_P(AsyncClient, SaysThatOnlyTimedFillsInThePort) {
  auto r = client({"10", "--url", "http://127.0.0.1:{port}/{}"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err.substr(0, r.err.find('\n')),
            std::string(GetParam()) +
                ": the URL 'http://127.0.0.1:{port}/{}' has {port}, which only `timed` fills in "
                "(with its server's port); give the port itself, or run this through timed")
      << r.err;
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
  // The format is common::progress_line's (common/summary.cpp), which the live view parses with
  // common::parse_progress_line; this regex holds the benchmarks' awk and the tour to it too.
  EXPECT_TRUE(std::regex_search(
      r.err, std::regex("progress: [0-9]+ s, [0-9]+ of 1000 requests \\([0-9.]+%\\), [0-9]+/s, "
                        "RSS [0-9.]+ MiB, 0 failed, ETA [0-9:]+\n")))
      << r.err;
  EXPECT_NE(r.err.find("\n1000 requests: ok 1000, failed 0\n"), std::string::npos) << r.err;
}

// Runs `client ARGS...` against a server with delays of 0-3 ms, signals it once the server has
// seen its first requests, and returns what it printed: a bounded wait on each side.
common::testing::process_result interrupt(const std::string& client, std::vector<std::string> args,
                                          int signal) {
  auto options = short_delays();
  options.max_delay = 3;
  running_server server(options);
  // The shell writes its process id, which the client keeps: exec replaces the shell.
  char pid_file[] = "/tmp/client-pid-XXXXXX";
  close(mkstemp(pid_file));
  std::string command = "echo $$ > " + std::string(pid_file) + " && exec " +
                        common::testing::bin(client) + " --url " + server.url();
  for (auto& a : args)
    command += " " + a;
  auto result = std::async(std::launch::async, [&] { return run({"/bin/sh", "-c", command}); });
  pid_t pid = 0;
  bool started = common::testing::wait_until([&] {
    std::ifstream in(pid_file);
    return in >> pid && server.stats().requests >= 10;
  });
  if (started) kill(pid, signal);
  auto r = result.get(); // run() gives up, and kills it, after a minute
  unlink(pid_file);
  EXPECT_TRUE(started) << "the client made no requests";
  return r;
}

// `interrupted after K of N requests: ok X, failed 0, not made Y`, with K = X and K + Y = N.
void expect_interrupted_line(const common::testing::process_result& r, std::uint64_t n) {
  std::smatch m;
  ASSERT_TRUE(std::regex_match(
      r.err, m,
      std::regex("interrupted after ([0-9]+) of ([0-9]+) requests: ok ([0-9]+), failed 0, not "
                 "made ([0-9]+)\n")))
      << r.err;
  EXPECT_EQ(std::stoull(m[2]), n);
  EXPECT_EQ(m[1], m[3]);
  EXPECT_GT(std::stoull(m[1]), 0u);
  EXPECT_EQ(std::stoull(m[1]) + std::stoull(m[4]), n);
}

// 50,000 requests of 0-3 ms, two at a time, would take about 40 s: the signal comes long before.
TEST_P(AsyncClient, CtrlCPrintsTheSummarySoFarAndExits130) {
  auto r = interrupt(GetParam(), {"50000", "--limit", "2"}, SIGINT);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 130) << r.err;
  expect_interrupted_line(r, 50000);
}

TEST_P(AsyncClient, SigtermPrintsTheSummarySoFarAndExits143) {
  auto r = interrupt(GetParam(), {"50000", "--limit", "2"}, SIGTERM);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 128 + SIGTERM) << r.err;
  expect_interrupted_line(r, 50000);
}

class SyncClient : public AsyncClient {};

TEST_P(SyncClient, CtrlCPrintsTheSummarySoFarAndExits130) {
  auto r = interrupt(GetParam(), {"50000"}, SIGINT);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 130) << r.err;
  expect_interrupted_line(r, 50000);
}

std::string test_name(const ::testing::TestParamInfo<const char*>& info) {
  std::string name = info.param;
  std::replace(name.begin(), name.end(), '-', '_');
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Stages, AsyncClient,
                         ::testing::Values("client-async-sem", "client-async-as-completed",
                                           "client-async-proposal", "client-async-sem.py",
                                           "client-async-as-completed.py",
                                           "client-async-proposal.py"),
                         test_name);
INSTANTIATE_TEST_SUITE_P(Stages, SyncClient, ::testing::Values("client-sync", "client-sync.py"),
                         test_name);

} // namespace
