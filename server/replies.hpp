// The server's answers. The article's "Hello, World!" is prebuilt, in the three forms a client's
// request may call for, so that answering costs one write of a constant and no formatting; the
// error answers, rare, are formatted when they are given.
#pragma once

#include <string>
#include <string_view>

namespace server::replies {

// The article's response.
constexpr std::string_view hello_http11 = "HTTP/1.1 200 OK\r\n"
                                          "Content-Type: text/plain; charset=utf-8\r\n"
                                          "Content-Length: 13\r\n"
                                          "\r\n"
                                          "Hello, World!";
constexpr std::string_view hello_http10_keep_alive = "HTTP/1.1 200 OK\r\n"
                                                     "Content-Type: text/plain; charset=utf-8\r\n"
                                                     "Content-Length: 13\r\n"
                                                     "Connection: keep-alive\r\n"
                                                     "\r\n"
                                                     "Hello, World!";
constexpr std::string_view hello_close = "HTTP/1.1 200 OK\r\n"
                                         "Content-Type: text/plain; charset=utf-8\r\n"
                                         "Content-Length: 13\r\n"
                                         "Connection: close\r\n"
                                         "\r\n"
                                         "Hello, World!";

// What a connection past the server's cap is told before it is closed.
constexpr std::string_view busy = "HTTP/1.1 503 Service Unavailable\r\n"
                                  "Content-Type: text/plain\r\n"
                                  "Content-Length: 12\r\n"
                                  "Connection: close\r\n"
                                  "\r\n"
                                  "Server busy\n";

// "Hello, World!" for a request on HTTP/1.`minor_version`, saying `Connection: close` when the
// connection ends after it.
inline std::string_view hello(bool keep_alive, int minor_version) {
  if (!keep_alive) return hello_close;
  return minor_version == 0 ? hello_http10_keep_alive : hello_http11;
}

inline const char* reason_for(int status) {
  switch (status) {
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 413:
    return "Content Too Large";
  case 431:
    return "Request Header Fields Too Large";
  case 501:
    return "Not Implemented";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Bad Request";
  }
}

// The answer to a request that is not a well-formed `GET /{name}`: its status and reason.
inline std::string error(int status, bool keep_alive) {
  auto body = std::string(reason_for(status)) + "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason_for(status) +
         "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         (status == 405 ? "\r\nAllow: GET" : "") +
         (keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n") + body;
}

} // namespace server::replies
