// detector_recall_report: recall, false faces, mustache placement and CPU per
// call of the default detector on every test set of issue #16 at once, in
// process (no RPC), each photo sent as JPEG q90 bytes through DetectEncoded
// as the service does. For tuning the finder: one run shows what a change
// buys and what it costs. The tests (detector_binary_test, detector_test)
// hold the floors; this only reports.
//
//   STACHE_TESTDATA_DIR=build/testdata taskset -c 1 build/bin/detector_recall_report
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "detector/detector.h"
#include "detector/testing/group_photos.h"
#include "imaging/image_decoder.h"
#include "imaging/image_encoder.h"
#include "tests/testing/process.h"

namespace stache::detector {
namespace {

double ThreadCpuMs() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

struct Tally {
  int photos = 0;
  int known = 0;
  int found = 0;
  int extra = 0;
  double cpu_ms = 0;
  std::vector<float> anchor_errors;
};

float Median(std::vector<float> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// The smallest CPU time of `repeats` calls on `jpeg`; the last detection.
Detection DetectTimed(const FaceDetector& detector, const std::string& jpeg, int repeats,
                      double* cpu_ms) {
  Detection last;
  *cpu_ms = 1e18;
  for (int i = 0; i < repeats; ++i) {
    const double start = ThreadCpuMs();
    absl::StatusOr<Detection> detection = detector.DetectEncoded(jpeg, {});
    *cpu_ms = std::min(*cpu_ms, ThreadCpuMs() - start);
    if (!detection.ok()) {
      std::fprintf(stderr, "Detect failed: %s\n", detection.status().ToString().c_str());
      std::exit(1);
    }
    last = *std::move(detection);
  }
  return last;
}

void Count(const std::vector<testing::KnownFace>& known, const Detection& found,
           Tally* tally) {
  tally->known += static_cast<int>(known.size());
  for (const testing::KnownFace& face : known) {
    const auto match =
        std::find_if(found.faces.begin(), found.faces.end(),
                     [&](const Face& f) { return testing::BoxMatches(f.box, face); });
    if (match == found.faces.end()) continue;
    ++tally->found;
    if (face.has_landmarks) {
      const cv::Point2f anchor =
          (match->landmarks.nose_base + match->landmarks.upper_lip_top) * 0.5f;
      const cv::Point2f error = anchor - face.mustache_anchor;
      tally->anchor_errors.push_back(std::hypot(error.x, error.y) /
                                     face.InterOcularDistance());
    }
  }
  for (const Face& f : found.faces) {
    if (std::none_of(known.begin(), known.end(), [&](const testing::KnownFace& face) {
          return testing::BoxMatches(f.box, face);
        })) {
      ++tally->extra;
    }
  }
}

void Print(const char* set, const Tally& tally) {
  std::printf("%-28s found %3d of %3d, %2d extra, cpu %7.1f ms per photo", set,
              tally.found, tally.known, tally.extra,
              tally.photos > 0 ? tally.cpu_ms / tally.photos : 0.0);
  if (!tally.anchor_errors.empty()) {
    std::printf(", anchor median %.3f, over 0.1: %ld", Median(tally.anchor_errors),
                std::count_if(tally.anchor_errors.begin(), tally.anchor_errors.end(),
                              [](float e) { return e > 0.1f; }));
  }
  std::printf("\n");
}

std::string Jpeg(const cv::Mat& pixels) {
  return imaging::EncodeImage(pixels, imaging::ImageFormat::kJpeg, 90).value();
}

Tally RunSet(const FaceDetector& detector, const std::vector<testing::GroupPhoto>& photos,
             bool verbose) {
  Tally tally;
  for (const testing::GroupPhoto& photo : photos) {
    double cpu_ms = 0;
    const Detection found = DetectTimed(detector, Jpeg(photo.pixels), 1, &cpu_ms);
    Tally one;
    Count(photo.faces, found, &one);
    if (verbose) {
      std::printf("  %-26s %dx%d found %d of %d, %d extra, %.1f ms\n", photo.name.c_str(),
                  photo.pixels.cols, photo.pixels.rows, one.found, one.known, one.extra,
                  cpu_ms);
    }
    Count(photo.faces, found, &tally);
    tally.cpu_ms += cpu_ms;
    ++tally.photos;
  }
  return tally;
}

int Main() {
  cv::setNumThreads(1);
  const bool verbose = std::getenv("STACHE_RECALL_VERBOSE") != nullptr;
  std::unique_ptr<FaceDetector> detector = FaceDetector::Create(DetectorConfig{}).value();

  // The portraits of detector_benchmark: grace_hopper.jpg at 1 and 12 MP.
  const cv::Mat grace = cv::imread(stache::testing::TestDataPath("grace_hopper.jpg"));
  for (double megapixels : {1.0, 12.0}) {
    const double scale = std::sqrt(megapixels * 1e6 / (grace.cols * grace.rows));
    cv::Mat resized;
    cv::resize(grace, resized, cv::Size(), scale, scale,
               scale < 1 ? cv::INTER_AREA : cv::INTER_CUBIC);
    double cpu_ms = 0;
    const Detection found = DetectTimed(*detector, Jpeg(resized), 5, &cpu_ms);
    std::printf(
        "portrait %4.0f MP %-15s faces %zu, cpu %.1f ms (best of 5)\n", megapixels,
        (std::to_string(resized.cols) + "x" + std::to_string(resized.rows)).c_str(),
        found.faces.size(), cpu_ms);
  }

  std::vector<testing::GroupPhoto> composited = testing::MakeGroupPhotos().value();
  {
    double cpu_ms = 0;
    const Detection found =
        DetectTimed(*detector, Jpeg(composited[1].pixels), 5, &cpu_ms);
    std::printf("group %-22s faces %zu, cpu %.1f ms (best of 5)\n",
                composited[1].name.c_str(), found.faces.size(), cpu_ms);
  }
  Print("composited group photos", RunSet(*detector, composited, verbose));
  Print("PASCAL group photos",
        RunSet(*detector, testing::RealGroupPhotos().value(), verbose));
  Print("12 MP group photo",
        RunSet(*detector, {testing::MakeLargeGroupPhoto().value()}, verbose));

  Tally negatives;
  for (const std::string& file : testing::FaceFreePhotoFiles()) {
    const std::string bytes =
        stache::testing::ReadFileOrDie(stache::testing::TestDataPath(file));
    double cpu_ms = 0;
    const Detection found = DetectTimed(*detector, bytes, 1, &cpu_ms);
    if (verbose || !found.faces.empty()) {
      std::printf("  %-26s faces %zu, %.1f ms\n", file.c_str(), found.faces.size(),
                  cpu_ms);
    }
    negatives.extra += static_cast<int>(found.faces.size());
    negatives.cpu_ms += cpu_ms;
    ++negatives.photos;
  }
  Print("photos without people", negatives);
  return 0;
}

}  // namespace
}  // namespace stache::detector

int main() { return stache::detector::Main(); }
