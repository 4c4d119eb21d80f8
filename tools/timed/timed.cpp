// timed: the article's test-runner script as a program. It starts the delay server, waits for it
// to say it is listening, runs the command, and prints the command's peak memory and wall time in
// the article's format (its `/usr/bin/time --format "Memory usage: %MKB\tTime: %e seconds"`),
// followed by the CPU use. Then it stops the server. GNU time is not needed.
#include "common/args.hpp"
#include "common/platform.hpp"
#include "tools/process.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;
constexpr auto server_start_timeout = std::chrono::seconds(10);
constexpr auto server_stop_timeout = std::chrono::seconds(5);

struct timed_args {
  bool start_server = true;
  std::string server_path; // empty: the `server` next to this program
  std::vector<std::string> server_args;
  std::vector<std::string> command; // {port} in any argument becomes the server's port
};

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  for (std::size_t i = 0; i < text.size();) {
    auto start = text.find_first_not_of(" \t", i);
    if (start == std::string_view::npos) break;
    auto stop = std::min(text.find_first_of(" \t", start), text.size());
    words.emplace_back(text.substr(start, stop - start));
    i = stop;
  }
  return words;
}

// What `--help` prints between the Usage and Example lines.
std::string help() {
  std::string h = "Starts the delay server, runs COMMAND, and prints COMMAND's peak memory, wall "
                  "time and\n";
  h += "CPU use as `Memory usage: ...KB\tTime: ... seconds\tCPU usage: ...%`. Then it stops the\n";
  h += "server and prints what the server said, each line after `server: `.\n\n";
  h +=
      "  --server-args \"ARGS\"  the server's options, split at spaces; may be repeated (default\n";
  h += "                        none: the server's own, port 8080 and delays of 0-3 s)\n";
  h += "  --server PATH         the server program (default: `server` beside timed)\n";
  h += "  --no-server           runs COMMAND alone\n";
  h += "  -h, --help            prints this and exits\n\n";
  h += "Every {port} in COMMAND becomes the port the server listens on, so `--port 0` (any free\n";
  h += "port) works; `{}` is left alone, for the client (the request's number). The server has\n";
  h += std::to_string(server_start_timeout.count()) +
       " s to print its `listening on` line. Ctrl-C goes to COMMAND, not to timed (a client\n";
  h += "then prints its summary so far and exits 130), and timed reports on it as usual.\n\n";
  h += "Environment: COMMAND inherits it; PROGRESS=1 has a client print its progress every\n";
  h += "second even when stderr is not a terminal, PROGRESS=0 never.\n";
  h += "Exit status: COMMAND's, or 128+N when signal N ended it; 1 when the server did not\n";
  h += "start, 127 when COMMAND cannot run, 2 for bad arguments.\n";
  return h;
}

timed_args parse_args(int argc, char** argv) {
  common::arguments args(
      argc, argv, "[--server-args \"ARGS\"] [--server PATH] [--no-server] -- COMMAND [ARGS...]",
      "--server-args \"--port 0 --max-delay 0\" -- ./client-sync 10 --url "
      "http://127.0.0.1:{port}/{}",
      help());
  timed_args out;
  while (!args.done()) {
    auto arg = args.next();
    if (arg == "--server-args") {
      auto more = split_words(args.value());
      out.server_args.insert(out.server_args.end(), more.begin(), more.end());
    } else if (arg == "--server") {
      out.server_path = args.value();
    } else if (arg == "--no-server") {
      out.start_server = false;
    } else if (arg == "--" || arg.substr(0, 2) != "--") {
      if (arg != "--") out.command.emplace_back(arg);
      for (auto& word : args.rest())
        out.command.push_back(std::move(word));
    } else {
      args.fail("unknown option " + std::string(arg));
    }
  }
  if (out.command.empty()) args.fail("missing the command to run");
  return out;
}

// How timed starts the server and the command: a bare name is looked up in PATH, as a shell
// does; the child gets SIGTERM if timed dies, and Ctrl-C as usual (timed itself ignores it).
tools::spawn_options child_options(tools::stream out, tools::stream err) {
  return {.out = out,
          .err = err,
          .search_path = true,
          .parent_death_signal = SIGTERM,
          .default_signals = {SIGINT}};
}

// The first line the server wrote to stderr: its error, when it could not start.
std::string first_line(const std::string& text) {
  auto start = text.find_first_not_of('\n');
  if (start == std::string::npos) return {};
  return text.substr(start, text.find('\n', start) - start);
}

