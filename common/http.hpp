// A small, strict HTTP/1.1 codec shared by the server and the clients. It does no I/O: the caller
// owns the bytes, feeds them in, and keeps whatever the parser has not consumed yet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

/// The HTTP/1.1 codec: a request-head parser for the server, a response parser for the clients.
namespace common::http {

/// What can be wrong with an HTTP message.
enum class error {
  bad_status_line = 1,           ///< the first line of a response is not `HTTP/1.x NNN reason`
  bad_request_line,              ///< the first line of a request is not `METHOD target HTTP/1.x`
  unsupported_version,           ///< an HTTP version other than 1.0 and 1.1
  bad_header,                    ///< a header line is not `name: value`
  missing_host,                  ///< an HTTP/1.1 request without a Host header
  bad_content_length,            ///< Content-Length is not one decimal number
  conflicting_framing,           ///< both Content-Length and Transfer-Encoding
  unsupported_transfer_encoding, ///< a transfer coding other than `chunked`
  bad_chunk,                     ///< a malformed chunk size or chunk terminator
  headers_too_large,             ///< the head exceeds its byte limit
  body_too_large,                ///< the body exceeds its byte limit
  truncated,                     ///< the connection closed in the middle of a message
  extra_bytes,                   ///< bytes beyond the end of a response: its framing is off
};

/// The category of common::http::error values.
const std::error_category& error_category() noexcept;

/// Makes an std::error_code from a common::http::error.
inline std::error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// The request line and the headers that the server acts on. Views point into the parsed bytes.
struct request {
  std::string_view method;          ///< e.g. `GET`
  std::string_view target;          ///< the path and query, e.g. `/42?x=1`
  int minor_version = 1;            ///< 0 for HTTP/1.0, 1 for HTTP/1.1
  bool keep_alive = true;           ///< false when the client asked to close after this request
  std::uint64_t content_length = 0; ///< request body bytes that follow the head
};

/// Finds and parses one request head at the front of a buffer.
///
/// Call parse() with the buffer's unconsumed bytes each time more arrive; it remembers how far it
/// has looked, so a head that trickles in byte by byte costs linear time.
class request_parser {
public:
  /// Creates a parser for the request heads of one connection.
  /// @param max_head_bytes the largest head accepted (request line and headers)
  explicit request_parser(std::size_t max_head_bytes = 8192) noexcept : max_head_(max_head_bytes) {}

  /// Returns the size of the head once it is complete (and fills `out`), 0 while more bytes are
  /// needed. Sets `ec` when the head is malformed or too large; the connection must then close.
  std::size_t parse(std::string_view data, request& out, std::error_code& ec);

private:
  std::size_t max_head_;
  std::size_t scanned_ = 0;
};

/// Parses one response at a time from a connection's bytes: the head, then a body framed by
/// Content-Length, by chunked encoding, or by the end of the connection.
class response_parser {
public:
  /// Limits that keep a broken or hostile server from using unbounded memory.
  struct limits {
    std::size_t max_head_bytes = 8192;     ///< status line and headers
    std::size_t max_body_bytes = 1u << 20; ///< body after decoding
  };

  /// Creates a parser ready for the first response.
  explicit response_parser(limits l) noexcept : limits_(l) {}
  /// Creates a parser with the default limits.
  response_parser() noexcept : response_parser(limits{}) {}

  /// Gets ready for the next response on the same connection.
  void reset() noexcept;

  /// Consumes bytes from the front of `data` and returns how many. While the head is incomplete
  /// nothing is consumed; keep the bytes and call again with more. Sets `ec` on malformed input.
  std::size_t parse(std::string_view data, std::error_code& ec);

  /// Tells the parser that the peer closed the connection. Completes a body that is delimited by
  /// the close; anything else unfinished sets `ec` to error::truncated.
  void parse_eof(std::error_code& ec);

  /// True once a whole response has been parsed.
  bool done() const noexcept { return state_ == state::done; }
  /// The status code, valid once the head has been parsed.
  int status() const noexcept { return status_; }
  /// True when the connection may carry another request after this response.
  bool keep_alive() const noexcept { return keep_alive_; }
  /// The decoded body so far; move it out once done().
  std::string& body() noexcept { return body_; }

private:
  enum class state {
    head,
    length,
    chunk_size,
    chunk_ext,
    chunk_size_lf,
    chunk_data,
    chunk_data_cr,
    chunk_data_lf,
    trailer_start,
    trailer_line,
    trailer_end_lf,
    until_eof,
    done
  };

  std::size_t parse_head(std::string_view data, std::error_code& ec);
  std::size_t parse_chunked(std::string_view data, std::error_code& ec);
  bool append_body(std::string_view bytes, std::error_code& ec);

  limits limits_;
  state state_ = state::head;
  std::size_t scanned_ = 0;
  int status_ = 0;
  bool keep_alive_ = true;
  std::uint64_t remaining_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::string body_;
};

} // namespace common::http

template <> struct std::is_error_code_enum<common::http::error> : std::true_type {};
