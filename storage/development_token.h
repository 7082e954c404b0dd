// The published development credentials between the gateway and storage,
// defined once: storage accepts the token (for the gateway's namespace only)
// when no policy is configured and it listens on loopback, and the gateway
// sends it only then (see storage/README.md and docs/security.md).
#ifndef STACHE_STORAGE_DEVELOPMENT_TOKEN_H_
#define STACHE_STORAGE_DEVELOPMENT_TOKEN_H_

namespace stache::storage {

inline constexpr char kDevelopmentToken[] = "dev-gateway-token";
inline constexpr char kDevelopmentNamespace[] = "gateway";

}  // namespace stache::storage

#endif  // STACHE_STORAGE_DEVELOPMENT_TOKEN_H_
