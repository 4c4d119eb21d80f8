// The tour (the README's first command), run on a few small stages against a server without
// delays: its arguments, its table and its CSV, and its plots when gnuplot is there. What it says
// before a long run is checked with stand-ins for the programs, which return at once.
#include "tests/testing.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <sys/stat.h>

using common::testing::run;
namespace fs = std::filesystem;

namespace {

std::string tour() {
  return std::string(SOURCE_DIR) + "/tour";
}

struct scratch_dir {
  scratch_dir() {
    char name[] = "/tmp/tour-test-XXXXXX";
    path = mkdtemp(name);
  }
  ~scratch_dir() { fs::remove_all(path); }
  fs::path path;
};

void write_script(const fs::path& path, const std::string& text) {
  std::ofstream(path) << "#!/bin/sh\n" << text;
  chmod(path.c_str(), 0755);
}

// A bin directory of stand-ins: `timed` prints what a run prints, the clients do nothing.
struct fake_bin : scratch_dir {
  fake_bin() {
    write_script(path / "timed",
                 "echo '10 requests: ok 10, failed 0' >&2\n"
                 "printf 'Memory usage: 1000KB\\tTime: 1.00 seconds\\tCPU usage: 1%%\\n' >&2\n");
    for (auto client :
         {"client-sync", "client-async-sem", "client-async-as-completed", "client-async-proposal"})
      write_script(path / client, "exit 0\n");
  }
};

// The tour with no programs on its PATH but bash, dirname and cat: were `test` ever to start the
// suite, it would fail at once (no dpkg-query, no cmake) instead of building for minutes.
common::testing::process_result tour_without_tools(std::vector<std::string> args) {
  scratch_dir tools;
  for (auto tool : {"bash", "dirname", "cat"})
    fs::create_symlink(fs::path("/bin") / tool, tools.path / tool);
  args.insert(args.begin(), {"/usr/bin/env", "PATH=" + tools.path.string(), tour()});
  return run(args);
}

std::vector<std::string> csv_lines(const fs::path& dir) {
  std::vector<std::string> lines;
  for (auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".csv") {
      std::ifstream in(entry.path());
      for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    }
  return lines;
}

TEST(Tour, RunsTheChosenStageAndWritesItsTableAndCsv) {
  scratch_dir dir;
  auto r = run({tour(), "--no-setup", "--bin", BIN_DIR, "--only", "04", "--sizes", "200,400",
                "--delay", "0", "--results", dir.path},
               std::chrono::seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("== Stage 04: the bounded iterator as a library · 200 requests · server "
                       "delays none\n"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex("\n04 +200 +none +[0-9,]+ KB +[0-9.]+ s +[0-9]+% +[0-9,]+ ok")))
      << r.out;
  auto lines = csv_lines(dir.path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "stage,program,requests,delay,peak_rss_kb,seconds,cpu_percent,"
                      "requests_per_second,ok,failed,outcome,article_peak_rss_kb,article_seconds,"
                      "language,server");
  EXPECT_TRUE(std::regex_match(
      lines[1],
      std::regex("04,client-async-proposal,200,0,[0-9]+,[0-9.]+,[0-9]+,[0-9]+,200,0,ok,,,C\\+\\+,"
                 "C\\+\\+")))
      << lines[1];
  EXPECT_TRUE(std::regex_match(
      lines[2],
      std::regex("04,client-async-proposal,400,0,[0-9]+,[0-9.]+,[0-9]+,[0-9]+,400,0,ok,,,C\\+\\+,"
                 "C\\+\\+")))
      << lines[2];
  if (system("command -v gnuplot >/dev/null") == 0) {
    for (auto plot : {"memory.svg", "time.svg", "memory.png", "time.png"})
      EXPECT_GT(fs::file_size(dir.path / plot), 1000u) << plot;
  } else {
    EXPECT_NE(r.err.find("gnuplot is not installed"), std::string::npos) << r.err;
  }
}

// --python: after each of our runs, the article's Python program for the stage, through the
// same timed and server; --python-server: our client again, against server.py.
TEST(Tour, RunsThePythonProgramsBesideOurs) {
  if (auto missing = common::testing::python_missing()) GTEST_SKIP() << missing;
  scratch_dir dir;
  auto r = run({tour(), "--no-setup", "--bin", BIN_DIR, "--only", "03", "--sizes", "50", "--delay",
                "0", "--python", "--python-server", "--results", dir.path},
               std::chrono::seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("== Async client using limited_as_completed, in Python "
                       "(client-async-as-completed.py) · 50 requests · server delays none\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("-- 03-limited-as-completed/client-async-as-completed.py 50 "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("/bin/timed --server server/server.py "), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\n03 +50 +none .* ok")));
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\n03 py +50 +none .* ok"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\n03 py-srv +50 +none .* ok"))) << r.out;
  auto lines = csv_lines(dir.path);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_TRUE(lines[1].starts_with("03,client-async-as-completed,50,0,")) << lines[1];
  EXPECT_TRUE(lines[1].ends_with(",50,0,ok,,,C++,C++")) << lines[1];
  EXPECT_TRUE(lines[2].starts_with("03,client-async-as-completed.py,50,0,")) << lines[2];
  EXPECT_TRUE(lines[2].ends_with(",50,0,ok,,,Python,C++")) << lines[2];
  EXPECT_TRUE(lines[3].starts_with("03,client-async-as-completed,50,0,")) << lines[3];
  EXPECT_TRUE(lines[3].ends_with(",50,0,ok,,,C++,Python")) << lines[3];
}

