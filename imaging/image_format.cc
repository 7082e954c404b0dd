#include "imaging/image_format.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "imaging/internal/byte_reader.h"

namespace stache::imaging {
namespace {

using internal::ByteReader;
using internal::Slice;

absl::Status Truncated(ImageFormat format) {
  return absl::InvalidArgumentError(
      absl::StrCat("the ", ImageFormatName(format),
                   " image is truncated or corrupt: its header ends early"));
}

struct TiffFacts {
  uint32_t width = 0;
  uint32_t height = 0;
  int orientation = 1;
};

// Reads width, height and orientation from the first IFD of a TIFF
// structure (a TIFF file, or the EXIF block of a JPEG, PNG or WebP).
bool ParseTiffIfd0(absl::string_view tiff, TiffFacts* facts) {
  if (tiff.size() < 8) return false;
  bool little_endian;
  if (Slice(tiff, 0, 4) == absl::string_view("II*\0", 4)) {
    little_endian = true;
  } else if (Slice(tiff, 0, 4) == absl::string_view("MM\0*", 4)) {
    little_endian = false;
  } else {
    return false;
  }
  ByteReader reader(tiff, little_endian);
  uint32_t ifd = 0, count = 0;
  if (!reader.U32(4, &ifd) || !reader.U16(ifd, &count)) return false;
  bool have_orientation = false;
  for (uint32_t i = 0; i < count; ++i) {
    const size_t entry = size_t{ifd} + 2 + 12 * size_t{i};
    uint32_t tag = 0, type = 0, value = 0;
    if (!reader.U16(entry, &tag) || !reader.U16(entry + 2, &type)) return false;
    // SHORT (3) values sit in the first two bytes of the value field.
    const bool ok = type == 3   ? reader.U16(entry + 8, &value)
                    : type == 4 ? reader.U32(entry + 8, &value)
                                : false;
    if (!ok) continue;
    // The first of duplicated tags counts, as for libtiff; the decoder
    // checks libtiff's own reading anyway.
    if (tag == 256 && facts->width == 0) facts->width = value;
    if (tag == 257 && facts->height == 0) facts->height = value;
    if (tag == 274 && value >= 1 && value <= 8 && !have_orientation) {
      facts->orientation = static_cast<int>(value);
      have_orientation = true;
    }
  }
  return true;
}

int OrientationFromExif(absl::string_view exif) {
  TiffFacts facts;
  return ParseTiffIfd0(exif, &facts) ? facts.orientation : 1;
}

absl::StatusOr<ImageHeader> ReadJpegHeader(absl::string_view bytes) {
  ImageHeader header{.format = ImageFormat::kJpeg};
  ByteReader reader(bytes, /*little_endian=*/false);
  size_t offset = 2;
  bool have_size = false;
  while (true) {
    uint32_t marker_start = 0, marker = 0;
    if (!reader.U8(offset, &marker_start) || !reader.U8(offset + 1, &marker)) {
      return Truncated(header.format);
    }
    if (marker_start != 0xFF) {
      return absl::InvalidArgumentError(
          "the JPEG image is corrupt: a header segment is malformed");
    }
    if (marker == 0xFF) {  // fill byte
      ++offset;
      continue;
    }
    offset += 2;
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (marker == 0xD9) return Truncated(header.format);  // EOI before any scan
    uint32_t length = 0;
    if (!reader.U16(offset, &length) || length < 2) return Truncated(header.format);
    const size_t segment = offset + 2;
    const size_t segment_length = length - 2;
    if (segment_length > bytes.size() - segment) return Truncated(header.format);
    const absl::string_view body = Slice(bytes, segment, segment_length);
    const bool is_sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 &&
                        marker != 0xC8 && marker != 0xCC;
    if (is_sof) {
      uint32_t height = 0, width = 0;
      ByteReader sof(body, false);
      if (!sof.U16(1, &height) || !sof.U16(3, &width)) return Truncated(header.format);
      header.width = width;
      header.height = height;
      have_size = true;
    } else if (marker == 0xE1 && Slice(body, 0, 6) == absl::string_view("Exif\0\0", 6)) {
      header.orientation = OrientationFromExif(Slice(body, 6));
    } else if (marker == 0xDA) {  // start of scan: the header is over
      if (!have_size) {
        return absl::InvalidArgumentError(
            "the JPEG image is corrupt: it has no frame header");
      }
      // Entropy-coded data never contains FF D9 (FF is stuffed), so a
      // missing end-of-image marker after the scan means the file was cut.
      const absl::string_view scan = Slice(bytes, segment + segment_length);
      if (scan.find("\xFF\xD9") == absl::string_view::npos) {
        return absl::InvalidArgumentError(
            "the JPEG image is truncated: its end-of-image marker is missing");
      }
      return header;
    }
    offset = segment + segment_length;
  }
}

absl::StatusOr<ImageHeader> ReadPngHeader(absl::string_view bytes) {
  ImageHeader header{.format = ImageFormat::kPng};
  ByteReader reader(bytes, false);
  uint32_t width = 0, height = 0;
  if (!reader.Matches(12, "IHDR") || !reader.U32(16, &width) ||
      !reader.U32(20, &height)) {
    return Truncated(header.format);
  }
  header.width = width;
  header.height = height;
  // Chunks before the image data may carry EXIF (eXIf).
  size_t offset = 8;
  uint32_t length = 0;
  while (reader.U32(offset, &length) && length <= bytes.size()) {
    const absl::string_view type = Slice(bytes, offset + 4, 4);
    if (type == "IDAT" || type == "IEND") break;
    if (type == "eXIf" && offset + 8 + length <= bytes.size()) {
      header.orientation = OrientationFromExif(Slice(bytes, offset + 8, length));
    }
    offset += size_t{12} + length;
  }
  return header;
}

absl::StatusOr<ImageHeader> ReadWebpHeader(absl::string_view bytes) {
  ImageHeader header{.format = ImageFormat::kWebp};
  ByteReader reader(bytes, /*little_endian=*/true);
  size_t offset = 12;
  bool have_size = false;
  uint32_t length = 0;
  while (offset + 8 <= bytes.size() && reader.U32(offset + 4, &length)) {
    const absl::string_view type = Slice(bytes, offset, 4);
    const size_t data = offset + 8;
    uint32_t a = 0, b = 0;
    // Only the first size counts, as for libwebp: a later VP8X must not
    // shrink what the decoder will allocate (found by image_header_fuzzer).
    if (type == "VP8X" && !have_size) {
      if (!reader.U24(data + 4, &a) || !reader.U24(data + 7, &b)) break;
      header.width = int64_t{a} + 1;
      header.height = int64_t{b} + 1;
      have_size = true;
    } else if (type == "VP8 " && !have_size) {
      if (!reader.Matches(data + 3, "\x9d\x01\x2a") || !reader.U16(data + 6, &a) ||
          !reader.U16(data + 8, &b)) {
        break;
      }
      header.width = a & 0x3FFF;
      header.height = b & 0x3FFF;
      have_size = true;
    } else if (type == "VP8L" && !have_size) {
      uint32_t bits = 0;
      if (!reader.Matches(data, "\x2f") || !reader.U32(data + 1, &bits)) break;
      header.width = int64_t{bits & 0x3FFF} + 1;
      header.height = int64_t{(bits >> 14) & 0x3FFF} + 1;
      have_size = true;
    } else if (type == "EXIF" && data + length <= bytes.size()) {
      absl::string_view exif = Slice(bytes, data, length);
      if (Slice(exif, 0, 6) == absl::string_view("Exif\0\0", 6)) exif.remove_prefix(6);
      header.orientation = OrientationFromExif(exif);
    }
    offset = data + length + (length & 1);  // chunks are padded to even sizes
  }
  if (!have_size) return Truncated(header.format);
  return header;
}

absl::StatusOr<ImageHeader> ReadBmpHeader(absl::string_view bytes) {
  ImageHeader header{.format = ImageFormat::kBmp};
  ByteReader reader(bytes, /*little_endian=*/true);
  uint32_t dib_size = 0, width = 0, height = 0;
  if (!reader.U32(14, &dib_size)) return Truncated(header.format);
  if (dib_size == 12) {
    if (!reader.U16(18, &width) || !reader.U16(20, &height))
      return Truncated(header.format);
    header.width = width;
    header.height = height;
  } else {
    if (!reader.U32(18, &width) || !reader.U32(22, &height))
      return Truncated(header.format);
    // Signed: a negative height means rows are stored top-down.
    header.width = std::abs(static_cast<int64_t>(static_cast<int32_t>(width)));
    header.height = std::abs(static_cast<int64_t>(static_cast<int32_t>(height)));
  }
  return header;
}

absl::StatusOr<ImageHeader> ReadTiffHeader(absl::string_view bytes) {
  ImageHeader header{.format = ImageFormat::kTiff};
  TiffFacts facts;
  if (!ParseTiffIfd0(bytes, &facts) || facts.width == 0 || facts.height == 0) {
    return Truncated(header.format);
  }
  header.width = facts.width;
  header.height = facts.height;
  header.orientation = facts.orientation;
  return header;
}

ImageFormat SniffFormat(absl::string_view bytes) {
  auto starts_with = [&](absl::string_view prefix) {
    return Slice(bytes, 0, prefix.size()) == prefix;
  };
  if (starts_with("\xFF\xD8\xFF")) return ImageFormat::kJpeg;
  if (starts_with("\x89PNG\r\n\x1a\n")) return ImageFormat::kPng;
  if (starts_with("RIFF") && Slice(bytes, 8, 4) == "WEBP") return ImageFormat::kWebp;
  if (starts_with("BM")) return ImageFormat::kBmp;
  if (starts_with(absl::string_view("II*\0", 4)) ||
      starts_with(absl::string_view("MM\0*", 4))) {
    return ImageFormat::kTiff;
  }
  return ImageFormat::kUnknown;
}

}  // namespace

const char* ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kPng:
      return "png";
    case ImageFormat::kWebp:
      return "webp";
    case ImageFormat::kBmp:
      return "bmp";
    case ImageFormat::kTiff:
      return "tiff";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

const char* ImageFormatMimeType(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "image/jpeg";
    case ImageFormat::kPng:
      return "image/png";
    case ImageFormat::kWebp:
      return "image/webp";
    case ImageFormat::kBmp:
      return "image/bmp";
    case ImageFormat::kTiff:
      return "image/tiff";
    case ImageFormat::kUnknown:
      break;
  }
  return "application/octet-stream";
}

absl::StatusOr<ImageHeader> ReadImageHeader(absl::string_view bytes) {
  if (bytes.empty()) return absl::InvalidArgumentError("the image is empty (0 bytes)");
  absl::StatusOr<ImageHeader> header;
  switch (SniffFormat(bytes)) {
    case ImageFormat::kJpeg:
      header = ReadJpegHeader(bytes);
      break;
    case ImageFormat::kPng:
      header = ReadPngHeader(bytes);
      break;
    case ImageFormat::kWebp:
      header = ReadWebpHeader(bytes);
      break;
    case ImageFormat::kBmp:
      header = ReadBmpHeader(bytes);
      break;
    case ImageFormat::kTiff:
      header = ReadTiffHeader(bytes);
      break;
    case ImageFormat::kUnknown:
      return absl::InvalidArgumentError(
          "the data is not an image in a supported format (JPEG, PNG, WebP, BMP "
          "or TIFF)");
  }
  if (header.ok() && (header->width <= 0 || header->height <= 0)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("the %s image declares an empty size (%d x %d pixels)",
                        ImageFormatName(header->format), header->width, header->height));
  }
  return header;
}

}  // namespace stache::imaging
