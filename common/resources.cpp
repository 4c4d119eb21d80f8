#include "common/resources.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include <fcntl.h>
#include <sys/resource.h>
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

std::uint64_t raise_fd_limit() noexcept {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    auto wanted = limit;
    wanted.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &wanted) == 0) limit = wanted;
  }
  return limit.rlim_cur;
}

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

} // namespace common
