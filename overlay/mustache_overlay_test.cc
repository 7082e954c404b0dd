#include "overlay/mustache_overlay.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "imaging/image_encoder.h"
#include "imaging/testing/jpeg_bytes.h"
#include "overlay/testing/mustache_measure.h"
#include "server/error_reason.h"
#include "tests/testing/hostile_images.h"
#include "tests/testing/images.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::overlay {
namespace {

using ::stache::imaging::ImageFormat;
using ::stache::imaging::testing::WithJpegSize;
using ::stache::overlay::testing::ChangedPixels;
using ::stache::overlay::testing::CountOutside;
using ::stache::overlay::testing::GraceHopperFace;
using ::stache::overlay::testing::MakeFace;
using ::stache::overlay::testing::MaskShape;
using ::stache::overlay::testing::MeasureShape;
using ::stache::overlay::testing::ScaledFace;
using ::stache::testing::IsOk;
using ::stache::testing::IsOkAndHolds;
using ::stache::testing::ReadFileOrDie;
using ::stache::testing::StatusIs;
using ::stache::testing::TestDataPath;
using ::stache::testing::WithExifOrientation;
using ::stache::testing::WithTableRedefinedBeforeSecondScan;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::unique_ptr<MustacheOverlay> MakeOverlay(const OverlayConfig& config = {}) {
  absl::StatusOr<std::unique_ptr<MustacheOverlay>> overlay =
      MustacheOverlay::Create(config);
  EXPECT_THAT(overlay, IsOk());
  return overlay.ok() ? *std::move(overlay) : nullptr;
}

std::string Encode(const cv::Mat& image, ImageFormat format, int quality = 95) {
  absl::StatusOr<std::string> bytes = imaging::EncodeImage(image, format, quality);
  EXPECT_THAT(bytes, IsOk());
  return bytes.ok() ? *bytes : "";
}

// Decodes the way the service does (orientation applied, alpha kept).
cv::Mat Decode(const std::string& bytes) {
  absl::StatusOr<imaging::DecodedImage> image =
      imaging::DecodeImage(bytes, {.max_pixels = 40'000'000, .keep_alpha = true});
  EXPECT_THAT(image, IsOk());
  return image.ok() ? image->pixels : cv::Mat();
}

double ColourDistance(const cv::Vec3b& pixel, const cv::Scalar& colour) {
  return std::sqrt(std::pow(pixel[0] - colour[0], 2) + std::pow(pixel[1] - colour[1], 2) +
                   std::pow(pixel[2] - colour[2], 2));
}

// The pixels inside `changed` away from its anti-aliased edges, and how many
// of them are within `tolerance` of `colour` in `output`.
std::pair<int, int> InteriorInColour(const cv::Mat& output, const cv::Mat& changed,
                                     const cv::Scalar& colour, double tolerance) {
  cv::Mat interior;
  cv::erode(changed, interior, cv::Mat());
  int pixels = 0, in_colour = 0;
  for (int y = 0; y < interior.rows; ++y) {
    for (int x = 0; x < interior.cols; ++x) {
      if (interior.at<uint8_t>(y, x) == 0) continue;
      ++pixels;
      if (ColourDistance(output.at<cv::Vec3b>(y, x), colour) < tolerance) ++in_colour;
    }
  }
  return {pixels, in_colour};
}

cv::Scalar MeanColourAround(const cv::Mat& image, cv::Point2d centre, int radius) {
  const cv::Rect patch(static_cast<int>(centre.x) - radius,
                       static_cast<int>(centre.y) - radius, 2 * radius + 1,
                       2 * radius + 1);
  return cv::mean(image(patch));
}

class MustacheOverlayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    photo_ = Decode(ReadFileOrDie(TestDataPath("grace_hopper.jpg")));
    ASSERT_EQ(photo_.size(), cv::Size(512, 600));
    photo_png_ = Encode(photo_, ImageFormat::kPng);
    overlay_ = MakeOverlay();
    ASSERT_NE(overlay_, nullptr);
  }

  absl::StatusOr<OverlayResult> ApplyToPhoto(
      const std::string& style, std::optional<ImageFormat> format = ImageFormat::kPng,
      std::vector<Face> faces = {GraceHopperFace()}) {
    return overlay_->Apply({.image = photo_png_,
                            .faces = std::move(faces),
                            .style = style,
                            .output_format = format});
  }

  // Runs `apply` for every style from `threads` threads, `rounds` times each
  // (thread t, round r takes style (t + r) mod the count), and expects every
  // output to equal what `apply` gives for that style called alone.
  void ExpectConcurrentCallsMatchSequentialOnes(
      int threads, int rounds,
      const std::function<absl::StatusOr<OverlayResult>(const std::string& style)>&
          apply) {
    std::vector<std::string> expected;
    for (const MustacheStyle& style : styles_)
      expected.push_back(apply(style.name)->image);
    std::vector<std::vector<std::string>> outputs(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        for (int round = 0; round < rounds; ++round) {
          absl::StatusOr<OverlayResult> result =
              apply(styles_[(t + round) % styles_.size()].name);
          outputs[t].push_back(result.ok() ? result->image : "");
        }
      });
    }
    for (std::thread& worker : workers) worker.join();
    for (int t = 0; t < threads; ++t) {
      for (int round = 0; round < rounds; ++round) {
        EXPECT_EQ(outputs[t][round], expected[(t + round) % styles_.size()])
            << "thread " << t << " round " << round;
      }
    }
  }

  // Apply stops before decoding when cancelled or past its deadline at once.
  void ExpectStopsBeforeDecoding(const OverlayRequest& request) {
    EXPECT_THAT(overlay_->Apply(request, {.cancelled = [] { return true; }}),
                StatusIs(absl::StatusCode::kCancelled, HasSubstr("decoding")));
    EXPECT_THAT(overlay_->Apply(request, {.deadline = absl::Now() - absl::Seconds(1)}),
                StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("decoding")));
  }

  // How many times Apply asks whether it is cancelled when `request`'s image
  // carries `faces` copies of Grace Hopper's face; expects it to succeed by
  // `path`.
  int CancellationChecks(const OverlayRequest& request, int faces, OverlayPath path) {
    int checks = 0;
    OverlayRequest counted = request;
    counted.faces.assign(faces, GraceHopperFace());
    absl::StatusOr<OverlayResult> result = overlay_->Apply(counted, {.cancelled = [&] {
                                                             ++checks;
                                                             return false;
                                                           }});
    EXPECT_THAT(result, IsOk());
    EXPECT_EQ(result.ok() ? result->path : OverlayPath::kPixels, path)
        << faces << " faces: " << result.status();
    return checks;
  }

  cv::Mat photo_;
  std::string photo_png_;
  std::unique_ptr<MustacheOverlay> overlay_;
  const std::vector<MustacheStyle> styles_ = MakeBuiltInStyles();
};

