// The tour (the README's first command), run on a few small stages against a server without
// delays: its arguments, its table and its CSV, and its plots when gnuplot is there.
#include "common/testing.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

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
                      "requests_per_second,ok,failed,outcome,article_peak_rss_kb,article_seconds");
  EXPECT_TRUE(std::regex_match(
      lines[1],
      std::regex("04,client-async-proposal,200,0,[0-9]+,[0-9.]+,[0-9]+,[0-9]+,200,0,ok,,")))
      << lines[1];
  EXPECT_TRUE(std::regex_match(
      lines[2],
      std::regex("04,client-async-proposal,400,0,[0-9]+,[0-9.]+,[0-9]+,[0-9]+,400,0,ok,,")))
      << lines[2];
  if (system("command -v gnuplot >/dev/null") == 0) {
    for (auto plot : {"memory.svg", "time.svg", "memory.png", "time.png"})
      EXPECT_GT(fs::file_size(dir.path / plot), 1000u) << plot;
  } else {
    EXPECT_NE(r.err.find("gnuplot is not installed"), std::string::npos) << r.err;
  }
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
  EXPECT_TRUE(lines[1].ends_with(",10,0,ok,23176,3.13")) << lines[1];
}

TEST(Tour, RejectsBadArguments) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"--only", "7"}, {"--only"}, {"--sizes", "ten"}, {"--delay", "1s"}, {"--frobnicate"}}) {
    args.insert(args.begin(), {tour(), "--no-setup"});
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.err.substr(0, 6), "tour: ") << r.err;
    EXPECT_NE(r.err.find("\nUsage: ./tour "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("\nExample: ./tour "), std::string::npos) << r.err;
  }
}

} // namespace
