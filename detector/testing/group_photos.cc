#include "detector/testing/group_photos.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <regex>

#include "absl/strings/str_cat.h"
#include "detector/testing/detector_test_inputs.h"
#include "tests/testing/process.h"

namespace stache::detector::testing {
namespace {

// dlib's box for a face whose eyes are this far apart is this much wider,
// and its centre sits this many box widths below the eye line (the same
// average face as detector/internal/landmark_fitter.cc, measured there).
constexpr float kBoxWidthPerEyeDistance = 1 / 0.445f;
constexpr float kBoxCentreBelowEyes = 0.26f;

// Deterministic on every platform (std::uniform_*_distribution is not).
class Random final {
 public:
  explicit Random(uint32_t seed) : engine_(seed) {}
  double Uniform(double low, double high) {
    return low + (high - low) * (engine_() / 4294967296.0);
  }
  int Int(int low, int high) {  // inclusive
    return low + static_cast<int>(engine_() % static_cast<uint32_t>(high - low + 1));
  }
  bool Chance(double p) { return Uniform(0, 1) < p; }

 private:
  std::mt19937 engine_;
};

absl::StatusOr<cv::Mat> Load(const std::string& file) {
  const std::string path = stache::testing::TestDataPath(file);
  cv::Mat image = cv::imread(path, cv::IMREAD_COLOR);
  if (image.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "cannot read ", path, ": run scripts/setup.sh or set STACHE_TESTDATA_DIR"));
  }
  return image;
}

cv::Point2f Apply(const cv::Matx23d& m, const cv::Point2f& p) {
  return cv::Point2f(static_cast<float>(m(0, 0) * p.x + m(0, 1) * p.y + m(0, 2)),
                     static_cast<float>(m(1, 0) * p.x + m(1, 1) * p.y + m(1, 2)));
}

KnownFace FaceFromEyes(const cv::Point2f& left_eye, const cv::Point2f& right_eye,
                       const cv::Point2f& anchor) {
  const cv::Point2f delta = right_eye - left_eye;
  const float eye_distance = std::hypot(delta.x, delta.y);
  const float width = eye_distance * kBoxWidthPerEyeDistance;
  // Down the face: the eye line turned by 90 degrees (y grows downwards).
  const cv::Point2f down(-delta.y / eye_distance, delta.x / eye_distance);
  const cv::Point2f centre =
      (left_eye + right_eye) / 2 + kBoxCentreBelowEyes * width * down;
  return KnownFace{
      .box = cv::Rect2f(centre.x - width / 2, centre.y - width / 2, width, width),
      .left_eye = left_eye,
      .right_eye = right_eye,
      .mustache_anchor = anchor,
      .has_landmarks = true};
}

// A face-free photo covering `size` (scaled to cover, centre crop).
cv::Mat Background(const cv::Mat& photo, cv::Size size) {
  const double scale = std::max(static_cast<double>(size.width) / photo.cols,
                                static_cast<double>(size.height) / photo.rows);
  cv::Mat scaled;
  cv::resize(photo, scaled, cv::Size(), scale, scale, cv::INTER_LINEAR);
  const cv::Rect crop((scaled.cols - size.width) / 2, (scaled.rows - size.height) / 2,
                      size.width, size.height);
  return scaled(crop).clone();
}

struct Source {
  HandCheckedFace face;
  cv::Mat pixels;
};

