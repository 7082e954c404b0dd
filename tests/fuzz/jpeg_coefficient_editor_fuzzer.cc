// libFuzzer target: imaging::JpegCoefficientEditor, the overlay's default
// path for a JPEG in and a JPEG out, driven as the overlay drives it: Open
// under the overlay's decode limits, one Edit per "face" that paints a
// rectangle and an antialiased line, Encode. The input is 8 bytes that place
// two rectangles (x, y, width, height as fractions of the image, 0..255),
// then the JPEG. None of it may crash, hang or leak; a region must come back
// in whole MCUs inside the image; every encoded output must decode with
// imaging::DecodeImage to the editor's size, and, for a sequential source
// that decodes too, to the same pixels outside the changed blocks and the
// MCU around them (chroma upsampling reads that far); every lease on the
// memory budget must be returned. (A progressive source is left out of
// that comparison: libjpeg smooths the blocks of an incomplete progressive
// file when it decodes it, and the baseline output has nothing to smooth.)
// A source with an EXIF orientation is turned by the editor. Its size is
// compared as a viewer sees it, but not its pixels: where hostile
// coefficients overflow libjpeg's inverse DCT, which works rows first, a
// turned block decodes to other pixels than the turned pixels of the block.
// The oracle there is exactness instead: the unedited output, tagged with
// the inverse orientation, is turned back to what the editor writes for
// the source without its EXIF, bit for bit.
//
// The limits are the overlay's defaults (OverlayConfig) except max_pixels,
// which is 512 x 512 instead of 40 MP so that each run stays in milliseconds
// under ASan; the size checks themselves are the same code either way.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <string>
#include <utility>

#include "imaging/image_decoder.h"
#include "imaging/jpeg_coefficient_editor.h"
#include "tests/testing/images.h"

namespace {

using stache::imaging::DecodeLimits;
using stache::imaging::DecodeMemoryBudget;
using stache::imaging::JpegCoefficientEditor;

constexpr size_t kPrefix = 8;
constexpr int64_t kMaxPixels = 512 * 512;

// The overlay's estimate of the pixels one mustache's region needs: whole
// MCUs of up to 16 pixels and one more around (mustache_overlay.cc).
int64_t PaddedArea(cv::Size size) {
  auto span = [](int length) { return ((length + 15) / 16 + 1) * 16 + 32; };
  return int64_t{span(size.width)} * span(size.height);
}

cv::Rect AreaFrom(const uint8_t* b, cv::Size image) {
  const int x = b[0] * image.width / 256, y = b[1] * image.height / 256;
  const int width = (b[2] * image.width + 255) / 256;
  const int height = (b[3] * image.height + 255) / 256;
  return cv::Rect(x, y, width, height) & cv::Rect(cv::Point(), image);
}

void Check(bool ok) {
  if (!ok) std::abort();
}

// The editor's output for `jpeg` with no edit, or nothing when it declines.
std::optional<std::string> Rewritten(absl::string_view jpeg, const DecodeLimits& limits) {
  absl::StatusOr<JpegCoefficientEditor> editor =
      JpegCoefficientEditor::Open(jpeg, limits, 0);
  if (!editor.ok()) return std::nullopt;
  absl::StatusOr<std::string> output = editor->Encode();
  if (!output.ok()) return std::nullopt;
  return *std::move(output);
}

// Calls visit(marker, offset, length) for each marker segment from the one
// after SOI (length counts the marker and its length field), until visit
// returns false or a segment does not start with 0xFF. Returns whether
// visit stopped the walk.
template <typename Visit>
bool WalkSegments(absl::string_view jpeg, Visit visit) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(jpeg[i]); };
  for (size_t i = 2; i + 4 <= jpeg.size();) {
    if (byte(i) != 0xFF) return false;
    const size_t length = 2 + (size_t{byte(i + 2)} << 8 | byte(i + 3));
    if (!visit(byte(i + 1), i, length)) return true;
    i += length;
  }
  return false;
}

// `jpeg` without its APP1 segments (so without EXIF), walking the marker
// segments up to the first scan; nothing when the walk cannot tell.
std::optional<std::string> WithoutApp1(absl::string_view jpeg) {
  if (jpeg.size() < 2 || static_cast<uint8_t>(jpeg[0]) != 0xFF ||
      static_cast<uint8_t>(jpeg[1]) != 0xD8) {
    return std::nullopt;
  }
  std::string stripped(jpeg.data(), 2);
  bool reached_scan = false;
  WalkSegments(jpeg, [&](uint8_t marker, size_t offset, size_t length) {
    if (marker == 0xDA) {
      stripped.append(jpeg.data() + offset, jpeg.size() - offset);
      reached_scan = true;
      return false;
    }
    if (offset + length > jpeg.size()) return false;
    if (marker != 0xE1) stripped.append(jpeg.data() + offset, length);
    return true;
  });
  if (!reached_scan) return std::nullopt;
  return stripped;
}