TEST(Tour, SaysInOneLineWhenPythonIsMissing) {
  // Only a python3 without aiohttp would do here; a scratch bin has no timed, which comes first.
  fake_bin bin;
  scratch_dir results;
  auto r = run({"/usr/bin/env", "PYTHON3=/bin/false", tour(), "--no-setup", "--bin", bin.path,
                "--results", results.path, "--python", "--only", "04", "--sizes", "10"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err, "tour: --python and --python-server need Debian's python3-aiohttp and "
                   "python3-requests for /bin/false (apt-get install python3-aiohttp "
                   "python3-requests)\n");
  EXPECT_TRUE(csv_lines(results.path).empty());
}

TEST(Tour, ShowsTheArticlesFiguresBesideOurs) {
  scratch_dir dir; // ten requests with the article's delays: about three seconds
  auto r = run({tour(), "--no-setup", "--bin", BIN_DIR, "--only", "03", "--sizes", "10", "--delay",
                "s", "--results", dir.path},
               std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("   the article: Memory usage: 23176KB\tTime: 3.13 seconds\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("23,176 KB, 3.13 s"), std::string::npos) << r.out;
  auto lines = csv_lines(dir.path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[1].ends_with(",10,0,ok,23176,3.13,C++,C++")) << lines[1];
}

// One line saying what is wrong, then the Usage and Example lines, and nothing else.
void expect_usage_error(const common::testing::process_result& r) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(std::regex_match(r.err, std::regex("tour: [^\n]+\nUsage: \\./tour [^\n]+\n"
                                                 "Example: \\./tour [^\n]+\n")))
      << r.err;
}

TEST(Tour, RejectsBadArguments) {
  auto committed = std::string(SOURCE_DIR) + "/docs/results";
  for (auto args : std::vector<std::vector<std::string>>{{"--only", "7"},
                                                         {"--only"},
                                                         {"--sizes", "ten"},
                                                         {"--sizes", "0"},
                                                         {"--sizes", "0,10"},
                                                         {"--sizes", "010"},
                                                         {"--sizes", "10,,20"},
                                                         {"--sizes", "1000000001"},
                                                         {"--sizes", "99999999999999999999"},
                                                         {"--delay", "1s"},
                                                         {"--python", "3"},
                                                         {"--frobnicate"},
                                                         {"--results", committed},
                                                         {"--results", committed + "/../results"},
                                                         {"--results", committed + "/again"}}) {
    SCOPED_TRACE(::testing::PrintToString(args));
    args.insert(args.begin(), {tour(), "--no-setup"});
    expect_usage_error(run(args));
  }
}

TEST(Tour, SaysWhyTheCommittedResultsAreKept) {
  auto r = run({tour(), "--no-setup", "--results", std::string(SOURCE_DIR) + "/docs/results"});
  EXPECT_NE(r.err.find("would replace the committed results in docs/results/; add --overwrite"),
            std::string::npos)
      << r.err;
  // With --overwrite it goes on, to the next check, before it writes anything.
  r = run({tour(), "--no-setup", "--results", std::string(SOURCE_DIR) + "/docs/results",
           "--overwrite", "--bin", "/nonexistent"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err, "tour: --bin /nonexistent: no such directory\n");
}

TEST(Tour, TestRejectsUnknownArgumentsInsteadOfRunningTheSuite) {
  for (auto args : std::vector<std::vector<std::string>>{{"test", "--frobnicate"},
                                                         {"test", "--quick", "extra"},
                                                         {"test", "-q"},
                                                         {"--packages", "x"},
                                                         {"test", "--packages", "x"}}) {
    SCOPED_TRACE(::testing::PrintToString(args));
    expect_usage_error(tour_without_tools(args));
  }
}

// `./tour` installs what the experiment needs; `./tour test` that and what the tests need.
TEST(Tour, PrintsTheExperimentsPackagesAndTheTestsPackagesBesideThem) {
  auto run_list = tour_without_tools({"--packages"});
  auto test_list = tour_without_tools({"test", "--packages"});
  ASSERT_EQ(run_list.exit_code, 0) << run_list.err;
  ASSERT_EQ(test_list.exit_code, 0) << test_list.err;
  EXPECT_NE(run_list.out.find("libasio-dev"), std::string::npos) << run_list.out;
  EXPECT_EQ(run_list.out.find("libgtest-dev"), std::string::npos) << run_list.out;
  EXPECT_EQ(run_list.out.find("chromium"), std::string::npos) << run_list.out;
  EXPECT_EQ(test_list.out.substr(0, run_list.out.size() - 1), // without its newline
            run_list.out.substr(0, run_list.out.size() - 1));
  EXPECT_NE(test_list.out.find("libgtest-dev"), std::string::npos) << test_list.out;
}

TEST(Tour, TestHelpPrintsTheUsage) {
  auto r = tour_without_tools({"test", "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 14), "Usage: ./tour ") << r.out;
  EXPECT_NE(r.out.find("--overwrite"), std::string::npos) << r.out;
}

TEST(Tour, FailsInOneLineWithoutItsPrograms) {
  auto r = run({tour(), "--no-setup", "--bin", "/nonexistent", "--only", "04"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "tour: --bin /nonexistent: no such directory\n");
  EXPECT_EQ(r.out, "");

  scratch_dir empty;
  r = run({tour(), "--no-setup", "--bin", empty.path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "tour: --bin " + empty.path.string() +
                       " has no timed: build the programs, or give --bin the directory they are "
                       "in\n");

  scratch_dir only_timed, results;
  write_script(only_timed.path / "timed", "exit 0\n");
  r = run(
      {tour(), "--no-setup", "--bin", only_timed.path, "--only", "02", "--results", results.path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("\ntour: nothing to run: the chosen stages' programs are not in "),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(csv_lines(results.path).empty());
}

TEST(Tour, SaysHowLongALongRunWillTakeBeforeItStarts) {
  fake_bin bin;
  scratch_dir results;
  auto tour_with = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {tour(), "--no-setup", "--bin", bin.path, "--results", results.path});
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r;
  };
  // The sync client at 10,000 requests of 1.5 s on average: about four hours.
  auto r = tour_with({"--only", "01", "--sizes", "10000"});
  auto said = r.err.find("tour: this run will take about 4 hours: 10,000 requests one at a time, "
                         "1.5 s each on average; Ctrl-C stops it\n");
  EXPECT_NE(said, std::string::npos) << r.err;
  EXPECT_LT(said, r.err.find("Memory usage:")) << "said after the run began:\n" << r.err;

  // Three async clients at a million: 25 minutes each by Little's law, 75 in all.
  r = tour_with({"--sizes", "1000000"});
  said = r.err.find("tour: 3 runs will take about 75 minutes in all; the longest, stage 02 at "
                    "1,000,000 requests, delays 0-3 s, about 25 minutes\n");
  EXPECT_NE(said, std::string::npos) << r.err;
  EXPECT_LT(said, r.err.find("Memory usage:")) << r.err;
  EXPECT_NE(r.err.find("tour: this run will take about 25 minutes: 1,000,000 requests x 1.5 s mean "
                       "delay / 1000 in flight, by Little's law"),
            std::string::npos)
      << r.err;

  // A short run says nothing of the kind.
  r = tour_with({"--only", "04", "--sizes", "10000", "--delay", "0"});
  EXPECT_EQ(r.err.find("will take"), std::string::npos) << r.err;
}

TEST(Tour, StopsWhenARunIsInterrupted) {
  fake_bin bin; // its timed says what a client says on Ctrl-C, and exits as timed then does
  write_script(bin.path / "timed",
               "echo 'interrupted after 5 of 10 requests: ok 5, failed 0, not made 5' >&2\n"
               "echo 'Command exited with non-zero status 130' >&2\n"
               "printf 'Memory usage: 1000KB\\tTime: 1.00 seconds\\tCPU usage: 1%%\\n' >&2\n"
               "exit 130\n");
  scratch_dir results;
  auto r = run({tour(), "--no-setup", "--bin", bin.path, "--results", results.path, "--only", "04",
                "--sizes", "10,20"});
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_NE(r.err.find("\ntour: interrupted; the runs after this one were not made\n"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\n04 +10 +0-3 s .* interrupted "))) << r.out;
  EXPECT_EQ(r.out.find("· 20 requests"), std::string::npos) << r.out;
  auto lines = csv_lines(results.path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find(",interrupted,"), std::string::npos) << lines[1];
}

TEST(Tour, DrawsNoPlotsWhenNoStageTheyCompareRan) {
  fake_bin bin;
  scratch_dir results;
  auto r = run({tour(), "--no-setup", "--bin", bin.path, "--results", results.path, "--only", "01",
                "--sizes", "10"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (system("command -v gnuplot >/dev/null") == 0) {
    EXPECT_NE(
        r.err.find("tour: no plots: they compare stages 02, 03 and 04, and none of them ran\n"),
        std::string::npos)
        << r.err;
  }
  EXPECT_EQ(r.err.find("range is invalid"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(results.path / "time.svg"));
}

} // namespace
