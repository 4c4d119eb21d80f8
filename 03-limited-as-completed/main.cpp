// client-async-as-completed: the article's new client. A lazy generator makes each request only
// when it is wanted, and limited_as_completed() keeps at most `limit` of them alive at once, so
// memory stays flat however large N grows. It finds the first request to finish by polling,
// which is why the article saw 100% CPU; stage 04 waits for completions instead.
#include "common/args.hpp"
#include "common/errors.hpp"
#include "common/session.hpp"
#include "common/summary.hpp"
#include "common/url.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <ranges>
#include <string>
#include <vector>

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

// asyncio.ensure_future(): start a coroutine, and keep a handle that says when it is done. Where
// asyncio only schedules it, co_spawn runs it at once, up to its first wait.
struct future {
  bool done = false;
  response result;
};

std::shared_ptr<future> ensure_future(asio::any_io_executor executor, awaitable<response> coro) {
  auto f = std::make_shared<future>();
  asio::co_spawn(executor, std::move(coro), [f](std::exception_ptr e, response r) {
    common::rethrow(e);
    f->result = std::move(r);
    f->done = true;
  });
  return f;
}

// limited_as_completed(coros, limit) starts the first `limit` coroutines, then hands out one
// first_to_finish() per coroutine. Each, when awaited, yields to the event loop and scans the
// futures for a finished one, again and again until there is one; it replaces that one with the
// next coroutine from `coros` and returns its result. Memory stays at `limit` futures, whatever
// N is; but while every request is waiting on the server, the loop spins through the scan.
template <std::ranges::input_range Coros> class limited_as_completed {
public:
  limited_as_completed(asio::any_io_executor executor, Coros coros, std::size_t limit)
      : executor_(executor), coros_(std::move(coros)), next_(coros_.begin()) {
    for (; futures_.size() < limit && next_ != coros_.end(); ++next_) // islice(coros, 0, limit)
      futures_.push_back(ensure_future(executor_, *next_));
  }
  limited_as_completed(const limited_as_completed&) = delete; // next_ points into coros_

  awaitable<response> first_to_finish() {
    for (;;) {
      co_await asio::post(executor_, use_awaitable); // asyncio.sleep(0)
      for (auto f = futures_.begin(); f != futures_.end(); ++f)
        if ((*f)->done) {
          auto result = std::move((*f)->result);
          futures_.erase(f);
          if (next_ != coros_.end()) futures_.push_back(ensure_future(executor_, *next_++));
          co_return result;
        }
    }
  }

  // Iterating yields first_to_finish() awaitables, as the article's generator does, while any
  // futures remain.
  struct iterator {
    limited_as_completed* self;
    awaitable<response> operator*() const { return self->first_to_finish(); }
    iterator& operator++() { return *this; }
    bool operator==(std::default_sentinel_t) const { return self->futures_.empty(); }
  };
  iterator begin() { return {this}; }
  std::default_sentinel_t end() { return {}; }

private:
  asio::any_io_executor executor_;
  Coros coros_;
  std::ranges::iterator_t<Coros> next_;
  std::vector<std::shared_ptr<future>> futures_;
};

template <class Coros>
awaitable<void> print_when_done(Coros coros, std::size_t limit, summary& summary) {
  auto executor = co_await asio::this_coro::executor;
  for (auto res : limited_as_completed(executor, std::move(coros), limit))
    summary.add(co_await std::move(res));
}

int main(int argc, char* argv[]) {
  auto args = common::parse_client_args(argc, argv, {.limit = limit});
  try {
    asio::io_context io(/*concurrency_hint=*/1);
    url_template url(args.url);
    session session(io.get_executor(), url, {.timeout = args.timeout});
    summary summary(args.requests);
    // coros = (fetch(url.format(i), session) for i in range(r)): each is made only when pulled.
    auto coros =
        std::views::iota(std::uint64_t{0}, args.requests) |
        std::views::transform([&](std::uint64_t i) { return fetch(url.format(i), session); });
    asio::co_spawn(io, print_when_done(coros, args.limit, summary), common::rethrow);
    io.run();
    return summary.print();
  } catch (...) {
    return common::report_error();
  }
}
