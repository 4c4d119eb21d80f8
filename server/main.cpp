// server: the article's delay server (its "Setup" section). Every `GET /{name}` answers
// "Hello, World!" after randint(0, 3) seconds, on 127.0.0.1:8080. The options shrink the delays
// (`--delay-unit ms`, `--max-delay 0`) for tests and fast demos.
#include "server/server.hpp"

#include "common/args.hpp"
#include "common/resources.hpp"

#include <asio/signal_set.hpp>

#include <csignal>
#include <cstdio>
#include <string>

namespace {

// What `--help` prints between the Usage and Example lines, with the defaults `opts` holds.
std::string help(const server::options& opts) {
  using std::to_string;
  std::string h = "Answers every GET /{name} with \"Hello, World!\" after randint(0, N) units.\n\n";
  h += "  --host ADDRESS          the IP address to listen on (default " + opts.host + ")\n";
  h += "  --port PORT             the port to listen on, 0 for any free one (default " +
       to_string(opts.port) + ");\n";
  h += "                          it prints `listening on http://HOST:PORT` once it listens\n";
  h += "  --max-delay N           the longest delay, in --delay-unit units, 0 to 3600;\n";
  h += "                          0 answers at once (default " + to_string(opts.max_delay) + ")\n";
  h += "  --delay-unit s|ms       the unit of the delays (default " +
       std::string(opts.delay_unit.count() == 1000 ? "s" : "ms") + ", the article's)\n";
  h += "  --seed S                seeds the delays, for runs that can be repeated\n";
  h += "                          (default: a random seed)\n";
  h += "  --max-connections N     connections open at once; more are answered 503 and closed\n";
  h += "                          (default " + to_string(opts.max_connections) + ")\n";
  h += "  --idle-timeout SECONDS  to send a whole request, or to read a response; fractions\n";
  h += "                          allowed (default " + to_string(opts.idle_timeout.count() / 1000) +
       " s)\n";
  h += "  -h, --help              prints this and exits\n\n";
  h += "Each option takes its value as `--name VALUE` or `--name=VALUE`. SIGINT or SIGTERM\n";
  h += "stops it; it then prints how many requests it served, and the mean delay.\n";
  return h;
}

server::options parse_options(int argc, char** argv) {
  server::options opts;
  common::arguments args(argc, argv,
                         "[--host ADDRESS] [--port PORT] [--max-delay N] [--delay-unit s|ms] "
                         "[--seed S] [--max-connections N] [--idle-timeout SECONDS]",
                         "--port 0 --max-delay 3 --delay-unit ms", help(opts));
  while (!args.done()) {
    auto arg = args.next();
    if (arg == "--host") {
      opts.host = args.value();
      if (opts.host == "localhost") opts.host = "127.0.0.1";
      std::error_code ec;
      asio::ip::make_address(opts.host, ec);
      if (ec) args.fail("--host must be an IP address such as 127.0.0.1, not '" + opts.host + "'");
    } else if (arg == "--port") {
      opts.port = static_cast<std::uint16_t>(args.number(args.value(), "--port", 0, 65535));
    } else if (arg == "--max-delay") {
      opts.max_delay = static_cast<unsigned>(args.number(args.value(), "--max-delay", 0, 3600));
    } else if (arg == "--delay-unit") {
      auto unit = args.value();
      if (unit != "s" && unit != "ms") args.fail("--delay-unit must be s or ms");
      opts.delay_unit = std::chrono::milliseconds(unit == "s" ? 1000 : 1);
    } else if (arg == "--seed") {
      opts.seed = args.number(args.value(), "--seed", 0, UINT64_MAX);
    } else if (arg == "--max-connections") {
      opts.max_connections = args.number(args.value(), "--max-connections", 1, 10'000'000);
    } else if (arg == "--idle-timeout") {
      opts.idle_timeout = args.seconds(args.value(), "--idle-timeout", 86'400);
    } else {
      args.fail("unknown argument " + std::string(arg));
    }
  }
  return opts;
}

} // namespace

int main(int argc, char* argv[]) {
  auto opts = parse_options(argc, argv);
  common::raise_fd_limit();
  try {
    asio::io_context io(/*concurrency_hint=*/1);
    server::delay_server server(io, opts);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) { server.stop(); });
    server.start();

    auto address = asio::ip::make_address(opts.host);
    auto host = address.is_v6() ? "[" + opts.host + "]" : opts.host;
    if (!address.is_loopback())
      std::fprintf(stderr, "server: warning: listening on %s, reachable from other machines\n",
                   opts.host.c_str());
    std::printf("listening on http://%s:%u\n", host.c_str(), unsigned(server.port()));
    std::fflush(stdout);

    io.run();
    auto& s = server.statistics();
    std::printf("served %llu requests, peak %zu concurrent connections",
                static_cast<unsigned long long>(s.requests), s.peak_connections);
    if (opts.max_delay > 0 && s.greeted > 0) // what Little's law needs: L = lambda * W
      std::printf(", mean delay %.3f s",
                  std::chrono::duration<double>(s.total_delay).count() / double(s.greeted));
    std::printf("\n");
    return 0;
  } catch (const std::system_error& e) {
    if (e.code() == asio::error::address_in_use)
      std::fprintf(stderr, "server: port %u on %s is already in use; pick another with --port\n",
                   unsigned(opts.port), opts.host.c_str());
    else
      std::fprintf(stderr, "server: %s\n", e.what());
    return 1;
  }
}
