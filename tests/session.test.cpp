#include "common/session.hpp"

#include "common/http.hpp"
#include "tests/testing.hpp"

#include <asio/bind_allocator.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/socket.h>

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

// --- Pipelining (session_options::pipeline above 1) -------------------------------------------

// The target of a request head: `GET /7 HTTP/1.1...` gives `/7`.
std::string target_of(const std::string& head) {
  auto start = head.find(' ') + 1;
  return head.substr(start, head.find(' ', start) - start);
}

// A response whose body is the request's target, so that a test sees which request it answers.
std::string echo(const std::string& head, bool close = false) {
  auto body = target_of(head);
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         (close ? "Connection: close\r\n" : "") + "\r\n" + body;
}

// Answers every request with echo(), one at a time, until the client closes.
void echo_all(asio::ip::tcp::socket& socket, int) {
  for (auto head = read_head(socket); !head.empty(); head = read_head(socket))
    asio::write(socket, asio::buffer(echo(head)));
}

// Resets the connection (see faults.test.cpp): the client's next read or write fails.
void reset(asio::ip::tcp::socket& socket) {
  sockaddr unspecified{};
  unspecified.sa_family = AF_UNSPEC;
  ::connect(socket.native_handle(), &unspecified, sizeof unspecified);
}

// Makes requests /0 ... /n-1 at once and runs them to the end: each one's response, and how many
// times each one completed.
struct outcomes {
  std::vector<response> responses;
  std::vector<int> completions;
};

outcomes get_all(session& s, asio::io_context& io, const url_template& url, int n) {
  outcomes o{std::vector<response>(n), std::vector<int>(n)};
  for (int i = 0; i < n; ++i)
    asio::co_spawn(io, s.get(url.format(i)), [&o, i](std::exception_ptr e, response r) {
      if (e) std::rethrow_exception(e);
      o.responses[i] = std::move(r);
      ++o.completions[i];
    });
  io.run();
  return o;
}

int count_ok(const outcomes& o) {
  int ok = 0;
  for (std::size_t i = 0; i < o.responses.size(); ++i)
    ok += o.responses[i] && o.responses[i].body == "/" + std::to_string(i);
  return ok;
}

void expect_each_completed_once(const outcomes& o) {
  for (std::size_t i = 0; i < o.completions.size(); ++i)
    EXPECT_EQ(o.completions[i], 1) << "request /" << i;
}

TEST(SessionPipelining, WritesRequestsBackToBackAndMatchesTheResponsesInOrder) {
  // The server reads all 16 requests before it answers the first: a client that waited for each
  // response before it wrote the next request would never get one.
  scripted_server server([](asio::ip::tcp::socket& socket, int) {
    std::vector<std::string> heads;
    for (int i = 0; i < 16; ++i)
      heads.push_back(read_head(socket));
    for (auto& head : heads)
      asio::write(socket, asio::buffer(echo(head)));
    read_head(socket);
  });
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url, {.timeout = 5s, .pipeline = 16});
  auto o = get_all(s, io, url, 16);
  EXPECT_EQ(count_ok(o), 16) << describe_failure(o.responses[0]);
  expect_each_completed_once(o);
  EXPECT_EQ(s.connections_opened(), 1u);
}

TEST(SessionPipelining, OpensOneConnectionPerKRequestsInFlight) {
  running_server server;
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url, {.pipeline = 16});
  auto o = get_all(s, io, url, 64);
  int ok = 0;
  for (auto& r : o.responses)
    ok += bool(r);
  EXPECT_EQ(ok, 64);
  expect_each_completed_once(o);
  EXPECT_EQ(s.connections_opened(), 4u);
  EXPECT_EQ(server.stats().connections, 4u);
  EXPECT_EQ(server.names().size(), 64u) << "every request reached the server once";
}

TEST(SessionPipelining, SendsTheUnansweredRequestsAgainWhenAConnectionIsReset) {
  scripted_server server([](asio::ip::tcp::socket& socket, int n) {
    if (n > 0) return echo_all(socket, n);
    for (int i = 0; i < 3; ++i) // answers three of the sixteen, then resets
      asio::write(socket, asio::buffer(echo(read_head(socket))));
    reset(socket);
  });
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url, {.timeout = 5s, .pipeline = 16});
  auto o = get_all(s, io, url, 16);
  EXPECT_EQ(count_ok(o), 16);
  expect_each_completed_once(o);
  EXPECT_EQ(s.connections_opened(), 2u);
}

