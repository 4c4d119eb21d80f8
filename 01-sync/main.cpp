// client-sync: the article's synchronous client, the baseline. One request at a time, each on a
// new connection (as `requests.get` makes one without a Session), its body read before the next
// request starts. Correct, and as slow as the sum of all the server's delays.
#include "common/args.hpp"
#include "common/summary.hpp"
#include "common/url.hpp"

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <string>

using common::summary;
using common::url_template;

// requests.get(url).text: connect, send, read the whole response, close.
httplib::Result fetch(const std::string& url, std::chrono::milliseconds timeout) {
  std::string_view authority, target;
  common::split_url(url, authority, target);
  httplib::Client client("http://" + std::string(authority));
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  return client.Get(std::string(target));
}

void count(summary& summary, const httplib::Result& res, const url_template& url) {
  using httplib::Error;
  if (res && res->status == 200)
    summary.add_ok();
  else if (res)
    summary.add_failure("status", "HTTP " + std::to_string(res->status));
  else if (res.error() == Error::Connection || res.error() == Error::ConnectionTimeout)
    summary.add_failure("connect to " + std::string(url.authority()),
                        res.error() == Error::Connection ? "connection failed" : "timed out");
  else
    summary.add_failure(res.error() == Error::Write ? "write" : "read",
                        httplib::to_string(res.error()));
}

int main(int argc, char* argv[]) {
  auto args = common::parse_client_args(argc, argv, {});
  url_template url(args.url);
  summary summary(args.requests);
  for (std::uint64_t i = 0; i < args.requests; ++i)
    count(summary, fetch(url.format(i), args.timeout), url);
  return summary.print();
}
