#include "imaging/image_decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "absl/strings/str_cat.h"
#include "imaging/image_encoder.h"
#include "imaging/testing/jpeg_bytes.h"
#include "tests/testing/hostile_images.h"
#include "tests/testing/images.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::imaging {
namespace {

using ::stache::imaging::testing::WithJpegSize;
using ::stache::testing::FloatTiffHeader;
using ::stache::testing::GdalPayloadInBmp;
using ::stache::testing::GdalPayloadInFakeWebp;
using ::stache::testing::IsOk;
using ::stache::testing::JpegWithRepeatedScans;
using ::stache::testing::ProgressiveJpegWithScans;
using ::stache::testing::ReadFileOrDie;
using ::stache::testing::SixteenBitRgbaPngHeader;
using ::stache::testing::StatusIs;
using ::stache::testing::TestDataPath;
using ::stache::testing::TiffWithDuplicateSize;
using ::stache::testing::TwoPageTiff;
using ::stache::testing::WebpChunk;
using ::stache::testing::WithExifOrientation;
using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Not;

// A 60x40 image whose quadrants have distinct colours, so orientation
// mistakes show.
cv::Mat QuadrantImage() {
  cv::Mat image(40, 60, CV_8UC3, cv::Scalar(0, 0, 0));
  image(cv::Rect(0, 0, 30, 20)).setTo(cv::Scalar(255, 0, 0));   // top-left blue
  image(cv::Rect(30, 0, 30, 20)).setTo(cv::Scalar(0, 255, 0));  // top-right green
  image(cv::Rect(0, 20, 30, 20)).setTo(cv::Scalar(0, 0, 255));  // bottom-left red
  return image;
}

std::string Encode(const cv::Mat& image, ImageFormat format) {
  absl::StatusOr<std::string> bytes = EncodeImage(image, format, 95);
  EXPECT_THAT(bytes, IsOk());
  return bytes.ok() ? *bytes : "";
}

TEST(ImageHeaderTest, ReadsTheRealPhotos) {
  auto jpeg = ReadImageHeader(ReadFileOrDie(TestDataPath("grace_hopper.jpg")));
  ASSERT_THAT(jpeg, IsOk());
  EXPECT_EQ(jpeg->format, ImageFormat::kJpeg);
  EXPECT_EQ(jpeg->width, 512);
  EXPECT_EQ(jpeg->height, 600);
  EXPECT_EQ(jpeg->orientation, 1);

  auto png = ReadImageHeader(ReadFileOrDie(TestDataPath("astronaut.png")));
  ASSERT_THAT(png, IsOk());
  EXPECT_EQ(png->format, ImageFormat::kPng);
  EXPECT_EQ(png->width, 512);
  EXPECT_EQ(png->height, 512);
}

class FormatTest : public ::testing::TestWithParam<ImageFormat> {};

TEST_P(FormatTest, HeaderMatchesAndDecodeRoundTrips) {
  const cv::Mat image = QuadrantImage();
  const std::string bytes = Encode(image, GetParam());
  auto header = ReadImageHeader(bytes);
  ASSERT_THAT(header, IsOk());
  EXPECT_EQ(header->format, GetParam());
  EXPECT_EQ(header->width, 60);
  EXPECT_EQ(header->height, 40);

  auto decoded = DecodeImage(bytes, {});
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->format, GetParam());
  ASSERT_EQ(decoded->pixels.type(), CV_8UC3);
  EXPECT_EQ(decoded->pixels.size(), image.size());
  // Lossy formats blur the quadrant edges; on average they stay close.
  EXPECT_LT(cv::norm(decoded->pixels, image, cv::NORM_L1) / image.total(), 10);
}

