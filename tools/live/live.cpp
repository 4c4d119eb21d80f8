// live: the article's story on one screen, for a projector. It starts one delay server and the
// three async clients (stages 02, 03 and 04) side by side against it, and redraws five times a
// second, for each stage: its resident memory (or, in the CPU scene, its CPU use) as a chart
// that grows to the right, that figure in large digits, and CPU, requests/s, done of N and
// failures. Memory and CPU come from /proc/PID (ps(1) in the portable build); done and failed from
// the clients' own progress lines (PROGRESS=1). It ends, or on Ctrl-C stops, with the lines `timed`
// and the tour print. On a terminal smaller than 80x24, or not a terminal, it prints plain lines
// instead.
#include "common/args.hpp"
#include "common/platform.hpp"
#include "common/summary.hpp"
#include "tools/live/stage_table.hpp" // generated from tools/stages
#include "tools/process.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

constexpr auto frame_interval = 200ms;         // the screen is redrawn five times a second
constexpr auto plain_interval = 1s;            // plain lines: one set a second
constexpr auto rate_window = 1s;               // requests/s and CPU % are averaged over this
constexpr auto server_start_timeout = 10s;     // for its `listening on` line
constexpr auto stop_grace = 3s;                // after SIGTERM, before SIGKILL
constexpr int min_columns = 80, min_rows = 24; // smaller than this: plain lines
constexpr int gutter = 8;                      // the chart's scale labels, left of the panels

// --- What runs ----------------------------------------------------------------------------------

struct stage_info {
  std::string number;
  std::string program;
  std::string label;   // as in the plots' legends
  std::string section; // as in the tour's headings
  int colour = -1;     // xterm-256 colour: the plots' purple, bluish green and sky blue
  std::string rgb;     // the same, for terminals with 24-bit colour
  std::string folder;  // the article's Python program's folder in the sources; ours: empty
};

// The stages with a colour in tools/stages (02, 03 and 04), then the article's Python programs
// that `--python` puts beside two of them, each in the colour of its twin.
std::vector<stage_info> read_stages(std::string_view table) {
  std::vector<stage_info> ours, python;
  auto trim = [](std::string_view s) {
    auto from = s.find_first_not_of(' ');
    return from == s.npos ? std::string()
                          : std::string(s.substr(from, s.find_last_not_of(' ') - from + 1));
  };
  for (std::size_t at = 0; at < table.size();) {
    auto eol = std::min(table.find('\n', at), table.size());
    auto line = table.substr(at, eol - at);
    at = eol + 1;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f; // number folder program label section colour rgb
    for (std::size_t from = 0; from <= line.size();) {
      auto bar = std::min(line.find('|', from), line.size());
      f.push_back(trim(line.substr(from, bar - from)));
      from = bar + 1;
    }
    if (f.size() != 7 || f[5] == "-") continue;
    ours.push_back({f[0], f[2], f[3], f[4], std::stoi(f[5]), f[6]});
    if (f[0] == "02" || f[0] == "03")
      python.push_back({f[0] + " py", f[2] + ".py", "aiohttp",
                        f[4] + ", in Python (" + f[2] + ".py)", std::stoi(f[5]), f[6], f[1]});
  }
  ours.insert(ours.end(), python.begin(), python.end());
  return ours;
}

const std::vector<stage_info> stages = read_stages(stage_table);

std::size_t index_of(std::string_view number) { // in `stages`
  for (std::size_t i = 0; i < stages.size(); ++i)
    if (stages[i].number == number) return i;
  return 0;
}

enum class metric { memory, cpu };

struct scene {
  std::string name;
  metric headline;
  std::uint64_t requests;
  std::string delay; // the server's delays: s (0-3 s), ms (0-3 ms) or 0
  std::string watch; // what the audience should look at
};

scene memory_scene() {
  return {"memory", metric::memory, 1'000'000, "0",
          "memory, one scale for all: 02 holds every request it has not made yet"};
}
scene cpu_scene() {
  return {"cpu", metric::cpu, 15'000, "s",
          "CPU: requests wait {delays} on the server; 03 polls while they wait"};
}

struct options {
  scene what = memory_scene();
  std::string bin; // the directory of the programs
  std::size_t limit = 1000;
  bool plain = false;
  bool brief = false;                   // the table and the sentence only, not each stage's lines
  std::chrono::milliseconds hold{0};    // how long the last frame stays up before the summary
  std::chrono::milliseconds run_for{0}; // stop the clients after this long; 0: let them finish
  std::vector<const stage_info*> shown; // the stages to run, in the usual order
  bool python = false; // the article's Python client beside 02 (memory) or 03 (cpu)
};

// Where a stage's program is: ours in --bin, the article's Python in its stage's folder.
std::string program_path(const options& o, const stage_info& s) {
  return !s.folder.empty() ? std::string(SOURCE_DIR) + "/" + s.folder + "/" + s.program
                           : o.bin + "/" + s.program;
}

