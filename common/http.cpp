#include "common/http.hpp"

#include <algorithm>
#include <charconv>

namespace common::http {
namespace {

class category final : public std::error_category {
public:
  const char* name() const noexcept override { return "http"; }
  std::string message(int value) const override {
    switch (static_cast<error>(value)) {
    case error::bad_status_line:
      return "malformed status line";
    case error::bad_request_line:
      return "malformed request line";
    case error::unsupported_version:
      return "unsupported HTTP version";
    case error::bad_header:
      return "malformed header";
    case error::missing_host:
      return "missing Host header";
    case error::bad_content_length:
      return "malformed Content-Length";
    case error::conflicting_framing:
      return "both Content-Length and Transfer-Encoding";
    case error::unsupported_transfer_encoding:
      return "unsupported Transfer-Encoding";
    case error::bad_chunk:
      return "malformed chunked body";
    case error::headers_too_large:
      return "headers too large";
    case error::body_too_large:
      return "body too large";
    case error::truncated:
      return "connection closed mid-response";
    case error::extra_bytes:
      return "bytes after the end of the response";
    }
    return "unknown HTTP error";
  }
};

constexpr std::string_view head_end = "\r\n\r\n";

// Character classes, looked up rather than computed: the codec runs for every request.
struct char_table {
  bool tchar[256] = {};      // may appear in a token (a method, a header name)
  bool field_text[256] = {}; // may appear in a field value or reason phrase
  char lower[256] = {};
};

constexpr char_table make_char_table() {
  char_table t;
  for (int c = 0; c < 256; ++c) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    t.tchar[c] =
        alnum || std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos;
    t.field_text[c] = c == '\t' || (c >= 0x20 && c != 0x7f);
    t.lower[c] = c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : char(c);
  }
  return t;
}

constexpr char_table chars = make_char_table();

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!chars.tchar[c]) return false;
  return true;
}

bool is_field_text(std::string_view s) noexcept {
  for (unsigned char c : s)
    if (!chars.field_text[c]) return false;
  return true;
}

// Compares a header name with a lower-case literal, ignoring case.
bool iequals(std::string_view a, std::string_view lower_literal) noexcept {
  if (a.size() != lower_literal.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (chars.lower[static_cast<unsigned char>(a[i])] != lower_literal[i]) return false;
  return true;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Calls f(token) for each element of a comma-separated header list.
template <class F> void for_each_token(std::string_view list, F f) {
  while (!list.empty()) {
    auto comma = list.find(',');
    f(trim(list.substr(0, comma)));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
  }
}

// Looks for the blank line that ends a head, resuming where the last call stopped. Returns the
// head's size including the blank line, or 0 if it is not there yet.
std::size_t find_head(std::string_view data, std::size_t& scanned, std::size_t max,
                      std::error_code& ec) {
  auto from = scanned >= head_end.size() ? scanned - (head_end.size() - 1) : 0;
  auto pos = data.find(head_end, from);
  if (pos == std::string_view::npos) {
    scanned = data.size();
    if (data.size() >= max) ec = error::headers_too_large;
    return 0;
  }
  scanned = 0;
  auto size = pos + head_end.size();
  if (size > max) ec = error::headers_too_large;
  return ec ? 0 : size;
}

// "HTTP/1.0" or "HTTP/1.1" → minor version; other well-formed versions → unsupported.
int parse_version(std::string_view v, error malformed, std::error_code& ec) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
      v[7] < '0' || v[7] > '9') {
    ec = malformed;
    return 0;
  }
  if (v[5] != '1' || v[7] > '1') ec = error::unsupported_version;
  return v[7] - '0';
}

// What the framing headers of one message say.
struct framing {
  bool has_length = false;
  std::uint64_t length = 0;
  bool has_transfer_encoding = false;
  bool chunked = false;
  bool close = false;
  bool keep_alive = false;
  int hosts = 0;
};

void on_header(std::string_view name, std::string_view value, framing& f, std::error_code& ec) {
  if (iequals(name, "content-length")) {
    std::uint64_t n = 0;
    auto [end, result] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || result != std::errc{} || end != value.data() + value.size() ||
        (f.has_length && f.length != n)) {
      ec = error::bad_content_length;
      return;
    }
    f.has_length = true;
    f.length = n;
  } else if (iequals(name, "transfer-encoding")) {
    // Only a single `chunked` coding is understood; anything else cannot be framed safely.
    if (f.has_transfer_encoding || !iequals(value, "chunked")) {
      ec = error::unsupported_transfer_encoding;
      return;
    }
    f.has_transfer_encoding = f.chunked = true;
  } else if (iequals(name, "connection")) {
    for_each_token(value, [&](std::string_view t) {
      f.close |= iequals(t, "close");
      f.keep_alive |= iequals(t, "keep-alive");
    });
  } else if (iequals(name, "host")) {
    ++f.hosts;
  }
}

