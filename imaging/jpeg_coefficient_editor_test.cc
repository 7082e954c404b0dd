#include "imaging/jpeg_coefficient_editor.h"

// clang-format off
#include <cstdio>  // jpeglib.h needs FILE first
#include <jpeglib.h>
// clang-format on

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "imaging/image_encoder.h"
#include "imaging/testing/jpeg_bytes.h"
#include "tests/testing/hostile_images.h"
#include "tests/testing/images.h"
#include "tests/testing/status_matchers.h"

namespace stache::imaging {
namespace {

using ::stache::imaging::testing::WithJpegSize;
using ::stache::testing::IsOk;
using ::stache::testing::JpegWithRepeatedScans;
using ::stache::testing::ProgressiveJpegWithScans;
using ::stache::testing::StatusIs;
using ::stache::testing::WithExifOrientation;
using ::stache::testing::WithTableRedefinedBeforeSecondScan;
using ::testing::HasSubstr;

// A photo-like picture, by default 203 x 141 (not a whole number of MCUs
// either way): smooth gradients with fine texture, so every block has AC
// coefficients.
cv::Mat TexturedImage(cv::Size size = {203, 141}) {
  cv::Mat image(size, CV_8UC3);
  for (int y = 0; y < image.rows; ++y) {
    for (int x = 0; x < image.cols; ++x) {
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(
          static_cast<uint8_t>(128 + 90 * std::sin(x * 0.07) * std::cos(y * 0.05)),
          static_cast<uint8_t>(60 + x * 0.6 + 20 * std::sin((x + y) * 0.9)),
          static_cast<uint8_t>(200 - y * 0.8 + 15 * std::cos(x * 1.3)));
    }
  }
  return image;
}

// Encodes with libjpeg directly, for sampling factors OpenCV does not offer:
// luma `h` x `v` samples per chroma sample.
std::string EncodeJpeg(const cv::Mat& bgr, int h, int v, bool progressive = false,
                       int quality = 90, bool scan_per_component = false) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr errors;
  cinfo.err = jpeg_std_error(&errors);  // a test's own valid input: errors abort
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = bgr.cols;
  cinfo.image_height = bgr.rows;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_EXT_BGR;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  cinfo.comp_info[0].h_samp_factor = h;
  cinfo.comp_info[0].v_samp_factor = v;
  if (progressive) jpeg_simple_progression(&cinfo);
  // Sequential, but one scan per component (Y, then Cb, then Cr).
  static const jpeg_scan_info kScans[3] = {
      {1, {0}, 0, 63, 0, 0}, {1, {1}, 0, 63, 0, 0}, {1, {2}, 0, 63, 0, 0}};
  if (scan_per_component) {
    cinfo.scan_info = kScans;
    cinfo.num_scans = 3;
  }
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(bgr.ptr<uint8_t>(cinfo.next_scanline));
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string bytes(reinterpret_cast<const char*>(buffer), size);
  std::free(buffer);
  return bytes;
}

cv::Mat Decode(const std::string& bytes) {
  absl::StatusOr<DecodedImage> image = DecodeImage(bytes, {});
  EXPECT_THAT(image, IsOk());
  return image.ok() ? image->pixels : cv::Mat();
}

// 255 where any channel differs.
cv::Mat Changed(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat difference, mask;
  cv::absdiff(a, b, difference);
  cv::transform(difference, mask, cv::Matx13f(1, 1, 1));
  return mask > 0;
}

int ChangedOutside(const cv::Mat& changed, cv::Rect inside) {
  cv::Mat outside = changed.clone();
  outside(inside & cv::Rect(0, 0, changed.cols, changed.rows)).setTo(0);
  return cv::countNonZero(outside);
}

absl::Status Nothing(cv::Mat&, cv::Point) { return absl::OkStatus(); }

struct Sampling {
  int h, v;
};

class SamplingTest : public ::testing::TestWithParam<Sampling> {};

TEST_P(SamplingTest, ANoOpEditSeesTheDecodedPixelsAndChangesNoBit) {
  const std::string jpeg = EncodeJpeg(TexturedImage(), GetParam().h, GetParam().v);
  const cv::Mat reference = Decode(jpeg);
  absl::StatusOr<JpegCoefficientEditor> editor =
      JpegCoefficientEditor::Open(jpeg, {}, 1 << 20);
  ASSERT_THAT(editor, IsOk());
  EXPECT_EQ(editor->size(), cv::Size(203, 141));
  EXPECT_EQ(editor->mcu_size(), cv::Size(8 * GetParam().h, 8 * GetParam().v));
  // Every region, the corner ones (partial MCUs) too.
  for (const cv::Rect area :
       {cv::Rect(37, 21, 50, 40), cv::Rect(190, 130, 13, 11), cv::Rect(0, 0, 203, 141)}) {
    cv::Mat seen;
    cv::Point origin;
    absl::StatusOr<cv::Rect> extent = editor->Edit(area, [&](cv::Mat& bgr, cv::Point at) {
      seen = bgr.clone();
      origin = at;
      return absl::OkStatus();
    });
    ASSERT_THAT(extent, IsOk());
    EXPECT_TRUE(extent->empty()) << "nothing changed, nothing coded";
    EXPECT_EQ(origin.x % editor->mcu_size().width, 0);
    EXPECT_EQ(origin.y % editor->mcu_size().height, 0);
    const cv::Rect covered(origin, seen.size());
    EXPECT_EQ(covered & area, area);
    ASSERT_EQ(covered & cv::Rect(0, 0, 203, 141), covered);
    // The region's pixels are libjpeg's, up to rounding (float versus
    // integer transforms and colour conversion).
    cv::Mat difference;
    cv::absdiff(seen, reference(covered), difference);
    double largest = 0;
    cv::minMaxLoc(difference.reshape(1), nullptr, &largest);
    EXPECT_LE(largest, 4) << area;
    EXPECT_LT(cv::mean(difference)[0], 0.8) << area;
  }
  absl::StatusOr<std::string> output = editor->Encode();
  ASSERT_THAT(output, IsOk());
  EXPECT_EQ(cv::countNonZero(Changed(Decode(*output), reference)), 0);
  // The standard Huffman tables, as the source has: about its size.
  EXPECT_LT(output->size(), jpeg.size() * 11 / 10);
}

TEST_P(SamplingTest, AnEditCodesOnlyTheBlocksWhosePixelsChanged) {
  const std::string jpeg = EncodeJpeg(TexturedImage(), GetParam().h, GetParam().v);
  const cv::Mat reference = Decode(jpeg);
  absl::StatusOr<JpegCoefficientEditor> editor =
      JpegCoefficientEditor::Open(jpeg, {}, 1 << 20);
  ASSERT_THAT(editor, IsOk());
  const cv::Rect red(83, 61, 25, 14);
  const cv::Rect blue(195, 133, 8, 8);  // in the partial MCUs of the corner
  cv::Rect extent;
  for (const auto& [box, colour] :
       {std::pair{red, cv::Scalar(0, 0, 255)}, std::pair{blue, cv::Scalar(255, 0, 0)}}) {
    absl::StatusOr<cv::Rect> edited =
        editor->Edit(box, [&](cv::Mat& bgr, cv::Point origin) {
          cv::rectangle(bgr, cv::Rect(box.tl() - origin, box.size()), colour, cv::FILLED);
          return absl::OkStatus();
        });
    ASSERT_THAT(edited, IsOk());
    EXPECT_EQ(*edited & box, box) << "the changed blocks cover the drawing";
    // Whole blocks of the chroma's size at most.
    const cv::Size mcu = editor->mcu_size();
    EXPECT_LE(edited->width, (box.width / mcu.width + 2) * mcu.width);
    EXPECT_LE(edited->height, (box.height / mcu.height + 2) * mcu.height);
    extent |= *edited;
  }
  absl::StatusOr<std::string> output = editor->Encode();
  ASSERT_THAT(output, IsOk());
  const cv::Mat decoded = Decode(*output);
  ASSERT_EQ(decoded.size(), reference.size());
  // Outside the coded blocks (and the one pixel that chroma upsampling
  // blends across their edge) the decoder shows exactly what it showed.
  const cv::Mat changed = Changed(decoded, reference);
  cv::Rect reach = extent;
  reach -= cv::Point(1, 1);
  reach += cv::Size(2, 2);
  EXPECT_EQ(ChangedOutside(changed, reach), 0);
  EXPECT_GT(cv::countNonZero(changed), red.area());
  // And inside, the drawing (its interior: coding softens the edges).
  const cv::Scalar inside = cv::mean(decoded(cv::Rect(red.x + 3, red.y + 3, 19, 8)));
  EXPECT_LT(cv::norm(inside - cv::Scalar(0, 0, 255)), 40) << inside;
  EXPECT_LT(cv::norm(cv::mean(decoded(cv::Rect(197, 135, 5, 5))) - cv::Scalar(255, 0, 0)),
            60);
}

INSTANTIATE_TEST_SUITE_P(AllSupported, SamplingTest,
                         ::testing::Values(Sampling{2, 2}, Sampling{2, 1}, Sampling{1, 2},
                                           Sampling{1, 1}),
                         [](const auto& info) {
                           return absl::StrCat("h", info.param.h, "v", info.param.v);
                         });

// A phone photo stored sideways, upside down or mirrored, with the EXIF
// orientation that turns it upright: the editor turns its blocks.
struct Turned {
  Sampling sampling;
  int orientation;
};

class OrientationTest : public ::testing::TestWithParam<Turned> {
 protected:
  // Whole MCUs both ways, at any sampling, so every orientation is exact.
  static inline const cv::Size kStored{208, 144};

