// Command lines. Every program reports a bad one the same way: one line saying what is wrong,
// then `Usage:` and `Example:`, and exit status 2. `--help` prints the usage, a description of
// every option with its default, and the example, and exits 0.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// What every program shares and no step of the article is about: command lines, URLs, the HTTP
/// codec and session, the summary line, process limits.
namespace common {

/// Walks argv, accepting `--name value` and `--name=value`.
class arguments {
public:
  /// Takes the command line, the two lines a usage error prints, and what `--help` adds.
  /// @param argc,argv the command line, as main() received it
  /// @param usage what follows the program name on the `Usage:` line
  /// @param example what follows the program name on the `Example:` line
  /// @param help the lines `--help` prints between those two: each option, its default and unit
  arguments(int argc, char** argv, std::string usage, std::string example, std::string help = {});

  /// The program's name, without its directory.
  const std::string& program() const noexcept { return program_; }
  /// True when every argument has been read.
  bool done() const noexcept { return next_ >= argc_; }
  /// The next argument. `--name=value` is returned as `--name`, the value kept for value().
  /// `--help` and `-h` print the usage, the help and the example to stdout and exit 0.
  std::string_view next();
  /// The value of the option just returned by next(); a usage error when there is none.
  std::string_view value();
  /// The arguments not read yet, taken as they are (a command line to pass on).
  std::vector<std::string> rest();
  /// Prints `program: message`, the usage and the example to stderr and exits 2.
  [[noreturn]] void fail(std::string_view message) const;

  /// The value as a whole number in [min, max], or a usage error naming `what`.
  std::uint64_t number(std::string_view text, std::string_view what, std::uint64_t min,
                       std::uint64_t max) const;
  /// The value as seconds (fractions allowed) in (0, max], or a usage error naming `what`.
  std::chrono::milliseconds seconds(std::string_view text, std::string_view what, double max) const;
  /// The value as a byte count with an optional K, M or G suffix (powers of 1024).
  std::uint64_t size(std::string_view text, std::string_view what) const;

private:
  int argc_;
  char** argv_;
  int next_ = 1;
  std::string program_;
  std::string usage_;
  std::string example_;
  std::string help_;
  std::string_view pending_value_;
  bool has_pending_value_ = false;
};

/// What the clients are asked to do: the article's `N` and the knobs around it.
struct client_args {
  std::uint64_t requests = 0; ///< N, the number of requests to make
  std::size_t limit = 1000;   ///< requests in flight at once (the article's limit)
  std::string url = "http://localhost:8080/{}"; ///< the article's URL template
  std::chrono::milliseconds timeout{30'000};    ///< for connecting, and for each request
  std::uint64_t memory_limit = 0;               ///< bytes of address space; 0 means no cap
  std::size_t pipeline = 1; ///< requests written on one connection before their responses are read
};

/// The options a client takes besides N, `--url` and `--timeout`, which all take.
struct client_options {
  std::optional<std::size_t> limit; ///< `--limit L`, with this default; none for a serial client
  bool memory_limit = false;        ///< `--memory-limit SIZE`
  bool pipeline = false;            ///< `--pipeline K` (HTTP/1.1 pipelining, K requests deep)
};

/// Parses `PROGRAM N [--limit L] [--url TEMPLATE] [--timeout SECONDS] [--memory-limit SIZE]
/// [--pipeline K]`. Also raises the open-file limit and checks that `limit` connections fit under
/// it. `--help` describes every option with its default, the URL's `{}`, and the `PROGRESS`
/// variable. On bad input prints the error, Usage and Example, and exits 2.
client_args parse_client_args(int argc, char** argv, client_options accepted);

} // namespace common