TEST(SessionPipelining, FailsOnlyTheRequestWhoseResponseWasCutShort) {
  scripted_server server([](asio::ip::tcp::socket& socket, int n) {
    if (n > 0) return echo_all(socket, n);
    for (int i = 0; i < 3; ++i)
      asio::write(socket, asio::buffer(echo(read_head(socket))));
    read_head(socket); // the fourth response stops half-way
    asio::write(socket, asio::buffer(std::string_view("HTTP/1.1 200 OK\r\nContent-")));
    reset(socket);
  });
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url, {.timeout = 5s, .pipeline = 16});
  auto o = get_all(s, io, url, 16);
  EXPECT_EQ(count_ok(o), 15);
  expect_each_completed_once(o);
  EXPECT_FALSE(o.responses[3]);
  EXPECT_EQ(o.responses[3].step, "read");
  EXPECT_TRUE(o.responses[3].error == asio::error::connection_reset ||
              o.responses[3].error == common::http::error::truncated)
      << describe_failure(o.responses[3]);
}

TEST(SessionPipelining, FailsEveryRequestOnAConnectionThatAnsweredNone) {
  scripted_server server([](asio::ip::tcp::socket& socket, int) {
    read_head(socket);
    reset(socket);
  });
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url, {.timeout = 5s, .pipeline = 8});
  auto o = get_all(s, io, url, 16);
  EXPECT_EQ(count_ok(o), 0);
  expect_each_completed_once(o);
  for (auto& r : o.responses)
    EXPECT_TRUE(r.step == "read" || r.step == "write") << describe_failure(r);
  EXPECT_EQ(s.connections_opened(), 2u) << "nothing is retried: the server answered nothing";
}

TEST(SessionPipelining, SendsRequestsOneByOneToAServerThatClosesAfterEachResponse) {
  std::atomic<int> answered{0};
  scripted_server server([&](asio::ip::tcp::socket& socket, int) {
    auto head = read_head(socket);
    ++answered; // before the response: once the client has it, the test may look
    asio::write(socket, asio::buffer(echo(head, /*close=*/true)));
    socket.shutdown(asio::ip::tcp::socket::shutdown_send);
    read_head(socket); // until the client closes
  });
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url, {.timeout = 5s, .pipeline = 16});
  auto o = get_all(s, io, url, 16);
  EXPECT_EQ(count_ok(o), 16);
  expect_each_completed_once(o);
  EXPECT_EQ(answered.load(), 16) << "no request was answered twice";
  EXPECT_EQ(s.connections_opened(), 16u);
}

TEST(SessionPipelining, TurnsPipeliningOffForAServerThatDropsPipelinedRequests) {
  // A server that reads whatever has arrived, answers the first request in it and forgets the
  // rest: the client waits for responses that never come, until its timeout.
  std::atomic<int> answered{0};
  scripted_server server([&](asio::ip::tcp::socket& socket, int) {
    std::array<char, 65536> bytes;
    std::error_code ec;
    while (auto n = socket.read_some(asio::buffer(bytes), ec)) {
      std::string head(bytes.data(), n);
      ++answered;
      asio::write(socket, asio::buffer(echo(head.substr(0, head.find("\r\n\r\n") + 4))));
    }
  });
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url, {.timeout = 200ms, .pipeline = 16});
  auto o = get_all(s, io, url, 16);
  EXPECT_EQ(count_ok(o), 16);
  expect_each_completed_once(o);
  EXPECT_EQ(answered.load(), 16);
  EXPECT_EQ(s.connections_opened(), 16u) << "after the timeout, one request per connection";
}

// async_get(): the same requests as an Asio operation, with plain handlers and no coroutine.

TEST(SessionOperation, CompletesEachPipelinedRequestOnceOutsideTheCallThatStartedIt) {
  scripted_server server(echo_all);
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url, {.timeout = 5s, .pipeline = 8});
  outcomes o{std::vector<response>(32), std::vector<int>(32)};
  bool starting = false, inside = false;
  for (int i = 0; i < 32; ++i) {
    starting = true;
    s.async_get(url.format(i), [&, i](std::exception_ptr e, response r) {
      inside |= starting;
      if (e) std::rethrow_exception(e);
      o.responses[i] = std::move(r);
      ++o.completions[i];
    });
    starting = false;
  }
  io.run();
  EXPECT_EQ(count_ok(o), 32) << describe_failure(o.responses[0]);
  expect_each_completed_once(o);
  EXPECT_FALSE(inside) << "a handler ran inside async_get()";
  EXPECT_EQ(s.connections_opened(), 4u);
}

