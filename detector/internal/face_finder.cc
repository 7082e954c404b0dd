#include "detector/internal/face_finder.h"

#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "detector/internal/model_files.h"
#include "detector/internal/object_pool.h"

namespace stache::detector::internal {
namespace {

float Logistic(double x) { return static_cast<float>(1.0 / (1.0 + std::exp(-x))); }

// dlib's frontal face detector: five HOG filters on an image pyramid that
// starts at the image's own size, so faces of about 70 px and up.
class HogFaceFinder final : public FaceFinder {
 public:
  HogFaceFinder()
      : prototype_(dlib::get_frontal_face_detector()), pool_([this] {
          // Copying only reads the prototype's configuration, which dlib
          // documents as safe to do from many threads.
          return std::make_unique<dlib::frontal_face_detector>(prototype_);
        }) {}

  // Measured: the test faces are found down to 55-65 px wide.
  float smallest_face_px() const override { return 70; }

  // One pass (dlib's pyramid inside), so nothing to check between.
  absl::StatusOr<std::vector<FaceCandidate>> Find(
      const cv::Mat& grey, float /*min_face_px*/,
      const server::CallDeadline& /*deadline*/) const override {
    std::vector<dlib::rect_detection> detections;
    try {
      auto detector = pool_.Acquire();
      dlib::cv_image<unsigned char> image(grey);
      (*detector)(image, detections, /*adjust_threshold=*/0.0);
    } catch (const std::exception& e) {
      return absl::InternalError(
          absl::StrCat("the HOG face detector failed: ", e.what()));
    }
    std::vector<FaceCandidate> candidates;
    for (const dlib::rect_detection& detection : detections) {
      const dlib::rectangle& r = detection.rect;
      candidates.push_back(
          FaceCandidate{.box = cv::Rect2f(r.left(), r.top(), r.width(), r.height()),
                        // Scores start at 0 at the threshold; 1 is a clear face.
                        .confidence = Logistic(2.0 * detection.detection_confidence),
                        .roll_hint_degrees = RollHint(detection.weight_index)});
    }
    return candidates;
  }

 private:
  // Filters 3 and 4 were trained on faces rolled one way and the other.
  static float RollHint(unsigned long filter) {
    if (filter == 3) return -kHogRolledFilterDegrees;
    if (filter == 4) return kHogRolledFilterDegrees;
    return 0;
  }
  static constexpr float kHogRolledFilterDegrees = 15;

  const dlib::frontal_face_detector prototype_;
  mutable ObjectPool<dlib::frontal_face_detector> pool_;
};

class CascadeFaceFinder final : public FaceFinder {
 public:
  CascadeFaceFinder(std::string xml, cv::Size window)
      : xml_(std::move(xml)),
        window_(window),
        pool_([this] { return CascadeFromXml(xml_); }) {}

  // The smallest window, grown to a dlib-style box.
  float smallest_face_px() const override { return kBoxGrowth * window_.width; }

  absl::StatusOr<std::vector<FaceCandidate>> Find(
      const cv::Mat& grey, float min_face_px,
      const server::CallDeadline& deadline) const override {
    cv::Mat equalized;
    std::vector<FaceCandidate> candidates;
    try {
      cv::equalizeHist(grey, equalized);
      auto cascade = pool_.Acquire();
      for (float roll : {0.f, kCascadeRollDegrees, -kCascadeRollDegrees}) {
        if (absl::Status go_on = deadline.Check(absl::StrCat(
                "the face cascade's pass for faces rolled ", roll, " degrees"));
            !go_on.ok()) {
          return go_on;
        }
        FindRolled(*cascade, equalized, roll, min_face_px, &candidates);
      }
    } catch (const cv::Exception& e) {
      return absl::InternalError(absl::StrCat("the face cascade failed: ", e.what()));
    }
    return SuppressOverlaps(std::move(candidates), 0.3f);
  }

