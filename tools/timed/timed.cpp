// timed: the article's test-runner script as a program. It starts the delay server, waits for it
// to say it is listening, runs the command, and prints the command's peak memory and wall time in
// the article's format (its `/usr/bin/time --format "Memory usage: %MKB\tTime: %e seconds"`),
// followed by the CPU use. Then it stops the server. GNU time is not needed.
#include "common/args.hpp"
#include "common/platform.hpp"

#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
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

// Forks and execs `argv`; the child gets SIGTERM if timed dies, and `out_fd` and `err_fd` (when
// not -1) as its stdout and stderr.
pid_t start(const std::vector<std::string>& words, int out_fd, int err_fd, int& error) {
  std::vector<char*> argv;
  for (auto& w : words)
    argv.push_back(const_cast<char*>(w.c_str()));
  argv.push_back(nullptr);
  int report[2]; // carries exec's errno back to the parent
  if (common::platform::cloexec_pipe(report) != 0) {
    error = errno;
    return -1;
  }
  auto parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    common::platform::die_with_parent(SIGTERM, parent);
    signal(SIGINT, SIG_DFL);
    if (out_fd >= 0) dup2(out_fd, STDOUT_FILENO);
    if (err_fd >= 0) dup2(err_fd, STDERR_FILENO);
    execvp(argv[0], argv.data());
    int e = errno;
    (void)!write(report[1], &e, sizeof e);
    _exit(127);
  }
  close(report[1]);
  error = pid < 0 ? errno : 0;
  if (pid > 0 && read(report[0], &error, sizeof error) == sizeof error) {
    waitpid(pid, nullptr, 0);
    pid = -1;
  }
  close(report[0]);
  return pid;
}

// Appends what `fd` has to `text`; false at the end of the stream (or an error).
bool read_some(int fd, std::string& text) {
  char chunk[512];
  auto n = read(fd, chunk, sizeof chunk);
  if (n <= 0) return false;
  text.append(chunk, static_cast<std::size_t>(n));
  return true;
}

// The server's two pipes, and what came out of them while it started.
struct server_process {
  pid_t pid = -1;
  int out = -1;       // its stdout: the `listening on` line, then its summary
  int err = -1;       // its stderr: errors and warnings
  std::string output; // stdout read so far, not yet printed
  std::string errors; // stderr read before it was listening
};

// Reads the server's stdout until its `listening on http://HOST:PORT` line, and its stderr
// meanwhile; returns the port, or nothing when the server closed its stdout (it exited) or
// the time ran out (`exited` tells which).
std::string wait_until_listening(server_process& server, bool& exited) {
  auto deadline = clock_type::now() + server_start_timeout;
  exited = false;
  for (;;) {
    if (auto at = server.output.find("listening on http://"); at != std::string::npos) {
      auto eol = server.output.find('\n', at);
      if (eol != std::string::npos) {
        auto line = server.output.substr(at, eol - at);
        server.output.erase(0, eol + 1);
        return line.substr(line.rfind(':') + 1);
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    pollfd p[2] = {{server.out, POLLIN, 0}, {server.err, POLLIN, 0}};
    if (left.count() <= 0 || poll(p, server.err < 0 ? 1 : 2, static_cast<int>(left.count())) <= 0)
      return {};
    if (p[1].revents && !read_some(server.err, server.errors)) {
      close(server.err); // its stderr is closed; its stdout will tell
      server.err = -1;
    }
    if (p[0].revents && !read_some(server.out, server.output)) {
      exited = true;
      return {};
    }
  }
}

// Stops the server and returns what it printed after it started (its summary line); `status`
// gets its wait status.
std::string stop_server(server_process& server, int& status) {
  kill(server.pid, SIGTERM);
  auto deadline = clock_type::now() + server_stop_timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    pollfd p{server.out, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      kill(server.pid, SIGKILL);
      break;
    }
    if (!read_some(server.out, server.output)) break;
  }
  waitpid(server.pid, &status, 0);
  return std::move(server.output);
}

// The first line the server wrote to stderr: its error, when it could not start.
std::string first_line(const std::string& text) {
  auto start = text.find_first_not_of('\n');
  if (start == std::string::npos) return {};
  return text.substr(start, text.find('\n', start) - start);
}

// `timed: the server exited before it was listening (exit status 1): <its first line>`.
void report_early_exit(server_process& server) {
  int status = 0;
  stop_server(server, status); // already gone: this collects its status
  if (server.err >= 0) {       // what it wrote to stderr on the way out
    pollfd p{server.err, POLLIN, 0};
    while (poll(&p, 1, 1000) > 0 && read_some(server.err, server.errors)) {
    }
  }
  auto how = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                 : "exit status " + std::to_string(WEXITSTATUS(status));
  auto said = first_line(server.errors);
  std::fprintf(stderr, "timed: the server exited before it was listening (%s)%s%s\n", how.c_str(),
               said.empty() ? ", saying nothing" : ": ", said.c_str());
}

} // namespace

