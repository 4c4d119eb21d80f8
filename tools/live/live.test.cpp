// The live view, run for real: in a pipe (plain lines), and in a tmux terminal, whose screen is
// read back with capture-pane. The server gets 0-3 ms delays and the clients a small limit, so
// that a run lasts a few seconds: long enough to see the figures move, short enough for a test.
#include "tests/testing.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <tuple>

#include <unistd.h>

using common::testing::bin;
using common::testing::run;
using common::testing::wait_until;
using namespace std::chrono_literals;

namespace {

std::string output_of(const std::string& command) {
  std::string out;
  if (FILE* p = popen(command.c_str(), "r")) {
    std::array<char, 4096> chunk;
    for (std::size_t n; (n = std::fread(chunk.data(), 1, chunk.size(), p)) > 0;)
      out.append(chunk.data(), n);
    pclose(p);
  }
  return out;
}

bool have_tmux() {
  return std::system("command -v tmux >/dev/null 2>&1") == 0;
}

// A tmux server of its own (-L), with one 100x30 window running `command`, then a marker line
// with its exit status; killed, with whatever still runs in it, at the end of the test.
class tmux_window {
public:
  explicit tmux_window(const std::string& command)
      : tmux_("tmux -f /dev/null -L live-test-" + std::to_string(getpid())) {
    auto shell = command + "; echo live-exited-$?; exec sleep 600";
    std::system((tmux_ + " new-session -d -x 100 -y 30 '" + shell + "'").c_str());
  }
  ~tmux_window() { std::system((tmux_ + " kill-server 2>/dev/null").c_str()); }
  tmux_window(const tmux_window&) = delete;
  tmux_window& operator=(const tmux_window&) = delete;

