#include "detector/testing/detector_test_inputs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "tests/testing/process.h"

namespace stache::detector::testing {
namespace {

void AppendBigEndian(std::string* out, uint32_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

uint32_t Crc32(const std::string& data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : data) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void AppendPngChunk(std::string* png, const std::string& type, const std::string& data) {
  AppendBigEndian(png, static_cast<uint32_t>(data.size()), 4);
  png->append(type + data);
  AppendBigEndian(png, Crc32(type + data), 4);
}

std::string EncodePng(const cv::Mat& image) {
  std::vector<uchar> bytes;
  cv::imencode(".png", image, bytes);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

float HandCheckedFace::InterOcularDistance() const {
  const cv::Point2f delta = right_eye - left_eye;
  return std::hypot(delta.x, delta.y);
}

const HandCheckedFace& GraceHopper() {
  static const HandCheckedFace face{.file = "grace_hopper.jpg",
                                    .size = {512, 600},
                                    .left_eye = {223, 189},
                                    .right_eye = {303, 187},
                                    .nose_base = {268, 253},
                                    .upper_lip_top = {268, 271},
                                    .mouth_left = {231, 280},
                                    .mouth_right = {303, 276}};
  return face;
}

const HandCheckedFace& Astronaut() {
  static const HandCheckedFace face{.file = "astronaut.png",
                                    .size = {512, 512},
                                    .left_eye = {203, 102},
                                    .right_eye = {246, 104},
                                    .nose_base = {224, 133},
                                    .upper_lip_top = {224, 139},
                                    .mouth_left = {202, 141},
                                    .mouth_right = {242, 142}};
  return face;
}

std::vector<HandCheckedFace> PhotosWithOneFace() { return {GraceHopper(), Astronaut()}; }

cv::Mat LoadPhoto(const std::string& file) {
  const std::string path = stache::testing::TestDataPath(file);
  cv::Mat image = cv::imread(path, cv::IMREAD_COLOR);
  if (image.empty()) {
    ADD_FAILURE() << "cannot read " << path
                  << ": run scripts/setup.sh or set STACHE_TESTDATA_DIR";
  }
  return image;
}

cv::Mat RotateAboutCentre(const cv::Mat& image, double opencv_degrees,
                          cv::Mat* transform) {
  const cv::Point2f centre(image.cols / 2.f, image.rows / 2.f);
  *transform = cv::getRotationMatrix2D(centre, opencv_degrees, 1.0);
  cv::Mat rotated;
  cv::warpAffine(image, rotated, *transform, image.size(), cv::INTER_LINEAR,
                 cv::BORDER_REPLICATE);
  return rotated;
}

cv::Point2f MapPoint(const cv::Mat& transform, const cv::Point2f& point) {
  std::vector<cv::Point2f> points = {point};
  cv::transform(points, points, transform);
  return points[0];
}

std::string PngHeaderClaiming(uint32_t width, uint32_t height) {
  std::string png = "\x89PNG\r\n\x1a\n";
  std::string header;
  AppendBigEndian(&header, width, 4);
  AppendBigEndian(&header, height, 4);
  header += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB
  AppendPngChunk(&png, "IHDR", header);
  // A few bytes of zlib stream: a decoder would inflate it for ever.
  AppendPngChunk(&png, "IDAT", std::string("\x78\x9c\xed\xc1\x01\x0d\x00\x00\x00", 9));
  AppendPngChunk(&png, "IEND", "");
  return png;
}

std::string JpegHeaderClaiming(uint16_t width, uint16_t height) {
  std::string jpeg = "\xFF\xD8";
  jpeg += "\xFF\xC0";  // baseline frame header
  AppendBigEndian(&jpeg, 17, 2);
  jpeg.push_back(8);
  AppendBigEndian(&jpeg, height, 2);
  AppendBigEndian(&jpeg, width, 2);
  jpeg += std::string("\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01", 10);
  jpeg += "\xFF\xDA";  // start of scan
  AppendBigEndian(&jpeg, 12, 2);
  jpeg += std::string("\x03\x01\x00\x02\x11\x03\x11\x00\x3F\x00", 10);
  jpeg += std::string(64, '\x55');  // a little entropy-coded data
  jpeg += "\xFF\xD9";
  return jpeg;
}

std::vector<BadImage> BadImages() {
  const std::string jpeg =
      stache::testing::ReadFileOrDie(stache::testing::TestDataPath("grace_hopper.jpg"));
  const std::string png =
      stache::testing::ReadFileOrDie(stache::testing::TestDataPath("astronaut.png"));
  std::mt19937 random(7);
  std::string noise(64 * 1024, '\0');
  for (char& c : noise) c = static_cast<char>(random());
  // A valid small PNG whose compressed pixels are then scrambled.
  cv::Mat gradient(64, 64, CV_8UC3);
  for (int y = 0; y < gradient.rows; ++y) {
    gradient.row(y).setTo(cv::Scalar(4 * y, 255 - 4 * y, 128));
  }
  std::string corrupt = EncodePng(gradient);
  for (size_t i = 40; i + 12 < corrupt.size(); ++i) corrupt[i] ^= 0x5A;
  using absl::StatusCode;
  return {
      {"empty", "", StatusCode::kInvalidArgument, "empty"},
      {"text", "this is not a picture, it is a sentence", StatusCode::kInvalidArgument,
       "not an image"},
      {"random_bytes", noise, StatusCode::kInvalidArgument, "not an image"},
      {"truncated_jpeg", jpeg.substr(0, jpeg.size() / 2), StatusCode::kInvalidArgument,
       "truncated"},
      {"jpeg_header_only", jpeg.substr(0, 200), StatusCode::kInvalidArgument,
       "truncated"},
      {"truncated_png", png.substr(0, png.size() / 10), StatusCode::kInvalidArgument,
       "could not be decoded"},
      {"corrupt_png", corrupt, StatusCode::kInvalidArgument, "could not be decoded"},
      {"png_bomb_50000x50000", PngHeaderClaiming(50000, 50000),
       StatusCode::kResourceExhausted, "50000 x 50000"},
      {"jpeg_bomb_50000x50000", JpegHeaderClaiming(50000, 50000),
       StatusCode::kResourceExhausted, "50000 x 50000"},
  };
}

}  // namespace stache::detector::testing