TEST_P(FormatTest, EveryTruncationIsAnErrorNotACrash) {
  const std::string bytes = Encode(QuadrantImage(), GetParam());
  for (size_t length = 0; length < bytes.size(); length += 1 + length / 16) {
    absl::StatusOr<DecodedImage> decoded = DecodeImage(bytes.substr(0, length), {});
    if (decoded.ok()) {
      // Some formats decode a prefix (BMP, TIFF strips); it must still be sane.
      EXPECT_EQ(decoded->pixels.size(), cv::Size(60, 40));
    } else {
      EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument)
          << length << ": " << decoded.status();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllFormats, FormatTest,
                         ::testing::Values(ImageFormat::kJpeg, ImageFormat::kPng,
                                           ImageFormat::kWebp, ImageFormat::kBmp,
                                           ImageFormat::kTiff),
                         [](const auto& info) { return ImageFormatName(info.param); });

TEST(DecodeImageTest, RejectsEmptyData) {
  EXPECT_THAT(DecodeImage("", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
}

TEST(DecodeImageTest, RejectsNonImages) {
  EXPECT_THAT(DecodeImage("hello, this is text", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an image")));
  std::mt19937 random(42);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(random());
  EXPECT_THAT(DecodeImage(noise, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an image")));
}

TEST(DecodeImageTest, RejectsAJpegCutInTheMiddleOfItsData) {
  const std::string jpeg = ReadFileOrDie(TestDataPath("grace_hopper.jpg"));
  EXPECT_THAT(DecodeImage(jpeg.substr(0, jpeg.size() / 2), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("truncated")));
}

TEST(DecodeImageTest, RejectsCorruptData) {
  std::string png = Encode(QuadrantImage(), ImageFormat::kPng);
  for (size_t i = png.size() / 2; i < png.size() - 12; ++i) png[i] ^= 0x5A;
  EXPECT_THAT(DecodeImage(png, {}), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("could not be decoded")));
}

TEST(DecodeImageTest, RefusesDecompressionBombsBeforeDecoding) {
  // A 2 KB JPEG announcing 65000 x 65000 pixels (4.2 gigapixels).
  const std::string bomb =
      WithJpegSize(Encode(QuadrantImage(), ImageFormat::kJpeg), 65000, 65000);
  const absl::Time start = absl::Now();
  EXPECT_THAT(
      DecodeImage(bomb, {.max_pixels = 40'000'000}),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("65000 x 65000 pixels")));
  // Refused from the header alone: no multi-gigabyte allocation, no decode.
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(50));

  std::string png = Encode(QuadrantImage(), ImageFormat::kPng);
  for (size_t offset : {16, 20}) {  // IHDR width and height: 60000 each
    png[offset] = png[offset + 1] = '\x00';
    png[offset + 2] = '\xEA';
    png[offset + 3] = '\x60';
  }
  EXPECT_THAT(DecodeImage(png, {.max_pixels = 40'000'000}),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("limit")));
}

// Regression (issue #7, image_header_fuzzer): a second VP8X chunk claiming
// 1 x 1 used to override the first one's 17991 x 57856 canvas, so the guard
// passed and OpenCV allocated 3 GB for the canvas libwebp reads.
TEST(DecodeImageTest, ALaterVp8xChunkDoesNotHideABomb) {
  const std::string webp(
      "RIFF\x16\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00"
      "FF\x00\xff\xe1\x00VP8X\x0a\x00\x00\x50VPW%\x00\x00\x00\x00\x00\x00\x00"
      "\x00\x00\x00\x00\x00\x00",
      48);
  EXPECT_THAT(DecodeImage(webp, {.max_pixels = 65536}),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("17991 x 57856")));
}

// Regression (issue #7, image_header_fuzzer): a WebP that libwebp declines
// (an unknown chunk before VP8) with "DICM" at offset 128 made OpenCV hand it
// to GDCM, whose failed assertion aborted the whole process.
TEST(DecodeImageTest, AWebpWithADicomSignatureIsRefusedNotHandedToGdcm) {
  const std::string encoded = Encode(QuadrantImage(), ImageFormat::kWebp);
  std::string webp = absl::StrCat("RIFF", std::string(4, '\0'), "WEBP", "JUNK",
                                  std::string(4, '\0'), encoded.substr(12));
  ASSERT_GT(webp.size(), 132u);
  webp.replace(128, 4, "DICM");
  ASSERT_THAT(ReadImageHeader(webp), IsOk());
  EXPECT_THAT(DecodeImage(webp, {}), StatusIs(absl::StatusCode::kInvalidArgument,
                                              HasSubstr("webp image could not")));
}

// Issue #12: bytes that pass our WebP header reading but that libwebp
// refuses used to fall through OpenCV's decoders to GDAL, which opened a
// VRT in them and read the local file it names into the pixels (or fetched
// a URL). Each format's own library now decides alone.
TEST(DecodeImageTest, AGdalVrtInAFakeWebpIsRefusedNotOpened) {
  const std::string secret = ::testing::TempDir() + "/stache-secret.txt";
  for (WebpChunk chunk : {WebpChunk::kVp8, WebpChunk::kVp8l, WebpChunk::kVp8x}) {
    for (const std::string& source :
         {secret, std::string("/vsicurl/http://127.0.0.1:9/never-answers")}) {
      const std::string bytes = GdalPayloadInFakeWebp(chunk, source);
      ASSERT_EQ(bytes.substr(140, 4), "DTED");
      ASSERT_THAT(ReadImageHeader(bytes), IsOk());  // what let it through before
      absl::StatusOr<DecodedImage> decoded = DecodeImage(
          bytes, {.max_pixels = int64_t{1} << 40, .max_decoded_bytes = int64_t{1} << 40});
      ASSERT_FALSE(decoded.ok());
      EXPECT_THAT(decoded.status().message(), Not(HasSubstr(source)));
      if (chunk != WebpChunk::kVp8x) {  // VP8X sizes without NUL bytes are bombs
        EXPECT_THAT(decoded, StatusIs(absl::StatusCode::kInvalidArgument,
                                      HasSubstr("webp image could not be decoded")));
      }
    }
  }
}

// OpenCV's BMP decoder is the one OpenCV decoder we still call: it is the
// first registered and claims all "BM" data, so neither GDAL (DTED at 140)
// nor GDCM (DICM at 128) sees a BMP.
TEST(DecodeImageTest, BmpsCarryingOtherDecodersSignaturesReachOnlyTheBmpDecoder) {
  EXPECT_THAT(DecodeImage(GdalPayloadInBmp(/*compression=*/9, "/etc/hostname"), {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("bmp image is not supported")));
  // A valid header: the bytes after it are BMP pixels, 16 x 16 as the BMP
  // header says (a VRT would have been 16 x 1).
  absl::StatusOr<DecodedImage> decoded =
      DecodeImage(GdalPayloadInBmp(/*compression=*/0, "/etc/hostname"), {});
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->pixels.size(), cv::Size(16, 16));
}

// Issue #12: our header reading kept the last of duplicated size tags,
// libtiff the first, so a file we read as 1 x 1 decoded at 5000 x 5000.
TEST(DecodeImageTest, DuplicatedTiffSizeTagsCannotHideABomb) {
  const std::string tiff = TiffWithDuplicateSize(5000, 5000);
  absl::StatusOr<ImageHeader> header = ReadImageHeader(tiff);
  ASSERT_THAT(header, IsOk());
  EXPECT_EQ(header->width, 5000);
  EXPECT_THAT(DecodeImage(tiff, {.max_pixels = 1'000'000}),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("5000 x 5000")));
}

// Issue #12: the limit is in decoded bytes, not only pixels: a 16-bit RGBA
// PNG or a float TIFF under the pixel limit costs several times an 8-bit
// RGB photo and is refused before anything is allocated.
TEST(DecodeImageTest, DeepImagesUnderThePixelLimitAreRefusedByTheirBytes) {
  EXPECT_THAT(DecodeImage(SixteenBitRgbaPngHeader(6000, 6000), {}),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("4 channels of 16 bits: 288 MB decoded")));
  EXPECT_THAT(DecodeImage(FloatTiffHeader(4000, 4000), {}),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("3 channels of 32 bits: 192 MB decoded")));
  // The same sizes are decoded when the limit allows them, so it is the
  // limit that refused them (the truncated data then fails).
  EXPECT_THAT(DecodeImage(SixteenBitRgbaPngHeader(600, 600), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("png image")));
}

