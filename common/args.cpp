#include "common/args.hpp"

#include "common/resources.hpp"
#include "common/url.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace common {

arguments::arguments(int argc, char** argv, std::string usage, std::string example,
                     std::string help)
    : argc_(argc), argv_(argv), usage_(std::move(usage)), example_(std::move(example)),
      help_(std::move(help)) {
  std::string_view path = argc > 0 ? argv[0] : "program";
  program_ = path.substr(path.rfind('/') + 1);
}

std::string_view arguments::next() {
  if (has_pending_value_) fail("option takes no value: " + std::string(argv_[next_ - 1]));
  std::string_view arg = argv_[next_++];
  if (arg == "--help" || arg == "-h") {
    std::printf("Usage: %s %s\n%s%sExample: %s %s\n", program_.c_str(), usage_.c_str(),
                help_.c_str(), help_.empty() ? "" : "\n", program_.c_str(), example_.c_str());
    std::exit(0);
  }
  if (auto eq = arg.find('='); arg.substr(0, 2) == "--" && eq != std::string_view::npos) {
    pending_value_ = arg.substr(eq + 1);
    has_pending_value_ = true;
    return arg.substr(0, eq);
  }
  return arg;
}

std::string_view arguments::value() {
  if (has_pending_value_) {
    has_pending_value_ = false;
    return pending_value_;
  }
  if (done()) fail("missing value after " + std::string(argv_[next_ - 1]));
  return argv_[next_++];
}

std::vector<std::string> arguments::rest() {
  std::vector<std::string> words(argv_ + next_, argv_ + argc_);
  next_ = argc_;
  return words;
}

void arguments::fail(std::string_view message) const {
  std::fprintf(stderr, "%s: %.*s\nUsage: %s %s\nExample: %s %s\n", program_.c_str(),
               static_cast<int>(message.size()), message.data(), program_.c_str(), usage_.c_str(),
               program_.c_str(), example_.c_str());
  std::exit(2);
}

std::uint64_t arguments::number(std::string_view text, std::string_view what, std::uint64_t min,
                                std::uint64_t max) const {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || n < min || n > max)
    fail(std::string(what) + " must be a whole number from " + std::to_string(min) + " to " +
         std::to_string(max) + ", not '" + std::string(text) + "'");
  return n;
}

std::chrono::milliseconds arguments::seconds(std::string_view text, std::string_view what,
                                             double max) const {
  double s = 0;
  bool parsed = false;
#if defined(__cpp_lib_to_chars) // from_chars for floating point: not in libc++ before 17
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), s);
  parsed = ec == std::errc{} && end == text.data() + text.size();
#else // strtod, held to what from_chars accepts: decimal digits, no sign, space, inf or hex
  auto digits = std::string(text);
  char* end = nullptr;
  if (!digits.empty() &&
      (std::isdigit(static_cast<unsigned char>(digits[0])) || digits[0] == '.') &&
      digits.find_first_of("xX") == std::string::npos) {
    s = std::strtod(digits.c_str(), &end);
    parsed = end == digits.c_str() + digits.size();
  }
#endif
  if (text.empty() || !parsed || !(s > 0) || s > max)
    fail(std::string(what) + " must be a number of seconds above 0 and at most " +
         std::to_string(static_cast<long>(max)) + ", not '" + std::string(text) + "'");
  return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000 + 0.5));
}

std::uint64_t arguments::size(std::string_view text, std::string_view what) const {
  std::uint64_t shift = 0;
  auto digits = text;
  if (!text.empty()) switch (text.back()) {
    case 'K':
    case 'k':
      shift = 10;
      break;
    case 'M':
    case 'm':
      shift = 20;
      break;
    case 'G':
    case 'g':
      shift = 30;
      break;
    }
  if (shift) digits.remove_suffix(1);
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || n == 0 ||
      n > (std::uint64_t(1) << (50 - shift)))
    fail(std::string(what) + " must be a size such as 512M or 2G, not '" + std::string(text) + "'");
  return n << shift;
}

