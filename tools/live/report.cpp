// The end: each stage's lines as `timed` and the tour print them, the server's, a table, and one
// sentence of what the scene showed.
#include "tools/live/live.hpp"

#include "common/platform.hpp"

#include <cstdio>

#include <sys/wait.h>

namespace live {

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

} // namespace live