// Issue #12: thousands of tiny progressive scans cost seconds of CPU.
TEST(DecodeImageTest, ProgressiveJpegsWithTooManyScansAreRefused) {
  EXPECT_THAT(DecodeImage(ProgressiveJpegWithScans(20), {}), IsOk());
  EXPECT_THAT(DecodeImage(ProgressiveJpegWithScans(150), {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("more than 100 progressive scans")));
  EXPECT_THAT(DecodeImage(ProgressiveJpegWithScans(150), {.max_jpeg_scans = 200}),
              IsOk());
  const std::string repeated = JpegWithRepeatedScans(20'000);
  EXPECT_GT(repeated.size(), 100'000u);
  EXPECT_THAT(DecodeImage(repeated, {}), StatusIs(absl::StatusCode::kInvalidArgument, _));
}

TEST(DecodeImageTest, StopsAtTheDeadlineAndOnCancellation) {
  const std::string jpeg = Encode(QuadrantImage(), ImageFormat::kJpeg);
  EXPECT_THAT(DecodeImage(jpeg, {.deadline = absl::Now() - absl::Seconds(1)}),
              StatusIs(absl::StatusCode::kDeadlineExceeded, _));
  EXPECT_THAT(DecodeImage(jpeg, {.cancelled = [] { return true; }}),
              StatusIs(absl::StatusCode::kCancelled, _));
  EXPECT_THAT(DecodeImage(jpeg, {.cancelled = [] { return false; }}), IsOk());
}

TEST(DecodeImageTest, HoldsItsShareOfTheBudgetWhileThePixelsLive) {
  const std::string jpeg = Encode(QuadrantImage(), ImageFormat::kJpeg);
  DecodeMemoryBudget budget(60 * 40 * 3 * 2);  // room for one decode
  absl::StatusOr<DecodedImage> first =
      DecodeImage(jpeg, {.budget = &budget, .budget_wait = absl::ZeroDuration()});
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(budget.in_use(), 60 * 40 * 3 * 2);
  EXPECT_THAT(DecodeImage(jpeg, {.budget = &budget, .budget_wait = absl::ZeroDuration()}),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("too many")));
  *first = DecodedImage();
  EXPECT_EQ(budget.in_use(), 0);
  EXPECT_THAT(DecodeImage(jpeg, {.budget = &budget, .budget_wait = absl::ZeroDuration()}),
              IsOk());
}

TEST(DecodeImageTest, AMultiPageTiffGivesItsFirstPage) {
  absl::StatusOr<DecodedImage> decoded = DecodeImage(TwoPageTiff(10, 200), {});
  ASSERT_THAT(decoded, IsOk());
  ASSERT_EQ(decoded->pixels.size(), cv::Size(1, 1));
  EXPECT_EQ(decoded->pixels.at<cv::Vec3b>(0, 0), cv::Vec3b(10, 10, 10));
}

TEST(DecodeImageTest, AppliesTheConfiguredPixelLimit) {
  const std::string jpeg = Encode(QuadrantImage(), ImageFormat::kJpeg);
  EXPECT_THAT(DecodeImage(jpeg, {.max_pixels = 60 * 40}), IsOk());
  EXPECT_THAT(DecodeImage(jpeg, {.max_pixels = 60 * 40 - 1}),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("2400 in all")));
}

TEST(DecodeImageTest, AppliesExifOrientationSix) {
  const std::string jpeg =
      WithExifOrientation(Encode(QuadrantImage(), ImageFormat::kJpeg), 6);
  auto header = ReadImageHeader(jpeg);
  ASSERT_THAT(header, IsOk());
  EXPECT_EQ(header->orientation, 6);
  auto decoded = DecodeImage(jpeg, {});
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->orientation, 6);
  // 60x40 stored, 40x60 as viewed; rotated clockwise, the stored top-left
  // (blue) is now top-right and the stored bottom-left (red) top-left.
  ASSERT_EQ(decoded->pixels.size(), cv::Size(40, 60));
  const cv::Vec3b top_right = decoded->pixels.at<cv::Vec3b>(5, 35);
  const cv::Vec3b top_left = decoded->pixels.at<cv::Vec3b>(5, 5);
  EXPECT_GT(top_right[0], 200);
  EXPECT_GT(top_left[2], 200);
}