  std::string Stored() const {
    return EncodeJpeg(TexturedImage(kStored), GetParam().sampling.h,
                      GetParam().sampling.v);
  }
  std::string Tagged() const {
    return WithExifOrientation(Stored(), GetParam().orientation);
  }
  cv::Size Viewed() const {
    return GetParam().orientation >= 5 ? cv::Size(kStored.height, kStored.width)
                                       : kStored;
  }
};

TEST_P(OrientationTest, ShowsAndWritesThePhotoAsAViewerSeesIt) {
  const std::string tagged = Tagged();
  const cv::Mat as_viewed = Decode(tagged);  // DecodeImage turns the pixels
  ASSERT_EQ(as_viewed.size(), Viewed());
  absl::StatusOr<JpegCoefficientEditor> editor =
      JpegCoefficientEditor::Open(tagged, {}, 1 << 20);
  ASSERT_THAT(editor, IsOk());
  EXPECT_EQ(editor->size(), Viewed());
  const Sampling sampling = GetParam().sampling;
  const cv::Size mcu = GetParam().orientation >= 5
                           ? cv::Size(8 * sampling.v, 8 * sampling.h)
                           : cv::Size(8 * sampling.h, 8 * sampling.v);
  EXPECT_EQ(editor->mcu_size(), mcu);
  // A region as the viewer sees it, decoded from the turned blocks.
  const cv::Rect area(37, 21, 50, 40);
  cv::Mat seen;
  cv::Point origin;
  ASSERT_THAT(editor->Edit(area,
                           [&](cv::Mat& bgr, cv::Point at) {
                             seen = bgr.clone();
                             origin = at;
                             return absl::OkStatus();
                           }),
              IsOk());
  cv::Mat difference;
  cv::absdiff(seen, as_viewed(cv::Rect(origin, seen.size())), difference);
  double largest = 0;
  cv::minMaxLoc(difference.reshape(1), nullptr, &largest);
  EXPECT_LE(largest, 4);
  EXPECT_LT(cv::mean(difference)[0], 0.8);

  absl::StatusOr<std::string> output = editor->Encode();
  ASSERT_THAT(output, IsOk());
  EXPECT_EQ(ReadImageHeader(*output)->orientation, 1);
  const cv::Mat written = Decode(*output);
  ASSERT_EQ(written.size(), Viewed());
  // The same pixels up to libjpeg's rounding, which its integer transform
  // and chroma upsampling do in a fixed order (rows first, then columns):
  // a turned block rounds differently, by 1 at about half the pixels and
  // at most 3 (measured). A block or a chroma sample out of place would
  // differ by tens on this texture.
  cv::absdiff(written, as_viewed, difference);
  cv::minMaxLoc(difference.reshape(1), nullptr, &largest);
  EXPECT_LE(largest, 3);
  EXPECT_LT(cv::mean(difference)[0], 0.6);
}

// No generation loss: turning the blocks back gives the stored coefficients
// bit for bit, so the same file as the unturned photo writes.
TEST_P(OrientationTest, TurningBackGivesTheStoredCoefficientsExactly) {
  const int orientation = GetParam().orientation;
  const int inverse = orientation == 6 ? 8 : orientation == 8 ? 6 : orientation;
  auto rewrite = [](const std::string& jpeg) -> std::string {
    absl::StatusOr<JpegCoefficientEditor> editor =
        JpegCoefficientEditor::Open(jpeg, {}, 0);
    EXPECT_THAT(editor, IsOk());
    if (!editor.ok()) return "";
    absl::StatusOr<std::string> output = editor->Encode();
    EXPECT_THAT(output, IsOk());
    return output.ok() ? *output : "";
  };
  const std::string turned = rewrite(Tagged());
  const std::string back = rewrite(WithExifOrientation(turned, inverse));
  ASSERT_FALSE(back.empty());
  EXPECT_TRUE(back == rewrite(Stored())) << "the round trip changed coefficients";
  EXPECT_FALSE(turned == back) << "orientation " << orientation << " turned nothing";
}

TEST_P(OrientationTest, AnEditLandsWhereTheViewerSeesIt) {
  const std::string tagged = Tagged();
  absl::StatusOr<JpegCoefficientEditor> untouched =
      JpegCoefficientEditor::Open(tagged, {}, 0);
  ASSERT_THAT(untouched, IsOk());
  absl::StatusOr<std::string> untouched_output = untouched->Encode();
  ASSERT_THAT(untouched_output, IsOk());
  const cv::Mat reference = Decode(*untouched_output);

  absl::StatusOr<JpegCoefficientEditor> editor =
      JpegCoefficientEditor::Open(tagged, {}, 1 << 20);
  ASSERT_THAT(editor, IsOk());
  const cv::Rect red(83, 61, 25, 14);
  absl::StatusOr<cv::Rect> extent =
      editor->Edit(red, [&](cv::Mat& bgr, cv::Point origin) {
        cv::rectangle(bgr, red - origin, cv::Scalar(0, 0, 255), cv::FILLED);
        return absl::OkStatus();
      });
  ASSERT_THAT(extent, IsOk());
  EXPECT_EQ(*extent & red, red);
  absl::StatusOr<std::string> output = editor->Encode();
  ASSERT_THAT(output, IsOk());
  const cv::Mat decoded = Decode(*output);
  ASSERT_EQ(decoded.size(), Viewed());
  cv::Rect reach = *extent;
  reach -= cv::Point(1, 1);
  reach += cv::Size(2, 2);
  EXPECT_EQ(ChangedOutside(Changed(decoded, reference), reach), 0);
  const cv::Scalar inside = cv::mean(decoded(cv::Rect(red.x + 3, red.y + 3, 19, 8)));
  EXPECT_LT(cv::norm(inside - cv::Scalar(0, 0, 255)), 40) << inside;
}

std::vector<Turned> EveryTurn() {
  std::vector<Turned> turns;
  for (const Sampling sampling :
       {Sampling{2, 2}, Sampling{2, 1}, Sampling{1, 2}, Sampling{1, 1}}) {
    for (int orientation = 2; orientation <= 8; ++orientation) {
      turns.push_back({sampling, orientation});
    }
  }
  return turns;
}

INSTANTIATE_TEST_SUITE_P(EveryOrientation, OrientationTest,
                         ::testing::ValuesIn(EveryTurn()), [](const auto& info) {
                           return absl::StrCat("h", info.param.sampling.h, "v",
                                               info.param.sampling.v, "orientation",
                                               info.param.orientation);
                         });

// A mirror moves whole blocks, so a mirrored side with a partial MCU is
// declined (its padding would come first); a plain transposition is not.
TEST(JpegCoefficientEditorTest, DeclinesToMirrorAPartialMcu) {
  const std::string jpeg = EncodeJpeg(TexturedImage(), 2, 2);  // 203 x 141
  for (int orientation : {2, 3, 4, 6, 7, 8}) {
    SCOPED_TRACE(orientation);
    EXPECT_THAT(
        JpegCoefficientEditor::Open(WithExifOrientation(jpeg, orientation), {}, 0),
        StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("partial block")));
  }
  // A side that is only transposed may end in a partial MCU: 208 x 134
  // mirrors its whole columns under 8; 200 x 134 under 5 has 25 block
  // columns at 4:2:0, which become rows with a padding row below them.
  for (const auto& [stored, orientation] :
       {std::pair{cv::Size(208, 134), 8}, std::pair{cv::Size(200, 134), 5}}) {
    SCOPED_TRACE(orientation);
    const std::string tagged =
        WithExifOrientation(EncodeJpeg(TexturedImage(stored), 2, 2), orientation);
    absl::StatusOr<JpegCoefficientEditor> editor =
        JpegCoefficientEditor::Open(tagged, {}, 0);
    ASSERT_THAT(editor, IsOk());
    EXPECT_EQ(editor->size(), cv::Size(stored.height, stored.width));
    absl::StatusOr<std::string> output = editor->Encode();
    ASSERT_THAT(output, IsOk());
    cv::Mat difference;
    cv::absdiff(Decode(*output), Decode(tagged), difference);
    double largest = 0;
    cv::minMaxLoc(difference.reshape(1), nullptr, &largest);
    EXPECT_LE(largest, 3);  // rounding, as in OrientationTest
  }
}

