#include "tests/testing.hpp"

#include <gtest/gtest.h>

#include <regex>

using common::testing::run;
using common::testing::running_server;

namespace {

const std::regex
    article_line("Memory usage: [0-9]+KB\tTime: [0-9]+\\.[0-9][0-9] seconds\tCPU usage: [0-9]+%\n");

TEST(Timed, StartsTheServerRunsTheCommandAndPrintsTheArticlesLine) {
  auto r = run({"timed", "--server-args", "--port 0 --max-delay 0", "--",
                common::testing::bin("client-sync"), "5", "--url", "http://127.0.0.1:{port}/{}"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("5 requests: ok 5, failed 0\n"), std::string::npos) << r.err;
  EXPECT_TRUE(std::regex_search(r.err, article_line)) << r.err;
  // One connection per request; the last may not have closed before the next one opened.
  EXPECT_TRUE(std::regex_search(
      r.err, std::regex("\nserver: served 5 requests, peak [12] concurrent connections\n")))
      << r.err;
}

TEST(Timed, PassesTheCommandsExitStatusThrough) {
  auto r = run({"timed", "--no-server", "--", "/bin/sh", "-c", "exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("Command exited with non-zero status 3\n"), std::string::npos) << r.err;
  EXPECT_TRUE(std::regex_search(r.err, article_line)) << r.err;
}

TEST(Timed, SaysWhenTheCommandWasKilled) {
  auto r = run({"timed", "--no-server", "--", "/bin/sh", "-c", "kill -9 $$"});
  EXPECT_EQ(r.exit_code, 128 + 9);
  EXPECT_NE(r.err.find("Command terminated by signal 9\n"), std::string::npos) << r.err;
}

TEST(Timed, MeasuresTheCommandsPeakMemory) {
  // The shell keeps a 32 MiB string in a variable, so its peak is at least that.
  auto r = run({"timed", "--no-server", "--", "/bin/sh", "-c",
                "x=$(head -c 33554432 /dev/zero | tr '\\0' x); echo ${#x}"});
  EXPECT_EQ(r.out, "33554432\n");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex("Memory usage: ([0-9]+)KB"))) << r.err;
  EXPECT_GE(std::stoll(m[1]), 32768);
  EXPECT_LT(std::stoll(m[1]), 4 * 32768);
}

TEST(Timed, ReportsACommandThatCannotRun) {
  auto r = run({"timed", "--no-server", "--", "/no/such/program"});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_NE(r.err.find("timed: cannot run '/no/such/program': No such file or directory"),
            std::string::npos)
      << r.err;
}

TEST(Timed, SaysThatTheServerExitedWhenItsPortIsInUse) {
  running_server busy; // holds the port
  auto port = std::to_string(busy.port());
  auto r = run({"timed", "--server-args", "--port " + port, "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "timed: the server exited before it was listening (exit status 1): server: port " +
                port + " on 127.0.0.1 is already in use; pick another with --port\n");
}

TEST(Timed, SaysThatTheServerExitedOnATypoInItsArguments) {
  auto r = run({"timed", "--server-args", "--port 0 --max-dealy 0", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "timed: the server exited before it was listening (exit status 2): server: "
                   "unknown argument --max-dealy\n");
}

TEST(Timed, SaysWhenTheServerSaidNothing) {
  auto r = run({"timed", "--server", "/bin/true", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "timed: the server exited before it was listening (exit status 0), saying "
                   "nothing\n");
}

TEST(Timed, PassesOnWhatTheServerWritesToStderrWhileItRuns) {
  // Listening on every address makes the server warn as it starts.
  auto r = run({"timed", "--server-args", "--port 0 --max-delay 0 --host 0.0.0.0", "--",
                common::testing::bin("client-sync"), "2", "--url", "http://127.0.0.1:{port}/{}"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("server: warning: listening on 0.0.0.0, reachable from other machines\n"),
            0u)
      << r.err;
  EXPECT_NE(r.err.find("\n2 requests: ok 2, failed 0\n"), std::string::npos) << r.err;
}

TEST(Timed, RejectsBadArguments) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"timed"}, {"timed", "--frob", "--", "true"}, {"timed", "--server-args"}}) {
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("Usage: timed "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("Example: timed "), std::string::npos) << r.err;
  }
}

} // namespace
