// Fuzzes common::http::request_parser the way the server drives it: bytes arrive in pieces, a
// complete head is consumed, its Content-Length body is skipped, and pipelined requests follow.
// Besides crashes (ASan, UBSan), it checks what a head that is found looks like, and that the
// requests found do not depend on how the bytes were cut into reads, nor on whether one parser
// serves the whole connection or a fresh one each request.
//
// Input layout: two configuration bytes, then the bytes the client sent.
//   [0] where to split the stream in two, as a fraction of its length (0..255 → 0..100 %)
//   [1] bits 0-2: size of the small pieces, 1..8 bytes; bits 3-5: head limit 16 << n bytes
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

using common::http::request_parser;
using fuzz::check;
using fuzz::reads;

constexpr std::size_t config_bytes = 2;
constexpr std::size_t max_piece_bytes = 8;
constexpr std::size_t min_head_limit_bytes = 16; // up to 16 << 7 = 2048
constexpr std::string_view head_end = "\r\n\r\n";

// True when `part` lies within `whole`.
bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// A request as the server acts on it, copied out of the buffer.
struct request {
  std::size_t head_bytes = 0;
  std::string method;
  std::string target;
  int minor_version = 0;
  bool keep_alive = false;
  std::uint64_t content_length = 0;
  bool operator==(const request&) const = default;
};

struct outcome {
  std::vector<request> requests; // in order
  std::error_code ec;
  std::size_t consumed = 0; // heads and skipped bodies
  bool operator==(const outcome&) const = default;
};

class connection {
public:
  connection(std::size_t max_head, bool reuse) : max_head_(max_head), reuse_(reuse) {}

  outcome run(std::string_view stream, reads cut) {
    fuzz::feed(stream, cut, pending_, [this] {
      drain();
      return !out_.ec;
    });
    return out_;
  }

private:
  // Skips bodies and parses heads until more bytes are needed.
  void drain() {
    for (;;) {
      auto skipped = static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, pending_.size()));
      pending_.erase(0, skipped);
      body_left_ -= skipped;
      out_.consumed += skipped;
      if (body_left_ > 0) return;

      common::http::request req;
      std::string_view data = pending_;
      auto size = parser_.parse(data, req, out_.ec);
      check(size <= data.size());
      if (out_.ec) {
        check(size == 0);
        check(out_.ec.category() == common::http::error_category());
        out_.consumed = 0; // depends on the reads
        return;
      }
      if (size == 0) return;
      check_head(data.substr(0, size), req);
      out_.requests.push_back({size, std::string(req.method), std::string(req.target),
                               req.minor_version, req.keep_alive, req.content_length});
      pending_.erase(0, size);
      out_.consumed += size;
      body_left_ = req.content_length;
      if (!reuse_) parser_ = request_parser(max_head_);
    }
  }

  void check_head(std::string_view head, const common::http::request& req) {
    check(head.size() <= max_head_);
    check(head.find(head_end) == head.size() - head_end.size()); // the first blank line ends it
    check(req.method.data() == head.data());                     // the request line comes first
    check(inside(req.method, head) && inside(req.target, head));
    check(!req.method.empty() && !req.target.empty());
    check(req.target.data() == req.method.data() + req.method.size() + 1);
    check(req.minor_version == 0 || req.minor_version == 1);
  }

  std::size_t max_head_;
  bool reuse_;
  request_parser parser_{max_head_};
  std::string pending_;
  std::uint64_t body_left_ = 0;
  outcome out_;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < config_bytes) return 0;
  std::string_view stream(reinterpret_cast<const char*>(data) + config_bytes, size - config_bytes);
  auto split = stream.size() * data[0] / 255;
  auto piece = data[1] % max_piece_bytes + 1;
  auto max_head = min_head_limit_bytes << (data[1] / 8 % 8);
  auto all = std::max<std::size_t>(stream.size(), 1);

  auto at_once = connection(max_head, true).run(stream, {all, all});
  auto in_two = connection(max_head, false).run(stream, {split, all});
  auto in_pieces = connection(max_head, true).run(stream, {piece, piece});
  check(in_two == at_once);
  check(in_pieces == at_once);
  return 0;
}
