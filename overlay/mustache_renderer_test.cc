#include "overlay/mustache_renderer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <opencv2/imgproc.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "overlay/internal/linear_light.h"
#include "overlay/mustache_style.h"
#include "overlay/testing/mustache_measure.h"
#include "tests/testing/status_matchers.h"

namespace stache::overlay {
namespace {

using ::stache::overlay::testing::AxisAngleDifference;
using ::stache::overlay::testing::ChangedPixels;
using ::stache::overlay::testing::CountOutside;
using ::stache::overlay::testing::MakeFace;
using ::stache::overlay::testing::MaskShape;
using ::stache::overlay::testing::MeasureShape;
using ::stache::testing::IsOk;
using ::stache::testing::StatusIs;
using ::testing::HasSubstr;

const cv::Scalar kWhite(255, 255, 255);

// Draws `style` for `face` on a white canvas and returns the canvas.
cv::Mat DrawOnWhite(const MustacheStyle& style, const Face& face,
                    cv::Size size = {640, 480}) {
  cv::Mat image(size, CV_8UC3, kWhite);
  absl::StatusOr<MustachePlacement> placement = PlaceMustache(face, size);
  EXPECT_THAT(placement, IsOk());
  if (placement.ok()) {
    EXPECT_THAT(DrawMustache(*placement, style, image), IsOk());
  }
  return image;
}

struct PlacementCase {
  std::string style;
  double roll_degrees;
};

class PlacementTest : public ::testing::TestWithParam<PlacementCase> {
 protected:
  const std::vector<MustacheStyle> styles_ = MakeBuiltInStyles();
  const MustacheStyle& style() const { return *FindStyle(styles_, GetParam().style); }
};

TEST_P(PlacementTest, CentroidOnThePhiltrumAndAngleMatchesRoll) {
  const cv::Point2d anchor(331.3, 247.6);
  const double inter_ocular = 110;
  const Face face = MakeFace(anchor, inter_ocular, GetParam().roll_degrees);
  const cv::Mat white(480, 640, CV_8UC3, kWhite);
  const MaskShape shape = MeasureShape(ChangedPixels(white, DrawOnWhite(style(), face)));

  ASSERT_GT(shape.area, 0);
  EXPECT_LE(cv::norm(shape.centroid - anchor), 0.05 * inter_ocular)
      << "centroid " << shape.centroid << " anchor " << anchor;
  EXPECT_LE(AxisAngleDifference(shape.angle_degrees, GetParam().roll_degrees), 3.0)
      << "measured " << shape.angle_degrees;
}

TEST_P(PlacementTest, TouchesOnlyPixelsInsideTheRotatedBounds) {
  const Face face = MakeFace({300, 260}, 120, GetParam().roll_degrees);
  const cv::Mat white(480, 640, CV_8UC3, kWhite);
  const cv::Mat changed = ChangedPixels(white, DrawOnWhite(style(), face));
  const cv::RotatedRect bounds =
      MustacheBounds(*PlaceMustache(face, white.size()), style());

  EXPECT_EQ(CountOutside(changed, bounds, /*margin=*/1.0), 0);
  EXPECT_NEAR(bounds.angle, GetParam().roll_degrees, 1e-3);
  // A mustache, not a beard: about as wide as the mouth or a little wider,
  // much less tall.
  EXPECT_GT(bounds.size.width, 0.6 * 120);
  EXPECT_LT(bounds.size.width, 1.6 * 120);
  EXPECT_LT(bounds.size.height, 0.6 * 120);
  EXPECT_GT(cv::countNonZero(changed), 0.1 * bounds.size.area());
}

std::vector<PlacementCase> AllStylesAndRolls() {
  std::vector<PlacementCase> cases;
  for (const MustacheStyle& style : MakeBuiltInStyles()) {
    for (double roll : {0.0, -27.5, 14.0, 40.0}) cases.push_back({style.name, roll});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllStyles, PlacementTest,
                         ::testing::ValuesIn(AllStylesAndRolls()), [](const auto& info) {
                           return absl::StrCat(
                               info.param.style, "_roll",
                               static_cast<int>(std::round(info.param.roll_degrees)) +
                                   90);
                         });

TEST(MustacheRendererTest, CoversThePhiltrumButNotTheNostrilsOrLowerLip) {
  const cv::Point2d anchor(320, 240);
  const double iod = 100;
  const Face face = MakeFace(anchor, iod, 0);
  const cv::Point2d nose_base = face.landmarks.nose_base;
  const cv::Point2d lip_top = face.landmarks.upper_lip_top;
  for (const MustacheStyle& style : MakeBuiltInStyles()) {
    const cv::Mat image = DrawOnWhite(style, face);
    auto covered = [&](cv::Point2d p) {
      return image.at<cv::Vec3b>(cv::Point(p)) != cv::Vec3b(255, 255, 255);
    };
    // The thick styles hide the philtrum itself; the pencil is parted there
    // but runs across it on both sides.
    if (style.name != "pencil") {
      EXPECT_TRUE(covered(anchor)) << style.name;
    } else {
      EXPECT_TRUE(covered(anchor + cv::Point2d(0.1 * iod, 0))) << style.name;
    }
    // Nostrils sit just above the nose base, either side of the middle.
    EXPECT_FALSE(covered(nose_base + cv::Point2d(0.12 * iod, -0.06 * iod))) << style.name;
    EXPECT_FALSE(covered(nose_base + cv::Point2d(-0.12 * iod, -0.06 * iod)))
        << style.name;
    // The middle of the mouth, below the upper-lip top.
    EXPECT_FALSE(covered(lip_top + cv::Point2d(0, 0.12 * iod))) << style.name;
  }
}

TEST(MustacheRendererTest, ScalesWithTheFace) {
  const MustacheStyle style = MakeBuiltInStyles()[0];
  const cv::Mat white(480, 640, CV_8UC3, kWhite);
  const double small = cv::countNonZero(
      ChangedPixels(white, DrawOnWhite(style, MakeFace({320, 240}, 60, 0))));
  const double large = cv::countNonZero(
      ChangedPixels(white, DrawOnWhite(style, MakeFace({320, 240}, 180, 0))));
  EXPECT_NEAR(large / small, 9.0, 9.0 * 0.15);
}

TEST(MustacheRendererTest, FollowsTheMouthWhenTheEyesCoincide) {
  Face face = MakeFace({320, 240}, 100, 0);
  face.landmarks.right_eye_center = face.landmarks.left_eye_center;
  absl::StatusOr<MustachePlacement> placement = PlaceMustache(face, {640, 480});
  ASSERT_THAT(placement, IsOk());
  // Mouth corners 0.84 inter-ocular distances apart stand in for the eyes.
  EXPECT_NEAR(placement->width_scale_px, 100 * 0.84 / 0.85, 1.0);
}

TEST(MustacheRendererTest, StretchesToThePhiltrumWithinLimits) {
  const cv::Size size(640, 480);
  auto height_ratio = [&](double philtrum_ratio) {
    MustachePlacement p =
        *PlaceMustache(MakeFace({320, 240}, 100, 0, philtrum_ratio), size);
    return p.height_scale_px / p.width_scale_px;
  };
  EXPECT_NEAR(height_ratio(kTypicalPhiltrumLength), 1.0, 1e-9);
  EXPECT_NEAR(height_ratio(kTypicalPhiltrumLength * 1.2), 1.2, 1e-9);
  EXPECT_NEAR(height_ratio(kTypicalPhiltrumLength * 5), 1.35, 1e-9);
  EXPECT_NEAR(height_ratio(0), 0.75, 1e-9);
}

TEST(MustacheRendererTest, ClipsAFacePartlyOutsideTheImage) {
  const MustacheStyle style = MakeBuiltInStyles()[2];
  const cv::Size size(320, 240);
  for (const cv::Point2d anchor : {cv::Point2d(-20, 120), cv::Point2d(330, 120),
                                   cv::Point2d(160, -15), cv::Point2d(316, 236)}) {
    const Face face = MakeFace(anchor, 100, 10);
    const cv::Mat white(size, CV_8UC3, kWhite);
    const cv::Mat changed = ChangedPixels(white, DrawOnWhite(style, face, size));
    EXPECT_GT(cv::countNonZero(changed), 50) << anchor;
    EXPECT_EQ(
        CountOutside(changed, MustacheBounds(*PlaceMustache(face, size), style), 1.0), 0);
  }
}

TEST(MustacheRendererTest, AFaceBeyondTheEdgeDrawsNothing) {
  const cv::Size size(320, 240);
  const Face face = MakeFace({-200, 120}, 60, 0);
  const cv::Mat white(size, CV_8UC3, kWhite);
  EXPECT_EQ(cv::countNonZero(
                ChangedPixels(white, DrawOnWhite(MakeBuiltInStyles()[0], face, size))),
            0);
}

TEST(MustacheRendererTest, AMustacheLargerThanTheImageIsClipped) {
  const cv::Size size(120, 80);
  const Face face = MakeFace({60, 60}, 125, 5);
  const MustacheStyle style = MakeBuiltInStyles()[1];
  ASSERT_GT(MustacheBounds(*PlaceMustache(face, size), style).size.width, size.width);
  const cv::Mat white(size, CV_8UC3, kWhite);
  const cv::Mat changed = ChangedPixels(white, DrawOnWhite(style, face, size));
  EXPECT_GT(cv::countNonZero(changed), size.area() / 5);
  EXPECT_GT(cv::countNonZero(changed.col(0)), 0);
  EXPECT_GT(cv::countNonZero(changed.col(size.width - 1)), 0);
}

TEST(MustacheRendererTest, KeepsTransparencyAroundAndMakesTheMustacheOpaque) {
  const MustacheStyle style = MakeBuiltInStyles()[1];
  const Face face = MakeFace({160, 120}, 120, 0);
  cv::Mat image(240, 320, CV_8UC4, cv::Scalar(255, 255, 255, 0));
  ASSERT_THAT(DrawMustache(*PlaceMustache(face, image.size()), style, image), IsOk());
  EXPECT_EQ(image.at<cv::Vec4b>(0, 0), cv::Vec4b(255, 255, 255, 0));
  const cv::Vec4b centre = image.at<cv::Vec4b>(120, 160);
  EXPECT_EQ(centre[3], 255);
  // A half-covered edge over a transparent background keeps the mustache's
  // colour (between fill and hair); only its opacity is partial.
  bool saw_edge = false;
  for (int x = 0; x < image.cols; ++x) {
    for (int y = 0; y < image.rows; ++y) {
      const cv::Vec4b p = image.at<cv::Vec4b>(y, x);
      if (p[3] > 20 && p[3] < 235) {
        saw_edge = true;
        for (int c = 0; c < 3; ++c) {
          EXPECT_GE(p[c], style.colour_bgr[c] - 2) << x << "," << y;
          EXPECT_LE(p[c], style.strand_colour_bgr[c] + 2) << x << "," << y;
        }
      }
    }
  }
  EXPECT_TRUE(saw_edge);
}

TEST(MustacheRendererTest, RejectsBadFacesWithClearMessages) {
  const cv::Size size(640, 480);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();

  Face face = MakeFace({320, 240}, 100, 0);
  face.landmarks.nose_base.x = nan;
  EXPECT_THAT(PlaceMustache(face, size),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("nose_base is not a finite")));

  face = MakeFace({320, 240}, 100, 0);
  face.landmarks.mouth_right.y = -inf;
  EXPECT_THAT(PlaceMustache(face, size),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("mouth_right")));