// Golden properties of every style on a real photo, through PNG. The photo
// is scaled to 1.2 MP, a typical upload, so that even the pencil's lines
// have an interior.
TEST_F(MustacheOverlayTest, EachStyleChangesOnlyItsBoundsInItsOwnColourOnThePhiltrum) {
  cv::Mat photo;
  cv::resize(photo_, photo, {}, 2, 2, cv::INTER_CUBIC);
  const std::string photo_png = Encode(photo, ImageFormat::kPng);
  const Face face = ScaledFace(GraceHopperFace(), 2);
  const MustachePlacement placement = *PlaceMustache(face, photo.size());
  const double inter_ocular =
      cv::norm(face.landmarks.right_eye_center - face.landmarks.left_eye_center);
  std::vector<cv::Mat> masks;
  for (const MustacheStyle& style : styles_) {
    SCOPED_TRACE(style.name);
    absl::StatusOr<OverlayResult> result =
        overlay_->Apply({.image = photo_png, .faces = {face}, .style = style.name});
    ASSERT_THAT(result, IsOk());
    EXPECT_EQ(result->format, ImageFormat::kPng);
    EXPECT_THAT(result->styles_applied, ::testing::ElementsAre(style.name));
    const cv::Mat output = Decode(result->image);
    ASSERT_EQ(output.size(), photo.size());
    const cv::Mat changed = ChangedPixels(photo, output);

    // Outside the rotated bounds: byte-identical.
    EXPECT_EQ(CountOutside(changed, MustacheBounds(placement, style), 1.0), 0);

    // Inside the shape (its interior, away from anti-aliased edges) the
    // mustache's colour dominates; the hair strands only tint it.
    const auto [interior_pixels, in_colour] =
        InteriorInColour(output, changed, style.colour_bgr, 25);
    ASSERT_GT(interior_pixels, 50);
    EXPECT_GT(in_colour, 0.9 * interior_pixels);

    // And the shape sits on the philtrum.
    const MaskShape shape = MeasureShape(changed);
    EXPECT_LE(cv::norm(shape.centroid - placement.anchor), 0.05 * inter_ocular);
    masks.push_back(changed);
  }
  // Each style differs from the others.
  for (size_t i = 0; i < masks.size(); ++i) {
    for (size_t j = i + 1; j < masks.size(); ++j) {
      const double intersection = cv::countNonZero(masks[i] & masks[j]);
      const double union_area = cv::countNonZero(masks[i] | masks[j]);
      EXPECT_LT(intersection / union_area, 0.75)
          << styles_[i].name << " vs " << styles_[j].name;
    }
  }
}

class OutputFormatTest : public MustacheOverlayTest,
                         public ::testing::WithParamInterface<ImageFormat> {};

TEST_P(OutputFormatTest, RoundTripsWithTheMustacheVisible) {
  absl::StatusOr<OverlayResult> result = ApplyToPhoto("chevron", GetParam());
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->format, GetParam());
  EXPECT_EQ(result->width_px, 512);
  EXPECT_EQ(result->height_px, 600);
  absl::StatusOr<imaging::ImageHeader> header = imaging::ReadImageHeader(result->image);
  ASSERT_THAT(header, IsOk());
  EXPECT_EQ(header->format, GetParam());
  EXPECT_EQ(header->orientation, 1);
  const cv::Mat output = Decode(result->image);
  ASSERT_EQ(output.size(), photo_.size());
  const MustacheStyle& chevron = *FindStyle(styles_, "chevron");
  const cv::Point2d anchor = PlaceMustache(GraceHopperFace(), photo_.size())->anchor;
  const cv::Scalar at_anchor = MeanColourAround(output, anchor, 2);
  EXPECT_LT(cv::norm(at_anchor - chevron.colour_bgr), 30) << at_anchor;
  // Far from the face the photo is what it was, up to coding loss.
  const cv::Scalar corner_before = MeanColourAround(photo_, {40, 40}, 10);
  const cv::Scalar corner_after = MeanColourAround(output, {40, 40}, 10);
  EXPECT_LT(cv::norm(corner_before - corner_after), 6);
  EXPECT_GE(result->decode_duration, absl::ZeroDuration());
  EXPECT_GT(result->draw_duration, absl::ZeroDuration());
  EXPECT_GT(result->encode_duration, absl::ZeroDuration());
}

INSTANTIATE_TEST_SUITE_P(JpegPngWebp, OutputFormatTest,
                         ::testing::Values(ImageFormat::kJpeg, ImageFormat::kPng,
                                           ImageFormat::kWebp),
                         [](const auto& info) {
                           return imaging::ImageFormatName(info.param);
                         });

struct DefaultFormatCase {
  ImageFormat input;
  ImageFormat output;
};

class DefaultFormatTest : public MustacheOverlayTest,
                          public ::testing::WithParamInterface<DefaultFormatCase> {};

TEST_P(DefaultFormatTest, KeepsTheInputFormatWhenItCanBeWritten) {
  const std::string input = Encode(photo_, GetParam().input);
  absl::StatusOr<OverlayResult> result =
      overlay_->Apply({.image = input, .faces = {GraceHopperFace()}});
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->format, GetParam().output);
  EXPECT_THAT(
      imaging::ReadImageHeader(result->image),
      IsOkAndHolds(::testing::Field(&imaging::ImageHeader::format, GetParam().output)));
}

INSTANTIATE_TEST_SUITE_P(
    AllInputs, DefaultFormatTest,
    ::testing::Values(DefaultFormatCase{ImageFormat::kJpeg, ImageFormat::kJpeg},
                      DefaultFormatCase{ImageFormat::kPng, ImageFormat::kPng},
                      DefaultFormatCase{ImageFormat::kWebp, ImageFormat::kWebp},
                      DefaultFormatCase{ImageFormat::kBmp, ImageFormat::kJpeg},
                      DefaultFormatCase{ImageFormat::kTiff, ImageFormat::kJpeg}),
    [](const auto& info) { return imaging::ImageFormatName(info.param.input); });

