// timed: the article's test-runner script as a program. It starts the delay server, waits for it
// to say it is listening, runs the command, and prints the command's peak memory and wall time in
// the article's format (its `/usr/bin/time --format "Memory usage: %MKB\tTime: %e seconds"`),
// followed by the CPU use. Then it stops the server. GNU time is not needed.
#include "common/args.hpp"

#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
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

timed_args parse_args(int argc, char** argv) {
  common::arguments args(
      argc, argv, "[--server-args \"ARGS\"] [--server PATH] [--no-server] -- COMMAND [ARGS...]",
      "--server-args \"--port 0 --max-delay 0\" -- ./client-sync 10 --url "
      "http://127.0.0.1:{port}/{}");
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

std::string directory_of_this_program() {
  char path[PATH_MAX];
  auto n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return ".";
  std::string s(path, static_cast<std::size_t>(n));
  return s.substr(0, s.rfind('/'));
}

// Forks and execs `argv`; the child gets SIGTERM if timed dies, and `out_fd` as its stdout.
pid_t start(const std::vector<std::string>& words, int out_fd, int& error) {
  std::vector<char*> argv;
  for (auto& w : words)
    argv.push_back(const_cast<char*>(w.c_str()));
  argv.push_back(nullptr);
  int report[2]; // carries exec's errno back to the parent
  if (pipe2(report, O_CLOEXEC) != 0) {
    error = errno;
    return -1;
  }
  auto parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    signal(SIGINT, SIG_DFL);
    if (out_fd >= 0) dup2(out_fd, STDOUT_FILENO);
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

// Reads the server's stdout until its `listening on http://HOST:PORT` line; returns the port.
std::string wait_until_listening(int fd, std::string& output) {
  auto deadline = clock_type::now() + server_start_timeout;
  for (;;) {
    if (auto at = output.find("listening on http://"); at != std::string::npos) {
      auto eol = output.find('\n', at);
      if (eol != std::string::npos) {
        auto line = output.substr(at, eol - at);
        output.erase(0, eol + 1);
        return line.substr(line.rfind(':') + 1);
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
    char chunk[512];
    auto n = read(fd, chunk, sizeof chunk);
    if (n <= 0) return {};
    output.append(chunk, static_cast<std::size_t>(n));
  }
}

// Stops the server and returns what it printed after it started (its summary line).
std::string stop_server(pid_t pid, int fd, std::string output) {
  kill(pid, SIGTERM);
  auto deadline = clock_type::now() + server_stop_timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    char chunk[512];
    auto n = read(fd, chunk, sizeof chunk);
    if (n <= 0) break;
    output.append(chunk, static_cast<std::size_t>(n));
  }
  waitpid(pid, nullptr, 0);
  return output;
}

} // namespace

int main(int argc, char* argv[]) {
  auto args = parse_args(argc, argv);
  // Like GNU time: a Ctrl-C goes to the command, and timed lives to report on it.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);

  pid_t server = -1;
  int server_out = -1;
  std::string server_output;
  if (args.start_server) {
    std::vector<std::string> words{
        args.server_path.empty() ? directory_of_this_program() + "/server" : args.server_path};
    words.insert(words.end(), args.server_args.begin(), args.server_args.end());
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      std::perror("timed: pipe");
      return 1;
    }
    int error = 0;
    server = start(words, fds[1], error);
    close(fds[1]);
    server_out = fds[0];
    if (server < 0) {
      std::fprintf(stderr, "timed: cannot run the server '%s': %s\n", words[0].c_str(),
                   std::strerror(error));
      return 1;
    }
    auto port = wait_until_listening(server_out, server_output);
    if (port.empty()) {
      std::fprintf(stderr, "timed: the server did not start listening within %lld s\n",
                   static_cast<long long>(server_start_timeout.count()));
      stop_server(server, server_out, {});
      return 1;
    }
    for (auto& word : args.command)
      for (std::size_t at; (at = word.find("{port}")) != std::string::npos;)
        word.replace(at, 6, port);
  }

  auto started = clock_type::now();
  int error = 0;
  pid_t child = start(args.command, -1, error);
  if (child < 0) {
    std::fprintf(stderr, "timed: cannot run '%s': %s\n", args.command[0].c_str(),
                 std::strerror(error));
    if (server > 0) stop_server(server, server_out, {});
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
  std::fprintf(stderr, "Memory usage: %ldKB\tTime: %.2f seconds\tCPU usage: %.0f%%\n",
               usage.ru_maxrss, seconds, seconds > 0 ? 100 * cpu / seconds : 0.0);

  if (server > 0) {
    auto said = stop_server(server, server_out, std::move(server_output));
    std::size_t start_at = 0;
    for (auto eol = said.find('\n'); eol != std::string::npos; eol = said.find('\n', start_at)) {
      std::fprintf(stderr, "server: %s\n", said.substr(start_at, eol - start_at).c_str());
      start_at = eol + 1;
    }
  }
  return exit_status;
}