// Pastes `source`'s head (the face box grown 1.6 times, feathered at the
// edge) so that its box is `box_width` wide with its centre at `centre`.
KnownFace Paste(const Source& source, cv::Point2f centre, float box_width, bool flip,
                double roll_degrees, double contrast, double brightness,
                double blur_sigma, cv::Mat& canvas) {
  const HandCheckedFace& f = source.face;
  const KnownFace upright = FaceFromEyes(f.left_eye, f.right_eye, f.MustacheAnchor());
  const cv::Point2f source_centre(upright.box.x + upright.box.width / 2,
                                  upright.box.y + upright.box.height / 2);
  const double scale = box_width / upright.box.width;
  // Source pixels -> canvas: flip about the face centre, then turn and scale
  // about it (OpenCV's positive angle is counter-clockwise), then move.
  cv::Matx33d flip_m = cv::Matx33d::eye();
  if (flip) flip_m = cv::Matx33d(-1, 0, 2 * source_centre.x, 0, 1, 0, 0, 0, 1);
  const cv::Mat rotation = cv::getRotationMatrix2D(source_centre, roll_degrees, scale);
  cv::Matx33d turn = cv::Matx33d::eye();
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c) turn(r, c) = rotation.at<double>(r, c);
  turn(0, 2) += centre.x - source_centre.x;
  turn(1, 2) += centre.y - source_centre.y;
  const cv::Matx33d full = turn * flip_m;
  const cv::Matx23d m(full(0, 0), full(0, 1), full(0, 2), full(1, 0), full(1, 1),
                      full(1, 2));

  // The head region in the canvas, and the source warped into it.
  const float head = 1.6f * box_width;
  const cv::Rect region =
      cv::Rect(cv::Point(std::lround(centre.x - head / 2),
                         std::lround(centre.y - head / 1.8f)),
               cv::Size(std::lround(head), std::lround(head * 1.1f))) &
      cv::Rect(0, 0, canvas.cols, canvas.rows);
  cv::Matx23d to_region = m;
  to_region(0, 2) -= region.x;
  to_region(1, 2) -= region.y;
  cv::Mat warped;
  cv::warpAffine(source.pixels, warped, to_region, region.size(), cv::INTER_AREA,
                 cv::BORDER_REPLICATE);
  warped.convertTo(warped, -1, contrast, brightness);
  if (blur_sigma > 0) cv::GaussianBlur(warped, warped, cv::Size(), blur_sigma);
  // An elliptic mask around the head, soft at the edge.
  cv::Mat mask(region.size(), CV_32F, cv::Scalar(0));
  const cv::Point2f mask_centre =
      centre - cv::Point2f(region.x, region.y) - cv::Point2f(0, 0.08f * box_width);
  cv::ellipse(mask, mask_centre, cv::Size2f(0.62f * box_width, 0.78f * box_width),
              -roll_degrees, 0, 360, cv::Scalar(1), -1);
  cv::GaussianBlur(mask, mask, cv::Size(), std::max(1.0, 0.06 * box_width));
  cv::Mat target = canvas(region);
  for (int y = 0; y < target.rows; ++y) {
    const float* alpha = mask.ptr<float>(y);
    const cv::Vec3b* from = warped.ptr<cv::Vec3b>(y);
    cv::Vec3b* to = target.ptr<cv::Vec3b>(y);
    for (int x = 0; x < target.cols; ++x) {
      for (int c = 0; c < 3; ++c) {
        to[x][c] =
            cv::saturate_cast<uchar>(alpha[x] * from[x][c] + (1 - alpha[x]) * to[x][c]);
      }
    }
  }
  // Flipping swaps which eye is on the viewer's left.
  const cv::Point2f a = Apply(m, f.left_eye), b = Apply(m, f.right_eye);
  return FaceFromEyes(flip ? b : a, flip ? a : b, Apply(m, f.MustacheAnchor()));
}

struct PhotoPlan {
  std::string name;
  cv::Size size;
  std::string background;
  int faces;
};

absl::StatusOr<GroupPhoto> Compose(const PhotoPlan& plan, uint32_t seed) {
  absl::StatusOr<cv::Mat> background = Load(plan.background);
  if (!background.ok()) return background.status();
  std::vector<Source> sources;
  for (const HandCheckedFace& face : PhotosWithOneFace()) {
    absl::StatusOr<cv::Mat> pixels = Load(face.file);
    if (!pixels.ok()) return pixels.status();
    sources.push_back({face, *std::move(pixels)});
  }
  Random random(seed);
  GroupPhoto photo{.name = plan.name, .pixels = Background(*background, plan.size)};
  const float long_side = static_cast<float>(std::max(plan.size.width, plan.size.height));
  const float floor_px = std::max(40.f, 0.05f * long_side);
  const float ceiling_px = std::max(floor_px * 1.2f, 0.09f * long_side);
  for (int attempt = 0;
       attempt < 2000 && static_cast<int>(photo.faces.size()) < plan.faces; ++attempt) {
    // At least 3% above the floors, so that rounding never takes a face under.
    const float width = static_cast<float>(random.Uniform(1.03 * floor_px, ceiling_px));
    const cv::Point2f centre(
        static_cast<float>(random.Uniform(0.9 * width, plan.size.width - 0.9 * width)),
        static_cast<float>(random.Uniform(width, plan.size.height - 0.9 * width)));
    const bool too_close =
        std::any_of(photo.faces.begin(), photo.faces.end(), [&](const KnownFace& other) {
          const cv::Point2f other_centre(other.box.x + other.box.width / 2,
                                         other.box.y + other.box.height / 2);
          const cv::Point2f d = other_centre - centre;
          return std::hypot(d.x, d.y) < 1.5f * std::max(width, other.box.width);
        });
    if (too_close) continue;
    const Source& source = sources[random.Int(0, static_cast<int>(sources.size()) - 1)];
    const bool flip = random.Chance(0.5);
    const double roll = random.Uniform(-20, 20);
    const double contrast = random.Uniform(0.7, 1.2);
    const double brightness = random.Uniform(-30, 20);
    const double blur = random.Chance(0.3) ? random.Uniform(0.4, 0.0125 * width) : 0;
    photo.faces.push_back(Paste(source, centre, width, flip, roll, contrast, brightness,
                                blur, photo.pixels));
  }
  return photo;
}