  face = MakeFace({320, 240}, 100, 0);
  face.landmarks.left_eye_center.x = 1e30;
  EXPECT_THAT(PlaceMustache(face, size),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("far outside the 640x480 image")));

  // A whole face far off the image, and a gigantic one.
  EXPECT_THAT(PlaceMustache(MakeFace({5000, 240}, 100, 0), size),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("far outside")));
  EXPECT_THAT(PlaceMustache(MakeFace({320, 240}, 1e7, 0), size),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("far outside")));

  face = MakeFace({320, 240}, 100, 0);
  face.roll_degrees = nan;
  EXPECT_THAT(PlaceMustache(face, size),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("roll_degrees")));
  face.roll_degrees = 1e6;
  EXPECT_THAT(PlaceMustache(face, size),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("roll_degrees")));

  // All landmarks on one spot, as an empty proto message would give.
  EXPECT_THAT(PlaceMustache(Face{}, size), StatusIs(absl::StatusCode::kInvalidArgument,
                                                    HasSubstr("too close together")));
}

TEST(MustacheRendererTest, RejectsImagesItCannotDrawOn) {
  cv::Mat image(100, 100, CV_16UC3, cv::Scalar::all(0));
  const Face face = MakeFace({50, 50}, 40, 0);
  EXPECT_THAT(
      DrawMustache(*PlaceMustache(face, image.size()), MakeBuiltInStyles()[0], image),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("8-bit")));
}

