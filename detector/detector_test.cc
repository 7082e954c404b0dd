#include "detector/detector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::detector {
namespace {

using ::stache::testing::IsOk;
using ::stache::testing::TestDataPath;

cv::Mat Rotate(const cv::Mat& image, double opencv_angle) {
  const cv::Point2f centre(image.cols / 2.f, image.rows / 2.f);
  cv::Mat out;
  cv::warpAffine(image, out, cv::getRotationMatrix2D(centre, opencv_angle, 1.0), image.size(),
                 cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  return out;
}

void Dump(const std::string& name, const cv::Mat& image, const Detection& d) {
  const char* dir = std::getenv("STACHE_DETECTOR_DEBUG_DIR");
  cv::Mat canvas = image.clone();
  for (const Face& f : d.faces) {
    cv::rectangle(canvas, f.box, {0, 255, 0}, 2);
    const FaceLandmarks& l = f.landmarks;
    for (const cv::Point2f& p : {l.left_eye_center, l.right_eye_center, l.nose_base,
                                 l.upper_lip_top, l.mouth_left, l.mouth_right}) {
      cv::circle(canvas, p, 3, {0, 0, 255}, -1);
    }
    std::printf("%s box=(%.1f,%.1f,%.1f,%.1f) conf=%.3f roll=%.2f le=(%.1f,%.1f) re=(%.1f,%.1f) nose=(%.1f,%.1f) lip=(%.1f,%.1f) ml=(%.1f,%.1f) mr=(%.1f,%.1f) src=%d\n",
                name.c_str(), f.box.x, f.box.y, f.box.width, f.box.height, f.confidence,
                f.roll_degrees, l.left_eye_center.x, l.left_eye_center.y, l.right_eye_center.x,
                l.right_eye_center.y, l.nose_base.x, l.nose_base.y, l.upper_lip_top.x,
                l.upper_lip_top.y, l.mouth_left.x, l.mouth_left.y, l.mouth_right.x,
                l.mouth_right.y, static_cast<int>(f.landmark_source));
  }
  std::printf("%s: %zu faces, %.2f ms\n", name.c_str(), d.faces.size(), d.detect_duration_ms);
  if (dir != nullptr) cv::imwrite(std::string(dir) + "/" + name + ".png", canvas);
  if (dir != nullptr && !d.faces.empty()) {
    cv::Rect r = cv::Rect(d.faces[0].box) & cv::Rect(0, 0, image.cols, image.rows);
    cv::Mat zoom;
    cv::resize(image(r), zoom, {}, 400.0 / r.width, 400.0 / r.width, cv::INTER_CUBIC);
    const FaceLandmarks& l = d.faces[0].landmarks;
    for (const cv::Point2f& p : {l.left_eye_center, l.right_eye_center, l.nose_base,
                                 l.upper_lip_top, l.mouth_left, l.mouth_right}) {
      cv::circle(zoom, (p - cv::Point2f(r.x, r.y)) * (400.0 / r.width), 4, {0, 0, 255}, -1);
    }
    cv::imwrite(std::string(dir) + "/" + name + "_zoom.png", zoom);
  }
}

TEST(Explore, Average) {
  auto detector = FaceDetector::Create(DetectorConfig{});
  ASSERT_THAT(detector, IsOk());
  for (const char* photo : {"grace_hopper.jpg", "astronaut.png"}) {
    cv::Mat image = cv::imread(TestDataPath(photo));
    for (int flip = 0; flip < 2; ++flip) {
      cv::Mat src = image.clone();
      if (flip) cv::flip(image, src, 1);
      auto d = (*detector)->Detect(src, {});
      ASSERT_THAT(d, IsOk());
      const Face& f = d->faces[0];
      const FaceLandmarks& l = f.landmarks;
      cv::Point2f mid = (l.left_eye_center + l.right_eye_center) / 2;
      cv::Point2f dv = l.right_eye_center - l.left_eye_center;
      float iod = std::hypot(dv.x, dv.y);
      float c = dv.x / iod, sn = dv.y / iod;
      auto frame = [&](cv::Point2f p) { cv::Point2f q = p - mid; return cv::Point2f((q.x * c + q.y * sn) / iod, (-q.x * sn + q.y * c) / iod); };
      cv::Point2f centre(f.box.x + f.box.width / 2, f.box.y + f.box.height / 2);
      cv::Point2f cm = frame(centre);
      std::printf("%s flip=%d w=%.1f iod/w=%.3f centre_below_eyes/w=%.3f (x %.3f) nose=(%.3f,%.3f) lip=(%.3f,%.3f) ml=(%.3f,%.3f) mr=(%.3f,%.3f)\n",
        photo, flip, f.box.width, iod / f.box.width, cm.y * iod / f.box.width, cm.x * iod / f.box.width,
        frame(l.nose_base).x, frame(l.nose_base).y, frame(l.upper_lip_top).x, frame(l.upper_lip_top).y,
        frame(l.mouth_left).x, frame(l.mouth_left).y, frame(l.mouth_right).x, frame(l.mouth_right).y);
    }
  }
}

TEST(Explore, All) {
  for (int mode = 0; mode < 4; ++mode) {
    DetectorConfig config;
    if (mode & 1) config.face_finder = FaceFinderKind::kCascade;
    if (mode & 2) config.landmark_model_path = "";
    auto detector = FaceDetector::Create(config);
    ASSERT_THAT(detector, IsOk());
    for (const char* photo : {"grace_hopper.jpg", "astronaut.png", "coffee.png", "chelsea.png"}) {
      cv::Mat image = cv::imread(TestDataPath(photo));
      for (double angle : {0.0, 20.0, -20.0}) {
        cv::Mat src = angle == 0 ? image : Rotate(image, angle);
        auto d = (*detector)->Detect(src, {});
        ASSERT_THAT(d, IsOk());
        Dump(std::string("m") + std::to_string(mode) + "_" + photo + "_" + std::to_string(int(angle)), src, *d);
      }
    }
  }
}

}  // namespace
}  // namespace stache::detector
