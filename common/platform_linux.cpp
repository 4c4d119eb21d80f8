// The Linux implementation of common/platform.hpp, and of resources.hpp's memory functions:
// /proc, prctl(PR_SET_PDEATHSIG), close_range, pipe2 and RLIMIT_AS.
#include "common/platform.hpp"
#include "common/resources.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace common {
namespace {

// Reads a `Field:   123 kB` line of /proc/self/status. It allocates nothing, so that it still
// works when memory has run out.
std::uint64_t read_status_kb(const char* field) noexcept {
  char text[4096];
  int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  auto n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  if (n <= 0) return 0;
  text[n] = '\0';
  auto length = std::strlen(field);
  for (char* line = text; line && *line;
       line = std::strchr(line, '\n'), line = line ? line + 1 : line)
    if (std::strncmp(line, field, length) == 0 && line[length] == ':')
      return std::strtoull(line + length + 1, nullptr, 10);
  return 0;
}

std::uint64_t address_space_budget_kb = 0; // set by limit_address_space(); 0: none

} // namespace

void limit_address_space(std::uint64_t bytes) {
  rlimit limit{bytes, bytes};
  if (setrlimit(RLIMIT_AS, &limit) != 0)
    throw std::system_error(errno, std::generic_category(), "cannot limit the address space");
  constexpr std::uint64_t most_headroom = 64 << 20; // bytes
  address_space_budget_kb = (bytes - std::min(bytes / 8, most_headroom)) / 1024;
}

bool address_space_exhausted() noexcept {
  return address_space_budget_kb > 0 && read_status_kb("VmSize") > address_space_budget_kb;
}

std::uint64_t current_rss_kb() noexcept {
  return read_status_kb("VmRSS");
}

std::uint64_t peak_rss_kb() noexcept {
  return read_status_kb("VmHWM");
}

namespace platform {

const char* name() noexcept {
  return "linux";
}

std::string program_directory(const char*) {
  char path[PATH_MAX];
  auto n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return ".";
  std::string s(path, static_cast<std::size_t>(n));
  return s.substr(0, s.rfind('/'));
}

bool die_with_parent(int signal, pid_t parent) noexcept {
  prctl(PR_SET_PDEATHSIG, signal);
  if (getppid() != parent) _exit(127); // it died before the request was made
  return true;
}

void close_descriptors_from(int first) noexcept {
  close_range(static_cast<unsigned>(first), ~0u, 0);
}

int cloexec_pipe(int fds[2]) noexcept {
  return pipe2(fds, O_CLOEXEC);
}

// /proc/PID/status VmRSS in KB, and /proc/PID/stat utime + stime in clock ticks.
std::optional<process_sample> sample(pid_t pid) {
  process_sample s;
  bool rss = false;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) {
      s.rss_kb = std::strtoull(line.c_str() + 6, nullptr, 10);
      rss = true;
    }
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto paren = text.rfind(')');
  if (!rss || paren == std::string::npos || paren + 2 > text.size()) return std::nullopt;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  long ticks = 0;
  for (int i = 3; fields >> field && i <= 15; ++i) // the state is field 3; utime 14, stime 15
    if (i == 14 || i == 15) ticks += std::atol(field.c_str());
  s.cpu_seconds = static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return s;
}

std::optional<std::size_t> open_files(pid_t pid) {
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec);
  if (ec) return std::nullopt;
  std::size_t n = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

std::uint64_t physical_memory_kb() noexcept {
  return static_cast<std::uint64_t>(sysconf(_SC_PHYS_PAGES)) *
         static_cast<std::uint64_t>(sysconf(_SC_PAGE_SIZE)) / 1024;
}

} // namespace platform
} // namespace common