int main(int argc, char* argv[]) {
  auto args = parse_args(argc, argv);
  // Like GNU time: a Ctrl-C goes to the command, and timed lives to report on it.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);

  server_process server;
  std::thread forward_errors; // copies the server's stderr to ours while it runs
  if (args.start_server) {
    std::vector<std::string> words{args.server_path.empty()
                                       ? common::platform::program_directory(argv[0]) + "/server"
                                       : args.server_path};
    words.insert(words.end(), args.server_args.begin(), args.server_args.end());
    int out[2], err[2];
    if (common::platform::cloexec_pipe(out) != 0 || common::platform::cloexec_pipe(err) != 0) {
      std::perror("timed: pipe");
      return 1;
    }
    int error = 0;
    server.pid = start(words, out[1], err[1], error);
    close(out[1]);
    close(err[1]);
    server.out = out[0];
    server.err = err[0];
    if (server.pid < 0) {
      std::fprintf(stderr, "timed: cannot run the server '%s': %s\n", words[0].c_str(),
                   std::strerror(error));
      return 1;
    }
    bool exited = false;
    auto port = wait_until_listening(server, exited);
    if (port.empty()) {
      if (exited) {
        report_early_exit(server);
      } else {
        std::fputs(server.errors.c_str(), stderr);
        std::fprintf(stderr, "timed: the server did not start listening within %lld s\n",
                     static_cast<long long>(server_start_timeout.count()));
        int status = 0;
        stop_server(server, status);
      }
      return 1;
    }
    std::fputs(server.errors.c_str(), stderr); // e.g. its warning about a non-loopback address
    if (server.err >= 0)
      forward_errors = std::thread([fd = server.err] {
        std::string text;
        while (read_some(fd, text)) {
          std::fputs(text.c_str(), stderr);
          text.clear();
        }
      });
    for (auto& word : args.command)
      for (std::size_t at; (at = word.find("{port}")) != std::string::npos;)
        word.replace(at, 6, port);
  }

  auto started = clock_type::now();
  int error = 0;
  pid_t child = start(args.command, -1, -1, error);
  if (child < 0) {
    std::fprintf(stderr, "timed: cannot run '%s': %s\n", args.command[0].c_str(),
                 std::strerror(error));
    if (server.pid > 0) {
      int status = 0;
      stop_server(server, status);
      if (forward_errors.joinable()) forward_errors.join();
    }
    return 127;
  }
  int status = 0;
  rusage usage{};
  while (wait4(child, &status, 0, &usage) < 0 && errno == EINTR) {
  }
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

  if (server.pid > 0) {
    int server_status = 0;
    auto said = stop_server(server, server_status);
    if (forward_errors.joinable()) forward_errors.join(); // the server is gone: its stderr ends
    std::size_t start_at = 0;
    for (auto eol = said.find('\n'); eol != std::string::npos; eol = said.find('\n', start_at)) {
      std::fprintf(stderr, "server: %s\n", said.substr(start_at, eol - start_at).c_str());
      start_at = eol + 1;
    }
  }
  return exit_status;
}
