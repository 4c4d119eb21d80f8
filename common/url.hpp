// The article's `url = "http://localhost:8080/{}"`: an http:// URL whose `{}` is replaced by the
// request number. It is parsed once; formatting one URL is then a few appends.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace common {

/// An `http://host[:port]/path` URL with at most one `{}` placeholder for the request number.
class url_template {
public:
  /// Parses `text`; throws std::invalid_argument saying what is wrong with it.
  explicit url_template(std::string_view text);

  /// The URL of request `i`, e.g. `http://localhost:8080/42`.
  std::string format(std::uint64_t i) const;

  /// The host as written, without brackets around an IPv6 address.
  const std::string& host() const noexcept { return host_; }
  /// The port, 80 when the URL names none.
  std::uint16_t port() const noexcept { return port_; }
  /// `host[:port]` as written: the Host header and the part a session compares URLs on.
  std::string_view authority() const noexcept { return authority_; }
  /// The template as given.
  const std::string& text() const noexcept { return text_; }

private:
  std::string text_;
  std::string authority_;
  std::string host_;
  std::uint16_t port_ = 80;
  std::string before_; // the URL up to the placeholder
  std::string after_;  // the URL after it; empty, with has_placeholder_ false, when there is none
  bool has_placeholder_ = false;
};

/// Splits an absolute http:// URL into its authority and its target (path and query).
/// Returns false when `url` is not of that form.
bool split_url(std::string_view url, std::string_view& authority, std::string_view& target);

} // namespace common