// What `--help` prints between the Usage and Example lines, with the defaults of `out`.
std::string help(const options& out) {
  using std::to_string;
  std::string h =
      "Runs stages 02, 03 and 04 side by side against one server, each through timed,\n";
  h += "draws their memory, CPU and requests/s live, then prints timed's lines and a table.\n\n";
  h += "  memory|cpu           the scene: memory (default; " + to_string(memory_scene().requests) +
       " requests, no delays)\n";
  h += "                       or cpu (" + to_string(cpu_scene().requests) +
       " requests, the article's 0-3 s delays)\n";
  h += "  --requests N         requests for each stage, 1 to 100000000 (default: the scene's)\n";
  h += "  --delay s|ms|0       the server's delays: 0-3 s, 0-3 ms or none (default: the scene's)\n";
  h += "  --limit L            each client's requests in flight, 1 to 10000 (default " +
       to_string(out.limit) + ")\n";
  h += "  --for SECONDS        stops the clients after this long (default: they finish)\n";
  h += "  --stages LIST        which of 02, 03 and 04 to run, comma-separated (default: all)\n";
  h += "  --python             the article's Python client beside its twin: the eager one\n";
  h += "                       beside 02 in the memory scene (for 60 s unless --for says\n";
  h += "                       otherwise), the polling one beside 03 in the cpu scene\n";
  h += "  --plain              plain progress lines instead of the drawing (also when the\n";
  h += "                       terminal is smaller than 80x24, or not a terminal)\n";
  h += "  --hold SECONDS       keeps the last frame up this long before the summary (default 0)\n";
  h += "  --brief              ends with the table and one sentence, not each stage's lines\n";
  h += "  --bin DIR            where the programs are (default: this program's directory)\n";
  h += "  -h, --help           prints this and exits\n\n";
  h += "Ctrl-C stops the clients; it then prints what they did so far.\n";
  return h;
}

