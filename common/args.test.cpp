#include "common/args.hpp"
#include "common/testing.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <set>
#include <string>
#include <vector>

using common::client_args;
using common::parse_client_args;

namespace {

client_args parse(std::vector<std::string> words,
                  common::client_options accepted = {.limit = 1000}) {
  words.insert(words.begin(), "client-test");
  std::vector<char*> argv;
  for (auto& w : words)
    argv.push_back(w.data());
  argv.push_back(nullptr);
  return parse_client_args(static_cast<int>(words.size()), argv.data(), accepted);
}

TEST(ClientArgs, DefaultsAreTheArticles) {
  auto args = parse({"10"});
  EXPECT_EQ(args.requests, 10u);
  EXPECT_EQ(args.limit, 1000u);
  EXPECT_EQ(args.url, "http://localhost:8080/{}");
  EXPECT_EQ(args.timeout, std::chrono::seconds(30));
  EXPECT_EQ(args.memory_limit, 0u);
}

TEST(ClientArgs, ReadsEveryOptionInBothSpellings) {
  auto args = parse({"--limit", "5", "100000000", "--url=http://127.0.0.1:1/{}", "--timeout",
                     "0.25", "--memory-limit=2G"},
                    {.limit = 1000, .memory_limit = true});
  EXPECT_EQ(args.requests, 100000000u);
  EXPECT_EQ(args.limit, 5u);
  EXPECT_EQ(args.url, "http://127.0.0.1:1/{}");
  EXPECT_EQ(args.timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(args.memory_limit, 2ull << 30);
}

TEST(ClientArgs, ZeroRequestsIsAValidRun) {
  EXPECT_EQ(parse({"0"}).requests, 0u);
}

using ClientArgsDeathTest = ::testing::Test;

TEST_F(ClientArgsDeathTest, BadInputExitsWithUsage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  struct bad_case {
    std::vector<std::string> words;
    const char* message;
  };
  const bad_case cases[] = {
      {{}, "missing N"},
      {{"abc"}, "N \\(the number of requests\\) must be a whole number"},
      {{"-5"}, "must be a whole number"},
      {{"1e3"}, "must be a whole number"},
      {{"10000000000000"}, "must be a whole number from 0 to 1000000000000"},
      {{"10", "20"}, "unexpected argument '20'"},
      {{"10", "--limit"}, "missing value after --limit"},
      {{"10", "--limit", "0"}, "--limit must be a whole number from 1"},
      {{"10", "--limit", "many"}, "--limit must be"},
      {{"10", "--limit", "2000000"}, "--limit must be"},
      {{"10", "--timeout", "0"}, "--timeout must be a number of seconds above 0"},
      {{"10", "--timeout", "-1"}, "--timeout must be"},
      {{"10", "--url", "localhost:8080/{}"}, "bad URL 'localhost:8080/\\{\\}'"},
      {{"10", "--url", "http://127.0.0.1:{port}/{}"},
       "has \\{port\\}, which only `timed` fills in"},
      {{"10", "--frobnicate"}, "unknown option --frobnicate"},
      {{"10", "--memory-limit", "2G"}, "unknown option --memory-limit"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.words));
    EXPECT_EXIT(parse(c.words), ::testing::ExitedWithCode(2),
                std::string("client-test: .*") + c.message + ".*\nUsage: client-test N .*\n" +
                    "Example: client-test ");
  }
}

TEST_F(ClientArgsDeathTest, SyncClientHasNoLimit) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(parse({"10", "--limit", "5"}, {}), ::testing::ExitedWithCode(2),
              "unknown option --limit");
}

TEST_F(ClientArgsDeathTest, MemoryLimitNeedsASize) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (const char* bad : {"0", "lots", "2T", "-1G", "G"})
    EXPECT_EXIT(parse({"10", "--memory-limit", bad}, {.limit = 1000, .memory_limit = true}),
                ::testing::ExitedWithCode(2), "--memory-limit must be a size such as 512M or 2G");
}

TEST_F(ClientArgsDeathTest, HelpPrintsUsageAndSucceeds) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        parse({"--help"});
        std::exit(1);
      },
      ::testing::ExitedWithCode(0), "");
}

} // namespace

namespace {

// Every option on the Usage line of `program --help` has a line of its own below it.
void expect_every_option_described(const std::string& help) {
  auto usage = help.substr(0, help.find('\n'));
  std::set<std::string> options;
  std::regex option("--[a-z-]+");
  for (auto it = std::sregex_iterator(usage.begin(), usage.end(), option);
       it != std::sregex_iterator(); ++it)
    options.insert(it->str());
  EXPECT_GE(options.size(), 2u) << usage;
  for (auto& name : options)
    EXPECT_TRUE(std::regex_search(help, std::regex("\n  " + name + " ")))
        << name << " is not described in\n"
        << help;
}

common::testing::process_result help_of(const std::string& program) {
  auto r = common::testing::run({program, "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out.substr(0, 7 + program.size()), "Usage: " + program) << r.out;
  EXPECT_NE(r.out.find("\nExample: " + program + " "), std::string::npos) << r.out;
  expect_every_option_described(r.out);
  return r;
}

class ClientHelp : public ::testing::TestWithParam<const char*> {};

TEST_P(ClientHelp, ListsEveryOptionWithItsDefaultAndUnit) {
  auto r = help_of(GetParam());
  for (auto text :
       {"  N                    the number of requests, 0 to 1000000000000\n",
        "(default http://localhost:8080/{})", "{} becomes the request's number", "(default 30 s)",
        "{port}", "`timed`", "PROGRESS=1", "PROGRESS=0", "130 when interrupted"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text << " is missing from\n" << r.out;
  bool is_sync = std::string(GetParam()) == "client-sync";
  EXPECT_EQ(r.out.find("--limit L            requests in flight at once, 1 to 1000000 (default "
                       "1000)\n") != std::string::npos,
            !is_sync)
      << r.out;
}

INSTANTIATE_TEST_SUITE_P(Programs, ClientHelp,
                         ::testing::Values("client-sync", "client-async-sem",
                                           "client-async-as-completed", "client-async-proposal"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(ClientHelp, TheEagerClientDescribesItsMemoryLimit) {
  auto r = help_of("client-async-sem");
  EXPECT_NE(r.out.find("  --memory-limit SIZE  caps the address space, e.g. 512M or 2G"),
            std::string::npos)
      << r.out;
}

TEST(ServerHelp, ListsEveryOptionWithItsDefaultAndUnit) {
  auto r = help_of("server");
  for (auto text : {"(default 127.0.0.1)", "0 for any free one (default 8080)",
                    "in --delay-unit units", "(default 3)", "(default s, the article's)",
                    "(default: a random seed)", "(default 100000)", "allowed (default 60 s)"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text << " is missing from\n" << r.out;
}

TEST(TimedHelp, ListsEveryOptionAndWhatPortMeans) {
  auto r = help_of("timed");
  for (auto text :
       {"Every {port} in COMMAND becomes the port the server listens on", "`{}` is left alone",
        "PROGRESS=1", "(default: `server` beside timed)", "Memory usage: ...KB"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text << " is missing from\n" << r.out;
}

} // namespace
