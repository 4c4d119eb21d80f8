#include "tests/testing.hpp"

#include "common/platform.hpp"

#include <asio/post.hpp>
#include <asio/read.hpp>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace common::testing {

server::options zero_delay() {
  server::options options;
  options.port = 0;
  options.max_delay = 0;
  return options;
}

running_server::running_server(server::options options)
    : server_(io_, std::move(options)), port_(server_.port()) {
  server_.on_request = [this](std::string_view name) {
    std::lock_guard lock(mutex_);
    ++names_[std::string(name)];
  };
  server_.start();
  thread_ = std::thread([this] { io_.run(); });
}

running_server::~running_server() {
  stop();
}

std::string running_server::url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/{}";
}

server::stats running_server::stats() {
  if (!thread_.joinable()) return server_.statistics();
  std::promise<server::stats> copy;
  asio::post(io_, [&] { copy.set_value(server_.statistics()); });
  return copy.get_future().get();
}

std::map<std::string, int> running_server::names() {
  std::lock_guard lock(mutex_);
  return names_;
}

void running_server::stop() {
  if (!thread_.joinable()) return;
  asio::post(io_, [this] { server_.stop(); });
  thread_.join();
}

scripted_server::scripted_server(script s)
    : script_(std::move(s)),
      acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
      port_(acceptor_.local_endpoint().port()) {
  acceptor_.non_blocking(true);
  acceptor_thread_ = std::thread([this] { accept_loop(); });
}

scripted_server::~scripted_server() {
  stopping_ = true;
  acceptor_thread_.join();
  {
    std::lock_guard lock(mutex_);
    for (auto& socket : sockets_)
      ::shutdown(socket->native_handle(), SHUT_RDWR);
  }
  for (auto& t : threads_)
    t.join();
}

std::string scripted_server::url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/{}";
}

void scripted_server::accept_loop() {
  while (!stopping_) {
    pollfd p{acceptor_.native_handle(), POLLIN, 0};
    if (poll(&p, 1, 20) <= 0) continue;
    auto socket = std::make_unique<asio::ip::tcp::socket>(io_);
    std::error_code ec;
    acceptor_.accept(*socket, ec);
    if (ec) continue;
    socket->non_blocking(false, ec);
    std::lock_guard lock(mutex_);
    auto* raw = socket.get();
    sockets_.push_back(std::move(socket));
    threads_.emplace_back([this, raw, n = connections_++] {
      try {
        script_(*raw, n);
      } catch (const std::exception&) { // the client went away mid-script
      }
      ::shutdown(raw->native_handle(), SHUT_RDWR); // the script is over: the client sees the end
    });
  }
}

server_process::server_process(std::vector<std::string> args, std::string program) {
  args.insert(args.begin(), std::move(program));
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2], err[2];
  if (common::platform::cloexec_pipe(out) != 0 || common::platform::cloexec_pipe(err) != 0)
    throw std::runtime_error("pipe");
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    common::platform::close_descriptors_from(
        3); // the test's own sockets (Asio's are not close-on-exec) stay here
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  out_ = out[0];
  err_ = err[0];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    if (auto at = output_.find("listening on http://"); at != std::string::npos) {
      if (auto eol = output_.find('\n', at); eol != std::string::npos) {
        auto line = output_.substr(at, eol - at);
        port_ = static_cast<std::uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
        output_.erase(0, eol + 1);
        return;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{out_, POLLIN, 0};
    char chunk[256];
    ssize_t n = 0;
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0 ||
        (n = read(out_, chunk, sizeof chunk)) <= 0) {
      stop(SIGKILL);
      throw std::runtime_error("the server did not start: " + output_);
    }
    output_.append(chunk, static_cast<std::size_t>(n));
  }
}

server_process::~server_process() {
  stop(SIGKILL);
}

std::string server_process::url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/{}";
}

server_process::exit_info server_process::stop(int signal) {
  exit_info info;
  if (pid_ < 0) return info;
  kill(pid_, signal);
  char chunk[256];
  pollfd fds[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
  std::string* sinks[2] = {&output_, &info.err};
  for (int open = 2; open > 0;) {
    if (poll(fds, 2, 10'000) <= 0) { // a server that ignores the signal is killed
      kill(pid_, SIGKILL);
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      auto n = read(fds[i].fd, chunk, sizeof chunk);
      if (n > 0) {
        sinks[i]->append(chunk, static_cast<std::size_t>(n));
      } else {
        fds[i].fd = -1; // poll ignores it from now on
        --open;
      }
    }
  }
  close(out_);
  close(err_);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  if (WIFEXITED(status)) info.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) info.signal = WTERMSIG(status);
  info.out = std::move(output_);
  return info;
}

std::string read_head(asio::ip::tcp::socket& socket) {
  std::string head;
  char c;
  std::error_code ec;
  while (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n") != 0) {
    if (asio::read(socket, asio::buffer(&c, 1), ec) != 1) return {};
    head += c;
  }
  return head;
}

std::uint16_t unused_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

std::size_t open_files(pid_t pid) {
  auto n = common::platform::open_files(pid);
  if (!n)
    throw std::runtime_error("cannot count the descriptors of process " + std::to_string(pid));
  return *n;
}

long resident_kb(pid_t pid) {
  if (auto sampled = common::platform::sample(pid)) return static_cast<long>(sampled->rss_kb);
  throw std::runtime_error("no resident size for process " + std::to_string(pid));
}

std::string bin(const std::string& program) {
  if (program.ends_with(".py")) { // the article's Python programs, in the stages' folders
    for (auto folder : {"server", "01-sync", "02-eager-semaphore", "03-limited-as-completed",
                        "04-stdlib-proposal"})
      if (auto path = std::string(SOURCE_DIR) + "/" + folder + "/" + program;
          std::filesystem::exists(path))
        return path;
  }
  return std::string(BIN_DIR) + "/" + program;
}

const char* python_missing() {
  static const bool ready =
      std::system("/usr/bin/python3 -c 'import aiohttp, requests' >/dev/null 2>&1") == 0;
  return ready ? nullptr
               : "skipped: the Python programs need Debian's python3-aiohttp and python3-requests "
                 "(apt-get install python3-aiohttp python3-requests)";
}

process_result run(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
  if (argv.at(0).find('/') == std::string::npos) argv[0] = bin(argv[0]);
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);

  int out[2], err[2];
  if (common::platform::cloexec_pipe(out) != 0 || common::platform::cloexec_pipe(err) != 0)
    throw std::runtime_error("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0); // its own process group, so that a timeout kills what it started too
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    common::platform::close_descriptors_from(
        3); // the test's own sockets (Asio's are not close-on-exec) stay here
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);

  process_result result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open = 2;
  while (open > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char chunk[4096];
      auto n = read(fds[i].fd, chunk, sizeof chunk);
      if (n > 0) {
        sinks[i]->append(chunk, static_cast<std::size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  result.max_rss_kb = static_cast<long>(common::platform::peak_kb(usage));
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

} // namespace common::testing