TEST(JpegCoefficientEditorTest, AProgressiveSourceIsWrittenAsBaseline) {
  const std::string jpeg = EncodeJpeg(TexturedImage(), 2, 2, /*progressive=*/true);
  ASSERT_NE(jpeg.find("\xFF\xC2"), std::string::npos);
  absl::StatusOr<JpegCoefficientEditor> editor =
      JpegCoefficientEditor::Open(jpeg, {}, 1 << 20);
  ASSERT_THAT(editor, IsOk());
  ASSERT_THAT(editor->Edit({40, 40, 10, 10},
                           [](cv::Mat& bgr, cv::Point) {
                             bgr.setTo(cv::Scalar(0, 255, 0));
                             return absl::OkStatus();
                           }),
              IsOk());
  absl::StatusOr<std::string> output = editor->Encode();
  ASSERT_THAT(output, IsOk());
  EXPECT_EQ(output->find("\xFF\xC2"), std::string::npos);
  EXPECT_NE(output->find("\xFF\xC0"), std::string::npos);
  const cv::Mat changed = Changed(Decode(*output), Decode(jpeg));
  EXPECT_EQ(ChangedOutside(changed, {31, 31, 34, 34}), 0);
  EXPECT_GT(cv::countNonZero(changed), 100);
}

// The decode-and-encode path writes no EXIF (no stale orientation, no GPS
// position), no ICC profile and no comment; neither does this one.
TEST(JpegCoefficientEditorTest, WritesNoMarkerButJfif) {
  std::string jpeg = EncodeJpeg(TexturedImage(), 2, 2);
  jpeg = WithExifOrientation(jpeg, 1);
  // A comment marker after the EXIF block.
  jpeg.insert(2, std::string("\xFF\xFE\x00\x0Dsecret note", 15));
  ASSERT_NE(jpeg.find("Exif"), std::string::npos);
  absl::StatusOr<JpegCoefficientEditor> editor = JpegCoefficientEditor::Open(jpeg, {}, 0);
  ASSERT_THAT(editor, IsOk());
  absl::StatusOr<std::string> output = editor->Encode();
  ASSERT_THAT(output, IsOk());
  EXPECT_EQ(output->find("Exif"), std::string::npos);
  EXPECT_EQ(output->find("secret"), std::string::npos);
  EXPECT_NE(output->find("JFIF"), std::string::npos);
  EXPECT_EQ(ReadImageHeader(*output)->orientation, 1);
}

