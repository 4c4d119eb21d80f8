#include "server/server.hpp"

#include "common/http.hpp"
#include "common/resources.hpp"
#include "tests/testing.hpp"

#include <asio/write.hpp>
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include <poll.h>
#include <sys/socket.h>

using common::testing::run;
using common::testing::running_server;
using common::testing::server_hello;
using common::testing::server_process;
using common::testing::zero_delay;
using namespace std::chrono_literals;

namespace {

// A plain blocking client whose every read gives up after a bound, so a test never hangs.
class raw_client {
public:
  explicit raw_client(std::uint16_t port) : socket_(io()) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
  }

  void send(std::string_view bytes) { asio::write(socket_, asio::buffer(bytes)); }

  // One whole response as raw text, or what arrived before the connection ended.
  std::string response() {
    common::http::response_parser parser;
    std::string raw;
    for (;;) {
      std::error_code ec;
      auto used = parser.parse(pending_, ec);
      raw.append(pending_, 0, used);
      pending_.erase(0, used);
      if (ec || parser.done()) return raw;
      if (!receive()) return raw + pending_;
    }
  }

  // True when the server closes the connection (rather than send anything) within the bound.
  bool closed_by_server() { return pending_.empty() && !receive() && pending_.empty(); }

private:
  bool receive() {
    pollfd p{socket_.native_handle(), POLLIN, 0};
    if (poll(&p, 1, 10'000) <= 0) return false;
    char chunk[4096];
    auto n = ::recv(socket_.native_handle(), chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    pending_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  static asio::io_context& io() { // blocking sockets only need one to belong to
    static asio::io_context shared;
    return shared;
  }

  asio::ip::tcp::socket socket_;
  std::string pending_;
};

std::string get(std::string_view target, std::string_view extra = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra) + "\r\n";
}

TEST(Server, AnswersHelloWorld) {
  running_server server;
  raw_client client(server.port());
  client.send(get("/world"));
  EXPECT_EQ(client.response(), server_hello);
  EXPECT_EQ(server.names(), (std::map<std::string, int>{{"world", 1}}));
}

TEST(Server, AcceptsAbsoluteFormAndQueries) {
  running_server server;
  raw_client client(server.port());
  client.send(get("http://test/a?x=1"));
  EXPECT_EQ(client.response(), server_hello);
  EXPECT_EQ(server.names(), (std::map<std::string, int>{{"a", 1}}));
}

struct status_case {
  const char* name;
  std::string request;
  const char* status_line;
  bool closes;
  const char* also; // another line the response must have, or ""
};

const status_case status_cases[] = {
    {"root", get("/"), "HTTP/1.1 404 Not Found\r\n", false, ""},
    {"two_segments", get("/a/b"), "HTTP/1.1 404 Not Found\r\n", false, ""},
    {"post", "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi",
     "HTTP/1.1 405 Method Not Allowed\r\n", false, "Allow: GET\r\n"},
    {"delete", "DELETE /a HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 405 Method Not Allowed\r\n",
     false, "Allow: GET\r\n"},
    {"garbage", "garbage\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n", true, "Connection: close\r\n"},
    {"binary", std::string("\x16\x03\x01\x02\x00\r\n\r\n", 9), "HTTP/1.1 400 Bad Request\r\n", true,
     ""},
    {"missing_host", "GET /a HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n", true, ""},
    {"huge_header", get("/a", "X-Big: " + std::string(9000, 'x') + "\r\n"),
     "HTTP/1.1 431 Request Header Fields Too Large\r\n", true, ""},
    {"http2", "GET /a HTTP/2.0\r\nHost: h\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported\r\n",
     true, ""},
    {"chunked_body", get("/a", "Transfer-Encoding: chunked\r\n") + "0\r\n\r\n",
     "HTTP/1.1 501 Not Implemented\r\n", true, ""},
    {"huge_body", get("/a", "Content-Length: 100000000\r\n"), "HTTP/1.1 413 Content Too Large\r\n",
     true, ""},
};

void PrintTo(const status_case& c, std::ostream* os) {
  *os << c.name;
}

class ServerStatus : public ::testing::TestWithParam<status_case> {};

TEST_P(ServerStatus, AnswersAndClosesAsHttpSays) {
  const auto& c = GetParam();
  running_server server;
  raw_client client(server.port());
  client.send(c.request);
  auto response = client.response();
  EXPECT_EQ(response.substr(0, std::string_view(c.status_line).size()), c.status_line) << response;
  EXPECT_NE(response.find(c.also), std::string::npos) << response;
  if (c.closes) {
    EXPECT_TRUE(client.closed_by_server());
  } else { // the connection still works
    client.send(get("/again"));
    EXPECT_EQ(client.response(), server_hello);
  }
  EXPECT_EQ(server.names().count("a"), 0u) << "a rejected request never reaches the handler";
}

INSTANTIATE_TEST_SUITE_P(Server, ServerStatus, ::testing::ValuesIn(status_cases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Server, KeepsTheConnectionAliveBetweenRequests) {
  running_server server;
  raw_client client(server.port());
  for (int i = 0; i < 3; ++i) {
    client.send(get("/" + std::to_string(i)));
    EXPECT_EQ(client.response(), server_hello);
  }
  auto stats = server.stats();
  EXPECT_EQ(stats.connections, 1u);
  EXPECT_EQ(stats.requests, 3u);
}

TEST(Server, ClosesWhenTheClientAsks) {
  running_server server;
  raw_client client(server.port());
  client.send(get("/a", "Connection: close\r\n"));
  auto response = client.response();
  EXPECT_NE(response.find("Connection: close\r\n"), std::string::npos) << response;
  EXPECT_TRUE(client.closed_by_server());
}

TEST(Server, SpeaksHttp10) {
  running_server server;
  raw_client once(server.port());
  once.send("GET /a HTTP/1.0\r\n\r\n");
  EXPECT_NE(once.response().find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(once.closed_by_server());

  raw_client kept(server.port());
  kept.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_NE(kept.response().find("Connection: keep-alive\r\n"), std::string::npos);
  kept.send("GET /b HTTP/1.0\r\n\r\n");
  EXPECT_NE(kept.response().find("Hello, World!"), std::string::npos);
}

TEST(Server, AnswersPipelinedRequestsInOrder) {
  running_server server;
  raw_client client(server.port());
  client.send(get("/1") + get("/2", "Content-Length: 5\r\n") + "body!" + get("/"));
  EXPECT_EQ(client.response(), server_hello);
  EXPECT_EQ(client.response(), server_hello);
  EXPECT_EQ(client.response().substr(0, 22), "HTTP/1.1 404 Not Found");
  EXPECT_EQ(server.names(), (std::map<std::string, int>{{"1", 1}, {"2", 1}}));
}

TEST(Server, AnswersTheRequestsInHandInOneWrite) {
  running_server server;
  raw_client client(server.port());
  std::string batch;
  for (int i = 0; i < 16; ++i)
    batch += get("/" + std::to_string(i));
  client.send(batch); // one write: the server reads them all at once, and can answer them so
  for (int i = 0; i < 16; ++i)
    ASSERT_EQ(client.response(), server_hello) << "response " << i;
  EXPECT_LT(server.stats().writes, 16u) << "one write per answer: pipelined answers not batched";
}

TEST(Server, SendsTheAnswersInHandBeforeADelay) {
  // Two requests without a delay, then one with a long one, pipelined: the first two answers
  // must not wait for the third's delay (queued answers go out before any wait).
  auto options = zero_delay();
  options.max_delay = 1;
  options.delay_unit = 60s;
  for (std::uint64_t seed = 1;; ++seed) { // the first seed whose delays start 0, 0, 60 s
    options.seed = seed;
    server::delays d(options);
    if (d.next() == 0ms && d.next() == 0ms && d.next() == 60s) break;
  }
  running_server server(options);
  raw_client client(server.port());
  client.send(get("/1") + get("/2") + get("/3"));
  EXPECT_EQ(client.response(), server_hello) << "the first answer waited for a later delay";
  EXPECT_EQ(client.response(), server_hello);
} // stopping the server ends the third request's delay

TEST(Server, AnswersARequestThatTricklesIn) {
  running_server server;
  raw_client client(server.port());
  for (char c : get("/slow"))
    client.send(std::string_view(&c, 1));
  EXPECT_EQ(client.response(), server_hello);
}

TEST(Server, ClosesIdleAndStalledConnections) {
  auto options = zero_delay();
  options.idle_timeout = 100ms;
  running_server server(options);
  raw_client idle(server.port());
  raw_client stalled(server.port());
  stalled.send("GET /a HTTP/1.1\r\nHo"); // a slowloris that never finishes its request
  EXPECT_TRUE(idle.closed_by_server());
  EXPECT_TRUE(stalled.closed_by_server());
  EXPECT_EQ(server.stats().open_connections, 0u);
}

TEST(Server, RefusesConnectionsOverItsCap) {
  auto options = zero_delay();
  options.max_connections = 2;
  running_server server(options);
  raw_client first(server.port()), second(server.port());
  first.send(get("/1"));
  EXPECT_EQ(first.response(), server_hello); // both are accepted by now
  second.send(get("/2"));
  EXPECT_EQ(second.response(), server_hello);
  raw_client third(server.port());
  EXPECT_EQ(third.response().substr(0, 32), "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(server.stats().rejected, 1u);
}

TEST(Server, StopEndsSleepingRequestsAndIdleConnections) {
  auto options = zero_delay();
  options.max_delay = 1;
  options.delay_unit = 3600s;
  options.seed = 1; // whatever the draws, stop() must not wait for an hour
  running_server server(options);
  raw_client idle(server.port());
  std::vector<std::unique_ptr<raw_client>> sleepers;
  for (int i = 0; i < 10; ++i) {
    sleepers.push_back(std::make_unique<raw_client>(server.port()));
    sleepers.back()->send(get("/" + std::to_string(i)));
  }
  while (server.stats().requests < 10)
    std::this_thread::yield();
  server.stop(); // returns once every connection's coroutine has finished
  EXPECT_EQ(server.stats().open_connections, 0u);
  EXPECT_TRUE(idle.closed_by_server());
}

TEST(Delays, AreTheArticlesRandintScaledByTheUnit) {
  server::options options;
  options.seed = 42;
  server::delays a(options), b(options);
  std::set<std::chrono::milliseconds> seen;
  for (int i = 0; i < 1000; ++i) {
    auto d = a.next();
    EXPECT_EQ(d, b.next()) << "the same seed gives the same delays";
    seen.insert(d);
  }
  EXPECT_EQ(seen, (std::set<std::chrono::milliseconds>{0s, 1s, 2s, 3s}));

  options.delay_unit = 1ms;
  options.max_delay = 10;
  server::delays ms(options);
  for (int i = 0; i < 100; ++i)
    EXPECT_LE(ms.next(), 10ms);

  options.max_delay = 0;
  server::delays none(options);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(none.next(), 0ms);
}

TEST(ServerProgram, HoldsTenThousandSleepingConnections) {
  constexpr int connections = 10'000;
  if (common::raise_fd_limit() < connections + 100)
    GTEST_SKIP() << "needs " << connections + 100 << " open files; raise `ulimit -n`";
  // Delays of 0-2 s: most requests are still asleep when the last connection opens.
  server_process server({"--port", "0", "--max-delay", "2", "--delay-unit", "s"});
  std::vector<std::unique_ptr<raw_client>> clients;
  for (int i = 0; i < connections; ++i) {
    clients.push_back(std::make_unique<raw_client>(server.port()));
    clients.back()->send(get("/" + std::to_string(i)));
  }
  int ok = 0;
  for (auto& c : clients)
    ok += c->response() == server_hello;
  EXPECT_EQ(ok, connections);
  auto exit = server.stop();
  EXPECT_EQ(exit.exit_code, 0);
  std::smatch m; // delays of 0, 1 or 2 s: a mean of 1 s, within what 10,000 draws allow
  ASSERT_TRUE(std::regex_match(exit.out, m,
                               std::regex("served 10000 requests, peak 10000 concurrent "
                                          "connections, mean delay ([0-9.]+) s\n")))
      << exit.out;
  EXPECT_NEAR(std::stod(m[1]), 1.0, 0.05);
}

TEST(ServerProgram, StopsOnSigintAndSigterm) {
  for (int signal : {SIGINT, SIGTERM}) {
    server_process server;
    raw_client client(server.port());
    client.send(get("/a"));
    EXPECT_EQ(client.response(), server_hello);
    auto exit = server.stop(signal);
    EXPECT_EQ(exit.exit_code, 0);
    EXPECT_EQ(exit.out, "served 1 requests, peak 1 concurrent connections\n");
  }
}

TEST(ServerProgram, SaysWhenThePortIsTaken) {
  running_server taken;
  auto r = run({"server", "--port", std::to_string(taken.port())});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "server: port " + std::to_string(taken.port()) +
                       " on 127.0.0.1 is already in use; pick another with --port\n");
}

TEST(ServerProgram, RejectsBadArguments) {
  for (auto args : std::vector<std::vector<std::string>>{{"server", "--port", "70000"},
                                                         {"server", "--port"},
                                                         {"server", "--delay-unit", "h"},
                                                         {"server", "--max-delay", "-1"},
                                                         {"server", "--host", "example.com"},
                                                         {"server", "--idle-timeout", "0"},
                                                         {"server", "extra"}}) {
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("\nUsage: server "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("\nExample: server "), std::string::npos) << r.err;
  }
}

} // namespace