// `timed: the server exited before it was listening (exit status 1): <its first line>`.
void report_early_exit(tools::child& server) {
  auto status = server.stop(SIGTERM, server_stop_timeout); // already gone: this collects it all
  auto how = status.signalled() ? "killed by signal " + std::to_string(status.signal())
                                : "exit status " + std::to_string(status.code());
  auto said = first_line(server.err());
  std::fprintf(stderr, "timed: the server exited before it was listening (%s)%s%s\n", how.c_str(),
               said.empty() ? ", saying nothing" : ": ", said.c_str());
}

} // namespace

int main(int argc, char* argv[]) {
  auto args = parse_args(argc, argv);
  // Like GNU time: a Ctrl-C goes to the command, and timed lives to report on it.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);

  tools::child server;
  std::thread forward_errors; // copies the server's stderr to ours while it runs
  if (args.start_server) {
    std::vector<std::string> words{args.server_path.empty()
                                       ? common::platform::program_directory(argv[0]) + "/server"
                                       : args.server_path};
    words.insert(words.end(), args.server_args.begin(), args.server_args.end());
    server = tools::child(words, child_options(tools::stream::pipe, tools::stream::pipe));
    if (!server.running()) {
      std::fprintf(stderr, "timed: cannot run the server '%s': %s\n", words[0].c_str(),
                   std::strerror(server.error()));
      return 1;
    }
    auto port = tools::wait_until_listening(server, server_start_timeout);
    if (!port) {
      if (server.out_fd() < 0) { // its stdout ended: it exited
        report_early_exit(server);
      } else {
        std::fputs(server.err().c_str(), stderr);
        std::fprintf(stderr, "timed: the server did not start listening within %lld s\n",
                     static_cast<long long>(server_start_timeout.count()));
        server.stop(SIGTERM, server_stop_timeout);
      }
      return 1;
    }
    std::fputs(server.err().c_str(), stderr); // e.g. its warning about a non-loopback address
    if (int fd = server.release_err(); fd >= 0)
      forward_errors = std::thread([fd] {
        char chunk[512];
        for (ssize_t n; (n = read(fd, chunk, sizeof chunk)) > 0;)
          std::fwrite(chunk, 1, static_cast<std::size_t>(n), stderr);
        close(fd);
      });
    for (auto& word : args.command)
      for (std::size_t at; (at = word.find("{port}")) != std::string::npos;)
        word.replace(at, 6, std::to_string(*port));
  }

  auto started = clock_type::now();
  tools::child command(args.command, child_options(tools::stream::inherit, tools::stream::inherit));
  if (!command.running()) {
    std::fprintf(stderr, "timed: cannot run '%s': %s\n", args.command[0].c_str(),
                 std::strerror(command.error()));
    if (server.running()) {
      server.stop(SIGTERM, server_stop_timeout);
      if (forward_errors.joinable()) forward_errors.join();
    }
    return 127;
  }
  auto ended = command.wait();
  int status = ended.status;
  rusage usage = ended.usage;
  double seconds = std::chrono::duration<double>(clock_type::now() - started).count();
  double cpu = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
               (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;

  int exit_status = 0;
  if (WIFSIGNALED(status)) {
    std::fprintf(stderr, "Command terminated by signal %d\n", WTERMSIG(status));
    exit_status = 128 + WTERMSIG(status);
  } else if (WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "Command exited with non-zero status %d\n", WEXITSTATUS(status));
    exit_status = WEXITSTATUS(status);
  }
  std::fprintf(stderr, "Memory usage: %lluKB\tTime: %.2f seconds\tCPU usage: %.0f%%\n",
               static_cast<unsigned long long>(common::platform::peak_kb(usage)), seconds,
               seconds > 0 ? 100 * cpu / seconds : 0.0);

  if (server.running()) {
    server.stop(SIGTERM, server_stop_timeout);
    if (forward_errors.joinable()) forward_errors.join(); // the server is gone: its stderr ends
    auto& said = server.out();
    std::size_t start_at = 0;
    for (auto eol = said.find('\n'); eol != std::string::npos; eol = said.find('\n', start_at)) {
      std::fprintf(stderr, "server: %s\n", said.substr(start_at, eol - start_at).c_str());
      start_at = eol + 1;
    }
  }
  return exit_status;
}