// Issue #16: a large JPEG decodes at a libjpeg scale when the caller needs
// fewer pixels; the pixels are the image's, smaller; other formats and small
// JPEGs decode at full size.
TEST(DecodeImageTest, DecodesALargeJpegAtTheScaleTheCallerNeeds) {
  cv::Mat image;
  cv::resize(QuadrantImage(), image, cv::Size(2400, 1600), 0, 0, cv::INTER_NEAREST);
  cv::GaussianBlur(image, image, cv::Size(), 8);
  const std::string jpeg = WithExifOrientation(Encode(image, ImageFormat::kJpeg), 6);
  struct Case {
    int min_long_side_px;
    int denominator;
  };
  for (const Case& c : {Case{0, 1}, Case{1000, 2}, Case{600, 4}, Case{300, 8},
                        Case{100, 8}, Case{2400, 1}}) {
    SCOPED_TRACE(c.min_long_side_px);
    auto decoded = DecodeImage(jpeg, {.min_long_side_px = c.min_long_side_px});
    ASSERT_THAT(decoded, IsOk());
    EXPECT_EQ(decoded->scale_denominator, c.denominator);
    EXPECT_EQ(decoded->full_size, cv::Size(1600, 2400));  // orientation 6: turned
    ASSERT_EQ(decoded->pixels.size(),
              cv::Size(1600 / c.denominator, 2400 / c.denominator));
    // The same picture: compare with the full decode made smaller.
    auto full = DecodeImage(jpeg, {});
    ASSERT_THAT(full, IsOk());
    cv::Mat reduced;
    cv::resize(full->pixels, reduced, decoded->pixels.size(), 0, 0, cv::INTER_AREA);
    cv::Mat difference;
    cv::absdiff(reduced, decoded->pixels, difference);
    EXPECT_LT(cv::mean(difference)[0] + cv::mean(difference)[1] + cv::mean(difference)[2],
              6);
  }
  auto png = DecodeImage(Encode(image, ImageFormat::kPng), {.min_long_side_px = 300});
  ASSERT_THAT(png, IsOk());
  EXPECT_EQ(png->scale_denominator, 1);
  EXPECT_EQ(png->pixels.size(), cv::Size(2400, 1600));
}

