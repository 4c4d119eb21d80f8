// The outcome of one request, as the clients count it.
#pragma once

#include <string>
#include <string_view>
#include <system_error>

namespace common {

/// A response, or the step at which the request failed and why.
struct response {
  int status = 0;        ///< the HTTP status code; 0 when no response arrived
  std::string body;      ///< the body, read in full
  std::string_view step; ///< where it failed, e.g. `connect to localhost:8080`; empty on success
  std::error_code error; ///< why it failed; empty on success

  /// True when a 2xx response arrived.
  explicit operator bool() const noexcept { return !error && status >= 200 && status < 300; }
};

/// Says why a request failed, in words: `read: Connection reset by peer`, `status: HTTP 404`.
inline std::string describe_failure(const response& r) {
  if (!r.error) return "status: HTTP " + std::to_string(r.status);
  auto text = std::string(r.step) + ": " + r.error.message();
  if (r.error == std::errc::too_many_files_open)
    text += " (raise the limit with `ulimit -n`, or lower --limit)";
  return text;
}

} // namespace common
