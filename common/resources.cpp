#include "common/resources.hpp"

#include <cstdio>
#include <cstring>
#include <system_error>

#include <sys/resource.h>

namespace common {
namespace {

std::uint64_t read_status_kb(const char* field) noexcept {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f)
    return 0;
  char line[256];
  unsigned long long kb = 0;
  auto length = std::strlen(field);
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, field, length) == 0 && line[length] == ':') {
      std::sscanf(line + length + 1, "%llu", &kb);
      break;
    }
  std::fclose(f);
  return kb;
}

} // namespace

std::uint64_t raise_fd_limit() noexcept {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
    return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    auto wanted = limit;
    wanted.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &wanted) == 0)
      limit = wanted;
  }
  return limit.rlim_cur;
}

void limit_address_space(std::uint64_t bytes) {
  rlimit limit{bytes, bytes};
  if (setrlimit(RLIMIT_AS, &limit) != 0)
    throw std::system_error(errno, std::generic_category(), "cannot limit the address space");
}

std::uint64_t current_rss_kb() noexcept {
  return read_status_kb("VmRSS");
}

std::uint64_t peak_rss_kb() noexcept {
  return read_status_kb("VmHWM");
}

} // namespace common
