// client-async-sem: the article's "Async client using semaphores", first written by Paweł Miech.
// All N requests are created as running tasks up front, and a semaphore lets `limit` of them
// fetch at a time. Fast, but its memory grows with N: at 100 million requests the article's
// version was killed by the OOM killer before it had made a single request.
#include "common/args.hpp"
#include "common/errors.hpp"
#include "common/resources.hpp"
#include "common/session.hpp"
#include "common/summary.hpp"
#include "common/url.hpp"

#include <asio/co_spawn.hpp>
#include <asio/experimental/channel.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

using asio::awaitable;
using asio::use_awaitable;
using common::response;
using common::session;
using common::summary;
using common::url_template;

constexpr std::size_t limit = 1000; // requests in flight at once, as in the article

// The article's fetch(): GET the URL and read the whole body. Nothing runs until it is awaited.
awaitable<response> fetch(std::string url, session& session) {
  return session.get(std::move(url));
}

// asyncio.Semaphore(limit). Asio has none, but a channel with room for `limit` messages is one:
// acquire() sends a message, and waits while the channel is full; release() takes one out, which
// lets the longest-waiting sender in. Each task parked here keeps its coroutine frame and its
// place in the channel's queue until then: that is where this client's memory goes.
class semaphore {
public:
  semaphore(asio::any_io_executor executor, std::size_t limit) : permits_(executor, limit) {}

  awaitable<void> acquire() { co_await permits_.async_send(use_awaitable); }
  void release() {
    permits_.try_receive([](auto...) {});
  }

private:
  asio::experimental::channel<void()> permits_;
};

// The article's `tasks` list and `gather()`: spawn() starts a task (ensure_future, which only
// schedules it; co_spawn runs it at once, up to acquire()), and gather() waits until every task
// has finished. It waits by sending into a channel with no room,
// which completes when the last task to finish takes the message out.
class task_group {
public:
  explicit task_group(asio::any_io_executor executor) : executor_(executor), done_(executor, 0) {}

  void spawn(awaitable<void> task) {
    ++spawned_;
    asio::co_spawn(executor_, std::move(task), [this](std::exception_ptr e) {
      common::rethrow(e);
      if (++finished_ == spawned_) done_.try_receive([](auto...) {});
    });
  }

  awaitable<void> gather() {
    if (finished_ < spawned_) co_await done_.async_send(use_awaitable);
  }

  std::uint64_t size() const { return spawned_; }

private:
  asio::any_io_executor executor_;
  asio::experimental::channel<void()> done_;
  std::uint64_t spawned_ = 0, finished_ = 0;
};

awaitable<void> bound_fetch(semaphore& sem, std::string url, session& session, summary& summary) {
  co_await sem.acquire(); // async with sem:
  summary.add(co_await fetch(std::move(url), session));
  sem.release();
}

awaitable<void> run(session& session, const url_template& url, std::uint64_t r, std::size_t limit,
                    summary& summary) {
  task_group tasks(co_await asio::this_coro::executor);
  semaphore sem(co_await asio::this_coro::executor, limit);
  for (std::uint64_t i = 0; i < r; ++i) {
    // With --memory-limit the run ends here, saying how many tasks it made, before memory runs
    // out; without it, the OOM killer comes.
    common::exit_if_out_of_memory(tasks.size(), r);
    tasks.spawn(bound_fetch(sem, url.format(i), session, summary));
  }
  co_await tasks.gather();
}

int main(int argc, char* argv[]) {
  auto args = common::parse_client_args(argc, argv, {.limit = limit, .memory_limit = true});
  try {
    if (args.memory_limit) common::limit_address_space(args.memory_limit);
    asio::io_context io(/*concurrency_hint=*/1);
    url_template url(args.url);
    session session(io.get_executor(), url, {.timeout = args.timeout});
    summary summary(args.requests);
    asio::co_spawn(io, run(session, url, args.requests, args.limit, summary), common::rethrow);
    io.run();
    return summary.print();
  } catch (...) {
    return common::report_error();
  }
}