TEST(MustacheRendererTest, PreviewIsTransparentAroundAnOpaqueMustache) {
  for (const MustacheStyle& style : MakeBuiltInStyles()) {
    absl::StatusOr<cv::Mat> preview = RenderStylePreview(style, {160, 96});
    ASSERT_THAT(preview, IsOk());
    ASSERT_EQ(preview->type(), CV_8UC4);
    ASSERT_EQ(preview->size(), cv::Size(160, 96));
    std::vector<cv::Mat> channels;
    cv::split(*preview, channels);
    const cv::Mat& alpha = channels[3];
    EXPECT_EQ(alpha.at<uint8_t>(0, 0), 0) << style.name;
    EXPECT_EQ(alpha.at<uint8_t>(95, 159), 0) << style.name;
    // Fitted with a margin: nothing touches the border rows.
    EXPECT_EQ(cv::countNonZero(alpha.row(0)) + cv::countNonZero(alpha.row(95)), 0)
        << style.name;
    EXPECT_GT(cv::countNonZero(alpha == 255), 100) << style.name;
  }
  EXPECT_THAT(RenderStylePreview(MakeBuiltInStyles()[0], {4, 4}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("8x8")));
}

// Blending sRGB values directly turns every anti-aliased edge dark: half of
// black over white would be 128. In linear light it is 188.
TEST(LinearLightTest, HalfCoverageMixesLightNotCodeValues) {
  cv::Mat white(1, 2, CV_8UC3, kWhite);
  cv::Mat coverage = (cv::Mat_<uint8_t>(1, 2) << 128, 255);
  internal::CompositeInLinearLight(coverage, cv::Scalar(0, 0, 0), white);
  EXPECT_NEAR(white.at<cv::Vec3b>(0, 0)[0], 188, 1);
  EXPECT_EQ(white.at<cv::Vec3b>(0, 1), cv::Vec3b(0, 0, 0));

  cv::Mat black(1, 1, CV_8UC3, cv::Scalar(0, 0, 0));
  internal::CompositeInLinearLight(cv::Mat(1, 1, CV_8UC1, cv::Scalar(128)), kWhite,
                                   black);
  EXPECT_NEAR(black.at<cv::Vec3b>(0, 0)[1], 188, 1);
}

