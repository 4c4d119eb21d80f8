// How the clients end when something goes wrong beyond a single request.
#pragma once

#include <cstdint>
#include <exception>

namespace common {

/// A co_spawn completion handler that rethrows a coroutine's exception out of io_context::run().
inline void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

/// Ends the program at once when creating requests ran out of memory: prints
/// `out of memory after creating K of N requests (~B bytes each)` and exits with status 3.
/// Nothing is cleaned up on the way out: with no memory left, even a destructor may need some.
[[noreturn]] void exit_out_of_memory(std::uint64_t created, std::uint64_t total) noexcept;

/// For a loop that creates requests: ends the program as exit_out_of_memory(created, total) does
/// once the address space has outgrown the budget of a memory limit (limit_address_space; without
/// one, never), reading it every 1,024th call. So the end comes at a point of the program's
/// choosing, before memory runs out inside a task or inside Asio, where a std::bad_alloc may
/// not be catchable.
void exit_if_out_of_memory(std::uint64_t created, std::uint64_t total) noexcept;

/// For main's `catch (...)`: prints the exception as one line on stderr and returns the exit
/// status, 3 for running out of memory and 1 for anything else.
int report_error() noexcept;

} // namespace common
