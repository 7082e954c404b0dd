// Incremental SHA-256 (OpenSSL) with lower-case hex output, for object
// digests, deduplication and token comparison.
//
//   Sha256 hash;
//   hash.Update(chunk);
//   std::string hex = hash.HexDigest();  // 64 characters
#ifndef STACHE_STORAGE_INTERNAL_SHA256_H_
#define STACHE_STORAGE_INTERNAL_SHA256_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace stache::storage::internal {

// Not thread-safe; one per stream.
class Sha256 final {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(absl::string_view data);
  // Finishes the hash; call once.
  std::array<uint8_t, 32> Digest();
  std::string HexDigest();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

std::string Sha256Hex(absl::string_view data);

// True for exactly 64 lower-case hex digits.
bool IsSha256Hex(absl::string_view text);

}  // namespace stache::storage::internal

#endif  // STACHE_STORAGE_INTERNAL_SHA256_H_