// Since 0.2.0: a colour replaces the style's fill without changing its
// shape; a scale grows the drawn area with its square.
TEST_F(MustacheOverlayTest, AColourRecoloursAndAScaleResizesTheMustache) {
  auto changed_by = [&](double scale, std::optional<cv::Scalar> colour) -> cv::Mat {
    absl::StatusOr<OverlayResult> result =
        overlay_->Apply({.image = photo_png_,
                         .faces = {GraceHopperFace()},
                         .style = "walrus",
                         .output_format = ImageFormat::kPng,
                         .colour_bgr = colour,
                         .scale = scale});
    EXPECT_THAT(result, IsOk());
    return result.ok() ? ChangedPixels(photo_, Decode(result->image)) : cv::Mat();
  };
  const cv::Mat natural = changed_by(1, std::nullopt);
  const double area = cv::countNonZero(natural);
  ASSERT_GT(area, 500);
  EXPECT_NEAR(cv::countNonZero(changed_by(2, std::nullopt)) / area, 4, 1);
  EXPECT_NEAR(cv::countNonZero(changed_by(0.5, std::nullopt)) / area, 0.25, 0.1);

  const cv::Scalar magenta(160, 30, 200);
  absl::StatusOr<OverlayResult> coloured =
      overlay_->Apply({.image = photo_png_,
                       .faces = {GraceHopperFace()},
                       .style = "walrus",
                       .output_format = ImageFormat::kPng,
                       .colour_bgr = magenta});
  ASSERT_THAT(coloured, IsOk());
  const cv::Mat output = Decode(coloured->image);
  const cv::Mat changed = ChangedPixels(photo_, output);
  EXPECT_NEAR(cv::countNonZero(changed) / area, 1, 0.05) << "the same shape";
  const auto [pixels, in_colour] = InteriorInColour(output, changed, magenta, 40);
  ASSERT_GT(pixels, 100);
  EXPECT_GT(in_colour, 0.8 * pixels);

  for (double scale : {0.0, 0.49, 2.01, std::nan("")}) {
    absl::Status status =
        overlay_
            ->Apply({.image = photo_png_, .faces = {GraceHopperFace()}, .scale = scale})
            .status();
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("scale")))
        << scale;
    EXPECT_EQ(server::ReasonOf(status), server::kReasonOptionOutOfRange);
  }
}

TEST_F(MustacheOverlayTest, QualityZeroMeansTheConfiguredDefault) {
  for (int default_quality : {90, 40}) {
    std::unique_ptr<MustacheOverlay> overlay =
        MakeOverlay({.default_quality = default_quality});
    for (ImageFormat format : {ImageFormat::kJpeg, ImageFormat::kWebp}) {
      auto apply = [&](uint32_t quality) {
        absl::StatusOr<OverlayResult> result =
            overlay->Apply({.image = photo_png_,
                            .faces = {GraceHopperFace()},
                            .output_format = format,
                            .quality = quality});
        EXPECT_THAT(result, IsOk());
        return result.ok() ? result->image : "";
      };
      EXPECT_EQ(apply(0), apply(default_quality)) << imaging::ImageFormatName(format);
      EXPECT_LT(apply(10).size(), apply(95).size()) << imaging::ImageFormatName(format);
    }
  }
}

// A phone photo: pixels stored sideways with EXIF orientation 6. The faces
// come in the frame a viewer sees (as the detector reports them).
TEST_F(MustacheOverlayTest, DrawsInTheOrientedFrameAndDropsTheOrientationTag) {
  cv::Mat stored;
  cv::rotate(photo_, stored,
             cv::ROTATE_90_COUNTERCLOCKWISE);  // 6 turns it back clockwise.
  const std::string phone_jpeg =
      WithExifOrientation(Encode(stored, ImageFormat::kJpeg), 6);
  ASSERT_EQ(imaging::ReadImageHeader(phone_jpeg)->orientation, 6);

  const Face face = GraceHopperFace();
  absl::StatusOr<OverlayResult> png =
      overlay_->Apply({.image = phone_jpeg,
                       .faces = {face},
                       .style = "walrus",
                       .output_format = ImageFormat::kPng});
  ASSERT_THAT(png, IsOk());
  EXPECT_EQ(png->width_px, 512);
  EXPECT_EQ(png->height_px, 600);
  const cv::Mat output = Decode(png->image);
  const cv::Mat as_viewed = Decode(phone_jpeg);
  ASSERT_EQ(as_viewed.size(), cv::Size(512, 600));
  const MustachePlacement placement = *PlaceMustache(face, as_viewed.size());
  const cv::Mat changed = ChangedPixels(as_viewed, output);
  EXPECT_EQ(CountOutside(changed,
                         MustacheBounds(placement, *FindStyle(styles_, "walrus")), 1.0),
            0);
  const double inter_ocular =
      cv::norm(face.landmarks.right_eye_center - face.landmarks.left_eye_center);
  EXPECT_LE(cv::norm(MeasureShape(changed).centroid - placement.anchor),
            0.05 * inter_ocular);

  absl::StatusOr<OverlayResult> jpeg =
      overlay_->Apply({.image = phone_jpeg, .faces = {face}});
  ASSERT_THAT(jpeg, IsOk());
  EXPECT_EQ(jpeg->format, ImageFormat::kJpeg);
  EXPECT_EQ(imaging::ReadImageHeader(jpeg->image)->orientation, 1);
  EXPECT_EQ(jpeg->image.find("Exif"), std::string::npos)
      << "stale EXIF block in the output";
  EXPECT_EQ(Decode(jpeg->image).size(), cv::Size(512, 600));
}

TEST_F(MustacheOverlayTest, ClipsAFacePartlyOutsideThePhoto) {
  const Face face = MakeFace({10, 580}, 90, -8);
  absl::StatusOr<OverlayResult> result =
      ApplyToPhoto("handlebar", ImageFormat::kPng, {face});
  ASSERT_THAT(result, IsOk());
  const cv::Mat changed = ChangedPixels(photo_, Decode(result->image));
  EXPECT_GT(cv::countNonZero(changed), 100);
  EXPECT_EQ(CountOutside(changed,
                         MustacheBounds(*PlaceMustache(face, photo_.size()),
                                        *FindStyle(styles_, "handlebar")),
                         1.0),
            0);
}

