// live: the article's story on one screen, for a projector. It starts one delay server and the
// three async clients (stages 02, 03 and 04) side by side against it, and redraws five times a
// second, for each stage: its resident memory (or, in the CPU scene, its CPU use) as a chart
// that grows to the right, that figure in large digits, and CPU, requests/s, done of N and
// failures. Memory and CPU come from /proc/PID (ps(1) in the portable build); done and failed from
// the clients' own progress lines (PROGRESS=1). It ends, or on Ctrl-C stops, with the lines `timed`
// and the tour print. On a terminal smaller than 80x24, or not a terminal, it prints plain lines
// instead.
#include "tools/live/live.hpp"
#include "tools/live/screen.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <poll.h>
#include <unistd.h>

namespace live {

volatile std::sig_atomic_t interrupted = 0;
void on_signal(int) {
  interrupted = 1;
}

} // namespace live

int main(int argc, char* argv[]) {
  using namespace live;
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
