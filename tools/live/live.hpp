// live's parts, shared by its files:
//   live.cpp          main: the scene's loop
//   command_line.cpp  the options and --help
//   scene.cpp         the stage table (tools/stages), the scenes, numbers as people read them
//   sampling.cpp      the server and the clients: started, read, sampled, reaped, stopped
//   screen.hpp, .cpp  the terminal, a canvas, a pixel font, the chart, the plain lines
//   report.cpp        the end: what `timed` and the tour print, and the summary table
#pragma once

#include "tools/process.hpp"

#include <chrono>
#include <csignal>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/resource.h>

namespace live {

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

// Ours (02, 03 and 04: the stages with a colour in tools/stages), then the article's Python
// programs that `--python` puts beside two of them ("02 py", "03 py").
extern const std::vector<stage_info> stages;
// The index in `stages` of the stage numbered `number`.
std::size_t index_of(std::string_view number);

enum class metric { memory, cpu };

struct scene {
  std::string name;
  metric headline;
  std::uint64_t requests;
  std::string delay; // the server's delays: s (0-3 s), ms (0-3 ms) or 0
  std::string watch; // what the audience should look at
};

scene memory_scene();
scene cpu_scene();

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

options parse_args(int argc, char** argv);
// Where a stage's program is: ours in --bin, the article's Python in its stage's folder.
std::string program_path(const options& o, const stage_info& s);

// --- Numbers as people read them ----------------------------------------------------------------

std::string group(std::uint64_t n);   // 1234567 -> 1,234,567
std::string compact(std::uint64_t n); // 1000000 -> 1M, 15000 -> 15k
// Memory with three significant figures: its number and its unit (MB = 1024 KB, as the clients'
// progress lines count).
std::pair<std::string, std::string> memory_text(double kb);
std::string fixed(double v, const char* format);
std::string delay_words(const std::string& delay);
std::vector<std::string> server_args(const std::string& delay);
// Stage 02's --memory-limit: half the machine, as the tour gives it.
std::string memory_cap();

// --- The server and the clients -----------------------------------------------------------------

extern volatile std::sig_atomic_t interrupted; // Ctrl-C, SIGTERM or SIGHUP came

struct server_process {
  tools::child process; // stdout and stderr in one pipe
  std::string port;
  std::string said; // what it printed after the listening line
};

server_process start_server(const options& o);
void stop_server(server_process& s);

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

void start_client(runner& r, const options& o, const std::string& port);
// Reads what the client said: its progress, its summary line, anything else.
void drain(runner& r);
// Reaps the client if it has ended.
void reap(runner& r);
// Samples the client's memory and CPU, once a frame.
void sample(runner& r, clock_type::time_point now, clock_type::time_point scene_start);
// The server's CPU use over the last second: when it nears 100%, it is what sets the pace.
double server_cpu(const server_process& s, clock_type::time_point now);
void stop_clients(std::vector<runner>& runners, bool time_up);
double seconds_between(clock_type::time_point a, clock_type::time_point b);

// --- The end ------------------------------------------------------------------------------------

// ok, out of memory, killed, exit N, interrupted, stopped (--for).
std::string outcome(const runner& r);
void print_summary(const options& o, const std::vector<runner>& runners,
                   const server_process& server);

} // namespace live
