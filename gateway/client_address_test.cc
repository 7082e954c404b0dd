// Which address a request comes from, through trusted proxies, and the
// exempt networks.
#include "gateway/client_address.h"

#include <gtest/gtest.h>

namespace stache::gateway {
namespace {

TEST(ClientAddressTest, WithoutTrustedProxiesThePeerItself) {
  EXPECT_EQ(ClientAddress("203.0.113.9", {"198.51.100.1"}, 0), "203.0.113.9");
  EXPECT_EQ(ClientAddress("::ffff:10.0.0.5", {}, 0), "10.0.0.5");
  EXPECT_EQ(ClientAddress("2001:db8::1", {}, 0), "2001:db8::1");
}

TEST(ClientAddressTest, TheNthFromTheRightThroughTrustedProxies) {
  // The client claims 1.2.3.4; the balancer appends what it saw.
  EXPECT_EQ(ClientAddress("10.0.0.5", {"1.2.3.4, 203.0.113.9"}, 1), "203.0.113.9");
  EXPECT_EQ(ClientAddress("10.0.0.5", {"1.2.3.4", "203.0.113.9"}, 1), "203.0.113.9")
      << "several fields are one list";
  EXPECT_EQ(ClientAddress("10.0.0.5", {"1.2.3.4, 203.0.113.9, 10.0.0.7"}, 2),
            "203.0.113.9");
  EXPECT_EQ(ClientAddress("10.0.0.5", {"203.0.113.9"}, 3), "203.0.113.9")
      << "fewer: leftmost";
  EXPECT_EQ(ClientAddress("10.0.0.5", {}, 1), "10.0.0.5");
  EXPECT_EQ(ClientAddress("10.0.0.5", {"not-an-address"}, 1), "10.0.0.5");
  EXPECT_EQ(ClientAddress("10.0.0.5", {"203.0.113.9:4711"}, 1), "203.0.113.9");
  EXPECT_EQ(ClientAddress("10.0.0.5", {"[2001:db8::7]:4711"}, 1), "2001:db8::7");
  EXPECT_EQ(ClientAddress("10.0.0.5", {" 2001:db8::7 "}, 1), "2001:db8::7");
}

TEST(IpNetworksTest, ContainsV4AndV6) {
  absl::StatusOr<IpNetworks> networks =
      IpNetworks::Parse({"172.16.0.0/12", "fd00::/8", "192.0.2.7", ""});
  ASSERT_TRUE(networks.ok()) << networks.status();
  EXPECT_TRUE(networks->Contains("172.17.0.1"));
  EXPECT_TRUE(networks->Contains("172.31.255.255"));
  EXPECT_FALSE(networks->Contains("172.32.0.1"));
  EXPECT_TRUE(networks->Contains("fd12::1"));
  EXPECT_FALSE(networks->Contains("fe80::1"));
  EXPECT_TRUE(networks->Contains("192.0.2.7"));
  EXPECT_FALSE(networks->Contains("192.0.2.8"));
  EXPECT_TRUE(networks->Contains("::ffff:172.20.0.1"));
  EXPECT_FALSE(networks->Contains("garbage"));
  EXPECT_TRUE(IpNetworks::Parse({"0.0.0.0/0"})->Contains("8.8.8.8"));
}

TEST(IpNetworksTest, NonsenseIsRefused) {
  for (const char* bad :
       {"10.0.0.0/33", "fd00::/129", "10.0.0.0/x", "example.com", "10.0.0/8"}) {
    EXPECT_FALSE(IpNetworks::Parse({bad}).ok()) << bad;
  }
}

}  // namespace
}  // namespace stache::gateway
