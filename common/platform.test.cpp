// common/platform.hpp, whichever implementation this build has: Linux's, or the portable one
// that the macos-like preset builds (and macOS would use).
#include "common/platform.hpp"
#include "common/resources.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace platform = common::platform;

namespace {

// Runs `body` in a child and returns its wait status, with its resource usage in `usage`.
template <class Body> int in_child(Body body, rusage& usage) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  wait4(pid, &status, 0, &usage);
  return status;
}

// Allocates and touches `mb` MiB; 0 if it all fits.
int touch_megabytes(std::size_t mb) {
  std::vector<char*> blocks;
  try {
    for (std::size_t i = 0; i < mb; ++i) {
      blocks.push_back(new char[1 << 20]);
      std::memset(blocks.back(), 1, 1 << 20);
    }
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "out of memory\n");
    return 3;
  }
  return 0;
}

} // namespace

TEST(Platform, CountsAChildsPeakMemoryInKilobytes) {
  rusage usage{};
  int status = in_child([] { return touch_megabytes(64); }, usage);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_GE(platform::peak_kb(usage), 64u * 1024);
  EXPECT_LT(platform::peak_kb(usage), 1024u * 1024); // KiB, not bytes
}

TEST(Platform, SamplesAProcessWhileItLivesAndNotAfter) {
  auto self = platform::sample(getpid());
  ASSERT_TRUE(self);
  EXPECT_GT(self->rss_kb, 0u);
  EXPECT_GE(self->cpu_seconds, 0.0);
  rusage usage{};
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  wait4(pid, nullptr, 0, &usage);
  EXPECT_FALSE(platform::sample(pid)) << "process " << pid << " has gone";
}

TEST(Platform, FindsTheDirectoryOfTheProgramsBuiltBesideIt) {
  EXPECT_EQ(platform::program_directory((std::string(BIN_DIR) + "/platform_tests").c_str()),
            BIN_DIR);
}

TEST(Platform, ClosesEveryDescriptorFromTheOneNamed) {
  int fds[2];
  ASSERT_EQ(platform::cloexec_pipe(fds), 0);
  EXPECT_TRUE(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
  EXPECT_TRUE(fcntl(fds[1], F_GETFD) & FD_CLOEXEC);
  rusage usage{};
  int status = in_child(
      [&] {
        platform::close_descriptors_from(3);
        return fcntl(fds[0], F_GETFD) == -1 && fcntl(fds[1], F_GETFD) == -1 ? 0 : 1;
      },
      usage);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(fds[0]);
  close(fds[1]);
}

// Linux caps the address space, and an allocation fails; the portable build checks the
// resident size and ends the process with the same first words and status.
TEST(Platform, AMemoryLimitEndsARunThatGrowsPastIt) {
#ifdef SANITIZED_BUILD
  GTEST_SKIP() << "a sanitizer maps address space of its own, which the limit would refuse";
#endif
  rusage usage{};
  int status = in_child(
      [] {
        common::limit_address_space(std::uint64_t(256) << 20);
        return touch_megabytes(1024);
      },
      usage);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_LT(platform::peak_kb(usage), 512u * 1024);
}

TEST(Platform, KnowsTheMachinesMemory) {
  EXPECT_GT(platform::physical_memory_kb(), 64u * 1024);
}