TEST(LinearLightTest, ZeroCoverageLeavesPixelsUntouched) {
  cv::Mat image(2, 2, CV_8UC4, cv::Scalar(10, 20, 30, 40));
  internal::CompositeInLinearLight(cv::Mat::zeros(2, 2, CV_8UC1), cv::Scalar(200, 0, 0),
                                   image);
  EXPECT_EQ(image.at<cv::Vec4b>(1, 1), cv::Vec4b(10, 20, 30, 40));
}

TEST(LinearLightTest, EverySrgbValueSurvivesARoundTrip) {
  for (int v = 0; v < 256; ++v) {
    EXPECT_EQ(internal::LinearToSrgb(internal::SrgbToLinear(static_cast<uint8_t>(v))), v);
  }
}

TEST(LinearLightTest, OverATranslucentBackgroundAddsOpacity) {
  cv::Mat image(1, 1, CV_8UC4, cv::Scalar(0, 0, 255, 128));
  internal::CompositeInLinearLight(cv::Mat(1, 1, CV_8UC1, cv::Scalar(128)),
                                   cv::Scalar(255, 0, 0), image);
  const cv::Vec4b p = image.at<cv::Vec4b>(0, 0);
  // 0.5 + 0.5 * 0.5 opaque; the mustache weighs twice the background.
  EXPECT_NEAR(p[3], 191, 1);
  EXPECT_NEAR(p[0], internal::LinearToSrgb(2.0f / 3), 1);
  EXPECT_NEAR(p[2], internal::LinearToSrgb(1.0f / 3), 1);
}

}  // namespace
}  // namespace stache::overlay
