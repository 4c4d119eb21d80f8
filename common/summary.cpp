#include "common/summary.hpp"

#include "common/resources.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

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

} // namespace

summary::summary(std::uint64_t requests) : requests_(requests) {
  if (auto mode = progress_wanted(); mode != progress_mode::off && requests > 0)
    progress_ = std::jthread([this, mode](std::stop_token stop) {
      show_progress(stop, mode == progress_mode::terminal);
    });
}

summary::~summary() = default;

void summary::show_progress(std::stop_token stop, bool terminal) {
  std::mutex m;
  std::condition_variable_any wake;
  auto start = steady_clock::now();
  auto interval = progress_interval();
  for (;;) {
    std::unique_lock lock(m);
    if (wake.wait_for(lock, stop, interval, [] { return false; }) || stop.stop_requested()) break;
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
  if (failed() == 0) first_failure_ = describe_failure(r);
  count_failure();
}

void summary::add_failure(std::string_view step, std::string_view reason) {
  if (failed() == 0) first_failure_.append(step).append(": ").append(reason);
  count_failure();
}

std::string summary::line() const {
  auto ok = this->ok(), failed = this->failed();
  auto text = std::to_string(requests_) + " requests: ok " + std::to_string(ok) + ", failed " +
              std::to_string(failed);
  if (ok + failed < requests_) text += ", not made " + std::to_string(requests_ - ok - failed);
  if (failed > 0) text += " (first failure: " + first_failure_ + ")";
  return text;
}

int summary::print() {
  if (progress_.joinable()) {
    progress_.request_stop();
    progress_.join();
  }
  std::fprintf(stderr, "%s\n", line().c_str());
  return ok() == requests_ ? 0 : 1;
}

} // namespace common
