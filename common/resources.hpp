// Process limits and memory readings that the programs share.
#pragma once

#include <cstdint>

namespace common {

/// Raises the soft limit on open files to the hard limit and returns the soft limit now in force.
std::uint64_t raise_fd_limit() noexcept;

/// Caps this process's address space at `bytes` (RLIMIT_AS), so that running out of memory is a
/// std::bad_alloc instead of a visit from the OOM killer. Throws std::system_error if refused.
/// It also sets the budget that address_space_exhausted() watches, an eighth (at most 64 MiB)
/// below the cap. Where there is no RLIMIT_AS (the portable build, for macOS), it checks the peak
/// resident size instead, every 10 ms, and ends the process with `out of memory: ...` and
/// status 3.
void limit_address_space(std::uint64_t bytes);

/// Whether this process's address space (VmSize) has grown past the budget of
/// limit_address_space(); always false without one, and in the portable build. Reads /proc and
/// allocates nothing.
bool address_space_exhausted() noexcept;

/// This process's resident set size now, in KiB (VmRSS), or 0 if it cannot be read; the peak
/// in the portable build, where POSIX offers nothing else.
std::uint64_t current_rss_kb() noexcept;

/// This process's peak resident set size so far, in KiB (VmHWM), or 0 if it cannot be read.
std::uint64_t peak_rss_kb() noexcept;

} // namespace common
