// client-async-proposal: stage 03's client with the bounded iterator as a library. The same lazy
// generator of requests and the same limit; bounded::as_completed() replaces the hand-written
// limited_as_completed(). It waits for completions instead of polling for them, so the CPU rests
// while the requests wait on the server, and it bounds the results that have not been read yet
// as well as the requests in flight.
#include "common/args.hpp"
#include "common/errors.hpp"
#include "common/session.hpp"
#include "common/summary.hpp"
#include "common/url.hpp"

#include <bounded/as_completed.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <ranges>
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

template <class Coros>
awaitable<void> print_when_done(Coros coros, std::size_t limit, summary& summary) {
  auto executor = co_await asio::this_coro::executor;
  // It never cancels a request: on_stop::finish spares each one the cost of being cancellable.
  auto results = bounded::as_completed(executor, std::move(coros), limit, bounded::on_stop::finish);
  while (auto res = co_await results.async_next(use_awaitable)) {
    auto& [exception, outcome] = *res; // fetch() reports failures in the response it returns
    if (exception) std::rethrow_exception(exception);
    summary.add(outcome);
  }
}

int main(int argc, char* argv[]) {
  auto args = common::parse_client_args(argc, argv, {.limit = limit, .pipeline = true});
  try {
    asio::io_context io(/*concurrency_hint=*/1);
    url_template url(args.url);
    session session(io.get_executor(), url, {.timeout = args.timeout, .pipeline = args.pipeline});
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