// Issue #17: a caller that has read the header (the overlay, to choose its
// path) passes it in rather than have it parsed again. The result is the
// same as DecodeImage's own reading, for good and bad images alike.
TEST(DecodeImageTest, AHeaderReadBeforeGivesTheSameResult) {
  const cv::Mat image = QuadrantImage();
  const std::string jpeg = Encode(image, ImageFormat::kJpeg);
  // Damaged scan data, with the header and end-of-image marker intact (the
  // header guard refuses truncated files before any decoder).
  std::string corrupt = jpeg;
  for (size_t i = corrupt.find("\xFF\xDA") + 20; i < corrupt.size() - 2; i += 7) {
    corrupt[i] ^= 0x5A;
  }
  struct Case {
    std::string name;
    std::string bytes;
    DecodeLimits limits;
  };
  const Case cases[] = {
      {"jpeg", jpeg, {}},
      {"png", Encode(image, ImageFormat::kPng), {.keep_alpha = true}},
      {"webp", Encode(image, ImageFormat::kWebp), {}},
      {"bmp", Encode(image, ImageFormat::kBmp), {}},
      {"tiff", Encode(image, ImageFormat::kTiff), {}},
      {"orientation 6", WithExifOrientation(jpeg, 6), {}},
      {"scaled", jpeg, {.min_long_side_px = 20}},
      {"corrupt", corrupt, {}},
      {"bomb", WithJpegSize(jpeg, 65000, 65000), {}},
      {"pixel limit", jpeg, {.max_pixels = 60 * 40 - 1}},
      {"150 scans", ProgressiveJpegWithScans(150), {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<ImageHeader> header = ReadImageHeader(c.bytes);
    ASSERT_THAT(header, IsOk());
    absl::StatusOr<DecodedImage> read_here = DecodeImage(c.bytes, c.limits);
    absl::StatusOr<DecodedImage> read_before = DecodeImage(c.bytes, *header, c.limits);
    ASSERT_EQ(read_before.status(), read_here.status());
    if (!read_here.ok()) continue;
    EXPECT_EQ(read_before->format, read_here->format);
    EXPECT_EQ(read_before->orientation, read_here->orientation);
    EXPECT_EQ(read_before->scale_denominator, read_here->scale_denominator);
    EXPECT_EQ(read_before->full_size, read_here->full_size);
    ASSERT_EQ(read_before->pixels.size(), read_here->pixels.size());
    EXPECT_EQ(cv::norm(read_before->pixels, read_here->pixels, cv::NORM_INF), 0);
  }
}

// The header is not trusted: the format's library reads the size again.
TEST(DecodeImageTest, AHeaderOfOtherBytesIsRefused) {
  const std::string jpeg = Encode(QuadrantImage(), ImageFormat::kJpeg);
  const std::string png = Encode(QuadrantImage(), ImageFormat::kPng);
  const std::string larger = WithJpegSize(jpeg, 60, 41);
  absl::StatusOr<ImageHeader> jpeg_header = ReadImageHeader(jpeg);
  absl::StatusOr<ImageHeader> png_header = ReadImageHeader(png);
  ASSERT_THAT(jpeg_header, IsOk());
  ASSERT_THAT(png_header, IsOk());
  EXPECT_THAT(DecodeImage(larger, *jpeg_header, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("inconsistent")));
  EXPECT_THAT(DecodeImage(jpeg, *png_header, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, _));
}

TEST(ApplyOrientationTest, MatchesTheExifDefinitionForAllEight) {
  // Where the stored top-left pixel ends up, for each orientation, in a
  // 3 wide x 2 high stored image.
  cv::Mat stored = cv::Mat::zeros(2, 3, CV_8UC1);
  stored.at<uchar>(0, 0) = 255;
  const cv::Point expected[9] = {{},     {0, 0}, {2, 0}, {2, 1}, {0, 1},
                                 {0, 0}, {1, 0}, {1, 2}, {0, 2}};
  for (int orientation = 1; orientation <= 8; ++orientation) {
    cv::Mat viewed = ApplyOrientation(stored, orientation);
    cv::Point max_location;
    cv::minMaxLoc(viewed, nullptr, nullptr, nullptr, &max_location);
    EXPECT_EQ(max_location, expected[orientation]) << "orientation " << orientation;
    EXPECT_EQ(viewed.total(), stored.total());
  }
}

TEST(DecodeImageTest, KeepsAlphaOnlyWhenAsked) {
  cv::Mat bgra(10, 10, CV_8UC4, cv::Scalar(10, 20, 30, 128));
  const std::string png = Encode(bgra, ImageFormat::kPng);
  auto with_alpha = DecodeImage(png, {.keep_alpha = true});
  ASSERT_THAT(with_alpha, IsOk());
  EXPECT_EQ(with_alpha->pixels.type(), CV_8UC4);
  auto without = DecodeImage(png, {});
  ASSERT_THAT(without, IsOk());
  EXPECT_EQ(without->pixels.type(), CV_8UC3);
}

TEST(DecodeImageTest, GreyAndSixteenBitBecomeEightBitBgr) {
  cv::Mat grey16(8, 8, CV_16UC1, cv::Scalar(65535));
  auto decoded = DecodeImage(Encode(grey16, ImageFormat::kPng), {});
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->pixels.type(), CV_8UC3);
  EXPECT_EQ(decoded->pixels.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 255, 255));
}

TEST(EncodeImageTest, RejectsBadQualityAndUnknownFormat) {
  EXPECT_THAT(EncodeImage(QuadrantImage(), ImageFormat::kJpeg, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1..100")));
  EXPECT_THAT(EncodeImage(QuadrantImage(), ImageFormat::kJpeg, 101),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1..100")));
  EXPECT_THAT(EncodeImage(QuadrantImage(), ImageFormat::kUnknown, 90),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown")));
}

TEST(EncodeImageTest, WritesNoOrientationTag) {
  const std::string jpeg =
      WithExifOrientation(Encode(QuadrantImage(), ImageFormat::kJpeg), 6);
  auto decoded = DecodeImage(jpeg, {});
  ASSERT_THAT(decoded, IsOk());
  auto header = ReadImageHeader(Encode(decoded->pixels, ImageFormat::kJpeg));
  ASSERT_THAT(header, IsOk());
  EXPECT_EQ(header->orientation, 1);
  EXPECT_EQ(header->width, 40);
  EXPECT_EQ(header->height, 60);
}

}  // namespace
}  // namespace stache::imaging
