#include "server/loopback.h"

#include "gtest/gtest.h"

namespace stache::server {
namespace {

TEST(IsLoopbackHostTest, LoopbackNamesAndAddresses) {
  for (const char* host :
       {"localhost", "LocalHost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
}

TEST(IsLoopbackHostTest, WildcardsAndOtherHostsAreNot) {
  for (const char* host :
       {"0.0.0.0", "::", "[::]", "", "10.0.0.1", "128.0.0.1", "storage",
        "localhost.example.com", "[::1", "::ffff:10.0.0.1"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

}  // namespace
}  // namespace stache::server