TEST_F(MustacheOverlayTest, ZeroFacesReencodesTheImageUnchanged) {
  absl::StatusOr<OverlayResult> png = ApplyToPhoto("", std::nullopt, {});
  ASSERT_THAT(png, IsOk());
  EXPECT_THAT(png->styles_applied, IsEmpty());
  EXPECT_EQ(png->format, ImageFormat::kPng);
  EXPECT_EQ(cv::countNonZero(ChangedPixels(photo_, Decode(png->image))), 0);

  // Transparency survives too.
  cv::Mat translucent(60, 80, CV_8UC4);
  for (int y = 0; y < translucent.rows; ++y) {
    for (int x = 0; x < translucent.cols; ++x) {
      translucent.at<cv::Vec4b>(y, x) = cv::Vec4b(x * 3, y * 4, 100, (x * 7 + y) % 256);
    }
  }
  absl::StatusOr<OverlayResult> alpha =
      overlay_->Apply({.image = Encode(translucent, ImageFormat::kPng)});
  ASSERT_THAT(alpha, IsOk());
  const cv::Mat decoded = Decode(alpha->image);
  ASSERT_EQ(decoded.type(), CV_8UC4);
  EXPECT_EQ(cv::countNonZero(ChangedPixels(translucent, decoded)), 0);

  absl::StatusOr<OverlayResult> jpeg =
      overlay_->Apply({.image = Encode(photo_, ImageFormat::kJpeg)});
  ASSERT_THAT(jpeg, IsOk());
  EXPECT_EQ(jpeg->format, ImageFormat::kJpeg);
  EXPECT_EQ(Decode(jpeg->image).size(), photo_.size());
}

TEST_F(MustacheOverlayTest, EmptyStyleMeansTheConfiguredDefault) {
  std::unique_ptr<MustacheOverlay> overlay = MakeOverlay({.default_style = "pencil"});
  absl::StatusOr<OverlayResult> result = overlay->Apply(
      {.image = photo_png_, .faces = {GraceHopperFace(), GraceHopperFace()}});
  ASSERT_THAT(result, IsOk());
  EXPECT_THAT(result->styles_applied, ::testing::ElementsAre("pencil", "pencil"));
}

TEST_F(MustacheOverlayTest, RandomPicksAStylePerFaceReproduciblyFromTheSeed) {
  const cv::Mat canvas(900, 1200, CV_8UC3, cv::Scalar(200, 210, 220));
  const std::string image = Encode(canvas, ImageFormat::kPng);
  std::vector<Face> faces;
  for (int row = 0; row < 5; ++row) {
    for (int col = 0; col < 8; ++col)
      faces.push_back(MakeFace({75.0 + col * 150, 90.0 + row * 180}, 60, 0));
  }
  auto apply = [&](uint64_t seed) {
    absl::StatusOr<OverlayResult> result = overlay_->Apply(
        {.image = image, .faces = faces, .style = "random", .random_seed = seed});
    EXPECT_THAT(result, IsOk());
    return result.ok() ? *result : OverlayResult{};
  };
  const OverlayResult first = apply(42);
  ASSERT_EQ(first.styles_applied.size(), faces.size());
  std::set<std::string> used(first.styles_applied.begin(), first.styles_applied.end());
  EXPECT_GE(used.size(), 3u) << "40 faces should see most of the styles";
  for (const std::string& name : used)
    EXPECT_NE(FindStyle(styles_, name), nullptr) << name;

  const OverlayResult again = apply(42);
  EXPECT_EQ(again.styles_applied, first.styles_applied);
  EXPECT_EQ(again.image, first.image);
  EXPECT_NE(apply(43).styles_applied, first.styles_applied);
  // Seed 0 still works (a fresh seed each time).
  EXPECT_EQ(apply(0).styles_applied.size(), faces.size());
  // And each face really got the style it reports: the random result for a
  // face matches drawing that style alone.
  const cv::Mat random_output = Decode(first.image);
  for (size_t i : {size_t{0}, size_t{17}, size_t{39}}) {
    absl::StatusOr<OverlayResult> alone = overlay_->Apply(
        {.image = image, .faces = {faces[i]}, .style = first.styles_applied[i]});
    ASSERT_THAT(alone, IsOk());
    const cv::Rect cell(static_cast<int>(i % 8) * 150, static_cast<int>(i / 8) * 180, 150,
                        180);
    EXPECT_EQ(
        cv::countNonZero(ChangedPixels(random_output(cell), Decode(alone->image)(cell))),
        0)
        << "face " << i;
  }
}

TEST_F(MustacheOverlayTest, ConcurrentCallsGiveTheSameResultsAsSequentialOnes) {
  ExpectConcurrentCallsMatchSequentialOnes(
      /*threads=*/6, /*rounds=*/3,
      [&](const std::string& style) { return ApplyToPhoto(style); });
}

