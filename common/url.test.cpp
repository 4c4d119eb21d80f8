#include "common/url.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

using common::url_template;

namespace {

TEST(UrlTemplate, FormatsTheArticlesUrl) {
  url_template url("http://localhost:8080/{}");
  EXPECT_EQ(url.host(), "localhost");
  EXPECT_EQ(url.port(), 8080);
  EXPECT_EQ(url.authority(), "localhost:8080");
  EXPECT_EQ(url.format(0), "http://localhost:8080/0");
  EXPECT_EQ(url.format(99999999), "http://localhost:8080/99999999");
  EXPECT_EQ(url.format(18446744073709551615u), "http://localhost:8080/18446744073709551615");
}

TEST(UrlTemplate, AcceptsOtherShapes) {
  EXPECT_EQ(url_template("http://example.test/x/{}").port(), 80);
  EXPECT_EQ(url_template("http://h:1/item?id={}&x=1").format(7), "http://h:1/item?id=7&x=1");
  EXPECT_EQ(url_template("http://h:1/fixed").format(7), "http://h:1/fixed");
  url_template v6("http://[::1]:8080/{}");
  EXPECT_EQ(v6.host(), "::1");
  EXPECT_EQ(v6.port(), 8080);
  EXPECT_EQ(v6.authority(), "[::1]:8080");
}

TEST(UrlTemplate, RejectsWhatItCannotRequest) {
  for (const char* bad :
       {"", "localhost:8080/{}", "https://localhost/{}", "http://", "http:///{}", "http://h",
        "http://:80/{}", "http://h:/{}", "http://h:0/{}", "http://h:65536/{}", "http://h:8x/{}",
        "http://h/{}/{}", "http://{}/", "http://h/a b", "http://u@h/{}", "http://[::1/{}"}) {
    SCOPED_TRACE(bad);
    EXPECT_THROW(url_template{bad}, std::invalid_argument);
  }
}

TEST(UrlTemplate, ErrorSaysWhatIsWrong) {
  try {
    url_template("http://h:99999/{}");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(),
                 "bad URL 'http://h:99999/{}': the port must be a number from 1 to 65535");
  }
}

TEST(SplitUrl, SeparatesAuthorityAndTarget) {
  std::string_view authority, target;
  ASSERT_TRUE(common::split_url("http://localhost:8080/42?x", authority, target));
  EXPECT_EQ(authority, "localhost:8080");
  EXPECT_EQ(target, "/42?x");
  EXPECT_FALSE(common::split_url("http://localhost:8080", authority, target));
  EXPECT_FALSE(common::split_url("ftp://h/x", authority, target));
}

} // namespace