TEST(JpegCoefficientEditorTest, DeclinesWhatItCannotChangeFaithfully) {
  const std::string jpeg = EncodeJpeg(TexturedImage(), 2, 2);
  auto declined = [](absl::string_view why) {
    return StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(std::string(why)));
  };
  cv::Mat grey;
  cv::cvtColor(TexturedImage(), grey, cv::COLOR_BGR2GRAY);
  absl::StatusOr<std::string> grey_jpeg = EncodeImage(grey, ImageFormat::kJpeg, 90);
  ASSERT_THAT(grey_jpeg, IsOk());
  EXPECT_THAT(JpegCoefficientEditor::Open(*grey_jpeg, {}, 0), declined("YCbCr"));
  absl::StatusOr<std::string> png = EncodeImage(TexturedImage(), ImageFormat::kPng, 90);
  ASSERT_THAT(png, IsOk());
  EXPECT_THAT(JpegCoefficientEditor::Open(*png, {}, 0), declined("png"));

  absl::StatusOr<JpegCoefficientEditor> editor =
      JpegCoefficientEditor::Open(jpeg, {}, 48 * 48);
  ASSERT_THAT(editor, IsOk());
  // 16..32 each way, and an MCU around.
  EXPECT_THAT(editor->Edit({20, 20, 10, 10}, Nothing), IsOk());
  EXPECT_THAT(editor->Edit({20, 20, 20, 10}, Nothing), declined("64 x 48"));
  EXPECT_THAT(editor->Edit({-50, -50, 20, 20}, Nothing), IsOk()) << "clipped away";
  EXPECT_THAT(editor->Edit({20, 20, 10, 10},
                           [](cv::Mat& bgr, cv::Point) {
                             bgr = cv::Mat(4, 4, CV_8UC3);
                             return absl::OkStatus();
                           }),
              StatusIs(absl::StatusCode::kInternal, ::testing::_));
  EXPECT_THAT(editor->Edit({20, 20, 10, 10},
                           [](cv::Mat&, cv::Point) {
                             return absl::UnavailableError("drawing failed");
                           }),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::_));
  ASSERT_THAT(editor->Encode(), IsOk());
  EXPECT_THAT(editor->Encode(), declined("encoded already"));
  EXPECT_THAT(editor->Edit({20, 20, 10, 10}, Nothing), declined("encoded already"));
}