namespace {

std::string seconds_text(std::chrono::milliseconds ms) {
  auto text = std::to_string(ms.count() / 1000);
  if (auto frac = ms.count() % 1000) text += "." + std::to_string(1000 + frac).substr(1);
  return text + " s";
}

// What `--help` prints between the Usage and Example lines of a client, with the defaults that
// `defaults` holds.
std::string client_help(const client_options& accepted, const client_args& defaults,
                        std::uint64_t max_requests, std::uint64_t max_limit) {
  using std::to_string;
  std::string h = accepted.limit ? "Makes N GET requests, at most L at a time,"
                                 : "Makes N GET requests, one after another,";
  h += " and prints how many succeeded.\n\n";
  h += "  N                    the number of requests, 0 to " + to_string(max_requests) + "\n";
  if (accepted.limit)
    h += "  --limit L            requests in flight at once, 1 to " + to_string(max_limit) +
         " (default " + to_string(*accepted.limit) + ")\n";
  h += "  --url TEMPLATE       where to send them (default " + defaults.url + ");\n";
  h += "                       {} becomes the request's number, 0 to N-1\n";
  h += "  --timeout SECONDS    for connecting, and for each request; fractions allowed\n";
  h += "                       (default " + seconds_text(defaults.timeout) + ")\n";
  if (accepted.memory_limit) {
    h += "  --memory-limit SIZE  caps the address space, e.g. 512M or 2G (powers of 1024);\n";
    h += "                       running out is reported, exit status 3 (default: no cap)\n";
  }
  if (accepted.pipeline) {
    h += "  --pipeline K         HTTP/1.1 pipelining: up to K requests written on a connection\n";
    h += "                       before their answers are read, 1 to 1024 (default 1: none)\n";
  }
  h += "  -h, --help           prints this and exits\n\n";
  h += "{port} in the URL is not this program's: `timed` replaces it with the port of the\n";
  h += "server it started. Each option takes its value as `--name VALUE` or `--name=VALUE`.\n\n";
  h += "Environment: PROGRESS=1 prints a progress line every second even when stderr is not a\n";
  h += "terminal, PROGRESS=0 never; by default it shows on a terminal only.\n";
  h += "Exit status: 0 when every request succeeded, 1 when some failed, 2 for bad arguments,\n";
  h += "130 when interrupted (Ctrl-C: the summary line says how far it got).\n";
  return h;
}

} // namespace

client_args parse_client_args(int argc, char** argv, client_options accepted) {
  std::string usage = "N";
  if (accepted.limit) usage += " [--limit L]";
  usage += " [--url TEMPLATE] [--timeout SECONDS]";
  if (accepted.memory_limit) usage += " [--memory-limit SIZE]";
  if (accepted.pipeline) usage += " [--pipeline K]";
  std::string example =
      accepted.limit ? "10000 --limit " + std::to_string(*accepted.limit) : std::string("10");
  example += " --url http://localhost:8080/{}";
  constexpr std::uint64_t max_requests = 1'000'000'000'000; // a trillion: beyond any run here
  constexpr std::uint64_t max_limit = 1'000'000;            // concurrent connections
  client_args out;
  arguments args(argc, argv, usage, example, client_help(accepted, out, max_requests, max_limit));
  out.limit = accepted.limit.value_or(1);
  bool has_n = false;
  while (!args.done()) {
    auto arg = args.next();
    if (accepted.limit && arg == "--limit") {
      out.limit = args.number(args.value(), "--limit", 1, max_limit);
    } else if (arg == "--url") {
      out.url = args.value();
    } else if (arg == "--timeout") {
      out.timeout = args.seconds(args.value(), "--timeout", 86'400);
    } else if (accepted.memory_limit && arg == "--memory-limit") {
      out.memory_limit = args.size(args.value(), "--memory-limit");
    } else if (accepted.pipeline && arg == "--pipeline") {
      out.pipeline = args.number(args.value(), "--pipeline", 1, 1024);
    } else if (arg.size() > 1 && arg[0] == '-' && !(arg[1] >= '0' && arg[1] <= '9')) {
      args.fail("unknown option " + std::string(arg));
    } else if (has_n) {
      args.fail("unexpected argument '" + std::string(arg) + "'");
    } else {
      out.requests = args.number(arg, "N (the number of requests)", 0, max_requests);
      has_n = true;
    }
  }
  if (!has_n) args.fail("missing N, the number of requests to make");
  if (out.url.find("{port}") != std::string::npos)
    args.fail("the URL '" + out.url +
              "' has {port}, which only `timed` fills in (with its server's port); give the "
              "port itself, or run this through timed");
  try {
    url_template{out.url};
  } catch (const std::invalid_argument& e) {
    args.fail(e.what());
  }
  // Each request in flight holds a connection, and each connection a file descriptor.
  constexpr std::uint64_t spare_fds = 32;
  if (auto fds = raise_fd_limit(); accepted.limit && out.limit + spare_fds > fds)
    args.fail("--limit " + std::to_string(out.limit) + " needs " +
              std::to_string(out.limit + spare_fds) + " open files, but this process may open " +
              std::to_string(fds) + "; raise the limit with `ulimit -n` or lower --limit");
  return out;
}

} // namespace common
