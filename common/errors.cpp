#include "common/errors.hpp"

#include "common/resources.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace common {

namespace {
const std::uint64_t rss_at_start_kb = current_rss_kb(); // what the program uses before any request
} // namespace

void exit_out_of_memory(std::uint64_t created, std::uint64_t total) noexcept {
  auto grown_kb = current_rss_kb() - std::min(current_rss_kb(), rss_at_start_kb);
  auto bytes_each = created > 0 ? grown_kb * 1024 / created : 0;
  std::fprintf(stderr, "out of memory after creating %llu of %llu requests (~%llu bytes each)\n",
               static_cast<unsigned long long>(created), static_cast<unsigned long long>(total),
               static_cast<unsigned long long>(bytes_each));
  std::_Exit(3);
}

void exit_if_out_of_memory(std::uint64_t created, std::uint64_t total) noexcept {
  constexpr std::uint64_t every = 1024; // calls between two readings of the address space
  if (created % every == 0 && address_space_exhausted()) exit_out_of_memory(created, total);
}

int report_error() noexcept {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory\n");
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "error: unknown exception\n");
  }
  return 1;
}

} // namespace common
