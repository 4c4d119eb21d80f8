#include "common/summary.hpp"

#include "common/resources.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <mutex>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

namespace common {
namespace {

using std::chrono::steady_clock;
constexpr auto progress_interval = std::chrono::seconds(1);

// Progress is shown on a terminal, unless PROGRESS=0; PROGRESS=1 shows it anywhere, as lines.
enum class progress_mode { off, terminal, lines };

progress_mode progress_wanted() {
  const char* env = std::getenv("PROGRESS");
  if (env && std::strcmp(env, "0") == 0) return progress_mode::off;
  if (env && std::strcmp(env, "1") == 0)
    return isatty(STDERR_FILENO) ? progress_mode::terminal : progress_mode::lines;
  return isatty(STDERR_FILENO) ? progress_mode::terminal : progress_mode::off;
}

std::string duration(double seconds) {
  auto s = static_cast<long long>(seconds + 0.5);
  char text[32];
  std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  return text;
}

// A signal handler may do little safely, so it only writes the signal's number into a pipe; a
// thread of the summary's reads it and prints the report. A 0 tells that thread to stop.
constexpr int caught_signals[] = {SIGINT, SIGTERM};
int signal_pipe[2] = {-1, -1};
struct sigaction previous_actions[std::size(caught_signals)];
std::atomic<bool> signals_watched{false}; // by one summary at a time

extern "C" void on_signal(int signal_number) {
  auto byte = static_cast<unsigned char>(signal_number);
  (void)!write(signal_pipe[1], &byte, 1);
}

} // namespace

summary::summary(std::uint64_t requests) : requests_(requests) {
  if (auto mode = progress_wanted(); mode != progress_mode::off && requests > 0)
    progress_ = std::jthread([this, mode](std::stop_token stop) {
      show_progress(stop, mode == progress_mode::terminal);
    });
  if (!signals_watched.exchange(true)) watch_signals();
}

summary::~summary() {
  stop_watching_signals();
}

void summary::watch_signals() {
  if (pipe2(signal_pipe, O_CLOEXEC) != 0) {
    signals_watched = false;
    return; // no report on Ctrl-C, but the run itself is unharmed
  }
  fcntl(signal_pipe[1], F_SETFL, O_NONBLOCK); // a handler must never block
  signal_watcher_ = std::jthread([this] {
    unsigned char byte = 0;
    while (read(signal_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    if (byte == 0) return; // stop_watching_signals()
    stop_progress();
    std::fprintf(stderr, "%s\n", interrupted_line().c_str());
    std::_Exit(128 + byte); // at once: the run's thread is still in the middle of it
  });
  struct sigaction action {};
  action.sa_handler = on_signal;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  for (std::size_t i = 0; i < std::size(caught_signals); ++i)
    sigaction(caught_signals[i], &action, &previous_actions[i]);
}

void summary::stop_watching_signals() {
  if (!signal_watcher_.joinable()) return;
  for (std::size_t i = 0; i < std::size(caught_signals); ++i)
    sigaction(caught_signals[i], &previous_actions[i], nullptr);
  unsigned char stop = 0;
  (void)!write(signal_pipe[1], &stop, 1);
  signal_watcher_.join(); // returns at once, unless a signal came first: then the process ends
  close(signal_pipe[0]);
  close(signal_pipe[1]);
  signals_watched = false;
}

void summary::stop_progress() {
  if (progress_.joinable()) {
    progress_.request_stop();
    progress_.join();
  }
}

void summary::show_progress(std::stop_token stop, bool terminal) {
  std::mutex m;
  std::condition_variable_any wake;
  auto start = steady_clock::now();
  for (;;) {
    std::unique_lock lock(m);
    if (wake.wait_for(lock, stop, progress_interval, [] { return false; }) || stop.stop_requested())
      break;
    double elapsed = std::chrono::duration<double>(steady_clock::now() - start).count();
    auto done = ok() + failed();
    double rate = done / elapsed;
    auto eta = rate > 0 ? duration((requests_ - done) / rate) : std::string("?");
    std::fprintf(stderr,
                 "%sprogress: %.0f s, %llu of %llu requests (%.1f%%), %.0f/s, RSS %.1f MB, "
                 "%llu failed, ETA %s%s",
                 terminal ? "\r\033[K" : "", elapsed, static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(requests_), 100.0 * done / requests_, rate,
                 current_rss_kb() / 1024.0, static_cast<unsigned long long>(failed()), eta.c_str(),
                 terminal ? "" : "\n");
  }
  if (terminal) std::fprintf(stderr, "\r\033[K"); // leave the terminal as the run found it
}

std::string describe_failure(const response& r) {
  if (!r.error) return "status: HTTP " + std::to_string(r.status);
  auto text = std::string(r.step) + ": " + r.error.message();
  if (r.error == std::errc::too_many_files_open)
    text += " (raise the limit with `ulimit -n`, or lower --limit)";
  return text;
}

void summary::add(const response& r) {
  if (r) {
    add_ok();
    return;
  }
  if (failed() == 0) {
    std::lock_guard lock(first_failure_mutex_);
    first_failure_ = describe_failure(r);
  }
  count_failure();
}

void summary::add_failure(std::string_view step, std::string_view reason) {
  if (failed() == 0) {
    std::lock_guard lock(first_failure_mutex_);
    first_failure_.append(step).append(": ").append(reason);
  }
  count_failure();
}

// `ok X, failed Y (first failure: ...)`, with `, not made Z` when requests are missing.
std::string summary::counts() const {
  auto ok = this->ok(), failed = this->failed();
  auto text = "ok " + std::to_string(ok) + ", failed " + std::to_string(failed);
  if (ok + failed < requests_) text += ", not made " + std::to_string(requests_ - ok - failed);
  if (failed > 0) {
    std::lock_guard lock(first_failure_mutex_);
    text += " (first failure: " + first_failure_ + ")";
  }
  return text;
}

std::string summary::line() const {
  return std::to_string(requests_) + " requests: " + counts();
}

std::string summary::interrupted_line() const {
  return "interrupted after " + std::to_string(ok() + failed()) + " of " +
         std::to_string(requests_) + " requests: " + counts();
}

int summary::print() {
  stop_watching_signals();
  stop_progress();
  std::fprintf(stderr, "%s\n", line().c_str());
  return ok() == requests_ ? 0 : 1;
}

} // namespace common
