#include "common/session.hpp"

#include "common/http.hpp"
#include "common/testing.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <gtest/gtest.h>

#include <optional>

using asio::awaitable;
using common::response;
using common::session;
using common::url_template;
using common::testing::read_head;
using common::testing::running_server;
using common::testing::scripted_server;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view hello = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!";

// Runs one coroutine on a fresh io_context to completion and returns its result.
template <class T> T run(asio::io_context& io, awaitable<T> work) {
  std::optional<T> result;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(work), [&](std::exception_ptr e, T value) {
    error = e;
    result = std::move(value);
  });
  io.run();
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

// A server that answers every request on every connection, until the client closes.
void answer_all(asio::ip::tcp::socket& socket, int) {
  while (!read_head(socket).empty())
    asio::write(socket, asio::buffer(hello));
}

TEST(Session, GetsHelloWorld) {
  running_server server;
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url);
  auto r = run(io, s.get(url.format(1)));
  ASSERT_TRUE(r) << describe_failure(r);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Hello, World!");
}

TEST(Session, ReusesOneConnectionForRequestsInTurn) {
  running_server server;
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url);
  auto ok = run(io, [&]() -> awaitable<int> {
    int ok = 0;
    for (int i = 0; i < 100; ++i)
      ok += bool(co_await s.get(url.format(i)));
    co_return ok;
  }());
  EXPECT_EQ(ok, 100);
  EXPECT_EQ(s.connections_opened(), 1u);
  EXPECT_EQ(server.stats().connections, 1u);
  EXPECT_EQ(server.names().size(), 100u);
}

TEST(Session, PoolGrowsToThePeakNumberOfRequestsInFlight) {
  running_server server;
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url);
  int ok = 0;
  auto batch = [&](int first) {
    for (int i = first; i < first + 50; ++i)
      asio::co_spawn(io, s.get(url.format(i)),
                     [&](std::exception_ptr, response r) { ok += bool(r); });
    io.restart();
    io.run();
  };
  batch(0);
  EXPECT_EQ(s.connections_opened(), 50u);
  batch(50);
  EXPECT_EQ(ok, 100);
  EXPECT_EQ(s.connections_opened(), 50u) << "the second batch reuses the first batch's connections";
  EXPECT_EQ(server.stats().peak_connections, 50u);
}

TEST(Session, RetriesOnceWhenTheServerClosedAnIdleConnection) {
  scripted_server server([](asio::ip::tcp::socket& socket, int n) {
    if (n > 0) return answer_all(socket, n);
    read_head(socket); // the first connection serves one request, then closes
    asio::write(socket, asio::buffer(hello));
  });
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url);
  auto both = run(io, [&]() -> awaitable<bool> {
    auto first = co_await s.get(url.format(1));
    auto second = co_await s.get(url.format(2));
    co_return first&& second;
  }());
  EXPECT_TRUE(both);
  EXPECT_EQ(s.connections_opened(), 2u);
  EXPECT_EQ(server.connections(), 2);
}

TEST(Session, DoesNotRetryOnceTheResponseHasStarted) {
  scripted_server server([](asio::ip::tcp::socket& socket, int n) {
    if (n > 0) return answer_all(socket, n);
    read_head(socket);
    asio::write(socket, asio::buffer(hello));
    read_head(socket);
    asio::write(socket, asio::buffer(std::string_view("HTTP/1.1 200 OK\r\nContent-")));
  });
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url);
  auto second = run(io, [&]() -> awaitable<response> {
    co_await s.get(url.format(1));
    co_return co_await s.get(url.format(2));
  }());
  EXPECT_EQ(second.error, common::http::error::truncated);
  EXPECT_EQ(second.step, "read");
  EXPECT_EQ(server.connections(), 1);
}

TEST(Session, TimesOutWhenTheServerNeverAnswers) {
  scripted_server server([](asio::ip::tcp::socket& socket, int) {
    read_head(socket);
    read_head(socket); // returns when the client gives up and closes
  });
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url, {.timeout = 200ms});
  auto r = run(io, s.get(url.format(1)));
  EXPECT_EQ(r.error, std::errc::timed_out);
  EXPECT_EQ(r.step, "read");
  EXPECT_EQ(describe_failure(r), "read: " + std::make_error_code(std::errc::timed_out).message());
}

TEST(Session, ReportsARefusedConnectionWithTheServersAddress) {
  auto port = std::to_string(common::testing::unused_port());
  asio::io_context io;
  url_template url("http://127.0.0.1:" + port + "/{}");
  session s(io.get_executor(), url);
  auto r = run(io, s.get(url.format(1)));
  EXPECT_EQ(r.error, asio::error::connection_refused);
  EXPECT_EQ(r.step, "connect to 127.0.0.1:" + port);
  EXPECT_FALSE(r);
}

TEST(Session, ReportsAMalformedResponse) {
  scripted_server server([](asio::ip::tcp::socket& socket, int) {
    read_head(socket);
    asio::write(socket, asio::buffer(std::string_view("SMTP ready\r\n\r\n")));
  });
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url);
  auto r = run(io, s.get(url.format(1)));
  EXPECT_EQ(r.error, common::http::error::bad_status_line);
  EXPECT_EQ(r.step, "read");
}

TEST(Session, ReportsABodyOverTheLimit) {
  scripted_server server([](asio::ip::tcp::socket& socket, int) {
    read_head(socket);
    asio::write(socket,
                asio::buffer(std::string_view("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")));
    read_head(socket);
  });
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url, {.max_body_bytes = 4});
  auto r = run(io, s.get(url.format(1)));
  EXPECT_EQ(r.error, common::http::error::body_too_large);
}

TEST(Session, CountsANonSuccessStatusAsAResponse) {
  scripted_server server([](asio::ip::tcp::socket& socket, int) {
    read_head(socket);
    asio::write(socket, asio::buffer(std::string_view(
                            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")));
    read_head(socket);
  });
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url);
  auto r = run(io, s.get(url.format(1)));
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.status, 404);
  EXPECT_FALSE(r);
  EXPECT_EQ(describe_failure(r), "status: HTTP 404");
}

TEST(Session, RefusesAUrlOfAnotherServer) {
  running_server server;
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url);
  auto r = run(io, s.get("http://127.0.0.2:1/x"));
  EXPECT_EQ(r.step, "url");
  EXPECT_EQ(r.error, std::errc::invalid_argument);
  EXPECT_EQ(server.stats().connections, 0u);
}

TEST(Session, LeavesNoTimerRunningOnceTheLastRequestIsDone) {
  running_server server;
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url); // the default 30 s timeout: the watchdog ticks every 250 ms
  std::optional<response> r;
  asio::co_spawn(io, s.get(url.format(1)), [&](std::exception_ptr, response x) { r = x; });
  while (!r)
    io.run_one();
  ASSERT_TRUE(*r) << describe_failure(*r);
  io.poll(); // runs what is ready, such as the handler of a cancelled timer
  EXPECT_TRUE(io.stopped()) << "work is left: a client's io.run() would wait for the next tick";
}

} // namespace