options parse_args(int argc, char** argv) {
  common::arguments args(argc, argv,
                         "[memory|cpu] [--requests N] [--delay s|ms|0] [--limit L] [--for SECONDS] "
                         "[--stages 02,03,04] [--python] [--plain] [--hold SECONDS] [--brief] "
                         "[--bin DIR]",
                         "memory --requests 300000", help(options{}));
  options out;
  out.bin = common::platform::program_directory(argc > 0 ? argv[0] : nullptr);
  std::optional<std::uint64_t> requests;
  std::optional<std::string> delay;
  while (!args.done()) {
    auto arg = args.next();
    if (arg == "memory") {
      out.what = memory_scene();
    } else if (arg == "cpu") {
      out.what = cpu_scene();
    } else if (arg == "--requests") {
      requests = args.number(args.value(), "--requests", 1, 100'000'000);
    } else if (arg == "--delay") {
      delay = args.value();
      if (*delay != "s" && *delay != "ms" && *delay != "0")
        args.fail("--delay takes s, ms or 0, not '" + *delay + "'");
    } else if (arg == "--limit") {
      out.limit = args.number(args.value(), "--limit", 1, 10'000);
    } else if (arg == "--for") {
      out.run_for = args.seconds(args.value(), "--for", 86'400);
    } else if (arg == "--stages") {
      std::string list(args.value());
      std::string rest = list;
      for (auto& s : stages)
        if (auto at = rest.find(s.number); s.folder.empty() && at != std::string::npos) {
          out.shown.push_back(&s);
          rest.erase(at, 2);
        }
      if (out.shown.empty() || rest.find_first_not_of(",") != std::string::npos)
        args.fail("--stages takes 02, 03 or 04, separated by commas, not '" + list + "'");
    } else if (arg == "--hold") {
      out.hold = args.seconds(args.value(), "--hold", 600);
    } else if (arg == "--python") {
      out.python = true;
    } else if (arg == "--brief") {
      out.brief = true;
    } else if (arg == "--plain") {
      out.plain = true;
    } else if (arg == "--bin") {
      out.bin = args.value();
    } else {
      args.fail(arg.substr(0, 2) == "--"
                    ? "unknown option " + std::string(arg)
                    : "unknown scene '" + std::string(arg) + "' (memory or cpu)");
    }
  }
  if (out.shown.empty())
    for (auto& s : stages)
      if (s.folder.empty()) out.shown.push_back(&s);
  if (requests) out.what.requests = *requests;
  if (delay) out.what.delay = *delay;
  if (out.python) { // beside its twin: the eager client for memory, the polling one for CPU
    bool memory = out.what.headline == metric::memory;
    auto& twin = stages[index_of(memory ? "02" : "03")];
    auto at = std::find(out.shown.begin(), out.shown.end(), &twin);
    out.shown.insert(at == out.shown.end() ? at : at + 1,
                     &stages[index_of(memory ? "02 py" : "03 py")]);
    if (std::system("/usr/bin/python3 -c 'import aiohttp' >/dev/null 2>&1") != 0)
      args.fail("--python needs Debian's python3-aiohttp for /usr/bin/python3 (apt-get install "
                "python3-aiohttp)");
    // A million requests take Python minutes: unless told otherwise, a minute of them.
    if (memory && out.run_for.count() == 0) out.run_for = std::chrono::seconds(60);
  }
  for (auto* s : out.shown)
    if (access(program_path(out, *s).c_str(), X_OK) != 0)
      args.fail("no program " + program_path(out, *s) + " (build it, or give --bin)");
  if (access((out.bin + "/server").c_str(), X_OK) != 0)
    args.fail("no program " + out.bin + "/server (build it, or give --bin)");
  return out;
}

// --- Numbers as people read them ---------------------------------------------------------------

std::string group(std::uint64_t n) { // 1234567 -> 1,234,567
  auto digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string compact(std::uint64_t n) { // 1000000 -> 1M, 15000 -> 15k
  char text[32];
  if (n >= 1'000'000 && n % 100'000 == 0)
    std::snprintf(text, sizeof text, "%gM", n / 1e6);
  else if (n >= 10'000 && n % 1'000 == 0)
    std::snprintf(text, sizeof text, "%gk", n / 1e3);
  else
    return group(n);
  return text;
}

// Memory with three significant figures: its number and its unit (MB = 1024 KB, as the clients'
// progress lines count).
std::pair<std::string, std::string> memory_text(double kb) {
  char text[32];
  double mb = kb / 1024;
  if (mb >= 1024)
    std::snprintf(text, sizeof text, "%.2f", mb / 1024);
  else
    std::snprintf(text, sizeof text, mb >= 100 ? "%.0f" : "%.1f", mb);
  return {text, mb >= 1024 ? "GiB" : "MiB"};
}

std::string delay_words(const std::string& delay) {
  return delay == "s" ? "0-3 s" : delay == "ms" ? "0-3 ms" : "none";
}

std::vector<std::string> server_args(const std::string& delay) {
  if (delay == "s") return {"--port", "0", "--max-delay", "3", "--delay-unit", "s"};
  if (delay == "ms") return {"--port", "0", "--max-delay", "3", "--delay-unit", "ms"};
  return {"--port", "0", "--max-delay", "0"};
}

// Stage 02 keeps every request in memory: cap it at half the machine, as the tour does, so that a
// large N ends in a clear `out of memory` instead of a visit from the OOM killer.
[[maybe_unused]] std::string memory_cap() {
  auto kb = common::platform::physical_memory_kb();
  return std::to_string(std::max<std::uint64_t>(kb / 2 / 1024, 64)) + "M";
}

// --- Child processes ------------------------------------------------------------------------

volatile std::sig_atomic_t interrupted = 0;
void on_signal(int) {
  interrupted = 1;
}

// How live starts a child: stdin from /dev/null, stdout into its pipe or /dev/null, stderr into
// its pipe, in a process group of its own so that the terminal's Ctrl-C reaches only this program,
// which then stops the children itself. The child is killed if this program dies.
tools::spawn_options child_options(bool stdout_too, std::vector<std::string> environment) {
  return {.in = tools::stream::null,
          .out = stdout_too ? tools::stream::pipe : tools::stream::null,
          .err = stdout_too ? tools::stream::as_out : tools::stream::pipe,
          .own_process_group = true,
          .parent_death_signal = SIGKILL,
          .default_signals = {SIGINT, SIGTERM, SIGHUP, SIGPIPE},
          .environment = std::move(environment)};
}

struct server_process {
  tools::child process; // stdout and stderr in one pipe
  std::string port;
  std::string said; // what it printed after the listening line
};

server_process start_server(const options& o) {
  server_process s;
  std::vector<std::string> words{o.bin + "/server"};
  for (auto& a : server_args(o.what.delay))
    words.push_back(a);
  s.process = tools::child(words, child_options(true, {}));
  if (!s.process.running()) {
    s.said = "cannot run " + words[0] + ": " + std::strerror(s.process.error()) + "\n";
    return s;
  }
  if (auto port = tools::wait_until_listening(s.process, server_start_timeout,
                                              [] { return interrupted != 0; }))
    s.port = std::to_string(*port);
  s.said = std::move(s.process.out());
  s.process.out().clear();
  return s;
}

void stop_server(server_process& s) {
  if (!s.process.running()) return;
  s.process.stop(SIGTERM, stop_grace);
  s.said += s.process.out();
}

// One client, and what is known about it.
struct runner {
  const stage_info* info;
  tools::child process;           // its stderr in a pipe, its stdout in /dev/null
  std::string summary_line;       // `N requests: ok X, failed Y`
  std::vector<std::string> notes; // anything else it said (errors, `out of memory ...`)
  clock_type::time_point started;
  // Now.
  std::uint64_t done = 0, failed = 0, rss_kb = 0;
  double cpu_percent = 0, rate = 0;
  std::deque<std::pair<clock_type::time_point, std::uint64_t>> done_samples;
  std::deque<std::pair<clock_type::time_point, double>> cpu_samples;
  // History, one sample per frame, for the chart: seconds since the start, value.
  std::vector<std::pair<double, double>> rss_history, cpu_history;
  // At the end.
  bool finished = false, stopped = false, time_up = false; // stopped: by Ctrl-C or --for
  int status = 0;
  rusage usage{};
  double seconds = 0;
};

// A client that could not be started counts as one that ended at once with status 127.
void could_not_start(runner& r, const std::string& path) {
  r.notes.push_back("live: cannot run " + path + ": " + std::strerror(r.process.error()));
  r.finished = true;
  r.status = 127 << 8; // as waitpid() reports exit(127)
}

void start_client(runner& r, const options& o, const std::string& port) {
  std::vector<std::string> words{program_path(o, *r.info),
                                 std::to_string(o.what.requests),
                                 "--limit",
                                 std::to_string(o.limit),
                                 "--url",
                                 "http://127.0.0.1:" + port + "/{}"};
#ifndef SANITIZED_BUILD // a sanitizer reserves more address space than any such cap
  if (std::string_view(r.info->number).starts_with("02")) {
    words.push_back("--memory-limit");
    words.push_back(memory_cap());
  }
#endif
  r.started = clock_type::now();
  r.process = tools::child(words, child_options(false, {"PROGRESS=1", "PROGRESS_INTERVAL_MS=200"}));
  if (!r.process.running()) could_not_start(r, words[0]);
}

void take_line(runner& r, const std::string& line) {
  unsigned long long n = 0, failed = 0;
  if (auto progress = common::parse_progress_line(line)) {
    r.done = progress->done;
    r.failed = progress->failed;
    r.done_samples.emplace_back(clock_type::now(), progress->done);
  } else if (line.find(" requests: ok ") != std::string::npos) {
    r.summary_line = line;
    if (unsigned long long ok = 0;
        std::sscanf(line.c_str(), "%llu requests: ok %llu, failed %llu", &n, &ok, &failed) == 3) {
      r.done = ok + failed;
      r.failed = failed;
    }
  } else if (!line.empty()) {
    r.notes.push_back(line);
  }
}

void drain(runner& r) {
  if (r.process.err_fd() < 0 && r.process.err().empty()) return;
  r.process.read_for(std::chrono::milliseconds(0));
  auto& pending = r.process.err();
  for (auto eol = pending.find('\n'); eol != std::string::npos; eol = pending.find('\n')) {
    take_line(r, pending.substr(0, eol));
    pending.erase(0, eol + 1);
  }
  if (r.process.err_fd() < 0) { // it ended: what is left is its last line, unfinished
    if (!pending.empty()) take_line(r, pending);
    pending.clear();
  }
}

template <class T>
void keep_window(std::deque<std::pair<clock_type::time_point, T>>& d, clock_type::time_point now) {
  while (d.size() > 2 && now - d[1].first >= rate_window)
    d.pop_front();
}

double seconds_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// The server's CPU use over the last second: when it nears 100%, it is what sets the pace.
double server_cpu(const server_process& s, clock_type::time_point now) {
  static std::deque<std::pair<clock_type::time_point, double>> samples;
  auto sampled = common::platform::sample(s.process.pid());
  if (!sampled) return 0;
  samples.emplace_back(now, sampled->cpu_seconds);
  keep_window(samples, now);
  double dt = seconds_between(samples.front().first, now);
  return dt > 0.1 ? 100.0 * (sampled->cpu_seconds - samples.front().second) / dt : 0;
}

void sample(runner& r, clock_type::time_point now, clock_type::time_point scene_start) {
  double t = seconds_between(scene_start, now);
  if (!r.finished) {
    if (auto sampled = common::platform::sample(r.process.pid())) {
      r.rss_kb = sampled->rss_kb;
      r.cpu_samples.emplace_back(now, sampled->cpu_seconds);
      keep_window(r.cpu_samples, now);
      auto& [t0, c0] = r.cpu_samples.front();
      if (double dt = seconds_between(t0, now); dt > 0.1)
        r.cpu_percent = 100.0 * (sampled->cpu_seconds - c0) / dt;
    }
    keep_window(r.done_samples, now);
    if (r.done_samples.size() >= 2) {
      auto& [t0, d0] = r.done_samples.front();
      auto& [t1, d1] = r.done_samples.back();
      if (double dt = seconds_between(t0, t1); dt > 0.1) r.rate = (d1 - d0) / dt;
    }
    r.rss_history.emplace_back(t, static_cast<double>(r.rss_kb));
    r.cpu_history.emplace_back(t, r.cpu_percent);
  }
}

void reap(runner& r) {
  if (r.finished || !r.process.running()) return;
  if (auto ended = r.process.try_wait()) {
    r.finished = true;
    r.status = ended->status;
    r.usage = ended->usage;
    r.seconds = seconds_between(r.started, clock_type::now());
    double cpu = r.usage.ru_utime.tv_sec + r.usage.ru_stime.tv_sec +
                 (r.usage.ru_utime.tv_usec + r.usage.ru_stime.tv_usec) / 1e6;
    r.cpu_percent = r.seconds > 0 ? 100 * cpu / r.seconds : 0;
    r.rate = r.seconds > 0 ? r.done / r.seconds : 0;
    r.rss_kb = common::platform::peak_kb(r.usage);
  }
}

void stop_clients(std::vector<runner>& runners, bool time_up) {
  for (auto& r : runners)
    if (!r.finished && r.process.running()) {
      kill(r.process.pid(), SIGTERM);
      r.stopped = true;
      r.time_up = time_up;
    }
  auto deadline = clock_type::now() + stop_grace;
  for (;;) {
    bool all = true;
    for (auto& r : runners) {
      reap(r);
      drain(r);
      all = all && (r.finished || !r.process.running());
    }
    if (all) break;
    if (clock_type::now() > deadline)
      for (auto& r : runners)
        if (!r.finished && r.process.running()) kill(r.process.pid(), SIGKILL);
    poll(nullptr, 0, 20);
  }
}

// --- The screen ---------------------------------------------------------------------------------

struct terminal {
  bool active = false;
  bool colour = false, truecolour = false;
  termios saved{};
  bool saved_ok = false;

  void enter() {
    if (tcgetattr(STDOUT_FILENO, &saved) == 0) {
      saved_ok = true;
      auto quiet = saved;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO); // keys pressed do not scribble on the view
      tcsetattr(STDOUT_FILENO, TCSANOW, &quiet);
    }
    // The alternate screen, cursor hidden; the shell's screen comes back unchanged at the end.
    std::fputs("\033[?1049h\033[?25l\033[2J", stdout);
    std::fflush(stdout);
    active = true;
  }
  void leave() {
    if (!active) return;
    std::fputs("\033[0m\033[?25h\033[?1049l", stdout);
    std::fflush(stdout);
    if (saved_ok) tcsetattr(STDOUT_FILENO, TCSANOW, &saved);
    active = false;
  }
  ~terminal() { leave(); }
};

std::pair<int, int> terminal_size() { // columns, rows
  winsize w{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 0) return {w.ws_col, w.ws_row};
  return {0, 0};
}

// A cell grid with one colour per cell, written out with ANSI escapes.
class canvas {
public:
  canvas(int columns, int rows)
      : columns_(columns), rows_(rows),
        cells_(static_cast<std::size_t>(columns * rows), std::string(" ")),
        colours_(static_cast<std::size_t>(columns * rows), -1),
        bold_(static_cast<std::size_t>(columns * rows), false) {}

  // Puts UTF-8 text, one code point a cell, from column x of row y.
  void text(int x, int y, std::string_view s, int colour = -1, bool bold = false) {
    for (std::size_t i = 0; i < s.size();) {
      auto len = utf8_length(static_cast<unsigned char>(s[i]));
      put(x++, y, std::string(s.substr(i, len)), colour, bold);
      i += len;
    }
  }
  void put(int x, int y, std::string cell, int colour = -1, bool bold = false) {
    if (x < 0 || y < 0 || x >= columns_ || y >= rows_) return;
    auto at = static_cast<std::size_t>(y * columns_ + x);
    cells_[at] = std::move(cell);
    colours_[at] = colour;
    bold_[at] = bold;
  }

  std::string render(const terminal& t) const {
    std::string out = "\033[H";
    for (int y = 0; y < rows_; ++y) {
      int colour = -1;
      bool bold = false;
      for (int x = 0; x < columns_; ++x) {
        auto at = static_cast<std::size_t>(y * columns_ + x);
        if (colours_[at] != colour || bold_[at] != bold) {
          colour = colours_[at];
          bold = bold_[at];
          out += "\033[0m";
          if (bold) out += "\033[1m";
          if (colour >= 0 && t.colour) {
            if (t.truecolour)
              out += std::string("\033[38;2;") + stages[static_cast<std::size_t>(colour)].rgb + "m";
            else
              out += "\033[38;5;" +
                     std::to_string(stages[static_cast<std::size_t>(colour)].colour) + "m";
          }
        }
        out += cells_[at];
      }
      out += "\033[0m";
      if (y + 1 < rows_) out += "\r\n";
    }
    return out;
  }

private:
  static std::size_t utf8_length(unsigned char c) {
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  }
  int columns_, rows_;
  std::vector<std::string> cells_;
  std::vector<int> colours_; // an index into `stages`, or -1
  std::vector<bool> bold_;
};

// Large digits: a 3x5 pixel font drawn with half blocks, three rows of text tall.
constexpr std::string_view glyph_chars = "0123456789.%";
constexpr std::array<std::array<const char*, 5>, 12> glyphs{{
    {"###", "#.#", "#.#", "#.#", "###"},
    {".#.", "##.", ".#.", ".#.", "###"},
    {"###", "..#", "###", "#..", "###"},
    {"###", "..#", "###", "..#", "###"},
    {"#.#", "#.#", "###", "..#", "..#"},
    {"###", "#..", "###", "..#", "###"},
    {"###", "#..", "###", "#.#", "###"},
    {"###", "..#", "..#", "..#", "..#"},
    {"###", "#.#", "###", "#.#", "###"},
    {"###", "#.#", "###", "..#", "###"},
    {".", ".", ".", ".", "#"},
    {"#.#", "..#", ".#.", "#..", "#.#"},
}};

int big_width(std::string_view s) {
  int w = 0;
  for (char c : s)
    if (auto g = glyph_chars.find(c); g != std::string_view::npos)
      w += static_cast<int>(std::strlen(glyphs[g][0])) + 1;
  return w;
}

void big_text(canvas& c, int x, int y, std::string_view s, int colour) {
  for (char ch : s) {
    auto g = glyph_chars.find(ch);
    if (g == std::string_view::npos) continue;
    auto& rows = glyphs[g];
    int w = static_cast<int>(std::strlen(rows[0]));
    for (int row = 0; row < 3; ++row)
      for (int col = 0; col < w; ++col) {
        bool top = rows[static_cast<std::size_t>(row * 2)][col] == '#';
        bool bottom = row * 2 + 1 < 5 && rows[static_cast<std::size_t>(row * 2 + 1)][col] == '#';
        c.put(x + col, y + row, top && bottom ? "█" : top ? "▀" : bottom ? "▄" : " ", colour, true);
      }
    x += w + 1;
  }
}

// The chart's top, in KB: a power of two of MB, at or above v (16 MB at least).
double scale_top(double kb) {
  double top = 16 * 1024;
  while (top < kb)
    top *= 2;
  return top;
}

std::string scale_text(double kb) { // 512 MiB, 1 GiB, 2 GiB
  auto mb = static_cast<long>(kb / 1024);
  return mb >= 1024 ? std::to_string(mb / 1024) + " GiB" : std::to_string(mb) + " MiB";
}

// A bar chart of `history` over the seconds [0, span], columns wide and rows tall, on a scale
// of [0, top]: each column shows the highest sample that falls in it, in eighths of a cell.
void chart(canvas& c, int x, int y, int columns, int rows,
           const std::vector<std::pair<double, double>>& history, double span, double top,
           int colour) {
  static constexpr std::array<const char*, 9> eighths{" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  std::vector<double> column(static_cast<std::size_t>(columns), -1);
  for (auto& [t, v] : history) {
    auto at = std::min(columns - 1, static_cast<int>(t / span * columns));
    auto& cell = column[static_cast<std::size_t>(at)];
    cell = std::max(cell, v);
  }
  for (int col = 0; col < columns; ++col) {
    double v = column[static_cast<std::size_t>(col)];
    if (v < 0) continue; // not running at that time
    int height = static_cast<int>(std::lround(std::min(v, top) / top * rows * 8));
    height = std::max(height, 1); // running, however little: a line along the bottom
    for (int row = 0; row < rows; ++row) {
      int fill = std::clamp(height - row * 8, 0, 8);
      c.put(x + col, y + rows - 1 - row, eighths[static_cast<std::size_t>(fill)], colour);
    }
  }
}

std::string fixed(double v, const char* format) {
  char text[64];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

std::string right(std::string_view label, std::string value, int width) {
  auto pad = width - static_cast<int>(label.size()) - static_cast<int>(value.size());
  return std::string(label) + std::string(static_cast<std::size_t>(std::max(pad, 1)), ' ') + value;
}

void draw(canvas& c, int columns, int rows, const options& o, const std::vector<runner>& runners,
          double elapsed, const std::string& port, double server_cpu) {
  auto& s = o.what;
  bool memory = s.headline == metric::memory;
  c.text(0, 0,
         std::string(memory ? "MEMORY SCENE" : "CPU SCENE") + " · " + group(s.requests) +
             " requests, " + std::to_string(o.limit) + " at a time · delays " +
             delay_words(s.delay) + " · " + fixed(elapsed, "%.1f s"),
         -1, true);
  auto shows = [&](std::string_view number) {
    return std::any_of(runners.begin(), runners.end(),
                       [&](auto& r) { return r.info->number == number; });
  };
  auto watch = s.watch;
  if (memory && !shows("02")) watch = "memory: it stays flat however many requests are made";
  if (!memory && !shows("03")) watch = "CPU: requests wait {delays} on the server";
  if (auto at = watch.find("{delays}"); at != std::string::npos)
    watch.replace(at, 8, delay_words(s.delay));
  c.text(0, 1, "Watch: " + watch);

  int panel = (columns - gutter) / static_cast<int>(runners.size());
  int chart_rows = rows - 15;
  int chart_top = 8;
  double span = std::max(elapsed, 0.2 * (panel - 1)); // the chart grows until it fills the panel
  double top = 100;
  if (memory) {
    for (auto& r : runners)
      for (auto& [t, v] : r.rss_history)
        top = std::max(top, v);
    top = scale_top(top);
  }
  auto scale_label = [&](double v) { return memory ? scale_text(v) : fixed(v, "%.0f%%"); };
  c.text(0, chart_top, scale_label(top));
  c.text(0, chart_top + chart_rows / 2, scale_label(top / 2));
  c.text(0, chart_top + chart_rows - 1, memory ? "0 MB" : "0%");
  c.text(0, chart_top + chart_rows, memory ? "memory" : "CPU");

  for (std::size_t i = 0; i < runners.size(); ++i) {
    auto& r = runners[i];
    int colour = static_cast<int>(r.info - stages.data());
    int x = gutter + static_cast<int>(i) * panel;
    int w = panel - 1;
    c.text(x, 3, (std::string(r.info->number) + " " + r.info->label).substr(0, w), colour, true);
    // The number that matters, large, with its unit.
    std::string number, unit;
    if (memory) {
      std::tie(number, unit) = memory_text(static_cast<double>(r.rss_kb));
    } else {
      number = fixed(r.cpu_percent, "%.0f%%");
      unit = "CPU";
    }
    big_text(c, x, 4, number, colour);
    c.text(x + big_width(number), 6, unit, colour, true);
    // The history, on one scale for all three.
    auto& history = memory ? r.rss_history : r.cpu_history;
    for (int row = 0; row < chart_rows; ++row)
      c.put(x - 1, chart_top + row, "│");
    chart(c, x, chart_top, w, chart_rows, history, span, top, colour);
    int below = chart_top + chart_rows;
    c.text(x, below, std::string(static_cast<std::size_t>(w), '-'));
    c.text(x, below, "0 s");
    auto end = fixed(span, "%.0f s");
    c.text(x + w - static_cast<int>(end.size()), below, end);
    // The figures.
    std::string other = memory ? fixed(r.cpu_percent, "%.0f%%")
                               : memory_text(static_cast<double>(r.rss_kb)).first + " " +
                                     memory_text(static_cast<double>(r.rss_kb)).second;
    c.text(x, below + 1, right(memory ? "CPU" : "memory", other, w));
    c.text(x, below + 2, right("requests/s", group(static_cast<std::uint64_t>(r.rate)), w));
    c.text(x, below + 3, right("done", group(r.done) + " / " + compact(o.what.requests), w));
    std::string state = r.finished ? (r.stopped       ? "stopped"
                                      : r.status == 0 ? "finished"
                                                      : "ended")
                                   : "running";
    c.text(x, below + 4, right("failed", group(r.failed), w));
    c.text(x, below + 5, right("", state, w), colour);
  }
  c.text(0, rows - 1,
         "server http://127.0.0.1:" + port + ", CPU " + fixed(server_cpu, "%.0f%%") +
             " · Ctrl-C stops");
}

void print_plain(const options& o, const std::vector<runner>& runners, double elapsed) {
  for (auto& r : runners) {
    auto [number, unit] = memory_text(static_cast<double>(r.rss_kb));
    std::printf("%6.1f s  %s %-22s memory %7s %s  CPU %4.0f%%  %8s requests/s  done %s of %s  "
                "failed %s%s\n",
                elapsed, r.info->number.c_str(), r.info->label.c_str(), number.c_str(),
                unit.c_str(), r.cpu_percent, group(static_cast<std::uint64_t>(r.rate)).c_str(),
                group(r.done).c_str(), group(o.what.requests).c_str(), group(r.failed).c_str(),
                r.finished ? (r.stopped ? "  stopped" : "  finished") : "");
  }
  std::fflush(stdout);
}

// --- The end: what `timed` and the tour print ---------------------------------------------------

std::string outcome(const runner& r) {
  if (r.stopped) return r.time_up ? "stopped (--for)" : "interrupted";
  for (auto& n : r.notes)
    if (n.rfind("out of memory", 0) == 0) return "out of memory";
  if (WIFSIGNALED(r.status)) return "killed";
  if (WEXITSTATUS(r.status) != 0) return "exit " + std::to_string(WEXITSTATUS(r.status));
  return "ok";
}

void print_summary(const options& o, const std::vector<runner>& runners,
                   const server_process& server) {
  auto& s = o.what;
  for (auto& r : runners) {
    if (o.brief && (outcome(r) == "ok" || r.time_up)) continue; // brief: what went wrong
    std::printf("\n== %s · %s requests · server delays %s\n", r.info->section.c_str(),
                group(s.requests).c_str(), delay_words(s.delay).c_str());
    for (auto& n : r.notes)
      std::printf("%s\n", n.c_str());
    if (!r.summary_line.empty()) std::printf("%s\n", r.summary_line.c_str());
    if (r.stopped)
      std::printf("%llu requests: stopped by %s after %s done, %s failed\n",
                  static_cast<unsigned long long>(s.requests), r.time_up ? "--for" : "Ctrl-C",
                  group(r.done).c_str(), group(r.failed).c_str());
    if (WIFSIGNALED(r.status))
      std::printf("Command terminated by signal %d\n", WTERMSIG(r.status));
    else if (WEXITSTATUS(r.status) != 0)
      std::printf("Command exited with non-zero status %d\n", WEXITSTATUS(r.status));
    std::printf("Memory usage: %lluKB\tTime: %.2f seconds\tCPU usage: %.0f%%\n",
                static_cast<unsigned long long>(common::platform::peak_kb(r.usage)), r.seconds,
                r.cpu_percent);
  }
  std::size_t from = 0;
  for (auto eol = server.said.find('\n'); !o.brief && eol != std::string::npos;
       eol = server.said.find('\n', from)) {
    std::printf("server: %s\n", server.said.substr(from, eol - from).c_str());
    from = eol + 1;
  }
  std::printf("\n== Summary\n");
  const char* format = "%-5s %11s %7s %13s %9s %5s %10s %s\n"; // the tour's, in 80 columns
  std::printf(format, "stage", "requests", "delays", "peak memory", "time", "CPU", "requests/s",
              "outcome");
  for (auto& r : runners)
    std::printf(format, r.info->number.c_str(), group(s.requests).c_str(),
                delay_words(s.delay).c_str(),
                (group(common::platform::peak_kb(r.usage)) + " KB").c_str(),
                fixed(r.seconds, "%.2f s").c_str(), fixed(r.cpu_percent, "%.0f%%").c_str(),
                group(static_cast<std::uint64_t>(r.rate)).c_str(), outcome(r).c_str());
  // One plain sentence of what the scene showed, from the figures above.
  auto peak = [&](std::size_t i) {
    auto [number, unit] =
        memory_text(static_cast<double>(common::platform::peak_kb(runners[i].usage)));
    return number + " " + unit;
  };
  auto cpu = [&](std::size_t i) { return fixed(runners[i].cpu_percent, "%.0f%%"); };
  if (runners.size() == 3 && s.headline == metric::memory)
    std::printf("\nShown: stage 02, which holds every request it has not made yet, peaked at %s; "
                "stages 03 and 04, which make each request only when there is room, at %s and "
                "%s.\n",
                peak(0).c_str(), peak(1).c_str(), peak(2).c_str());
  else if (runners.size() == 3)
    std::printf("\nShown: while the requests waited on the server, stage 03, which polls, used %s "
                "of a core; stages 02 and 04, which wait, used %s and %s.\n",
                cpu(1).c_str(), cpu(0).c_str(), cpu(2).c_str());
  else
    for (std::size_t i = 0; i < runners.size(); ++i)
      std::printf("%sstage %s made %s of %s requests in %.0f s, in %s at most, at %s CPU%s",
                  i ? "; " : "\nShown: ", runners[i].info->number.c_str(),
                  group(runners[i].done).c_str(), group(s.requests).c_str(), runners[i].seconds,
                  peak(i).c_str(), cpu(i).c_str(), i + 1 == runners.size() ? ".\n" : "");
  std::fflush(stdout);
}

} // namespace

int main(int argc, char* argv[]) {
  auto o = parse_args(argc, argv);
  struct sigaction action {};
  action.sa_handler = on_signal; // no SA_RESTART: poll() returns at once on Ctrl-C
  for (int s : {SIGINT, SIGTERM, SIGHUP})
    sigaction(s, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto [columns, rows] = terminal_size();
  bool full_screen = !o.plain && isatty(STDOUT_FILENO) && columns >= min_columns &&
                     rows >= min_rows && std::getenv("TERM") &&
                     std::string_view(std::getenv("TERM")) != "dumb";
  terminal term;
  term.colour = !std::getenv("NO_COLOR");
  if (auto c = std::getenv("COLORTERM"))
    term.truecolour = std::string_view(c) == "truecolor" || std::string_view(c) == "24bit";

  auto server = start_server(o);
  if (server.port.empty()) {
    std::fprintf(stderr, "live: the server did not start listening: %s\n", server.said.c_str());
    stop_server(server);
    return interrupted ? 130 : 1;
  }
  std::string numbers;
  for (auto* s : o.shown)
    numbers += (numbers.empty() ? "" : ", ") + std::string(s->number);
  std::printf("live: the %s scene: %s %s with %s requests%s against %s, server delays %s\n",
              o.what.name.c_str(), o.shown.size() > 1 ? "stages" : "stage", numbers.c_str(),
              group(o.what.requests).c_str(), o.shown.size() > 1 ? " each" : "",
              ("http://127.0.0.1:" + server.port).c_str(), delay_words(o.what.delay).c_str());
  std::fflush(stdout);

  std::vector<runner> runners;
  for (auto* s : o.shown)
    runners.push_back(runner{s});
  auto scene_start = clock_type::now();
  for (auto& r : runners)
    start_client(r, o, server.port);
  if (full_screen) term.enter();

  auto next_frame = scene_start;
  auto next_plain = scene_start + plain_interval;
  for (;;) {
    std::vector<pollfd> fds;
    for (auto& r : runners)
      if (r.process.err_fd() >= 0) fds.push_back({r.process.err_fd(), POLLIN, 0});
    auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(next_frame - clock_type::now());
    poll(fds.data(), fds.size(), static_cast<int>(std::max<long>(0, wait.count())));
    if (interrupted) break;
    for (auto& r : runners) {
      drain(r);
      if (r.process.err_fd() < 0) reap(r); // its stderr closed: it has exited, or is about to
    }
    auto now = clock_type::now();
    if (now < next_frame) continue;
    next_frame += frame_interval;
    if (next_frame < now) next_frame = now + frame_interval;
    for (auto& r : runners) {
      reap(r);
      sample(r, now, scene_start);
    }
    double elapsed = seconds_between(scene_start, now);
    bool all_done = std::all_of(runners.begin(), runners.end(),
                                [](auto& r) { return r.finished && r.process.err_fd() < 0; });
    if (full_screen) {
      std::tie(columns, rows) = terminal_size();
      if (columns < min_columns || rows < min_rows) { // shrunk: carry on in plain lines
        term.leave();
        full_screen = false;
      } else {
        canvas c(columns, rows);
        draw(c, columns, rows, o, runners, elapsed, server.port, server_cpu(server, now));
        auto frame = c.render(term);
        (void)!write(STDOUT_FILENO, frame.data(), frame.size());
      }
    }
    if (!full_screen && (now >= next_plain || all_done)) {
      print_plain(o, runners, elapsed);
      next_plain = now + plain_interval;
    }
    if (all_done) break;
    if (o.run_for.count() > 0 && now - scene_start >= o.run_for)
      stop_clients(runners, /*time_up=*/true); // the next round sees them all done
  }
  // The last frame stays up for a moment, for the room to read; Ctrl-C ends the wait early.
  for (auto until = clock_type::now() + o.hold;
       full_screen && !interrupted && clock_type::now() < until;)
    poll(nullptr, 0, 50);
  if (std::all_of(runners.begin(), runners.end(), [](auto& r) { return r.finished; }))
    interrupted = 0; // nothing was left to stop
  if (interrupted) stop_clients(runners, /*time_up=*/false);
  stop_server(server);
  term.leave();
  print_summary(o, runners, server);
  if (interrupted) return 130;
  for (auto& r : runners)
    if (outcome(r) != "ok" && !r.time_up) return 1;
  return 0;
}
