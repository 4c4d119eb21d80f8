#include "tools/process.hpp"

#include "common/platform.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <utility>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tools {

namespace {

using clock_type = std::chrono::steady_clock;

std::chrono::milliseconds until(clock_type::time_point deadline) {
  return std::max(
      std::chrono::milliseconds(0),
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()));
}

// Reads what a non-blocking descriptor has into `text`; false at its end (or an error).
bool read_available(int fd, std::string& text) {
  char chunk[4096];
  for (;;) {
    auto n = read(fd, chunk, sizeof chunk);
    if (n > 0) {
      text.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    return n < 0 && (errno == EAGAIN || errno == EINTR);
  }
}

} // namespace

bool exit_status::signalled() const noexcept {
  return WIFSIGNALED(status);
}
int exit_status::code() const noexcept {
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
int exit_status::signal() const noexcept {
  return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

child::child(const std::vector<std::string>& argv, const spawn_options& o) {
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int out[2] = {-1, -1}, err[2] = {-1, -1}, report[2] = {-1, -1}; // report: exec's errno
  auto fail = [&] {
    error_ = errno;
    for (int fd : {out[0], out[1], err[0], err[1], report[0], report[1]})
      if (fd >= 0) close(fd);
  };
  if ((o.out == stream::pipe && common::platform::cloexec_pipe(out) != 0) ||
      (o.err == stream::pipe && common::platform::cloexec_pipe(err) != 0) ||
      common::platform::cloexec_pipe(report) != 0) {
    fail();
    return;
  }
  auto parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    fail();
    return;
  }
  if (pid == 0) {
    if (o.own_process_group) setpgid(0, 0);
    if (o.parent_death_signal) common::platform::die_with_parent(o.parent_death_signal, parent);
    for (int s : o.default_signals)
      ::signal(s, SIG_DFL);
    int null = -1;
    if (o.in == stream::null || o.out == stream::null || o.err == stream::null)
      null = open("/dev/null", O_RDWR);
    if (o.in == stream::null) dup2(null, STDIN_FILENO);
    if (o.out == stream::pipe) dup2(out[1], STDOUT_FILENO);
    if (o.out == stream::null) dup2(null, STDOUT_FILENO);
    if (o.err == stream::pipe) dup2(err[1], STDERR_FILENO);
    if (o.err == stream::null) dup2(null, STDERR_FILENO);
    if (o.err == stream::as_out) dup2(STDOUT_FILENO, STDERR_FILENO);
    if (o.close_other_descriptors) { // all but the report pipe, which exec closes
      dup2(report[1], 3);
      fcntl(3, F_SETFD, FD_CLOEXEC);
      report[1] = 3;
      common::platform::close_descriptors_from(4);
    }
    for (auto& e : o.environment)
      putenv(const_cast<char*>(e.c_str()));
    if (o.search_path)
      execvp(args[0], args.data());
    else
      execv(args[0], args.data());
    int e = errno;
    (void)!write(report[1], &e, sizeof e);
    _exit(127);
  }
  close(report[1]);
  for (int fd : {out[1], err[1]})
    if (fd >= 0) close(fd);
  int exec_error = 0;
  if (read(report[0], &exec_error, sizeof exec_error) == sizeof exec_error) { // exec failed
    close(report[0]);
    waitpid(pid, nullptr, 0);
    errno = exec_error;
    out[1] = err[1] = report[0] = report[1] = -1;
    fail();
    return;
  }
  close(report[0]);
  pid_ = pid;
  out_fd_ = out[0];
  err_fd_ = err[0];
  for (int fd : {out_fd_, err_fd_})
    if (fd >= 0) fcntl(fd, F_SETFL, O_NONBLOCK);
}

child::~child() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    wait();
  }
  close_pipes();
}

child::child(child&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), error_(other.error_),
      out_fd_(std::exchange(other.out_fd_, -1)), err_fd_(std::exchange(other.err_fd_, -1)),
      out_(std::move(other.out_)), err_(std::move(other.err_)) {}

child& child::operator=(child&& other) noexcept {
  if (this == &other) return *this;
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    wait();
  }
  close_pipes();
  pid_ = std::exchange(other.pid_, -1);
  error_ = other.error_;
  out_fd_ = std::exchange(other.out_fd_, -1);
  err_fd_ = std::exchange(other.err_fd_, -1);
  out_ = std::move(other.out_);
  err_ = std::move(other.err_);
  return *this;
}

void child::close_pipes() noexcept {
  for (int* fd : {&out_fd_, &err_fd_})
    if (*fd >= 0) {
      close(*fd);
      *fd = -1;
    }
}

int child::release_err() noexcept {
  int fd = std::exchange(err_fd_, -1);
  if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

bool child::read_for(std::chrono::milliseconds timeout) {
  pollfd fds[2];
  int* owners[2];
  std::string* sinks[2];
  nfds_t n = 0;
  if (out_fd_ >= 0) {
    fds[n] = {out_fd_, POLLIN, 0};
    owners[n] = &out_fd_;
    sinks[n++] = &out_;
  }
  if (err_fd_ >= 0) {
    fds[n] = {err_fd_, POLLIN, 0};
    owners[n] = &err_fd_;
    sinks[n++] = &err_;
  }
  if (n == 0) return false;
  if (poll(fds, n, static_cast<int>(timeout.count())) <= 0) return true;
  for (nfds_t i = 0; i < n; ++i) {
    if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    if (!read_available(fds[i].fd, *sinks[i])) {
      close(fds[i].fd);
      *owners[i] = -1;
    }
  }
  return out_fd_ >= 0 || err_fd_ >= 0;
}

std::optional<std::string> child::wait_for_line(std::string_view text,
                                                std::chrono::milliseconds timeout,
                                                const std::function<bool()>& give_up) {
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    if (auto at = out_.find(text); at != std::string::npos) {
      if (auto eol = out_.find('\n', at); eol != std::string::npos) {
        auto line = out_.substr(at, eol - at);
        out_.erase(0, eol + 1);
        return line;
      }
    }
    if (out_fd_ < 0 || (give_up && give_up())) return std::nullopt;
    auto left = until(deadline);
    if (left.count() <= 0) return std::nullopt;
    read_for(give_up ? std::min(left, std::chrono::milliseconds(100)) : left);
  }
}

exit_status child::stop(int signal, std::chrono::milliseconds grace) {
  if (pid_ <= 0) return {};
  kill(pid_, signal);
  auto deadline = clock_type::now() + grace;
  while (out_fd_ >= 0 || err_fd_ >= 0) {
    auto left = until(deadline);
    if (left.count() <= 0) { // a child that ignores the signal is killed
      kill(pid_, SIGKILL);
      break;
    }
    read_for(left);
  }
  return wait();
}

exit_status child::wait() {
  exit_status s;
  if (pid_ > 0) {
    while (wait4(pid_, &s.status, 0, &s.usage) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  close_pipes();
  return s;
}

std::optional<exit_status> child::try_wait() {
  if (pid_ <= 0) return std::nullopt;
  exit_status s;
  if (wait4(pid_, &s.status, WNOHANG, &s.usage) != pid_) return std::nullopt;
  pid_ = -1;
  return s;
}

std::optional<std::uint16_t> wait_until_listening(child& server, std::chrono::milliseconds timeout,
                                                  const std::function<bool()>& give_up) {
  auto line = server.wait_for_line(listening_text, timeout, give_up);
  if (!line) return std::nullopt;
  auto colon = line->rfind(':');
  auto port = std::strtoul(line->c_str() + colon + 1, nullptr, 10);
  if (colon == std::string::npos || port == 0 || port > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(port);
}

} // namespace tools
