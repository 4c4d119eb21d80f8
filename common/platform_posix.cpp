// The portable implementation of common/platform.hpp, and of resources.hpp's memory functions:
// POSIX calls and ps(1) only, which is what a Mac would use. The macos-like preset builds it on
// Linux and runs its tests there; it has not been run on a Mac.
#include "common/platform.hpp"
#include "common/resources.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#if defined(__APPLE__)
#include <mach-o/dyld.h> // _NSGetExecutablePath
#endif

namespace common {

// No RLIMIT_AS that the system enforces (macOS defines the name and ignores it), so the cap is
// checked: a thread reads the peak resident size every 10 ms and, past the cap, ends the process
// with the line that an allocation failure prints under RLIMIT_AS, and its status, 3. It allows
// what is allocated within 10 ms beyond the cap, and counts resident memory, not address space.
void limit_address_space(std::uint64_t bytes) {
  static std::atomic<std::uint64_t> cap_kb{0};
  bool started = cap_kb.exchange(bytes / 1024) != 0;
  if (started) return;
  std::thread([] {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      auto peak = peak_rss_kb();
      if (auto cap = cap_kb.load(); peak > cap) {
        std::fprintf(stderr,
                     "out of memory: the resident size reached %llu KB, over --memory-limit's "
                     "%llu KB (checked every 10 ms: no address-space limit here)\n",
                     static_cast<unsigned long long>(peak), static_cast<unsigned long long>(cap));
        _exit(3);
      }
    }
  }).detach();
}

// The cap above is watched by its thread; the spawn loop's own check has nothing to read.
bool address_space_exhausted() noexcept {
  return false;
}

// POSIX has no call for the resident size now: the peak is the closest it offers.
std::uint64_t current_rss_kb() noexcept {
  return peak_rss_kb();
}

std::uint64_t peak_rss_kb() noexcept {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return platform::peak_kb(usage);
}

namespace platform {
namespace {

std::string directory_of(std::string path) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved)) path = resolved;
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

} // namespace

const char* name() noexcept {
  return "posix";
}

std::string program_directory(const char* argv0) {
#if defined(__APPLE__)
  char path[PATH_MAX];
  std::uint32_t size = sizeof path;
  if (_NSGetExecutablePath(path, &size) == 0) return directory_of(path);
#endif
  std::string_view name = argv0 ? argv0 : "";
  if (name.find('/') != std::string_view::npos) return directory_of(std::string(name));
  // A bare name was found on PATH: look for it there as the shell did.
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "";
  while (!name.empty()) {
    auto colon = dirs.find(':');
    auto dir = std::string(dirs.substr(0, colon));
    auto candidate = (dir.empty() ? std::string(".") : dir) + "/" + std::string(name);
    if (access(candidate.c_str(), X_OK) == 0) return directory_of(candidate);
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return ".";
}

bool die_with_parent(int, pid_t parent) noexcept {
  if (getppid() != parent) _exit(127);
  return false;
}

void close_descriptors_from(int first) noexcept {
  long last = sysconf(_SC_OPEN_MAX);
  if (last < 0 || last > 1 << 20) last = 1 << 20; // unlimited: as far as Linux allows by default
  for (int fd = first; fd < last; ++fd)
    close(fd);
}

int cloexec_pipe(int fds[2]) noexcept {
  if (pipe(fds) != 0) return -1;
  for (int i = 0; i < 2; ++i)
    fcntl(fds[i], F_SETFD, FD_CLOEXEC);
  return 0;
}

// `ps -o rss= -o time= -p PID`: resident KiB, and CPU time as [[dd-]hh:]mm:ss[.ss].
std::optional<process_sample> sample(pid_t pid) {
  auto command = "ps -o rss= -o time= -p " + std::to_string(pid) + " 2>/dev/null";
  FILE* ps = popen(command.c_str(), "r");
  if (!ps) return std::nullopt;
  char line[256] = {};
  bool read = std::fgets(line, sizeof line, ps) != nullptr;
  pclose(ps);
  if (!read) return std::nullopt;
  process_sample s;
  char* rest = nullptr;
  s.rss_kb = std::strtoull(line, &rest, 10);
  if (rest == line) return std::nullopt;
  double days = 0, seconds = 0;
  std::string_view time = rest;
  while (!time.empty() && time.front() == ' ')
    time.remove_prefix(1);
  if (auto dash = time.find('-'); dash != std::string_view::npos) {
    days = std::atof(std::string(time.substr(0, dash)).c_str());
    time.remove_prefix(dash + 1);
  }
  for (std::size_t start = 0; start <= time.size();) {
    auto colon = time.find(':', start);
    seconds = seconds * 60 + std::atof(std::string(time.substr(start, colon - start)).c_str());
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  s.cpu_seconds = days * 86400 + seconds;
  return s;
}

std::optional<std::size_t> open_files(pid_t) {
  return std::nullopt;
}

std::uint64_t physical_memory_kb() noexcept {
  return static_cast<std::uint64_t>(sysconf(_SC_PHYS_PAGES)) *
         static_cast<std::uint64_t>(sysconf(_SC_PAGE_SIZE)) / 1024;
}

} // namespace platform
} // namespace common