TEST_F(MustacheOverlayTest, RejectsEveryKindOfBadInputClearly) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  auto invalid = [](absl::string_view substring) {
    return StatusIs(absl::StatusCode::kInvalidArgument,
                    HasSubstr(std::string(substring)));
  };
  EXPECT_THAT(overlay_->Apply({.image = ""}), invalid("empty"));
  EXPECT_THAT(overlay_->Apply({.image = "this is not an image at all"}), invalid(""));
  EXPECT_THAT(overlay_->Apply({.image = absl::string_view(photo_png_).substr(0, 200)}),
              invalid(""));

  Face face = GraceHopperFace();
  face.landmarks.upper_lip_top.y = nan;
  EXPECT_THAT(ApplyToPhoto("walrus", ImageFormat::kPng, {GraceHopperFace(), face}),
              invalid("faces[1]: landmark upper_lip_top is not a finite number"));
  face = GraceHopperFace();
  face.landmarks.left_eye_center.x = inf;
  EXPECT_THAT(ApplyToPhoto("walrus", ImageFormat::kPng, {face}), invalid("faces[0]"));
  face = GraceHopperFace();
  face.landmarks.mouth_left = {-4000, 300};
  EXPECT_THAT(ApplyToPhoto("walrus", ImageFormat::kPng, {face}), invalid("far outside"));
  EXPECT_THAT(ApplyToPhoto("walrus", ImageFormat::kPng, {MakeFace({256, 300}, 3e9, 0)}),
              invalid("far outside"));
  face = GraceHopperFace();
  face.roll_degrees = inf;
  EXPECT_THAT(ApplyToPhoto("walrus", ImageFormat::kPng, {face}), invalid("roll_degrees"));

  EXPECT_THAT(ApplyToPhoto("goatee"),
              invalid("unknown style \"goatee\"; use one of handlebar, chevron"));
  EXPECT_THAT(ApplyToPhoto("Walrus"), invalid("unknown style"));
  for (ImageFormat format :
       {ImageFormat::kBmp, ImageFormat::kTiff, ImageFormat::kUnknown}) {
    EXPECT_THAT(ApplyToPhoto("walrus", format), invalid("choose JPEG, PNG or WebP"));
  }
  EXPECT_THAT(overlay_->Apply({.image = photo_png_, .quality = 101}),
              invalid("quality 101 is out of range"));
  EXPECT_THAT(overlay_->Apply({.image = photo_png_, .quality = 4'000'000'000u}),
              invalid("out of range"));
}

TEST_F(MustacheOverlayTest, RefusesImagesOverThePixelLimitBeforeDecoding) {
  std::unique_ptr<MustacheOverlay> small = MakeOverlay({.max_pixels = 100'000});
  EXPECT_THAT(small->Apply({.image = photo_png_, .faces = {GraceHopperFace()}}),
              StatusIs(absl::StatusCode::kResourceExhausted, Not(IsEmpty())));
}

// Issue #12: the decoded size counts in bytes, and all decodes share the
// process's budget.
TEST_F(MustacheOverlayTest, RefusesImagesOverTheDecodedByteLimitOrTheBudget) {
  std::unique_ptr<MustacheOverlay> by_bytes = MakeOverlay({.max_decoded_bytes = 100'000});
  EXPECT_THAT(by_bytes->Apply({.image = photo_png_, .faces = {GraceHopperFace()}}),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("MB decoded")));
  std::unique_ptr<MustacheOverlay> by_budget =
      MakeOverlay({.decode_memory_bytes = 100'000});
  EXPECT_THAT(
      by_budget->Apply({.image = photo_png_, .faces = {GraceHopperFace()}}),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("all images at once")));
}

// Each face costs a draw over up to the whole image: their number is
// bounded, and a face's box must lie inside the image (#12).
TEST_F(MustacheOverlayTest, RefusesMoreFacesThanTheLimitBeforeDecoding) {
  std::vector<Face> many(65, GraceHopperFace());
  EXPECT_THAT(overlay_->Apply({.image = "not even an image", .faces = many}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("65 faces; at most 64 faces per image")));
  many.resize(64);
  EXPECT_THAT(overlay_->Apply({.image = photo_png_, .faces = many}), IsOk());
  std::unique_ptr<MustacheOverlay> two = MakeOverlay({.max_faces = 2});
  EXPECT_THAT(two->Apply({.image = photo_png_, .faces = {3, GraceHopperFace()}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 2")));
}

TEST_F(MustacheOverlayTest, RefusesAFaceBoxOutsideTheImage) {
  Face face = GraceHopperFace();
  face.box = cv::Rect2d(180, 140, 170, 190);
  EXPECT_THAT(ApplyToPhoto("walrus", ImageFormat::kPng, {face}), IsOk());
  for (const cv::Rect2d& box :
       {cv::Rect2d(0, 0, 5000, 5000), cv::Rect2d(-300, 10, 100, 100),
        cv::Rect2d(10, 10, -5, 20),
        cv::Rect2d(std::numeric_limits<double>::quiet_NaN(), 0, 10, 10)}) {
    face.box = box;
    EXPECT_THAT(
        ApplyToPhoto("walrus", ImageFormat::kPng, {GraceHopperFace(), face}),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("faces[1].bounding_box")));
  }
}

TEST_F(MustacheOverlayTest, StopsBetweenStagesOnceCancelledOrPastTheDeadline) {
  const OverlayRequest request{.image = photo_png_, .faces = {GraceHopperFace()}};
  ExpectStopsBeforeDecoding(request);
  // Asked again before each face: five faces ask four times more than one.
  auto checks_with = [&](int faces) {
    return CancellationChecks(request, faces, OverlayPath::kPixels);
  };
  EXPECT_GE(checks_with(5) - checks_with(1), 4);
  // Cancelled after the decode: nothing is drawn or encoded.
  int checks = 0;
  // Checks: before decoding, the decoder's own, before drawing, before encoding.
  const int before_drawing = checks_with(0) - 2;
  EXPECT_THAT(
      overlay_->Apply(request, {.cancelled = [&] { return ++checks > before_drawing; }}),
      StatusIs(absl::StatusCode::kCancelled, HasSubstr("drawing")));
}

// Issue #16: a JPEG kept as JPEG is changed in its DCT coefficients. The
// rectangle of pixels a mustache may change: its bounds (and the renderer's
// one pixel of slack), rounded out to whole MCUs, and one pixel more, which
// chroma upsampling blends across a block edge.
cv::Rect MustacheBlocks(const MustachePlacement& placement, const MustacheStyle& style,
                        cv::Size mcu, cv::Size image_size) {
  cv::Rect box = MustacheBounds(placement, style).boundingRect();
  box = cv::Rect(box.x - 1, box.y - 1, box.width + 2, box.height + 2);
  const int x0 = box.x >= 0 ? box.x / mcu.width * mcu.width : 0;
  const int y0 = box.y >= 0 ? box.y / mcu.height * mcu.height : 0;
  const int x1 = (box.br().x + mcu.width - 1) / mcu.width * mcu.width;
  const int y1 = (box.br().y + mcu.height - 1) / mcu.height * mcu.height;
  return cv::Rect(x0 - 1, y0 - 1, x1 - x0 + 2, y1 - y0 + 2) &
         cv::Rect(cv::Point(), image_size);
}

int ChangedOutside(const cv::Mat& changed, const std::vector<cv::Rect>& rects) {
  cv::Mat outside = changed.clone();
  for (const cv::Rect& rect : rects) outside(rect).setTo(0);
  return cv::countNonZero(outside);
}

// Pixels that changed by more than coding noise: the mustache itself.
cv::Mat StronglyChanged(const cv::Mat& before, const cv::Mat& after) {
  cv::Mat difference, sum;
  cv::absdiff(before, after, difference);
  cv::transform(difference, sum, cv::Matx13f(1, 1, 1));
  return sum > 60;
}

TEST_F(MustacheOverlayTest, AJpegKeepsEveryPixelOutsideTheMustacheBlocks) {
  const std::string input = ReadFileOrDie(TestDataPath("grace_hopper.jpg"));
  std::unique_ptr<MustacheOverlay> pixel_path =
      MakeOverlay({.edit_jpeg_coefficients = false});
  const cv::Size mcu(16, 16);  // grace_hopper.jpg is 4:2:0
  const Face face = GraceHopperFace();
  const MustachePlacement placement = *PlaceMustache(face, photo_.size());
  const double inter_ocular =
      cv::norm(face.landmarks.right_eye_center - face.landmarks.left_eye_center);
  for (const MustacheStyle& style : styles_) {
    SCOPED_TRACE(style.name);
    const OverlayRequest request{.image = input, .faces = {face}, .style = style.name};
    absl::StatusOr<OverlayResult> result = overlay_->Apply(request);
    ASSERT_THAT(result, IsOk());
    EXPECT_EQ(result->path, OverlayPath::kJpegCoefficients);
    EXPECT_EQ(result->format, ImageFormat::kJpeg);
    EXPECT_EQ(result->width_px, 512);
    EXPECT_EQ(result->height_px, 600);
    EXPECT_THAT(result->styles_applied, ::testing::ElementsAre(style.name));
    const cv::Mat output = Decode(result->image);
    ASSERT_EQ(output.size(), photo_.size());

    // Outside the mustache's blocks: bit-identical to the input as decoded.
    const cv::Mat changed = ChangedPixels(photo_, output);
    const cv::Rect blocks = MustacheBlocks(placement, style, mcu, photo_.size());
    EXPECT_EQ(ChangedOutside(changed, {blocks}), 0) << blocks;
    EXPECT_LT(blocks.area(), photo_.total() / 10);

    // Inside, the mustache, where it belongs.
    const cv::Mat drawn = StronglyChanged(photo_, output);
    ASSERT_GT(cv::countNonZero(drawn), 100);
    EXPECT_LE(cv::norm(MeasureShape(drawn).centroid - placement.anchor),
              0.05 * inter_ocular);
    const auto [interior_pixels, in_colour] =
        InteriorInColour(output, drawn, style.colour_bgr, 40);
    ASSERT_GT(interior_pixels, 20);
    EXPECT_GT(in_colour, 0.8 * interior_pixels);

    // The same mustache as the decode-and-encode path draws.
    absl::StatusOr<OverlayResult> decoded_whole = pixel_path->Apply(request);
    ASSERT_THAT(decoded_whole, IsOk());
    EXPECT_EQ(decoded_whole->path, OverlayPath::kPixels);
    const cv::Mat whole = Decode(decoded_whole->image);
    const cv::Mat drawn_whole = StronglyChanged(photo_, whole);
    EXPECT_GT(cv::countNonZero(drawn & drawn_whole),
              0.75 * cv::countNonZero(drawn | drawn_whole));
    cv::Mat difference;
    cv::absdiff(output(blocks), whole(blocks), difference);
    // Up to the coding loss of either.
    EXPECT_LT(cv::mean(difference)[0] + cv::mean(difference)[1] + cv::mean(difference)[2],
              12);
    // At about the input's size, where re-encoding the whole photo at 90
    // would not be.
    EXPECT_LT(result->image.size(), input.size() * 11 / 10);
    EXPECT_GT(result->image.size(), input.size() * 9 / 10);
  }
}

// Several faces, at a photo size that is no whole number of MCUs, with a
// face cut by the edge: still only their blocks change.
TEST_F(MustacheOverlayTest, AJpegWithManyFacesChangesOnlyTheirBlocks) {
  cv::Mat photo;
  cv::resize(photo_, photo, {1003, 1177}, 0, 0, cv::INTER_CUBIC);
  const std::string input = Encode(photo, ImageFormat::kJpeg, 92);
  const cv::Mat before = Decode(input);
  std::vector<Face> faces = {ScaledFace(GraceHopperFace(), 1003.0 / 512)};
  for (const cv::Point2d at : {cv::Point2d(150, 120), cv::Point2d(850, 140),
                               cv::Point2d(180, 1000), cv::Point2d(995, 1170)}) {
    faces.push_back(MakeFace(at, 90, 12));
  }
  absl::StatusOr<OverlayResult> result =
      overlay_->Apply({.image = input, .faces = faces, .style = "walrus"});
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->path, OverlayPath::kJpegCoefficients);
  const cv::Mat output = Decode(result->image);
  std::vector<cv::Rect> blocks;
  for (const Face& face : faces) {
    blocks.push_back(MustacheBlocks(*PlaceMustache(face, photo.size()),
                                    *FindStyle(styles_, "walrus"), {16, 16},
                                    photo.size()));
    EXPECT_GT(
        cv::countNonZero(StronglyChanged(before(blocks.back()), output(blocks.back()))),
        50);
  }
  EXPECT_EQ(ChangedOutside(ChangedPixels(before, output), blocks), 0);
}

// Phone photos stored sideways or upside down: the coefficient path turns
// the blocks, draws where the faces are in the upright photo, and agrees
// with the decode-and-encode path.
TEST_F(MustacheOverlayTest, APhotoStoredTurnedIsTurnedLosslesslyAndDrawnUpright) {
  const cv::Mat upright = photo_(cv::Rect(0, 0, 512, 592));  // whole MCUs
  std::unique_ptr<MustacheOverlay> pixel_path =
      MakeOverlay({.edit_jpeg_coefficients = false});
  const Face face = GraceHopperFace();
  const MustachePlacement placement = *PlaceMustache(face, upright.size());
  const MustacheStyle& style = *FindStyle(styles_, "walrus");
  const double inter_ocular =
      cv::norm(face.landmarks.right_eye_center - face.landmarks.left_eye_center);
  for (const auto& [orientation, turn_back] :
       {std::pair{6, cv::ROTATE_90_COUNTERCLOCKWISE},
        std::pair{8, cv::ROTATE_90_CLOCKWISE}, std::pair{3, cv::ROTATE_180}}) {
    SCOPED_TRACE(orientation);
    cv::Mat stored;
    cv::rotate(upright, stored, turn_back);
    const std::string tagged =
        WithExifOrientation(Encode(stored, ImageFormat::kJpeg), orientation);
    const cv::Mat as_viewed = Decode(tagged);
    ASSERT_EQ(as_viewed.size(), upright.size());

    absl::StatusOr<OverlayResult> untouched = overlay_->Apply({.image = tagged});
    ASSERT_THAT(untouched, IsOk());
    EXPECT_EQ(untouched->path, OverlayPath::kJpegCoefficients);
    const cv::Mat before = Decode(untouched->image);
    const OverlayRequest request{.image = tagged, .faces = {face}, .style = "walrus"};
    absl::StatusOr<OverlayResult> result = overlay_->Apply(request);
    ASSERT_THAT(result, IsOk());
    EXPECT_EQ(result->path, OverlayPath::kJpegCoefficients);
    EXPECT_EQ(result->width_px, 512);
    EXPECT_EQ(result->height_px, 592);
    EXPECT_EQ(imaging::ReadImageHeader(result->image)->orientation, 1);
    const cv::Mat output = Decode(result->image);
    ASSERT_EQ(output.size(), upright.size());

    // Upright: what the viewer saw before, up to libjpeg's rounding of
    // turned blocks (see the editor's OrientationTest).
    cv::Mat difference;
    cv::absdiff(before, as_viewed, difference);
    double largest = 0;
    cv::minMaxLoc(difference.reshape(1), nullptr, &largest);
    EXPECT_LE(largest, 3);
    // Only the mustache's blocks change, and the mustache is on the face.
    const cv::Rect blocks = MustacheBlocks(placement, style, {16, 16}, upright.size());
    EXPECT_EQ(ChangedOutside(ChangedPixels(before, output), {blocks}), 0);
    const cv::Mat drawn = StronglyChanged(before, output);
    ASSERT_GT(cv::countNonZero(drawn), 100);
    EXPECT_LE(cv::norm(MeasureShape(drawn).centroid - placement.anchor),
              0.05 * inter_ocular);

    // The same mustache as the decode-and-encode path draws.
    absl::StatusOr<OverlayResult> decoded_whole = pixel_path->Apply(request);
    ASSERT_THAT(decoded_whole, IsOk());
    const cv::Mat whole = Decode(decoded_whole->image);
    const cv::Mat drawn_whole = StronglyChanged(as_viewed, whole);
    EXPECT_GT(cv::countNonZero(drawn & drawn_whole),
              0.75 * cv::countNonZero(drawn | drawn_whole));
    cv::absdiff(output(blocks), whole(blocks), difference);
    EXPECT_LT(cv::mean(difference)[0] + cv::mean(difference)[1] + cv::mean(difference)[2],
              12);
  }
}

TEST_F(MustacheOverlayTest, TheCoefficientPathIsTakenOnlyWhenItIsRight) {
  const std::string jpeg = ReadFileOrDie(TestDataPath("grace_hopper.jpg"));
  auto path_of = [&](const OverlayRequest& request,
                     const MustacheOverlay& overlay) -> std::optional<OverlayPath> {
    absl::StatusOr<OverlayResult> result = overlay.Apply(request);
    EXPECT_THAT(result, IsOk());
    return result.ok() ? std::optional(result->path) : std::nullopt;
  };
  const Face face = GraceHopperFace();
  EXPECT_EQ(path_of({.image = jpeg, .faces = {face}}, *overlay_),
            OverlayPath::kJpegCoefficients);
  EXPECT_EQ(path_of({.image = jpeg, .faces = {face}, .output_format = ImageFormat::kJpeg},
                    *overlay_),
            OverlayPath::kJpegCoefficients);
  // A quality asked for is a quality given.
  EXPECT_EQ(path_of({.image = jpeg, .faces = {face}, .quality = 90}, *overlay_),
            OverlayPath::kPixels);
  EXPECT_EQ(path_of({.image = jpeg, .faces = {face}, .output_format = ImageFormat::kPng},
                    *overlay_),
            OverlayPath::kPixels);
  EXPECT_EQ(path_of({.image = photo_png_, .faces = {face}}, *overlay_),
            OverlayPath::kPixels);
  // A phone photo stored sideways turns losslessly when the side it mirrors
  // is whole MCUs (512 rows, stored bottom first under orientation 6), and
  // is decoded when it is not (600 columns, mirrored under 8).
  cv::Mat stored;
  cv::rotate(photo_, stored, cv::ROTATE_90_COUNTERCLOCKWISE);
  const std::string stored_jpeg = Encode(stored, ImageFormat::kJpeg);
  EXPECT_EQ(
      path_of({.image = WithExifOrientation(stored_jpeg, 6), .faces = {face}}, *overlay_),
      OverlayPath::kJpegCoefficients);
  cv::rotate(photo_, stored, cv::ROTATE_90_CLOCKWISE);
  EXPECT_EQ(path_of({.image = WithExifOrientation(Encode(stored, ImageFormat::kJpeg), 8),
                     .faces = {face}},
                    *overlay_),
            OverlayPath::kPixels);
  // A mustache over much of the photo costs less decoded whole.
  EXPECT_EQ(path_of({.image = jpeg, .faces = {MakeFace({256, 300}, 400, 0)}}, *overlay_),
            OverlayPath::kPixels);
  EXPECT_EQ(path_of({.image = jpeg, .faces = {face}},
                    *MakeOverlay({.edit_jpeg_coefficients = false})),
            OverlayPath::kPixels);

  // A grey JPEG cannot carry a coloured mustache: decoded, drawn in colour.
  cv::Mat grey;
  cv::cvtColor(photo_, grey, cv::COLOR_BGR2GRAY);
  const std::string grey_jpeg = Encode(grey, ImageFormat::kJpeg);
  const OverlayRequest grey_request{
      .image = grey_jpeg, .faces = {face}, .style = "chevron"};
  EXPECT_EQ(path_of(grey_request, *overlay_), OverlayPath::kPixels);
  const cv::Mat coloured = Decode(overlay_->Apply(grey_request)->image);
  EXPECT_LT(
      cv::norm(MeanColourAround(coloured, PlaceMustache(face, photo_.size())->anchor, 2) -
               FindStyle(styles_, "chevron")->colour_bgr),
      30);

  // No faces: every pixel as it was, and no EXIF or comment carried over.
  std::string tagged = WithExifOrientation(jpeg, 1);
  tagged.insert(2, std::string("\xFF\xFE\x00\x0Dsecret note", 15));
  absl::StatusOr<OverlayResult> none = overlay_->Apply({.image = tagged});
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ(none->path, OverlayPath::kJpegCoefficients);
  EXPECT_EQ(cv::countNonZero(ChangedPixels(photo_, Decode(none->image))), 0);
  EXPECT_EQ(none->image.find("Exif"), std::string::npos);
  EXPECT_EQ(none->image.find("secret"), std::string::npos);
}

// A JPEG that the coefficient path declines only once it has read it
// (a quantisation table redefined between scans, which libjpeg will not
// write back): the photo is decoded and drawn on instead.
TEST_F(MustacheOverlayTest, AJpegTheEditorCannotWriteIsDecodedInstead) {
  // A progressive JPEG, and table 0 redefined before its second scan.
  absl::StatusOr<std::string> multi_scan = [&]() -> absl::StatusOr<std::string> {
    std::vector<uchar> bytes;
    if (!cv::imencode(".jpg", photo_, bytes,
                      {cv::IMWRITE_JPEG_QUALITY, 90, cv::IMWRITE_JPEG_PROGRESSIVE, 1})) {
      return absl::InternalError("imencode");
    }
    return std::string(bytes.begin(), bytes.end());
  }();
  ASSERT_THAT(multi_scan, IsOk());
  const std::string redefined = WithTableRedefinedBeforeSecondScan(*multi_scan);
  ASSERT_FALSE(redefined.empty());
  const cv::Mat before = Decode(redefined);
  ASSERT_FALSE(before.empty());

  absl::StatusOr<OverlayResult> result =
      overlay_->Apply({.image = redefined, .faces = {GraceHopperFace()}});
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->path, OverlayPath::kPixels);
  absl::StatusOr<OverlayResult> plain =
      overlay_->Apply({.image = *multi_scan, .faces = {GraceHopperFace()}});
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ(plain->path, OverlayPath::kJpegCoefficients);
  EXPECT_GT(cv::countNonZero(StronglyChanged(before, Decode(result->image))), 100);
}

// Whichever path a JPEG would take, a bad one gets the answer it got when
// every photo was decoded whole.
TEST_F(MustacheOverlayTest, BadJpegsGetTheSameAnswerOnEitherPath) {
  const std::string jpeg = ReadFileOrDie(TestDataPath("grace_hopper.jpg"));
  std::string corrupt = jpeg;
  for (size_t i = corrupt.size() / 3; i < corrupt.size() - 2; i += 5) corrupt[i] ^= 0x33;
  Face nan_face = GraceHopperFace();
  nan_face.landmarks.nose_base.x = std::numeric_limits<double>::quiet_NaN();
  Face boxed = GraceHopperFace();
  boxed.box = cv::Rect2d(0, 0, 5000, 5000);
  struct Case {
    std::string name;
    std::string image;
    std::vector<Face> faces = {GraceHopperFace()};
    OverlayConfig config = {};
  };
  const Case cases[] = {
      {.name = "truncated", .image = jpeg.substr(0, jpeg.size() / 2)},
      {.name = "bomb", .image = WithJpegSize(jpeg, 65000, 65000)},
      {.name = "over max_pixels", .image = jpeg, .config = {.max_pixels = 512 * 599}},
      {.name = "over max_decoded_bytes",
       .image = jpeg,
       .config = {.max_decoded_bytes = 512 * 600 * 3 - 1}},
      {.name = "over the budget", .image = jpeg, .config = {.decode_memory_bytes = 1000}},
      {.name = "150 scans", .image = ::stache::testing::ProgressiveJpegWithScans(150)},
      {.name = "corrupt", .image = corrupt},
      {.name = "NaN landmark", .image = jpeg, .faces = {GraceHopperFace(), nan_face}},
      {.name = "box outside", .image = jpeg, .faces = {boxed}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    OverlayConfig pixels_only = c.config;
    pixels_only.edit_jpeg_coefficients = false;
    const absl::StatusOr<OverlayResult> expected =
        MakeOverlay(pixels_only)->Apply({.image = c.image, .faces = c.faces});
    const absl::StatusOr<OverlayResult> actual =
        MakeOverlay(c.config)->Apply({.image = c.image, .faces = c.faces});
    if (c.name == "over the budget") {
      // Each path reserves what it needs, so the amount named differs.
      EXPECT_EQ(actual.status().code(), expected.status().code());
    } else {
      EXPECT_EQ(actual.status(), expected.status());
    }
    if (c.name != "corrupt") {
      EXPECT_FALSE(expected.ok());
    }
  }
}

// The coefficient path stops between the same stages, and concurrent calls
// on it give what sequential ones give.
TEST_F(MustacheOverlayTest, TheCoefficientPathStopsBetweenStagesAndRunsConcurrently) {
  const std::string jpeg = ReadFileOrDie(TestDataPath("grace_hopper.jpg"));
  const OverlayRequest request{.image = jpeg, .faces = {GraceHopperFace()}};
  ASSERT_EQ(overlay_->Apply(request)->path, OverlayPath::kJpegCoefficients);
  ExpectStopsBeforeDecoding(request);
  auto checks_with = [&](int faces) {
    return CancellationChecks(request, faces, OverlayPath::kJpegCoefficients);
  };
  // Three faces cover less than a quarter of the photo (five would not).
  EXPECT_GE(checks_with(3) - checks_with(1), 2);
  // Cancelled at any one check, from the first to the last (the reader's and
  // the writer's own among them), Apply stops there, and at every stage.
  const int all_checks = checks_with(1);
  std::set<std::string> stopped_before;
  for (int n = 0; n < all_checks; ++n) {
    int checks = 0;
    const absl::Status status =
        overlay_->Apply(request, {.cancelled = [&] { return ++checks > n; }}).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << n << ": " << status;
    const size_t stage = status.message().find("stopped before ");
    if (stage != absl::string_view::npos) {
      stopped_before.insert(std::string(status.message().substr(stage + 15)));
    }
  }
  EXPECT_THAT(stopped_before, ::testing::ElementsAre("decoding", "drawing",
                                                     "drawing faces[0]", "encoding"));

  ExpectConcurrentCallsMatchSequentialOnes(
      /*threads=*/4, /*rounds=*/3, [&](const std::string& style) {
        OverlayRequest styled = request;
        styled.style = style;
        return overlay_->Apply(styled);
      });
}

TEST(MustacheOverlayConfigTest, RejectsBadConfigs) {
  EXPECT_THAT(MustacheOverlay::Create({.default_style = "goatee"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--default_style")));
  EXPECT_THAT(MustacheOverlay::Create({.max_faces = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--max_faces")));
  EXPECT_THAT(MustacheOverlay::Create({.max_pixels = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--max_pixels")));
  EXPECT_THAT(
      MustacheOverlay::Create({.max_decoded_bytes = 0}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--max_decoded_bytes")));
  EXPECT_THAT(
      MustacheOverlay::Create({.decode_memory_bytes = 0}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--decode_memory_bytes")));
  for (int quality : {0, 101}) {
    EXPECT_THAT(
        MustacheOverlay::Create({.default_quality = quality}),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--default_quality")));
  }
  EXPECT_THAT(MustacheOverlay::Create({.default_style = "random"}), IsOk());
}

TEST(MustacheOverlayConfigTest, ListsEveryStyleWithAPngPreview) {
  std::unique_ptr<MustacheOverlay> overlay = MakeOverlay();
  const std::vector<MustacheStyle> styles = MakeBuiltInStyles();
  ASSERT_EQ(overlay->styles().size(), styles.size());
  for (size_t i = 0; i < styles.size(); ++i) {
    const StyleInfo& info = overlay->styles()[i];
    EXPECT_EQ(info.name, styles[i].name);
    EXPECT_EQ(info.display_name, styles[i].display_name);
    EXPECT_THAT(
        imaging::ReadImageHeader(info.preview_png),
        IsOkAndHolds(::testing::Field(&imaging::ImageHeader::format, ImageFormat::kPng)));
    const cv::Mat preview = Decode(info.preview_png);
    EXPECT_EQ(preview.type(), CV_8UC4) << info.name;
  }
}

}  // namespace
}  // namespace stache::overlay
