#include "common/summary.hpp"

#include "common/resources.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <mutex>

#include <signal.h>
#include <unistd.h>

namespace common {
namespace {

using std::chrono::steady_clock;
constexpr auto default_progress_interval = std::chrono::seconds(1);

// PROGRESS_INTERVAL_MS=200 prints progress five times a second (the live view reads it).
std::chrono::milliseconds progress_interval() {
  const char* env = std::getenv("PROGRESS_INTERVAL_MS");
  long ms = env ? std::strtol(env, nullptr, 10) : 0;
  return ms >= 10 && ms <= 60'000 ? std::chrono::milliseconds(ms) : default_progress_interval;
}

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

// Ctrl-C and SIGTERM go to the summary that catches them, whose handler writes its line itself:
// a handler may not allocate or take locks, so the line is built in a fixed buffer.
constexpr int caught_signals[] = {SIGINT, SIGTERM};
struct sigaction previous_actions[std::size(caught_signals)];
std::atomic<const summary*> catching{nullptr};

} // namespace

struct summary::text {
  char data[512];
  std::size_t size = 0;

  text& operator<<(std::string_view s) noexcept {
    auto n = std::min(s.size(), sizeof data - size);
    std::memcpy(data + size, s.data(), n);
    size += n;
    return *this;
  }
  text& operator<<(std::uint64_t n) noexcept {
    char digits[20];
    std::size_t count = 0;
    do {
      digits[count++] = static_cast<char>('0' + n % 10);
      n /= 10;
    } while (n > 0);
    while (count > 0)
      *this << std::string_view(&digits[--count], 1);
    return *this;
  }
  std::string str() const { return std::string(data, size); }
};

summary::summary(std::uint64_t requests) : requests_(requests) {
  auto mode = progress_wanted();
  terminal_progress_ = mode == progress_mode::terminal && requests > 0;
  if (mode != progress_mode::off && requests > 0)
    progress_ = std::thread([this, mode] {
      sigset_t signals; // they are the handler's business, on the thread that makes the requests
      sigemptyset(&signals);
      for (int s : caught_signals)
        sigaddset(&signals, s);
      pthread_sigmask(SIG_BLOCK, &signals, nullptr);
      show_progress(mode == progress_mode::terminal);
    });
  const summary* none = nullptr;
  if (catching.compare_exchange_strong(none, this)) {
    catches_signals_ = true;
    struct sigaction action {};
    action.sa_handler = on_signal;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    for (std::size_t i = 0; i < std::size(caught_signals); ++i)
      sigaction(caught_signals[i], &action, &previous_actions[i]);
  }
}

summary::~summary() {
  stop_catching_signals();
  stop_progress();
}

void summary::on_signal(int signal_number) noexcept {
  if (auto* self = catching.load()) {
    text out;
    if (self->terminal_progress_) out << "\r\033[K"; // over the progress line
    self->write_interrupted_line(out);
    out << "\n";
    (void)!write(STDERR_FILENO, out.data, out.size);
  }
  _exit(128 + signal_number); // at once: the run is in the middle of something
}

void summary::stop_catching_signals() noexcept {
  if (!catches_signals_) return;
  for (std::size_t i = 0; i < std::size(caught_signals); ++i)
    sigaction(caught_signals[i], &previous_actions[i], nullptr);
  catching = nullptr;
  catches_signals_ = false;
}

void summary::show_progress(bool terminal) {
  auto start = steady_clock::now();
  auto interval = progress_interval();
  for (;;) {
    {
      std::unique_lock lock(progress_mutex_);
      if (progress_wake_.wait_for(lock, interval, [this] { return progress_stopping_; })) break;
    }
    progress p;
    p.seconds = std::chrono::duration<double>(steady_clock::now() - start).count();
    p.done = ok() + failed();
    p.requests = requests_;
    p.rate = p.done / p.seconds;
    p.rss_mib = current_rss_kb() / 1024.0;
    p.failed = failed();
    p.eta = p.rate > 0 ? duration((requests_ - p.done) / p.rate) : std::string("?");
    std::fprintf(stderr, "%s%s%s", terminal ? "\r\033[K" : "", progress_line(p).c_str(),
                 terminal ? "" : "\n");
  }
  if (terminal) std::fprintf(stderr, "\r\033[K"); // leave the terminal as the run found it
}

// The one place the progress line's format is written, and the one place it is read.
std::string progress_line(const progress& p) {
  char text[256];
  std::snprintf(text, sizeof text,
                "progress: %.0f s, %llu of %llu requests (%.1f%%), %.0f/s, RSS %.1f MiB, "
                "%llu failed, ETA %s",
                p.seconds, static_cast<unsigned long long>(p.done),
                static_cast<unsigned long long>(p.requests),
                p.requests ? 100.0 * p.done / p.requests : 0.0, p.rate, p.rss_mib,
                static_cast<unsigned long long>(p.failed), p.eta.c_str());
  return text;
}

std::optional<progress> parse_progress_line(std::string_view line) {
  std::string text(line);
  unsigned long long done = 0, requests = 0, failed = 0;
  progress p;
  char eta[32] = {};
  if (std::sscanf(text.c_str(),
                  "progress: %lf s, %llu of %llu requests (%*f%%), %lf/s, RSS %lf MiB, %llu "
                  "failed, ETA %31s",
                  &p.seconds, &done, &requests, &p.rate, &p.rss_mib, &failed, eta) != 7)
    return std::nullopt;
  p.done = done;
  p.requests = requests;
  p.failed = failed;
  p.eta = eta;
  return p;
}

void summary::keep_first_failure(std::string_view failure) noexcept {
  auto n = std::min(failure.size(), sizeof first_failure_);
  std::memcpy(first_failure_, failure.data(), n);
  first_failure_size_.store(n, std::memory_order_release); // after the text, for the handler
}

void summary::add(const response& r) {
  if (r) {
    add_ok();
    return;
  }
  if (failed() == 0) keep_first_failure(describe_failure(r));
  count_failure();
}

void summary::add_failure(std::string_view step, std::string_view reason) {
  if (failed() == 0) keep_first_failure(std::string(step).append(": ").append(reason));
  count_failure();
}

// `ok X, failed Y (first failure: ...)`, with `, not made Z` when requests are missing.
void summary::write_counts(text& out) const noexcept {
  auto ok = this->ok(), failed = this->failed();
  out << "ok " << ok << ", failed " << failed;
  if (ok + failed < requests_) out << ", not made " << requests_ - ok - failed;
  if (auto n = first_failure_size_.load(std::memory_order_acquire); failed > 0 && n > 0)
    out << " (first failure: " << std::string_view(first_failure_, n) << ")";
}

void summary::write_interrupted_line(text& out) const noexcept {
  out << "interrupted after " << ok() + failed() << " of " << requests_ << " requests: ";
  write_counts(out);
}

std::string summary::line() const {
  text out;
  out << requests_ << " requests: ";
  write_counts(out);
  return out.str();
}

std::string summary::interrupted_line() const {
  text out;
  write_interrupted_line(out);
  return out.str();
}

void summary::stop_progress() {
  if (!progress_.joinable()) return;
  {
    std::lock_guard lock(progress_mutex_);
    progress_stopping_ = true;
  }
  progress_wake_.notify_one();
  progress_.join();
}

int summary::print() {
  stop_catching_signals();
  stop_progress();
  std::fprintf(stderr, "%s\n", line().c_str());
  return ok() == requests_ ? 0 : 1;
}

} // namespace common