 private:
  // Runs the cascade on `grey` turned so that a face rolled by `roll`
  // degrees (clockwise) stands upright, and maps the boxes back.
  void FindRolled(cv::CascadeClassifier& cascade, const cv::Mat& grey, float roll,
                  float min_face_px, std::vector<FaceCandidate>* candidates) const {
    cv::Mat turned = grey;
    cv::Mat back = cv::Mat::eye(2, 3, CV_64F);
    if (roll != 0) {
      // OpenCV's positive angle turns the picture counter-clockwise, which
      // stands up a face rolled clockwise. The canvas grows to keep corners.
      const cv::Point2f centre(grey.cols / 2.f, grey.rows / 2.f);
      const cv::Rect2f bounds =
          cv::RotatedRect(centre, grey.size(), roll).boundingRect2f();
      cv::Mat forward = cv::getRotationMatrix2D(centre, roll, 1.0);
      forward.at<double>(0, 2) += bounds.width / 2.0 - centre.x;
      forward.at<double>(1, 2) += bounds.height / 2.0 - centre.y;
      cv::warpAffine(grey, turned, forward, bounds.size(), cv::INTER_LINEAR,
                     cv::BORDER_REPLICATE);
      cv::invertAffineTransform(forward, back);
    }
    // The cascade's box covers less than dlib's: grow it to the same kind.
    const float min_window = std::max<float>(window_.width, min_face_px / kBoxGrowth);
    std::vector<cv::Rect> boxes;
    std::vector<int> neighbours;
    cascade.detectMultiScale(turned, boxes, neighbours, kScaleStep, kMinNeighbours, 0,
                             cv::Size(std::lround(min_window), std::lround(min_window)));
    for (size_t i = 0; i < boxes.size(); ++i) {
      const cv::Rect2f box = boxes[i];
      const cv::Point2f centre_turned(box.x + box.width / 2.f, box.y + box.height / 2.f);
      std::vector<cv::Point2f> centre;
      cv::transform(std::vector<cv::Point2f>{centre_turned}, centre, back);
      const float side = box.width * kBoxGrowth;
      candidates->push_back(FaceCandidate{
          .box = cv::Rect2f(centre[0].x - side / 2, centre[0].y - side / 2, side, side),
          // More overlapping hits, more certainty; the threshold is 0.5.
          .confidence = Logistic((neighbours[i] - kMinNeighbours) / 8.0),
          .roll_hint_degrees = roll});
    }
  }

  static constexpr double kScaleStep = 1.15;
  static constexpr int kMinNeighbours = 3;
  // Measured on the test photos against dlib's boxes for the same faces
  // (1.16 and 1.30 wider, centres within 4% of the width).
  static constexpr float kBoxGrowth = 1.2f;

  const std::string xml_;
  const cv::Size window_;
  mutable ObjectPool<cv::CascadeClassifier> pool_;
};

float OverlapOfSmaller(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float smaller = std::min(a.area(), b.area());
  return smaller <= 0 ? 0 : (a & b).area() / smaller;
}

}  // namespace

std::unique_ptr<FaceFinder> MakeHogFaceFinder() {
  return std::make_unique<HogFaceFinder>();
}

absl::StatusOr<std::unique_ptr<FaceFinder>> MakeCascadeFaceFinder(
    const std::string& path) {
  absl::StatusOr<std::string> xml = ReadCascadeFile(path, "face cascade");
  if (!xml.ok()) return xml.status();
  const cv::Size window = CascadeFromXml(*xml)->getOriginalWindowSize();
  return std::make_unique<CascadeFaceFinder>(*std::move(xml), window);
}

std::vector<FaceCandidate> SuppressOverlaps(std::vector<FaceCandidate> candidates,
                                            float max_overlap) {
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const FaceCandidate& a, const FaceCandidate& b) {
                     return a.confidence > b.confidence;
                   });
  std::vector<FaceCandidate> kept;
  for (const FaceCandidate& candidate : candidates) {
    const bool overlaps =
        std::any_of(kept.begin(), kept.end(), [&](const FaceCandidate& k) {
          return OverlapOfSmaller(k.box, candidate.box) > max_overlap;
        });
    if (!overlaps) kept.push_back(candidate);
  }
  return kept;
}

}  // namespace stache::detector::internal
