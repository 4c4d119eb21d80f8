#include "tests/testing.hpp"

#include "common/platform.hpp"

#include <asio/post.hpp>
#include <asio/read.hpp>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>

#include <poll.h>
#include <sys/socket.h>
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
  child_ =
      tools::child(args, {.close_other_descriptors = true}); // the test's own sockets stay here
  if (!child_.running())
    throw std::runtime_error("the server did not start: " +
                             std::string(std::strerror(child_.error())));
  if (auto port = tools::wait_until_listening(child_, std::chrono::seconds(10))) {
    port_ = *port;
    return;
  }
  auto output = child_.out();
  stop(SIGKILL);
  throw std::runtime_error("the server did not start: " + output);
}

server_process::~server_process() {
  stop(SIGKILL);
}

std::string server_process::url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/{}";
}

server_process::exit_info server_process::stop(int signal) {
  exit_info info;
  if (!child_.running()) return info;
  auto status = child_.stop(signal, std::chrono::seconds(10));
  info.exit_code = status.code();
  info.signal = status.signal();
  info.out = std::move(child_.out());
  info.err = std::move(child_.err());
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
  process_result result;
  // Its own process group, so that a timeout kills what it started too; the test's own sockets
  // (Asio's are not close-on-exec) stay here.
  tools::child child(argv, {.own_process_group = true, .close_other_descriptors = true});
  if (!child.running()) { // as if it had run and exec had failed
    result.exit_code = 127;
    return result;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      kill(-child.pid(), SIGKILL);
      kill(child.pid(), SIGKILL);
      break;
    }
    if (!child.read_for(left)) break; // both pipes ended
  }
  auto status = child.wait();
  result.out = std::move(child.out());
  result.err = std::move(child.err());
  result.max_rss_kb = static_cast<long>(common::platform::peak_kb(status.usage));
  result.exit_code = status.code();
  result.signal = status.signal();
  return result;
}

} // namespace common::testing