// Found by jpeg_coefficient_editor_fuzzer: a file's own Huffman table can
// code coefficients of up to 15 bits, which no 8-bit image has and baseline
// JPEG cannot code. libjpeg-turbo's SIMD encoder wrote them without an error
// as a corrupt stream that decoded to other pixels across the photo; the
// editor now declines such a file (decode it instead).
TEST(JpegCoefficientEditorTest, DeclinesCoefficientsBeyondBaselineRange) {
  std::string jpeg = EncodeJpeg(TexturedImage(), 2, 2);
  // Chroma's AC table (class 1, id 1) becomes three codes: 0 -> run 0 and
  // 15 bits, 10 -> end of block, 110 -> run 0 and 1 bit. Half the chroma
  // blocks' first codes now read a coefficient of 16384 or more.
  size_t table = jpeg.find("\xFF\xC4");
  while (table != std::string::npos && jpeg[table + 4] != '\x11') {
    table = jpeg.find("\xFF\xC4", table + 2);
  }
  ASSERT_NE(table, std::string::npos);
  const size_t length = (uint8_t(jpeg[table + 2]) << 8 | uint8_t(jpeg[table + 3])) + 2;
  std::string hostile("\xFF\xC4\x00\x16\x11\x01\x01\x01", 8);
  hostile.append(13, '\0');
  hostile.append("\x0F\x00\x01", 3);
  jpeg.replace(table, length, hostile);
  EXPECT_THAT(JpegCoefficientEditor::Open(jpeg, {}, 1 << 20),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("baseline")));
  // The pixel path still takes it, as libjpeg decodes it.
  EXPECT_THAT(DecodeImage(jpeg, {}), IsOk());
}

