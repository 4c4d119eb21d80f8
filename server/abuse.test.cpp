// The delay server against clients that abuse it: slowloris, silent connections, long pipelines,
// bodies nobody asked for, oversized heads, odd methods, HTTP/1.0, and thousands of connections
// coming and going. server.test.cpp checks each status and behaviour once; these check that the
// server holds up when they come in numbers or at the edges, and keeps serving everyone else.
#include "server/server.hpp"

#include "common/http.hpp"
#include "tests/testing.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using common::testing::open_files;
using common::testing::resident_kb;
using common::testing::running_server;
using common::testing::server_hello;
using common::testing::server_process;
using common::testing::wait_until;
using common::testing::zero_delay;
using namespace std::chrono_literals;

namespace {

std::string get(std::string_view target, std::string_view extra = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra) + "\r\n";
}

// A response's status line, with its CRLF.
std::string status_line(const std::string& response) {
  return response.substr(0, response.find("\r\n") + 2);
}

// One client connection to 127.0.0.1, with plain POSIX calls so that a test can also poke at it
// without blocking. Every wait is bounded, so a test never hangs.
class peer {
public:
  explicit peer(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
      throw std::system_error(errno, std::generic_category(), "connect");
    int one = 1; // each byte of a slowloris leaves at once
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~peer() { ::close(fd_); }
  peer(const peer&) = delete;
  peer& operator=(const peer&) = delete;

  /// Sends all of `bytes`; false when the server has closed the connection.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  /// One whole response as raw text, or what arrived before the connection ended.
  std::string response() {
    common::http::response_parser parser;
    std::string raw;
    for (;;) {
      std::error_code ec;
      auto used = parser.parse(pending_, ec);
      raw.append(pending_, 0, used);
      pending_.erase(0, used);
      if (ec || parser.done()) return raw;
      if (!receive(10'000)) return raw + pending_;
    }
  }

  /// True when the server closes the connection (end of stream or reset) without sending
  /// anything more, within 10 s.
  bool closed_by_server() {
    while (receive(10'000)) {
    }
    return ended_ && pending_.empty();
  }

  /// Without waiting: true once the server has closed the connection.
  bool gone() {
    receive(0);
    return ended_;
  }

  /// Bytes received in all, including those response() took.
  std::size_t received() const noexcept { return received_; }

private:
  // Waits up to `ms` for bytes and keeps them; false on timeout or at the end of the stream.
  bool receive(int ms) {
    if (ended_) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return false;
    char chunk[4096];
    auto n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) { // the end, or a reset
      ended_ = true;
      return false;
    }
    pending_.append(chunk, static_cast<std::size_t>(n));
    received_ += static_cast<std::size_t>(n);
    return true;
  }

  int fd_;
  std::string pending_;
  std::size_t received_ = 0;
  bool ended_ = false;
};

server::options idle_timeout(std::chrono::milliseconds timeout) {
  auto options = zero_delay();
  options.idle_timeout = timeout;
  return options;
}

TEST(ServerAbuse, ClosesSlowlorisClientsAndAnswersOthersMeanwhile) {
  running_server server(idle_timeout(500ms));
  constexpr int slow_count = 200;
  // Each sends a request head one byte at a time, far more often than the idle timeout, and never
  // finishes it: the timeout is for the whole request, so the server must close them all, before
  // the 8 KiB head limit would (with a 431).
  const std::string line = "GET /slow HTTP/1.1\r\nHost: test\r\nX-Slow: ";
  auto byte = [&](std::size_t i) { return std::string_view(i < line.size() ? &line[i] : "a", 1); };
  constexpr std::size_t head_limit = 8192;
  std::vector<std::unique_ptr<peer>> slow;
  std::vector<std::size_t> sent(slow_count, 1);
  for (int i = 0; i < slow_count; ++i) {
    slow.push_back(std::make_unique<peer>(server.port()));
    ASSERT_TRUE(slow.back()->send(byte(0)));
  }
  ASSERT_TRUE(wait_until([&] { return server.stats().connections >= slow_count; }));

  // A well-formed request, while the slow ones are connected and trickling: answered.
  peer good(server.port());
  good.send(get("/good"));
  EXPECT_EQ(good.response(), server_hello);

  int open = slow_count;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  std::vector<bool> closed(slow_count, false);
  while (open > 0 && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < slow_count; ++i) {
      if (closed[i]) continue;
      if (slow[i]->gone() || (sent[i] < head_limit + 1 && !slow[i]->send(byte(sent[i]++)))) {
        closed[i] = true;
        --open;
      }
    }
  }
  EXPECT_EQ(open, 0) << "slowloris connections still open after 30 s";
  std::size_t most = 0, answered = 0;
  for (int i = 0; i < slow_count; ++i) {
    most = std::max(most, sent[i]);
    answered += slow[i]->received() > 0;
  }
  EXPECT_EQ(answered, 0u) << "closed by the head limit (431), not by the timeout";
  EXPECT_LT(most, head_limit);
  EXPECT_TRUE(wait_until([&] { return server.stats().open_connections == 0; }));
  EXPECT_EQ(server.names(), (std::map<std::string, int>{{"good", 1}}));
}

TEST(ServerAbuse, ClosesSilentConnectionsAndAnswersOthersMeanwhile) {
  running_server server(idle_timeout(500ms));
  constexpr int silent_count = 200;
  std::vector<std::unique_ptr<peer>> silent;
  for (int i = 0; i < silent_count; ++i)
    silent.push_back(std::make_unique<peer>(server.port()));
  ASSERT_TRUE(wait_until([&] { return server.stats().connections >= silent_count; }));

  peer good(server.port());
  good.send(get("/good"));
  EXPECT_EQ(good.response(), server_hello);

  int closed = 0;
  for (auto& p : silent)
    closed += p->closed_by_server();
  EXPECT_EQ(closed, silent_count);
  EXPECT_TRUE(wait_until([&] { return server.stats().open_connections == 0; }));
  EXPECT_EQ(server.stats().requests, 1u);
}

TEST(ServerAbuse, AnswersAPipelineOfHundredsInOrder) {
  auto options = zero_delay();
  options.max_delay = 1; // 0 or 1 ms each: answers wait on delays, still in order
  options.delay_unit = 1ms;
  options.seed = 3;
  running_server server(options);
  constexpr int n = 500;
  std::string batch;
  std::vector<std::string> statuses;
  for (int i = 0; i < n; ++i) {
    switch (i % 4) {
    case 2:
      batch += get("/");
      statuses.push_back("HTTP/1.1 404 Not Found\r\n");
      break;
    case 3:
      batch += "DELETE /x HTTP/1.1\r\nHost: test\r\n\r\n";
      statuses.push_back("HTTP/1.1 405 Method Not Allowed\r\n");
      break;
    default:
      batch += get("/" + std::to_string(i));
      statuses.push_back("HTTP/1.1 200 OK\r\n");
    }
  }
  peer client(server.port());
  ASSERT_TRUE(client.send(batch)); // in one write
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(status_line(client.response()), statuses[i]) << "response " << i;
  }
  EXPECT_EQ(server.names().size(), std::size_t(n / 2));
  EXPECT_EQ(server.stats().connections, 1u);
}

TEST(ServerAbuse, StopsAPipelineAtItsFirstBadRequest) {
  running_server server;
  std::string batch;
  for (int i = 0; i < 10; ++i)
    batch += get("/" + std::to_string(i));
  batch += "BAD REQUEST\r\n\r\n" + get("/after");
  peer client(server.port());
  ASSERT_TRUE(client.send(batch));
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(client.response(), server_hello) << "response " << i;
  EXPECT_EQ(status_line(client.response()), "HTTP/1.1 400 Bad Request\r\n");
  EXPECT_TRUE(client.closed_by_server());
  EXPECT_EQ(server.names().count("after"), 0u) << "nothing after the bad request is served";
  EXPECT_EQ(server.names().size(), 10u);
}

TEST(ServerAbuse, SkipsRequestBodiesOnKeepAliveWithoutReadingThemAsRequests) {
  running_server server;
  peer client(server.port());
  // Each body is made of requests, which the server must skip as bytes, never serve.
  auto body = [](std::size_t size) {
    std::string smuggled;
    while (smuggled.size() < size)
      smuggled += get("/smuggled");
    return smuggled.substr(0, size);
  };
  for (std::size_t size : {0u, 1u, 100u, 8191u, 8192u, 8193u, 65536u, 1u << 20}) {
    SCOPED_TRACE(size);
    auto length = "Content-Length: " + std::to_string(size) + "\r\n";
    ASSERT_TRUE(client.send(get("/b" + std::to_string(size), length) + body(size)));
    EXPECT_EQ(client.response(), server_hello);
    ASSERT_TRUE(client.send("POST /p HTTP/1.1\r\nHost: test\r\n" + length + "\r\n" + body(size)));
    EXPECT_EQ(status_line(client.response()), "HTTP/1.1 405 Method Not Allowed\r\n");
  }
  EXPECT_EQ(server.names().count("smuggled"), 0u);
  EXPECT_EQ(server.names().size(), 8u);
  EXPECT_EQ(server.stats().connections, 1u) << "all of it on one keep-alive connection";

  // One byte over the body limit is refused from the head alone, and the connection closed.
  client.send(get("/big", "Content-Length: " + std::to_string((1u << 20) + 1) + "\r\n"));
  EXPECT_EQ(status_line(client.response()), "HTTP/1.1 413 Content Too Large\r\n");
  EXPECT_TRUE(client.closed_by_server());
}

TEST(ServerAbuse, TakesAHeadUpToItsLimitAndNoMore) {
  running_server server;
  constexpr std::size_t limit = 8192;
  auto head = [](std::size_t size) {
    std::string start = "GET /a HTTP/1.1\r\nHost: test\r\nX-Pad: ", end = "\r\n\r\n";
    return start + std::string(size - start.size() - end.size(), 'p') + end;
  };
  auto refused = [&](std::string_view bytes) {
    peer client(server.port());
    client.send(bytes);
    EXPECT_EQ(status_line(client.response()), "HTTP/1.1 431 Request Header Fields Too Large\r\n");
    EXPECT_TRUE(client.closed_by_server());
  };
  {
    peer at_limit(server.port());
    at_limit.send(head(limit));
    EXPECT_EQ(at_limit.response(), server_hello);
  }
  refused(head(limit + 1));
  std::string many_lines = "GET /a HTTP/1.1\r\nHost: test\r\n";
  for (int i = 0; i < 1000; ++i)
    many_lines += "X-" + std::to_string(i) + ": v\r\n";
  refused(many_lines + "\r\n");
  refused("GET /a HTTP/1.1\r\nX-Endless: " + std::string(64 * 1024, 'e')); // never ends
  EXPECT_EQ(server.names(), (std::map<std::string, int>{{"a", 1}}));
}

TEST(ServerAbuse, AnswersOddMethodsAndRefusesMalformedOnes) {
  running_server server;
  struct method_case {
    std::string request_line;
    std::string_view status_line;
    bool keeps_connection;
  };
  constexpr std::string_view not_allowed = "HTTP/1.1 405 Method Not Allowed\r\n";
  constexpr std::string_view bad = "HTTP/1.1 400 Bad Request\r\n";
  const method_case cases[] = {
      {"get /a HTTP/1.1", not_allowed, true}, // methods are case-sensitive
      {"HEAD /a HTTP/1.1", not_allowed, true},
      {"OPTIONS * HTTP/1.1", not_allowed, true},
      {"BREW /pot HTTP/1.1", not_allowed, true},
      {std::string(1000, 'M') + " /a HTTP/1.1", not_allowed, true},
      {"G@T /a HTTP/1.1", bad, false},
      {" /a HTTP/1.1", bad, false},
      {"GET  /a HTTP/1.1", bad, false},
      {"GET\t/a HTTP/1.1", bad, false},
      {"GET /a HTTP/1.1 extra", bad, false},
      {std::string("G\0T /a HTTP/1.1", 15), bad, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.request_line.substr(0, 40));
    peer client(server.port());
    client.send(c.request_line + "\r\nHost: test\r\n\r\n");
    EXPECT_EQ(status_line(client.response()), c.status_line);
    if (c.keeps_connection) {
      client.send(get("/again"));
      EXPECT_EQ(client.response(), server_hello);
    } else {
      EXPECT_TRUE(client.closed_by_server());
    }
  }
  EXPECT_EQ(server.names().count("a"), 0u) << "only a GET reaches the handler";
}

TEST(ServerAbuse, KeepsHttp10ConnectionsOpenOnlyWhenAsked) {
  running_server server;
  peer kept(server.port());
  for (int i = 0; i < 100; ++i) {
    kept.send("GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    auto response = kept.response();
    ASSERT_NE(response.find("\r\nConnection: keep-alive\r\n"), std::string::npos) << response;
    ASSERT_EQ(response.substr(response.size() - 13), "Hello, World!");
  }
  kept.send("GET /k HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"); // close wins
  EXPECT_NE(kept.response().find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_TRUE(kept.closed_by_server());

  // Pipelined: a keep-alive request, a plain HTTP/1.0 one (which ends the connection), and one
  // more that is never answered.
  peer piped(server.port());
  piped.send("GET /p HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
             "GET /p HTTP/1.0\r\n\r\n"
             "GET /never HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_NE(piped.response().find("\r\nConnection: keep-alive\r\n"), std::string::npos);
  EXPECT_NE(piped.response().find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_TRUE(piped.closed_by_server());
  EXPECT_EQ(server.names(), (std::map<std::string, int>{{"k", 101}, {"p", 2}}));
}

// Opens `count` connections at once, sends a request on each, reads every answer, closes all.
int burst(std::uint16_t port, int count, const std::string& prefix) {
  std::vector<std::unique_ptr<peer>> peers;
  for (int i = 0; i < count; ++i)
    peers.push_back(std::make_unique<peer>(port));
  for (int i = 0; i < count; ++i)
    peers[i]->send(get("/" + prefix + std::to_string(i)));
  int ok = 0;
  for (auto& p : peers)
    ok += p->response() == server_hello;
  return ok;
}

TEST(ServerAbuse, StaysUpThroughThousandsOfConnectionsComingAndGoing) {
  running_server server;
  constexpr int sequential = 5000, bursts = 5, burst_size = 500;
  int ok = 0;
  for (int i = 0; i < sequential; ++i) { // connect, request, close
    peer client(server.port());
    client.send(get("/s" + std::to_string(i)));
    ok += client.response() == server_hello;
  }
  EXPECT_EQ(ok, sequential);
  for (int b = 0; b < bursts; ++b)
    EXPECT_EQ(burst(server.port(), burst_size, "b" + std::to_string(b) + "-"), burst_size);
  EXPECT_TRUE(wait_until([&] { return server.stats().open_connections == 0; }));
  auto stats = server.stats();
  constexpr auto total = std::uint64_t(sequential + bursts * burst_size);
  EXPECT_EQ(stats.connections, total);
  EXPECT_EQ(stats.requests, total);
  EXPECT_EQ(server.names().size(), total);
  EXPECT_GE(stats.peak_connections, std::size_t(burst_size));
}

TEST(ServerProgramAbuse, MemoryStopsGrowingOverIdenticalBursts) {
#ifdef SANITIZED_BUILD
  GTEST_SKIP() << "a sanitizer's own memory hides the server's";
#endif
  server_process server;
  auto baseline = open_files(server.pid());
  std::vector<long> rss; // VmRSS in KB once each burst's connections have all closed
  for (int b = 0; b < 5; ++b) {
    ASSERT_EQ(burst(server.port(), 500, "b" + std::to_string(b) + "-"), 500);
    ASSERT_TRUE(wait_until([&] { return open_files(server.pid()) == baseline; }));
    rss.push_back(resident_kb(server.pid()));
  }
  // malloc keeps what was freed, so the first burst sets the level; a leak raises it each time.
  EXPECT_LE(rss.back() - rss.front(), 2048)
      << "VmRSS after each burst, in KB: " << rss[0] << " " << rss[1] << " " << rss[2] << " "
      << rss[3] << " " << rss[4];
  auto exit = server.stop();
  EXPECT_EQ(exit.exit_code, 0);
  EXPECT_EQ(exit.out, "served 2500 requests, peak 500 concurrent connections\n");
}

} // namespace
