#include "common/url.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace common {
namespace {

constexpr std::string_view scheme = "http://";

bool is_url_char(char c) noexcept {
  return c > ' ' && c < 0x7f;
}

} // namespace

bool split_url(std::string_view url, std::string_view& authority, std::string_view& target) {
  if (url.substr(0, scheme.size()) != scheme) return false;
  url.remove_prefix(scheme.size());
  auto slash = url.find('/');
  if (slash == 0 || slash == std::string_view::npos) return false;
  authority = url.substr(0, slash);
  target = url.substr(slash);
  return true;
}

url_template::url_template(std::string_view text) : text_(text) {
  auto fail = [&](const char* why) {
    throw std::invalid_argument("bad URL '" + text_ + "': " + why);
  };
  if (!std::all_of(text.begin(), text.end(), is_url_char)) fail("it contains spaces or controls");
  std::string_view authority, target;
  if (!split_url(text, authority, target)) fail("expected http://host[:port]/path");
  authority_ = authority;

  std::string_view host = authority, port;
  bool has_port = false;
  if (host.front() == '[') { // [IPv6]:port
    auto close = host.find(']');
    if (close == std::string_view::npos) fail("unclosed '[' in the host");
    auto rest = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!rest.empty() && rest.front() != ':') fail("expected ':' after ']'");
    has_port = !rest.empty();
    if (has_port) port = rest.substr(1);
  } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
    has_port = true;
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.empty()) fail("no host");
  if (authority.find('@') != std::string_view::npos) fail("user names are not supported");
  host_ = host;
  if (has_port) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value == 0 ||
        value > 65535)
      fail("the port must be a number from 1 to 65535");
    port_ = static_cast<std::uint16_t>(value);
  }

  auto hole = text.find("{}");
  if (hole != std::string_view::npos && text.find("{}", hole + 2) != std::string_view::npos)
    fail("more than one {} placeholder");
  has_placeholder_ = hole != std::string_view::npos;
  before_ = text.substr(0, has_placeholder_ ? hole : text.size());
  if (has_placeholder_) after_ = text.substr(hole + 2);
  if (before_.size() < scheme.size() + authority.size() + 1) fail("the {} must be in the path");
}

std::string url_template::format(std::uint64_t i) const {
  if (!has_placeholder_) return before_;
  char digits[20];
  auto end = std::to_chars(digits, digits + sizeof digits, i).ptr;
  std::string url;
  url.reserve(before_.size() + static_cast<std::size_t>(end - digits) + after_.size());
  url.append(before_).append(digits, end).append(after_);
  return url;
}

} // namespace common