// A file may redefine a quantisation table between scans (here table 0,
// luma's, before the chroma scans): a decoder keeps the table each component
// started with, but libjpeg's transcoder refuses to write such coefficients.
// The editor says so (decode it instead) rather than failing the photo.
TEST(JpegCoefficientEditorTest, DeclinesToWriteATableRedefinedBetweenScans) {
  const std::string jpeg = WithTableRedefinedBeforeSecondScan(
      EncodeJpeg(TexturedImage(), 2, 2, /*progressive=*/false, 90,
                 /*scan_per_component=*/true));
  ASSERT_FALSE(jpeg.empty());
  const cv::Mat reference = Decode(jpeg);
  ASSERT_FALSE(reference.empty());
  absl::StatusOr<JpegCoefficientEditor> editor =
      JpegCoefficientEditor::Open(jpeg, {}, 1 << 20);
  ASSERT_THAT(editor, IsOk());
  EXPECT_THAT(editor->Encode(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("decode it")));
}

// Client bytes reach libjpeg here too: every refusal DecodeImage makes, this
// makes with the same status, so callers can switch paths freely.
TEST(JpegCoefficientEditorTest, RefusesHostileFilesExactlyAsDecodeImageDoes) {
  const std::string jpeg = EncodeJpeg(TexturedImage(), 2, 2);
  std::string corrupt = jpeg;
  for (size_t i = corrupt.size() / 3; i < corrupt.size() - 2; i += 7) corrupt[i] ^= 0x5A;
  struct Case {
    std::string name;
    std::string bytes;
    DecodeLimits limits;
  };
  const Case cases[] = {
      {"truncated", jpeg.substr(0, jpeg.size() / 2), {}},
      {"bomb", WithJpegSize(jpeg, 65000, 65000), {}},
      {"corrupt", corrupt, {}},
      {"150 scans", ProgressiveJpegWithScans(150), {}},
      {"repeated scans", JpegWithRepeatedScans(20'000), {}},
      {"pixel limit", jpeg, {.max_pixels = 203 * 141 - 1}},
      {"byte limit", jpeg, {.max_decoded_bytes = 203 * 141 * 3 - 1}},
      {"deadline", jpeg, {.deadline = absl::Now() - absl::Seconds(1)}},
      {"cancelled", jpeg, {.cancelled = [] { return true; }}},
      {"20 scans", ProgressiveJpegWithScans(20), {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const absl::Status decoded = DecodeImage(c.bytes, c.limits).status();
    const absl::Status opened =
        JpegCoefficientEditor::Open(c.bytes, c.limits, 1 << 20).status();
    // The same status, or "decode it instead".
    if (opened.code() != absl::StatusCode::kFailedPrecondition) {
      EXPECT_EQ(opened, decoded);
    }
    if (c.name == "20 scans") {
      EXPECT_THAT(decoded, IsOk());
    } else if (c.name != "corrupt") {
      EXPECT_FALSE(decoded.ok());
    }
  }
  // Damage past the image data fails the coefficient read (which goes on to
  // the end-of-image marker) but not a decode: the caller decodes it.
  EXPECT_THAT(JpegCoefficientEditor::Open(corrupt, {}, 0),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("decode it")));
  // Every truncation.
  for (size_t length = 0; length < jpeg.size(); length += 1 + length / 16) {
    const std::string cut = jpeg.substr(0, length);
    EXPECT_EQ(JpegCoefficientEditor::Open(cut, {}, 0).status(),
              DecodeImage(cut, {}).status())
        << length;
  }
}

// Issue #17: the overlay passes the header it read to choose its path. The
// editor then does what it does when it reads the header itself, and a
// header of other bytes is refused rather than trusted.
TEST(JpegCoefficientEditorTest, AHeaderReadBeforeGivesTheSameResult) {
  const std::string jpeg = EncodeJpeg(TexturedImage(), 2, 2);
  std::string corrupt = jpeg;
  for (size_t i = corrupt.size() / 3; i < corrupt.size() - 2; i += 7) corrupt[i] ^= 0x5A;
  const cv::Rect area(40, 30, 50, 20);
  auto paint = [&](cv::Mat& bgr, cv::Point origin) {
    cv::rectangle(bgr, area - origin, cv::Scalar(30, 40, 220), cv::FILLED);
    return absl::OkStatus();
  };
  const std::string cases[] = {
      jpeg,
      EncodeJpeg(TexturedImage(), 1, 1, /*progressive=*/true),
      WithExifOrientation(jpeg, 6),
      corrupt,
      WithJpegSize(jpeg, 65000, 65000),
      ProgressiveJpegWithScans(150),
  };
  for (size_t i = 0; i < std::size(cases); ++i) {
    SCOPED_TRACE(i);
    const std::string& bytes = cases[i];
    absl::StatusOr<ImageHeader> header = ReadImageHeader(bytes);
    ASSERT_THAT(header, IsOk());
    absl::StatusOr<JpegCoefficientEditor> read_here =
        JpegCoefficientEditor::Open(bytes, {}, 1 << 20);
    absl::StatusOr<JpegCoefficientEditor> read_before =
        JpegCoefficientEditor::Open(bytes, *header, {}, 1 << 20);
    ASSERT_EQ(read_before.status(), read_here.status());
    if (!read_here.ok()) continue;
    ASSERT_THAT(read_here->Edit(area, paint), IsOk());
    ASSERT_THAT(read_before->Edit(area, paint), IsOk());
    absl::StatusOr<std::string> here = read_here->Encode();
    absl::StatusOr<std::string> before = read_before->Encode();
    ASSERT_THAT(here, IsOk());
    ASSERT_THAT(before, IsOk());
    EXPECT_TRUE(*before == *here);  // bit for bit
  }
  absl::StatusOr<ImageHeader> header = ReadImageHeader(jpeg);
  ASSERT_THAT(header, IsOk());
  EXPECT_THAT(JpegCoefficientEditor::Open(WithJpegSize(jpeg, 203, 142), *header, {}, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("inconsistent")));
  ImageHeader png_header = *header;
  png_header.format = ImageFormat::kPng;
  EXPECT_THAT(JpegCoefficientEditor::Open(jpeg, png_header, {}, 0),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("png")));
}

TEST(JpegCoefficientEditorTest, HoldsItsShareOfTheBudgetUntilDestroyed) {
  const std::string jpeg = EncodeJpeg(TexturedImage(), 2, 2);
  DecodeMemoryBudget budget(int64_t{1} << 30);
  {
    absl::StatusOr<JpegCoefficientEditor> editor =
        JpegCoefficientEditor::Open(jpeg, {.budget = &budget}, 64 * 64);
    ASSERT_THAT(editor, IsOk());
    // The coefficients (2 bytes each, 1.5 per pixel at 4:2:0) at least.
    EXPECT_GT(budget.in_use(), 203 * 141 * 3);
  }
  EXPECT_EQ(budget.in_use(), 0);
  DecodeMemoryBudget tiny(1000);
  EXPECT_THAT(JpegCoefficientEditor::Open(
                  jpeg, {.budget = &tiny, .budget_wait = absl::ZeroDuration()}, 0),
              StatusIs(absl::StatusCode::kResourceExhausted, ::testing::_));
}

}  // namespace
}  // namespace stache::imaging
