// Fuzzes common::http::response_parser the way a client connection drives it: bytes arrive in
// pieces, whatever is not consumed is kept, and on a keep-alive connection the next response
// follows the last one. Besides crashes (ASan, UBSan), it checks that the parser's answer does
// not depend on how the bytes were cut into reads, nor on whether a parser is reused after
// reset() or made afresh for each response.
//
// Input layout: three configuration bytes, then the bytes the server sent.
//   [0] where to split the stream in two, as a fraction of its length (0..255 → 0..100 %)
//   [1] bits 0-2: size of the small pieces, 1..8 bytes; bit 3: the server closes at the end
//   [2] bits 0-2: head limit 16 << n bytes (16..2048); bits 3-7: body limit n * 32 bytes (0..992)
#include "common/http.hpp"
#include "tests/fuzz/feed.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using common::http::response_parser;
using fuzz::check;
using fuzz::reads;

constexpr std::size_t config_bytes = 3;
constexpr std::size_t max_piece_bytes = 8;
constexpr std::uint8_t eof_bit = 0x08;
constexpr std::size_t min_head_limit_bytes = 16;
constexpr std::size_t body_limit_unit_bytes = 32;
constexpr int min_final_status = 200; // 1xx responses are interim and never reported as done
constexpr int max_status = 999;

struct response {
  int status = 0;
  bool keep_alive = false;
  std::string body;
  bool operator==(const response&) const = default;
};

// Everything a connection learns from a stream of bytes.
struct outcome {
  std::vector<response> complete; // in order
  std::error_code ec;
  // Kept only without an error: after one, how far the parser got depends on the reads.
  response unfinished; // the response still being parsed when the bytes ran out
  std::size_t consumed = 0;
  bool operator==(const outcome&) const = default;
};

class connection {
public:
  connection(response_parser::limits limits, bool reuse) : limits_(limits), reuse_(reuse) {
    if (reuse_) parser_.reset(); // as the client does before every response
  }

  outcome run(std::string_view stream, reads cut, bool eof) {
    fuzz::feed(stream, cut, pending_, [this] {
      drain();
      return !out_.ec;
    });
    if (eof && !out_.ec && !parser_.done()) {
      parser_.parse_eof(out_.ec);
      check_parser();
      if (parser_.done()) finish_response();
    }
    if (out_.ec) {
      out_.unfinished = {};
      out_.consumed = 0;
    } else {
      out_.unfinished = {parser_.status(), parser_.keep_alive(), parser_.body()};
    }
    return out_;
  }

private:
  // Parses what is pending, response after response, until more bytes are needed.
  void drain() {
    for (;;) {
      auto offered = pending_.size();
      auto used = parser_.parse(pending_, out_.ec);
      check(used <= offered);
      pending_.erase(0, used);
      out_.consumed += used;
      check_parser();
      if (out_.ec || !parser_.done()) return;
      finish_response();
    }
  }

  void check_parser() {
    check(parser_.body().size() <= limits_.max_body_bytes);
    if (out_.ec) {
      check(out_.ec.category() == common::http::error_category());
      check(!parser_.done());
    }
    if (parser_.done()) {
      check(parser_.status() >= min_final_status && parser_.status() <= max_status);
      if (parser_.status() == 204 || parser_.status() == 304) check(parser_.body().empty());
    }
  }

  // Unlike the client, carries on after a response without keep-alive: more work for reset().
  void finish_response() {
    out_.complete.push_back({parser_.status(), parser_.keep_alive(), parser_.body()});
    if (reuse_)
      parser_.reset();
    else
      parser_ = response_parser(limits_);
  }

  response_parser::limits limits_;
  bool reuse_;
  response_parser parser_{limits_};
  std::string pending_;
  outcome out_;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < config_bytes) return 0;
  std::string_view stream(reinterpret_cast<const char*>(data) + config_bytes, size - config_bytes);
  auto split = stream.size() * data[0] / 255;
  auto piece = data[1] % max_piece_bytes + 1;
  bool eof = data[1] & eof_bit;
  response_parser::limits limits{
      .max_head_bytes = min_head_limit_bytes << (data[2] % 8),
      .max_body_bytes = data[2] / 8 * body_limit_unit_bytes,
  };
  auto all = std::max<std::size_t>(stream.size(), 1);

  auto at_once = connection(limits, true).run(stream, {all, all}, eof);
  auto in_two = connection(limits, false).run(stream, {split, all}, eof);
  auto in_pieces = connection(limits, true).run(stream, {piece, piece}, eof);
  check(in_two == at_once);
  check(in_pieces == at_once);
  return 0;
}
