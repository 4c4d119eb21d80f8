#include "common/args.hpp"

#include <gtest/gtest.h>

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