// Whether the first frame header, found by walking the marker segments from
// the start, is sequential (SOF0, SOF1, SOF9). False when it is progressive
// or the walk cannot tell.
bool IsSequential(absl::string_view jpeg) {
  bool sequential = false;
  WalkSegments(jpeg, [&](uint8_t marker, size_t, size_t) {
    if (marker == 0xC0 || marker == 0xC1 || marker == 0xC9) {
      sequential = true;
      return false;
    }
    return !(marker >= 0xC2 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
             marker != 0xCC);
  });
  return sequential;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kPrefix) return 0;
  const absl::string_view jpeg(reinterpret_cast<const char*>(data) + kPrefix,
                               size - kPrefix);
  static DecodeMemoryBudget budget(int64_t{1} << 30);  // --decode_memory_bytes
  const DecodeLimits limits{.max_pixels = kMaxPixels,
                            .max_decoded_bytes = 160'000'000,
                            .budget = &budget,
                            .keep_alpha = false};
  // As the overlay does: read the header once, size the editor's regions
  // from it, and hand it to Open.
  const absl::StatusOr<stache::imaging::ImageHeader> header =
      stache::imaging::ReadImageHeader(jpeg);
  if (!header.ok()) return 0;
  {
    // As a viewer sees it: orientations 5-8 swap width and height.
    cv::Size stated(static_cast<int>(std::min<int64_t>(header->width, 1 << 16)),
                    static_cast<int>(std::min<int64_t>(header->height, 1 << 16)));
    if (header->orientation >= 5) std::swap(stated.width, stated.height);
    const cv::Rect areas[2] = {AreaFrom(data, stated), AreaFrom(data + 4, stated)};
    const int64_t max_edit_pixels =
        std::max(PaddedArea(areas[0].size()), PaddedArea(areas[1].size()));

    absl::StatusOr<JpegCoefficientEditor> editor =
        JpegCoefficientEditor::Open(jpeg, *header, limits, max_edit_pixels);
    if (!editor.ok()) return 0;
    const cv::Size image = editor->size();
    Check(image == stated && image.area() <= kMaxPixels);
    const cv::Size mcu = editor->mcu_size();
    Check((mcu.width == 8 || mcu.width == 16) && (mcu.height == 8 || mcu.height == 16));

    cv::Rect changed_blocks;
    for (int i = 0; i < 2; ++i) {
      const cv::Rect area = areas[i];
      const cv::Scalar colour(data[4 * i] * 37 % 256, data[4 * i + 1] * 59 % 256,
                              data[4 * i + 2] * 83 % 256);
      bool drawn = false;
      absl::StatusOr<cv::Rect> changed =
          editor->Edit(area, [&](cv::Mat& bgr, cv::Point origin) -> absl::Status {
            drawn = true;
            // The region is whole MCUs from an MCU corner, cut at the
            // image's edge, and covers the area asked for.
            Check(bgr.type() == CV_8UC3);
            Check(origin.x % mcu.width == 0 && origin.y % mcu.height == 0);
            const cv::Rect region(origin, bgr.size());
            Check((region & cv::Rect(cv::Point(), image)) == region);
            Check((region & area) == area);
            cv::Rect local = area - origin;
            cv::rectangle(bgr, local, colour, cv::FILLED);
            cv::line(bgr, local.tl(), local.br(), cv::Scalar::all(255) - colour, 3,
                     cv::LINE_AA);
            return absl::OkStatus();
          });
      if (!changed.ok()) {
        // Only a region larger than the editor was opened for is refused.
        Check(changed.status().code() == absl::StatusCode::kFailedPrecondition);
        continue;
      }
      Check(drawn == !area.empty());
      Check((*changed & cv::Rect(cv::Point(), image)) == *changed);
      changed_blocks |= *changed;
    }

    absl::StatusOr<std::string> encoded = editor->Encode();
    if (encoded.ok()) {
      absl::StatusOr<stache::imaging::DecodedImage> decoded =
          stache::imaging::DecodeImage(*encoded, limits);
      Check(decoded.ok());  // the editor wrote a JPEG that does not decode
      Check(decoded->pixels.size() == image && decoded->orientation == 1);
      absl::StatusOr<stache::imaging::DecodedImage> source =
          IsSequential(jpeg) && header->orientation == 1
              ? stache::imaging::DecodeImage(jpeg, limits)
              : absl::UnimplementedError("not compared");
      if (source.ok()) {
        cv::Mat differs;
        cv::compare(source->pixels, decoded->pixels, differs, cv::CMP_NE);
        if (!changed_blocks.empty()) {
          const cv::Rect near(changed_blocks.tl() - cv::Point(mcu),
                              changed_blocks.br() + cv::Point(mcu));
          differs(near & cv::Rect(cv::Point(), image)).setTo(0);
        }
        Check(cv::countNonZero(differs.reshape(1)) == 0);
      }
    } else {
      // What libjpeg will not write goes to the decoder instead.
      Check(encoded.status().code() == absl::StatusCode::kFailedPrecondition ||
            encoded.status().code() == absl::StatusCode::kDeadlineExceeded ||
            encoded.status().code() == absl::StatusCode::kResourceExhausted);
    }
  }
  if (header->orientation != 1) {
    const int orientation = header->orientation;
    const int inverse = orientation == 6 ? 8 : orientation == 8 ? 6 : orientation;
    const std::optional<std::string> stripped = WithoutApp1(jpeg);
    const std::optional<std::string> turned = Rewritten(jpeg, limits);
    absl::StatusOr<stache::imaging::ImageHeader> plain =
        stripped.has_value() ? stache::imaging::ReadImageHeader(*stripped)
                             : absl::UnknownError("not stripped");
    if (turned.has_value() && plain.ok() && plain->orientation == 1) {
      const std::optional<std::string> unturned = Rewritten(*stripped, limits);
      const std::optional<std::string> back =
          Rewritten(stache::testing::WithExifOrientation(*turned, inverse), limits);
      // Either may stop at the deadline or the budget; when both are read,
      // they are the same coefficients.
      if (unturned.has_value() && back.has_value()) Check(*back == *unturned);
    }
  }
  Check(budget.in_use() == 0);  // a lease was not returned
  return 0;
}