const std::vector<PhotoPlan>& Plans() {
  static const auto* plans = new std::vector<PhotoPlan>{
      {"group_brick_1mp", {1155, 866}, "brick.png", 8},
      {"group_grass_1mp", {1155, 866}, "grass.png", 12},
      {"group_coffee_1mp_portrait", {866, 1155}, "coffee.png", 6},
      {"group_gravel_1mp", {1155, 866}, "gravel.png", 10},
      {"group_rocket_1mp", {1155, 866}, "rocket.jpg", 4},
      {"group_chelsea_vga", {640, 480}, "chelsea.png", 5},
      {"group_motorcycle_2mp", {1632, 1224}, "motorcycle_left.png", 12},
      {"group_moon_1mp", {1155, 866}, "moon.png", 7},
  };
  return *plans;
}

}  // namespace

float KnownFace::InterOcularDistance() const {
  const cv::Point2f delta = right_eye - left_eye;
  return std::hypot(delta.x, delta.y);
}

absl::StatusOr<std::vector<GroupPhoto>> MakeGroupPhotos() {
  std::vector<GroupPhoto> photos;
  uint32_t seed = 16;
  for (const PhotoPlan& plan : Plans()) {
    absl::StatusOr<GroupPhoto> photo = Compose(plan, seed++);
    if (!photo.ok()) return photo.status();
    photos.push_back(*std::move(photo));
  }
  return photos;
}

absl::StatusOr<GroupPhoto> MakeLargeGroupPhoto() {
  return Compose({"group_hubble_12mp", {4000, 3000}, "hubble_deep_field.jpg", 9}, 1216);
}

const std::vector<std::string>& FaceFreePhotoFiles() {
  // Checked by eye: no person, painting or doll in any of them; the cat,
  // the dogs and the horse are there on purpose.
  static const auto* files = new std::vector<std::string>{
      "brick.png",
      "cell.png",
      "chelsea.png",
      "clock_motion.png",
      "coffee.png",
      "coins.png",
      "color.png",
      "grass.png",
      "gravel.png",
      "horse.png",
      "hubble_deep_field.jpg",
      "ihc.png",
      "logo.png",
      "moon.png",
      "motorcycle_left.png",
      "page.png",
      "retina.jpg",
      "rocket.jpg",
      "text.png",
      "dogs.jpg",
      "mmod_cars_test_image.jpg",
      "mmod_cars_test_image2.jpg",
      "Minduka_Present_Blue_Pack.png",
  };
  return *files;
}

absl::StatusOr<std::vector<GroupPhoto>> RealGroupPhotos() {
  constexpr double kEnlarge = 2.0;
  std::vector<GroupPhoto> photos;
  for (const char* list : {"dlib_faces/testing.xml", "dlib_faces/training.xml"}) {
    const std::string path = stache::testing::TestDataPath(list);
    std::ifstream file(path, std::ios::binary);
    if (!file) {
      return absl::NotFoundError(absl::StrCat(
          "cannot read ", path, ": run scripts/setup.sh or set STACHE_TESTDATA_DIR"));
    }
    const std::string xml((std::istreambuf_iterator<char>(file)),
                          std::istreambuf_iterator<char>());
    // <image file='x.jpg' ...> <box top='181' left='274' width='52' height='53'/> ...
    const std::regex image_re("<image file='([^']+)'[^>]*>([\\s\\S]*?)</image>");
    const std::regex box_re(
        "<box top='(-?\\d+)' left='(-?\\d+)' width='(\\d+)' height='(\\d+)'");
    for (std::sregex_iterator i(xml.begin(), xml.end(), image_re), end; i != end; ++i) {
      absl::StatusOr<cv::Mat> pixels = Load(absl::StrCat("dlib_faces/", (*i)[1].str()));
      if (!pixels.ok()) return pixels.status();
      GroupPhoto photo{.name = (*i)[1].str()};
      cv::resize(*pixels, photo.pixels, cv::Size(), kEnlarge, kEnlarge, cv::INTER_CUBIC);
      const std::string boxes = (*i)[2].str();
      for (std::sregex_iterator b(boxes.begin(), boxes.end(), box_re); b != end; ++b) {
        const float top = std::stof((*b)[1]), left = std::stof((*b)[2]);
        const float width = std::stof((*b)[3]), height = std::stof((*b)[4]);
        photo.faces.push_back({.box = cv::Rect2f(left * kEnlarge, top * kEnlarge,
                                                 width * kEnlarge, height * kEnlarge)});
      }
      photos.push_back(std::move(photo));
    }
  }
  return photos;
}

bool BoxMatches(const cv::Rect2f& found, const KnownFace& known) {
  const cv::Point2f d =
      (found.tl() + found.br()) / 2 - (known.box.tl() + known.box.br()) / 2;
  const float ratio = found.width / known.box.width;
  return std::hypot(d.x, d.y) <= 0.3f * known.box.width && ratio >= 1 / 1.6f &&
         ratio <= 1.6f;
}

}  // namespace stache::detector::testing
