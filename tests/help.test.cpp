// Every program's --help, as a user runs it: the clients', the server's and timed's.
#include "tests/testing.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <set>
#include <string>

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
