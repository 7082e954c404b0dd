// Bounds-checked reads over encoded image bytes, shared by the header
// reading (image_decoder.cc) and the format decoders that check a header
// themselves (BMP).
//
//   ByteReader reader(bytes, /*little_endian=*/true);
//   uint32_t width = 0;
//   if (!reader.U32(18, &width)) return Truncated();
#ifndef STACHE_IMAGING_INTERNAL_BYTE_READER_H_
#define STACHE_IMAGING_INTERNAL_BYTE_READER_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace stache::imaging::internal {

// Like string_view::substr, but an out-of-range position gives an empty
// view: Debian's absl::string_view throws instead.
inline absl::string_view Slice(absl::string_view bytes, size_t position,
                               size_t length = absl::string_view::npos) {
  if (position > bytes.size()) return {};
  return bytes.substr(position, length);
}

// Bounds-checked big/little-endian reads over the encoded bytes. Every
// accessor returns false instead of reading past the end, so truncated and
// hostile headers become errors, never out-of-bounds reads.
class ByteReader final {
 public:
  ByteReader(absl::string_view bytes, bool little_endian)
      : bytes_(bytes), little_endian_(little_endian) {}

  size_t size() const { return bytes_.size(); }

  bool U8(size_t offset, uint32_t* value) const {
    if (offset >= bytes_.size()) return false;
    *value = static_cast<uint8_t>(bytes_[offset]);
    return true;
  }
  bool U16(size_t offset, uint32_t* value) const { return Read(offset, 2, value); }
  bool U24(size_t offset, uint32_t* value) const { return Read(offset, 3, value); }
  bool U32(size_t offset, uint32_t* value) const { return Read(offset, 4, value); }
  bool Matches(size_t offset, absl::string_view expected) const {
    return offset <= bytes_.size() && Slice(bytes_, offset, expected.size()) == expected;
  }

 private:
  bool Read(size_t offset, size_t width, uint32_t* value) const {
    if (offset > bytes_.size() || bytes_.size() - offset < width) return false;
    uint32_t result = 0;
    for (size_t i = 0; i < width; ++i) {
      const uint32_t byte = static_cast<uint8_t>(bytes_[offset + i]);
      result |= little_endian_ ? byte << (8 * i) : byte << (8 * (width - 1 - i));
    }
    *value = result;
    return true;
  }

  absl::string_view bytes_;
  bool little_endian_;
};

}  // namespace stache::imaging::internal

#endif  // STACHE_IMAGING_INTERNAL_BYTE_READER_H_