// Parses the header lines of a head (everything after the first line, up to the blank line).
framing parse_headers(std::string_view lines, std::error_code& ec) {
  framing f;
  while (!ec && !lines.empty()) {
    auto eol = lines.find("\r\n");
    auto line = lines.substr(0, eol);
    lines.remove_prefix(eol + 2);
    auto colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
      ec = error::bad_header; // also rejects obsolete line folding and a space before the colon
      break;
    }
    auto value = trim(line.substr(colon + 1));
    if (!is_field_text(value)) {
      ec = error::bad_header;
      break;
    }
    on_header(line.substr(0, colon), value, f, ec);
  }
  if (!ec && f.has_length && f.has_transfer_encoding) ec = error::conflicting_framing;
  return f;
}

// Splits a head into its first line and its header lines (each ending in CRLF).
std::pair<std::string_view, std::string_view> split_head(std::string_view head) {
  auto eol = head.find("\r\n");
  return {head.substr(0, eol), head.substr(eol + 2, head.size() - eol - 4)};
}

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

} // namespace

const std::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

std::size_t request_parser::parse(std::string_view data, request& out, std::error_code& ec) {
  auto size = find_head(data, scanned_, max_head_, ec);
  if (size == 0) return 0;
  auto [line, headers] = split_head(data.substr(0, size));

  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    ec = error::bad_request_line;
    return 0;
  }
  out.method = line.substr(0, sp1);
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto target_ok = !out.target.empty() && std::all_of(out.target.begin(), out.target.end(),
                                                      [](char c) { return c > ' ' && c < 0x7f; });
  if (!is_token(out.method) || !target_ok) {
    ec = error::bad_request_line;
    return 0;
  }
  out.minor_version = parse_version(line.substr(sp2 + 1), error::bad_request_line, ec);
  if (ec) return 0;

  auto f = parse_headers(headers, ec);
  if (!ec && f.has_transfer_encoding) ec = error::unsupported_transfer_encoding;
  if (!ec && f.hosts > 1) ec = error::bad_header;
  if (!ec && f.hosts == 0 && out.minor_version == 1) ec = error::missing_host;
  if (ec) return 0;
  out.content_length = f.length;
  out.keep_alive = out.minor_version == 1 ? !f.close : f.keep_alive && !f.close;
  return size;
}

void response_parser::reset() noexcept {
  state_ = state::head;
  scanned_ = 0;
  status_ = 0;
  keep_alive_ = true;
  remaining_ = 0;
  trailer_bytes_ = 0;
  body_.clear();
}

std::size_t response_parser::parse_head(std::string_view data, std::error_code& ec) {
  auto size = find_head(data, scanned_, limits_.max_head_bytes, ec);
  if (size == 0) return 0;
  auto [line, headers] = split_head(data.substr(0, size));

  // HTTP/1.x SP 3DIGIT [SP reason-phrase]
  auto minor = parse_version(line.substr(0, 8), error::bad_status_line, ec);
  if (ec) return 0;
  auto code = line.substr(8);
  if (code.size() < 4 || code[0] != ' ' ||
      !std::all_of(code.begin() + 1, code.begin() + 4,
                   [](char c) { return c >= '0' && c <= '9'; })) {
    ec = error::bad_status_line;
    return 0;
  }
  if ((code.size() > 4 && code[4] != ' ') || !is_field_text(code.substr(4))) {
    ec = error::bad_status_line;
    return 0;
  }
  status_ = (code[1] - '0') * 100 + (code[2] - '0') * 10 + (code[3] - '0');
  if (status_ < 100) {
    ec = error::bad_status_line;
    return 0;
  }

  auto f = parse_headers(headers, ec);
  if (ec) return 0;
  if (status_ < 200) return size; // an interim response: the real one follows
  keep_alive_ = minor == 1 ? !f.close : f.keep_alive && !f.close;
  if (status_ == 204 || status_ == 304) {
    state_ = state::done;
  } else if (f.chunked) {
    state_ = state::chunk_size;
  } else if (f.has_length) {
    if (f.length > limits_.max_body_bytes) {
      ec = error::body_too_large;
      return 0;
    }
    remaining_ = f.length;
    body_.reserve(static_cast<std::size_t>(f.length));
    state_ = remaining_ == 0 ? state::done : state::length;
  } else {
    keep_alive_ = false; // the body ends when the server closes the connection
    state_ = state::until_eof;
  }
  return size;
}

