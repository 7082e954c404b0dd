// Inputs shared by the detector's tests: the test photos with coordinates
// checked by hand, rotated copies, and every kind of bad input the service
// must refuse.
//
//   const HandCheckedFace& grace = GraceHopper();
//   cv::Mat photo = LoadPhoto(grace);  // fails the test when missing
//   for (const BadImage& bad : BadImages()) Detect(bad.bytes) -> bad.code
#ifndef STACHE_DETECTOR_TESTING_DETECTOR_TEST_INPUTS_H_
#define STACHE_DETECTOR_TESTING_DETECTOR_TEST_INPUTS_H_

#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace stache::detector::testing {

// A test photo with one face, and where its landmarks are: read off the
// photo at 8-12x zoom with a pixel grid (see README, Detector > Tests).
struct HandCheckedFace {
  std::string file;
  cv::Size size;
  cv::Point2f left_eye;  // viewer's left
  cv::Point2f right_eye;
  cv::Point2f nose_base;
  cv::Point2f upper_lip_top;
  cv::Point2f mouth_left;
  cv::Point2f mouth_right;

  // Where a mustache goes: between the nose base and the upper lip.
  cv::Point2f MustacheAnchor() const { return (nose_base + upper_lip_top) / 2; }
  float InterOcularDistance() const;
};

const HandCheckedFace& GraceHopper();  // grace_hopper.jpg, 512x600
const HandCheckedFace& Astronaut();    // astronaut.png, 512x512
std::vector<HandCheckedFace> PhotosWithOneFace();

// The photo's pixels (CV_8UC3); an empty Mat and a test failure when the
// file is missing (run scripts/setup.sh, or set STACHE_TESTDATA_DIR).
cv::Mat LoadPhoto(const std::string& file);

// `image` turned about its centre by `opencv_degrees` (OpenCV's sense:
// positive is counter-clockwise on screen), same size, edges replicated;
// `transform` receives the 2x3 matrix that maps points.
cv::Mat RotateAboutCentre(const cv::Mat& image, double opencv_degrees,
                          cv::Mat* transform);
cv::Point2f MapPoint(const cv::Mat& transform, const cv::Point2f& point);

struct BadImage {
  std::string name;
  std::string bytes;
  absl::StatusCode code;
  // A word the error message must contain, so that a person understands it.
  std::string message_part;
};

// Empty bytes, text, random bytes, truncated JPEG and PNG, corrupt data,
// and tiny PNG and JPEG headers announcing 50000 x 50000 pixels.
std::vector<BadImage> BadImages();

// A JPEG/PNG made only of headers that announce width x height pixels.
std::string PngHeaderClaiming(uint32_t width, uint32_t height);
std::string JpegHeaderClaiming(uint16_t width, uint16_t height);

}  // namespace stache::detector::testing

#endif  // STACHE_DETECTOR_TESTING_DETECTOR_TEST_INPUTS_H_
