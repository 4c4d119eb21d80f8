// The server and the clients: started through tools/process, their output read, their memory
// and CPU sampled (/proc, or ps(1) in the portable build: common/platform.hpp), reaped, stopped.
#include "tools/live/live.hpp"

#include "common/platform.hpp"
#include "common/summary.hpp"

#include <cstdio>
#include <cstring>

#include <poll.h>
#include <sys/wait.h>

namespace live {
namespace {

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

} // namespace

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

namespace {

// A client that could not be started counts as one that ended at once with status 127.
void could_not_start(runner& r, const std::string& path) {
  r.notes.push_back("live: cannot run " + path + ": " + std::strerror(r.process.error()));
  r.finished = true;
  r.status = 127 << 8; // as waitpid() reports exit(127)
}

} // namespace

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

} // namespace live
