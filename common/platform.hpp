// What the programs and tests need from the operating system beyond what every POSIX system
// offers alike, in one place. Two implementations, chosen when building (CMake's
// COMMON_PLATFORM, `linux` on Linux, `posix` elsewhere and in the macos-like preset):
//   platform_linux.cpp  /proc, prctl(PR_SET_PDEATHSIG), close_range, pipe2 and RLIMIT_AS;
//   platform_posix.cpp  POSIX calls and ps(1) only: what a Mac would take. It is built and tested
//                       on Linux by the macos-like preset; it has not been run on a Mac.
// The memory functions of common/resources.hpp (current_rss_kb, peak_rss_kb,
// limit_address_space) are implemented in the same two files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <sys/resource.h>
#include <sys/types.h>

namespace common::platform {

/// "linux" or "posix": the implementation this build uses.
const char* name() noexcept;

/// A peak resident set size from getrusage() or wait4(), in KiB: ru_maxrss counts KiB on Linux
/// and bytes on macOS.
inline std::uint64_t peak_kb(const rusage& usage) noexcept {
#if defined(__APPLE__)
  return static_cast<std::uint64_t>(usage.ru_maxrss) / 1024;
#else
  return static_cast<std::uint64_t>(usage.ru_maxrss);
#endif
}

/// The directory of the running program, to find the programs built beside it. `argv0` is
/// main's argv[0], for systems that cannot say otherwise (a relative or bare name is resolved
/// against the working directory and PATH).
std::string program_directory(const char* argv0);

/// In a child between fork() and exec(): asks for `signal` when the parent dies, and ends the
/// child (status 127) if `parent` has already gone. Returns false where the system has no such
/// request (everywhere but Linux): the parent must then stop its children itself, which it can
/// do unless it is killed with SIGKILL.
bool die_with_parent(int signal, pid_t parent) noexcept;

/// In a child between fork() and exec(): closes every descriptor from `first` up.
void close_descriptors_from(int first) noexcept;

/// pipe(), with both ends close-on-exec. Returns 0, or -1 with errno set.
int cloexec_pipe(int fds[2]) noexcept;

/// What the live view shows of another process: its resident set size now and the CPU time it
/// has used (user + system).
struct process_sample {
  std::uint64_t rss_kb = 0; ///< resident set size now, in KiB
  double cpu_seconds = 0;   ///< user + system CPU time so far
};
/// A sample of process `pid`, or nothing once it has gone. Linux reads /proc/PID; the POSIX
/// implementation runs `ps -o rss= -o time= -p PID` (slower, and CPU time in whole seconds on
/// some systems).
std::optional<process_sample> sample(pid_t pid);

/// How many descriptors process `pid` has open, or nothing where that cannot be read (POSIX).
std::optional<std::size_t> open_files(pid_t pid);

/// The machine's physical memory, in KiB.
std::uint64_t physical_memory_kb() noexcept;

} // namespace common::platform