  std::string screen() { return output_of(tmux_ + " capture-pane -p"); }
  std::string screen_and_history() { return output_of(tmux_ + " capture-pane -p -S -200"); }
  void keys(const std::string& keys) { std::system((tmux_ + " send-keys " + keys).c_str()); }
  std::string format(const std::string& f) {
    return output_of(tmux_ + " display-message -p '" + f + "'");
  }

private:
  std::string tmux_;
};

std::string live_command(const std::string& args) {
  return bin("live") + " " + args;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

bool shows_every_stage(const std::string& screen) {
  return contains(screen, "02 eager + semaphore") && contains(screen, "03 limited_as_completed") &&
         contains(screen, "04 the library") && contains(screen, "requests/s");
}

// The lines with the requests done, one figure per stage: what must move.
std::string done_lines(const std::string& screen) {
  std::string out;
  std::istringstream in(screen);
  for (std::string line; std::getline(in, line);)
    if (line.find("done ") != std::string::npos) out += line + "\n";
  return out;
}

std::string port_of(const std::string& text) {
  std::smatch m;
  std::regex_search(text, m, std::regex("against http://127\\.0\\.0\\.1:([0-9]+)"));
  return m.size() > 1 ? m[1].str() : "";
}

// Processes whose command line points at this port: the clients of that run.
int clients_of_port(const std::string& port) {
  int n = 0;
  for (auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (contains(cmdline, "127.0.0.1:" + port + "/")) ++n;
  }
  return n;
}

TEST(Live, ABadCommandLineIsAUsageError) {
  for (auto args : {std::vector<std::string>{"juggling"},
                    {"--requests", "0"},
                    {"--delay", "9"},
                    {"--stages", "05"},
                    {"--for", "0"}}) {
    args.insert(args.begin(), bin("live"));
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 2) << args[1];
    EXPECT_TRUE(contains(r.err, "Usage: live ")) << r.err;
    EXPECT_TRUE(contains(r.err, "Example: live ")) << r.err;
  }
}

TEST(Live, HelpDescribesEveryOption) {
  auto r = run({bin("live"), "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (auto option : {"Usage: live ", "memory|cpu", "--requests N", "--delay s|ms|0", "--limit L",
                      "--for SECONDS", "--stages LIST", "--plain", "--hold SECONDS", "--brief",
                      "--bin DIR", "-h, --help", "Example: live "})
    EXPECT_TRUE(contains(r.out, option)) << option << " in:\n" << r.out;
}

TEST(Live, NotATerminalPrintsPlainLinesAndTheSummary) {
  auto r = run({bin("live"), "memory", "--requests", "3000", "--delay", "0"}, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_FALSE(contains(r.out, "\033[")) << "no escape sequences in a pipe";
  for (auto stage : {"02", "03", "04"}) // each stage's plain line, at the end
    EXPECT_TRUE(std::regex_search(r.out, std::regex(std::string(" s  ") + stage +
                                                    " [^\n]+ memory [^\n]+ done 3,000 of 3,000")))
        << stage << "\n"
        << r.out;
  EXPECT_TRUE(contains(r.out, "\n== Summary\n")) << r.out;
  for (auto stage : {"02", "03", "04"})
    EXPECT_TRUE(std::regex_search(
        r.out, std::regex(std::string("\n") + stage +
                          " +3,000 +none +[0-9,]+ KB +[0-9.]+ s +[0-9]+% +[0-9,]+ ok\n")))
        << stage << "\n"
        << r.out;
  std::size_t timed_lines = 0;
  for (auto at = r.out.find("\nMemory usage: "); at != std::string::npos;
       at = r.out.find("\nMemory usage: ", at + 1))
    ++timed_lines;
  EXPECT_EQ(timed_lines, 3u) << r.out;
  EXPECT_TRUE(contains(r.out, "\n3000 requests: ok 3000, failed 0\n")) << r.out;
}

// --python: the article's eager client beside 02 in the memory scene, its polling client beside 03
// in the CPU scene, each with its twin's lines.
TEST(Live, PythonPutsTheArticlesClientBesideItsTwin) {
  if (auto missing = common::testing::python_missing()) GTEST_SKIP() << missing;
  for (auto [scene, after, python] :
       {std::tuple{"memory", "02", "02 py"}, {"cpu", "03", "03 py"}}) {
    SCOPED_TRACE(scene);
    auto r =
        run({bin("live"), scene, "--python", "--requests", "500", "--delay", "0", "--limit", "20"},
            120s);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_TRUE(std::regex_search(
        r.out, std::regex(std::string("\n") + after + " +500 +none [^\n]+ ok\n" + python +
                          " +500 +none +[0-9,]+ KB +[0-9.]+ s +[0-9]+% +[0-9,]+ ok\n")))
        << r.out;
    EXPECT_TRUE(contains(r.out, std::string(", in Python (") +
                                    (scene == std::string("cpu") ? "client-async-as-completed.py"
                                                                 : "client-async-sem.py") +
                                    ") · 500 requests"))
        << r.out;
  }
}

TEST(Live, ForStopsTheChosenStagesAfterThatLong) {
  auto r = run({bin("live"), "memory", "--stages", "04", "--requests", "100000000", "--delay", "ms",
                "--limit", "5", "--for", "1.5"},
               60s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "live: the memory scene: stage 04 with 100,000,000")) << r.out;
  EXPECT_FALSE(contains(r.out, "02 eager")) << r.out;
  EXPECT_TRUE(
      std::regex_search(r.out, std::regex("\n04 +100,000,000 +0-3 ms .* stopped \\(--for\\)\n")))
      << r.out;
  EXPECT_TRUE(contains(r.out, "100000000 requests: stopped by --for after ")) << r.out;
  EXPECT_TRUE(
      std::regex_search(r.out, std::regex("\nShown: stage 04 made [1-9][0-9,]* of 100,000,000")))
      << r.out;
}

TEST(Live, TheTourRunsOneScene) {
  auto r = run({std::string(SOURCE_DIR) + "/tour", "live", "cpu", "--no-setup", "--bin", BIN_DIR,
                "--requests", "300", "--delay", "ms", "--limit", "5"},
               120s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "live: the cpu scene: stages 02, 03, 04 with 300 requests")) << r.out;
  EXPECT_TRUE(contains(r.out, "\n== Summary\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "\nShown: while the requests waited on the server, stage 03"))
      << r.out;
  EXPECT_FALSE(contains(r.out, "the memory scene")) << "one scene was asked for\n" << r.out;
}

TEST(Live, InATerminalShowsEveryStageAndTheFiguresMove) {
  if (!have_tmux()) GTEST_SKIP() << "tmux is not installed (apt-get install tmux): skipped";
  tmux_window window(live_command("memory --requests 20000 --delay ms --limit 5"));
  std::string first;
  ASSERT_TRUE(wait_until([&] { return shows_every_stage(first = window.screen()); }, 30s)) << first;
  std::string later;
  EXPECT_TRUE(
      wait_until([&] { return done_lines(later = window.screen()) != done_lines(first); }, 30s))
      << "first:\n"
      << first << "later:\n"
      << later;
  EXPECT_EQ(window.format("#{alternate_on}"), "1\n") << "the view has the screen to itself";
  std::string end;
  ASSERT_TRUE(
      wait_until([&] { return contains(end = window.screen_and_history(), "live-exited-"); }, 120s))
      << end;
  EXPECT_TRUE(contains(end, "live-exited-0")) << end;
  EXPECT_TRUE(contains(end, "== Summary")) << end;
  for (auto stage : {"02", "03", "04"})
    EXPECT_TRUE(
        std::regex_search(end, std::regex(std::string("\n") + stage + " +20,000 +0-3 ms .* ok")))
        << stage << "\n"
        << end;
  EXPECT_EQ(window.format("#{alternate_on} #{cursor_flag}"), "0 1\n")
      << "the shell's screen is back, with its cursor";
}

TEST(Live, CtrlCStopsEveryClientAndEndsWithASummary) {
  if (!have_tmux()) GTEST_SKIP() << "tmux is not installed (apt-get install tmux): skipped";
  tmux_window window(live_command("cpu --requests 100000 --delay ms --limit 5"));
  std::string screen;
  ASSERT_TRUE(wait_until(
      [&] {
        screen = window.screen();
        return shows_every_stage(screen) && std::regex_search(screen, std::regex("done +[1-9]"));
      },
      30s))
      << screen;
  window.keys("C-c");
  std::string end;
  ASSERT_TRUE(
      wait_until([&] { return contains(end = window.screen_and_history(), "live-exited-"); }, 30s))
      << end;
  EXPECT_TRUE(contains(end, "live-exited-130")) << end;
  for (auto stage : {"02", "03", "04"})
    EXPECT_TRUE(std::regex_search(
        end, std::regex(std::string("\n") + stage + " +100,000 +0-3 ms .* interrupted")))
        << stage << "\n"
        << end;
  EXPECT_TRUE(contains(end, "stopped by Ctrl-C after")) << end;
  EXPECT_TRUE(contains(end, "Memory usage: ")) << end;
  EXPECT_TRUE(contains(end, "server: served ")) << "the server was stopped and heard from\n" << end;
  EXPECT_EQ(window.format("#{alternate_on} #{cursor_flag}"), "0 1\n");
  auto port = port_of(end);
  ASSERT_FALSE(port.empty()) << end;
  EXPECT_EQ(clients_of_port(port), 0) << "a client of port " << port << " is still running";
}

} // namespace