TEST(SessionOperation, RunsTheHandlerOnItsOwnExecutor) {
  scripted_server server(echo_all);
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url, {.timeout = 5s, .pipeline = 4});
  auto strand = asio::make_strand(io);
  int on_strand = 0, done = 0;
  for (int i = 0; i < 8; ++i)
    s.async_get(url.format(i), asio::bind_executor(strand, [&](std::exception_ptr, response r) {
                  on_strand += strand.running_in_this_thread();
                  done += bool(r);
                }));
  io.run();
  EXPECT_EQ(done, 8);
  EXPECT_EQ(on_strand, 8);
}

// A handler's allocator, counting what it is asked for.
template <class T> struct counting_allocator {
  using value_type = T;
  int* count;
  explicit counting_allocator(int* c) noexcept : count(c) {}
  template <class U>
  counting_allocator(const counting_allocator<U>& other) noexcept : count(other.count) {}
  T* allocate(std::size_t n) {
    ++*count;
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>().deallocate(p, n); }
  template <class U> bool operator==(const counting_allocator<U>& other) const noexcept {
    return count == other.count;
  }
};

TEST(SessionOperation, AllocatesEachPipelinedRequestWithItsHandlersAllocator) {
  scripted_server server(echo_all);
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url, {.timeout = 5s, .pipeline = 4});
  int allocations = 0, done = 0;
  for (int i = 0; i < 8; ++i)
    s.async_get(url.format(i),
                asio::bind_allocator(counting_allocator<void>(&allocations),
                                     [&](std::exception_ptr, response r) { done += bool(r); }));
  io.run();
  EXPECT_EQ(done, 8);
  EXPECT_GE(allocations, 8) << "each request's entry is allocated with the handler's allocator";
}

TEST(SessionOperation, CancellingAQueuedRequestFailsItAndSendsTheRestAgain) {
  // The first connection answers the first of its four requests and then nothing; the client
  // cancels the second, which ends that connection, and the last two go to a second one.
  scripted_server server([](asio::ip::tcp::socket& socket, int n) {
    if (n > 0) return echo_all(socket, n);
    std::vector<std::string> heads;
    for (int i = 0; i < 4; ++i)
      heads.push_back(read_head(socket));
    asio::write(socket, asio::buffer(echo(heads[0])));
    read_head(socket); // until the client closes
  });
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url, {.timeout = 5s, .pipeline = 4});
  std::array<asio::cancellation_signal, 4> cancel;
  outcomes o{std::vector<response>(4), std::vector<int>(4)};
  for (int i = 0; i < 4; ++i)
    s.async_get(url.format(i), asio::bind_cancellation_slot(
                                   cancel[i].slot(), [&, i](std::exception_ptr, response r) {
                                     if (i == 0) cancel[1].emit(asio::cancellation_type::terminal);
                                     o.responses[i] = std::move(r);
                                     ++o.completions[i];
                                   }));
  io.run();
  expect_each_completed_once(o);
  EXPECT_TRUE(o.responses[0]) << describe_failure(o.responses[0]);
  EXPECT_EQ(o.responses[1].error, asio::error::operation_aborted)
      << describe_failure(o.responses[1]);
  EXPECT_TRUE(o.responses[2]) << describe_failure(o.responses[2]);
  EXPECT_TRUE(o.responses[3]) << describe_failure(o.responses[3]);
  EXPECT_EQ(s.connections_opened(), 2u);
}

TEST(SessionOperation, RefusesAUrlOfAnotherServerAfterTheCallReturns) {
  running_server server;
  asio::io_context io;
  url_template url(server.url());
  session s(io.get_executor(), url, {.pipeline = 4});
  std::optional<response> r;
  s.async_get("http://127.0.0.2:1/x", [&](std::exception_ptr, response got) { r = got; });
  EXPECT_FALSE(r) << "completed inside async_get()";
  io.run();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->step, "url");
  EXPECT_EQ(r->error, std::errc::invalid_argument);
}

TEST(SessionOperation, DestroysTheHandlersOfRequestsThatNeverRan) {
  running_server server;
  auto token = std::make_shared<int>(0);
  int called = 0;
  {
    asio::io_context io;
    url_template url(server.url());
    session s(io.get_executor(), url, {.pipeline = 4});
    for (int i = 0; i < 6; ++i)
      s.async_get(url.format(i), [&called, token](std::exception_ptr, response) { ++called; });
    EXPECT_EQ(token.use_count(), 7);
  } // the session, then the io_context that never ran
  EXPECT_EQ(called, 0);
  EXPECT_EQ(token.use_count(), 1) << "a handler was leaked";
}

} // namespace
