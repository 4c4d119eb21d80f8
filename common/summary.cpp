#include "common/summary.hpp"

#include <cstdio>

namespace common {

std::string describe_failure(const response& r) {
  if (!r.error) return "status: HTTP " + std::to_string(r.status);
  auto text = std::string(r.step) + ": " + r.error.message();
  if (r.error == std::errc::too_many_files_open)
    text += " (raise the limit with `ulimit -n`, or lower --limit)";
  return text;
}

void summary::add(const response& r) {
  if (r)
    add_ok();
  else if (failed_++ == 0)
    first_failure_ = describe_failure(r);
}

void summary::add_failure(std::string_view step, std::string_view reason) {
  if (failed_++ == 0) first_failure_.append(step).append(": ").append(reason);
}

std::string summary::line() const {
  auto text = std::to_string(requests_) + " requests: ok " + std::to_string(ok_) + ", failed " +
              std::to_string(failed_);
  if (ok_ + failed_ < requests_) text += ", not made " + std::to_string(requests_ - ok_ - failed_);
  if (failed_ > 0) text += " (first failure: " + first_failure_ + ")";
  return text;
}

int summary::print() const {
  std::fprintf(stderr, "%s\n", line().c_str());
  return ok_ == requests_ ? 0 : 1;
}

} // namespace common
