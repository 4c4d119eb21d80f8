#include "common/http.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

using common::http::error;
using common::http::request;
using common::http::request_parser;
using common::http::response_parser;

namespace {

struct parsed_response {
  std::error_code ec;
  bool done = false;
  int status = 0;
  bool keep_alive = false;
  std::string body;
  std::size_t left_over = 0; // bytes after the response
};

// Feeds `bytes` to a response parser in pieces of `step` bytes, keeping what it does not consume,
// as a connection would; then reports end of stream if `eof`.
parsed_response parse_response(std::string_view bytes, std::size_t step, bool eof = false,
                               response_parser::limits limits = {}) {
  response_parser parser(limits);
  parsed_response out;
  std::string pending;
  for (std::size_t at = 0; at < bytes.size() && !out.ec && !parser.done(); at += step) {
    pending.append(bytes.substr(at, step));
    pending.erase(0, parser.parse(pending, out.ec));
  }
  if (eof && !out.ec && !parser.done()) parser.parse_eof(out.ec);
  out.done = parser.done();
  out.status = parser.status();
  out.keep_alive = parser.keep_alive();
  out.body = parser.body();
  out.left_over = pending.size();
  return out;
}

struct response_case {
  const char* name;
  std::string bytes;
  bool eof; // the server closes after sending the bytes
  int status;
  std::string body;
  bool keep_alive;
};

const response_case valid_responses[] = {
    {"content_length", "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!", false, 200,
     "Hello, World!", true},
    {"no_reason_phrase", "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nhi", false, 200, "hi", true},
    {"empty_reason_phrase", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", false, 200, "", true},
    {"header_names_any_case", "HTTP/1.1 200 OK\r\ncontent-LENGTH:  3 \r\n\r\nabc", false, 200,
     "abc", true},
    {"chunked",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nHello\r\n8;ext=1\r\n, "
     "World!\r\n0\r\nTrailer: x\r\n\r\n",
     false, 200, "Hello, World!", true},
    {"chunked_upper_hex",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", false,
     200, "0123456789", true},
    {"close_delimited", "HTTP/1.1 200 OK\r\n\r\nabc", true, 200, "abc", false},
    {"connection_close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
     false, 200, "x", false},
    {"http10_closes", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", false, 200, "x", false},
    {"http10_keep_alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx",
     false, 200, "x", true},
    {"no_content", "HTTP/1.1 204 No Content\r\n\r\n", false, 204, "", true},
    {"not_modified", "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", false, 304, "",
     true},
    {"interim_then_final",
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno", false,
     404, "no", true},
    {"same_length_twice", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
     false, 200, "x", true},
};

void PrintTo(const response_case& c, std::ostream* os) {
  *os << c.name;
}

class ValidResponse : public ::testing::TestWithParam<response_case> {};

TEST_P(ValidResponse, ParsesWhicheverWayTheBytesArrive) {
  const auto& c = GetParam();
  for (std::size_t step : {c.bytes.size(), std::size_t(1), std::size_t(2), std::size_t(7)}) {
    SCOPED_TRACE("pieces of " + std::to_string(step) + " bytes");
    auto r = parse_response(c.bytes, step, c.eof);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.status, c.status);
    EXPECT_EQ(r.body, c.body);
    EXPECT_EQ(r.keep_alive, c.keep_alive);
    EXPECT_EQ(r.left_over, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Http, ValidResponse, ::testing::ValuesIn(valid_responses),
                         [](const auto& info) { return std::string(info.param.name); });

struct malformed_case {
  const char* name;
  std::string bytes;
  bool eof;
  error expected;
};

const malformed_case malformed_responses[] = {
    {"four_digit_status", "HTTP/1.1 2000 OK\r\n\r\n", false, error::bad_status_line},
    {"status_below_100", "HTTP/1.1 099 Odd\r\n\r\n", false, error::bad_status_line},
    {"letters_in_status", "HTTP/1.1 2x0 OK\r\n\r\n", false, error::bad_status_line},
    {"not_http", "HTTX/1.1 200 OK\r\n\r\n", false, error::bad_status_line},
    {"garbage", "\x01\x02garbage\r\n\r\n", false, error::bad_status_line},
    {"http2", "HTTP/2.0 200 OK\r\n\r\n", false, error::unsupported_version},
    {"no_colon", "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", false, error::bad_header},
    {"space_before_colon", "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx", false,
     error::bad_header},
    {"obsolete_folding", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", false, error::bad_header},
    {"control_in_value", std::string("HTTP/1.1 200 OK\r\nX: a\x01z\r\n\r\n"), false,
     error::bad_header},
    {"length_not_a_number", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", false,
     error::bad_content_length},
    {"negative_length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false,
     error::bad_content_length},
    {"length_list", "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", false,
     error::bad_content_length},
    {"two_lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", false,
     error::bad_content_length},
    {"huge_length", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", false,
     error::bad_content_length},
    {"length_and_chunked",
     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", false,
     error::conflicting_framing},
    {"gzip_coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false,
     error::unsupported_transfer_encoding},
    {"bad_chunk_size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false,
     error::bad_chunk},
    {"chunk_without_crlf", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
     false, error::bad_chunk},
    {"bad_trailer_end", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\r", false,
     error::bad_chunk},
    {"chunk_size_overflow",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n", false,
     error::bad_chunk},
    {"endless_chunk_size",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(9000, '0'), false,
     error::bad_chunk},
    {"truncated_head", "HTTP/1.1 200 OK\r\nContent-Le", true, error::truncated},
    {"truncated_body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true, error::truncated},
    {"truncated_chunks", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", true,
     error::truncated},
    {"nothing_at_all", "", true, error::truncated},
    {"head_too_large", "HTTP/1.1 200 OK\r\nX: " + std::string(9000, 'a') + "\r\n\r\n", false,
     error::headers_too_large},
    {"body_too_large", "HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n", false,
     error::body_too_large},
    {"endless_close_delimited_body", "HTTP/1.1 200 OK\r\n\r\n" + std::string(1100000, 'x'), false,
     error::body_too_large},
    {"endless_chunked_body",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n" +
         std::string(0x100000, 'x') + "\r\n1\r\nx",
     false, error::body_too_large},
};

void PrintTo(const malformed_case& c, std::ostream* os) {
  *os << c.name;
}

class MalformedResponse : public ::testing::TestWithParam<malformed_case> {};

TEST_P(MalformedResponse, IsRejectedWithTheRightError) {
  const auto& c = GetParam();
  for (std::size_t step :
       {std::max<std::size_t>(c.bytes.size(), 1), std::size_t(1), std::size_t(3)}) {
    SCOPED_TRACE("pieces of " + std::to_string(step) + " bytes");
    auto r = parse_response(c.bytes, step, c.eof);
    EXPECT_EQ(r.ec, make_error_code(c.expected)) << r.ec.message();
    EXPECT_FALSE(r.done);
  }
}

INSTANTIATE_TEST_SUITE_P(Http, MalformedResponse, ::testing::ValuesIn(malformed_responses),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(HttpResponse, ParserIsReusableOnAKeepAliveConnection) {
  std::string two = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nB\r\n0\r\n\r\n";
  response_parser parser;
  std::error_code ec;
  auto used = parser.parse(two, ec);
  ASSERT_TRUE(parser.done());
  EXPECT_EQ(parser.body(), "A");
  parser.reset();
  used += parser.parse(std::string_view(two).substr(used), ec);
  ASSERT_FALSE(ec);
  ASSERT_TRUE(parser.done());
  EXPECT_EQ(parser.body(), "B");
  EXPECT_EQ(used, two.size());
}

TEST(HttpResponse, ErrorsHaveMessages) {
  EXPECT_EQ(make_error_code(error::truncated).message(), "connection closed mid-response");
  EXPECT_STREQ(make_error_code(error::bad_chunk).category().name(), "http");
}

struct request_result {
  std::error_code ec;
  std::size_t size = 0;
  request req;
};

// Offers the bytes one more at a time, as a trickling client would, until a head is found.
request_result parse_request_trickled(std::string_view bytes, std::size_t max_head = 8192) {
  request_parser parser(max_head);
  request_result out;
  for (std::size_t n = 1; n <= bytes.size() && !out.ec && out.size == 0; ++n)
    out.size = parser.parse(bytes.substr(0, n), out.req, out.ec);
  return out;
}

TEST(HttpRequest, ParsesTheArticlesRequest) {
  std::string bytes = "GET /42 HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";
  auto r = parse_request_trickled(bytes);
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.size, bytes.size());
  EXPECT_EQ(r.req.method, "GET");
  EXPECT_EQ(r.req.target, "/42");
  EXPECT_EQ(r.req.minor_version, 1);
  EXPECT_TRUE(r.req.keep_alive);
  EXPECT_EQ(r.req.content_length, 0u);
}

TEST(HttpRequest, KeepAliveFollowsVersionAndConnectionHeader) {
  auto keep_alive = [](std::string bytes) {
    auto r = parse_request_trickled(bytes);
    EXPECT_FALSE(r.ec) << bytes;
    return r.req.keep_alive;
  };
  EXPECT_TRUE(keep_alive("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_FALSE(keep_alive("GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
  EXPECT_FALSE(keep_alive("GET /a HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(keep_alive("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_FALSE(keep_alive("GET /a HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, close\r\n\r\n"));
}

TEST(HttpRequest, ReportsTheBodyLength) {
  auto r = parse_request_trickled("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_FALSE(r.ec);
  EXPECT_EQ(r.req.content_length, 5u);
  EXPECT_EQ(r.req.method, "POST");
}

TEST(HttpRequest, FindsPipelinedRequestsOneAtATime) {
  std::string bytes = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
  request_parser parser;
  request req;
  std::error_code ec;
  auto first = parser.parse(bytes, req, ec);
  EXPECT_EQ(req.target, "/1");
  auto second = parser.parse(std::string_view(bytes).substr(first), req, ec);
  EXPECT_EQ(req.target, "/2");
  EXPECT_EQ(first + second, bytes.size());
}

struct bad_request_case {
  const char* name;
  std::string bytes;
  error expected;
};

const bad_request_case bad_requests[] = {
    {"no_target", "GET HTTP/1.1\r\nHost: h\r\n\r\n", error::bad_request_line},
    {"double_space", "GET  /a HTTP/1.1\r\nHost: h\r\n\r\n", error::bad_request_line},
    {"extra_word", "GET /a HTTP/1.1 x\r\nHost: h\r\n\r\n", error::bad_request_line},
    {"bad_method", "G(T /a HTTP/1.1\r\nHost: h\r\n\r\n", error::bad_request_line},
    {"control_in_target", "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", error::bad_request_line},
    {"bad_version", "GET /a HTTP/x.y\r\nHost: h\r\n\r\n", error::bad_request_line},
    {"http2", "GET /a HTTP/2.0\r\nHost: h\r\n\r\n", error::unsupported_version},
    {"missing_host", "GET /a HTTP/1.1\r\n\r\n", error::missing_host},
    {"two_hosts", "GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", error::bad_header},
    {"bad_header", "GET /a HTTP/1.1\r\nHost h\r\n\r\n", error::bad_header},
    {"chunked_body", "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
     error::unsupported_transfer_encoding},
    {"bad_length", "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n",
     error::bad_content_length},
    {"head_too_large", "GET /a HTTP/1.1\r\nHost: h\r\nX: " + std::string(9000, 'a') + "\r\n\r\n",
     error::headers_too_large},
    {"endless_request_line", "GET /" + std::string(9000, 'a'), error::headers_too_large},
};

void PrintTo(const bad_request_case& c, std::ostream* os) {
  *os << c.name;
}

class BadRequest : public ::testing::TestWithParam<bad_request_case> {};

TEST_P(BadRequest, IsRejectedWithTheRightError) {
  auto r = parse_request_trickled(GetParam().bytes);
  EXPECT_EQ(r.ec, make_error_code(GetParam().expected)) << r.ec.message();
  EXPECT_EQ(r.size, 0u);
}

INSTANTIATE_TEST_SUITE_P(Http, BadRequest, ::testing::ValuesIn(bad_requests),
                         [](const auto& info) { return std::string(info.param.name); });

} // namespace