bool response_parser::append_body(std::string_view bytes, std::error_code& ec) {
  if (body_.size() + bytes.size() > limits_.max_body_bytes) {
    ec = error::body_too_large;
    return false;
  }
  body_.append(bytes);
  return true;
}

std::size_t response_parser::parse(std::string_view data, std::error_code& ec) {
  std::size_t used = 0;
  while (!ec && state_ != state::done) {
    auto rest = data.substr(used);
    if (state_ == state::head) {
      auto n = parse_head(rest, ec);
      if (n == 0) break;
      used += n;
      continue;
    }
    if (rest.empty()) break;
    if (state_ == state::length) {
      auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, rest.size()));
      if (!append_body(rest.substr(0, n), ec)) break;
      used += n;
      remaining_ -= n;
      if (remaining_ == 0) state_ = state::done;
    } else if (state_ == state::until_eof) {
      if (!append_body(rest, ec)) break;
      used += rest.size();
    } else {
      used += parse_chunked(rest, ec);
    }
  }
  return used;
}

// The chunked decoder is a byte-level state machine so that chunk sizes, chunk terminators and
// trailers may be split anywhere between reads.
std::size_t response_parser::parse_chunked(std::string_view data, std::error_code& ec) {
  constexpr std::uint64_t max_chunk_digits_value = std::uint64_t(1) << 60;
  std::size_t i = 0;
  while (i < data.size() && !ec && state_ != state::done) {
    char c = data[i];
    switch (state_) {
    case state::chunk_size:
      if (int d = hex_digit(c); d >= 0) {
        // Counts the digits too: a size line needs one, and an endless one (zeros) is refused.
        if (remaining_ >= max_chunk_digits_value || ++trailer_bytes_ > limits_.max_head_bytes)
          ec = error::bad_chunk;
        remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(d);
      } else if (trailer_bytes_ == 0) {
        ec = error::bad_chunk;
      } else if (c == ';' || c == ' ' || c == '\t') {
        state_ = state::chunk_ext;
      } else if (c == '\r') {
        state_ = state::chunk_size_lf;
      } else {
        ec = error::bad_chunk;
      }
      ++i;
      break;
    case state::chunk_ext: // chunk extensions are skipped, within the head limit
      if (++trailer_bytes_ > limits_.max_head_bytes || c == '\n') ec = error::bad_chunk;
      if (c == '\r') state_ = state::chunk_size_lf;
      ++i;
      break;
    case state::chunk_size_lf:
      if (c != '\n') ec = error::bad_chunk;
      trailer_bytes_ = 0;
      state_ = remaining_ == 0 ? state::trailer_start : state::chunk_data;
      ++i;
      break;
    case state::chunk_data: {
      auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size() - i));
      if (!append_body(data.substr(i, n), ec)) break;
      remaining_ -= n;
      i += n;
      if (remaining_ == 0) state_ = state::chunk_data_cr;
      break;
    }
    case state::chunk_data_cr:
      if (c != '\r') ec = error::bad_chunk;
      state_ = state::chunk_data_lf;
      ++i;
      break;
    case state::chunk_data_lf:
      if (c != '\n') ec = error::bad_chunk;
      state_ = state::chunk_size;
      ++i;
      break;
    case state::trailer_start:
      state_ = c == '\r' ? state::trailer_end_lf : state::trailer_line;
      [[fallthrough]];
    case state::trailer_line:
      if (++trailer_bytes_ > limits_.max_head_bytes) ec = error::headers_too_large;
      if (c == '\n') state_ = state::trailer_start;
      ++i;
      break;
    case state::trailer_end_lf:
      if (c != '\n')
        ec = error::bad_chunk;
      else
        state_ = state::done;
      ++i;
      break;
    default:
      ec = error::bad_chunk;
      break;
    }
  }
  return i;
}

void response_parser::parse_eof(std::error_code& ec) {
  if (state_ == state::until_eof)
    state_ = state::done;
  else if (state_ != state::done)
    ec = error::truncated;
}

} // namespace common::http
