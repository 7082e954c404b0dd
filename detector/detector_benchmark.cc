// Detect on the grace_hopper photo resized to 0.3, 1 and 12 megapixels: the
// core call on decoded pixels (BM_Detect), and decode + detect from JPEG
// bytes as the RPC does it (BM_DetectEncoded). One thread, like one core.
//
//   STACHE_TESTDATA_DIR=build/testdata build/bin/detector_benchmark
#include <benchmark/benchmark.h>

#include <cmath>
#include <map>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <tuple>

#include "absl/synchronization/mutex.h"
#include "detector/detector.h"
#include "imaging/image_decoder.h"
#include "tests/testing/process.h"

namespace stache::detector {
namespace {

const int kDefaultDetectionSize = DetectorConfig().detection_size_px;

// The photo at `megapixels`, same aspect ratio; empty, and the benchmark
// skipped, when the photo is missing.
cv::Mat PhotoAt(double megapixels, benchmark::State& state) {
  const cv::Mat photo = cv::imread(testing::TestDataPath("grace_hopper.jpg"));
  if (photo.empty()) {
    state.SkipWithError("grace_hopper.jpg not found: set STACHE_TESTDATA_DIR");
    return photo;
  }
  const double scale = std::sqrt(megapixels * 1e6 / (photo.cols * photo.rows));
  cv::Mat resized;
  cv::resize(photo, resized, cv::Size(), scale, scale,
             scale < 1 ? cv::INTER_AREA : cv::INTER_CUBIC);
  return resized;
}

// Models load once per configuration (the 68-point model takes a second).
const FaceDetector& SharedDetector(FaceFinderKind finder, bool landmark_model,
                                   int detection_size_px) {
  // Benchmark threads start together: one makes it, the others wait.
  static absl::Mutex mutex(absl::kConstInit);
  absl::MutexLock lock(&mutex);
  static auto* detectors = new std::map<std::tuple<FaceFinderKind, bool, int>,
                                        std::unique_ptr<FaceDetector>>();
  std::unique_ptr<FaceDetector>& detector =
      (*detectors)[{finder, landmark_model, detection_size_px}];
  if (detector == nullptr) {
    DetectorConfig config{.face_finder = finder, .detection_size_px = detection_size_px};
    if (!landmark_model) config.landmark_model_path.clear();
    detector = FaceDetector::Create(config).value();
  }
  return *detector;
}

// Arguments: megapixels x 10, finder (0 hog, 1 cascade), landmark model
// (0/1), detection size (long side, px).
void BM_Detect(benchmark::State& state) {
  cv::setNumThreads(1);
  const cv::Mat image = PhotoAt(state.range(0) / 10.0, state);
  if (image.empty()) return;
  const FaceDetector& detector = SharedDetector(
      state.range(1) == 1 ? FaceFinderKind::kCascade : FaceFinderKind::kHog,
      state.range(2) == 1, static_cast<int>(state.range(3)));
  size_t faces = 0;
  for (auto _ : state) {
    absl::StatusOr<Detection> detection = detector.Detect(image, {});
    if (!detection.ok()) {
      state.SkipWithError(std::string(detection.status().message()).c_str());
      return;
    }
    faces = detection->faces.size();
    benchmark::DoNotOptimize(detection);
  }
  state.counters["faces"] = faces;
  state.SetLabel(std::to_string(image.cols) + "x" + std::to_string(image.rows));
}
BENCHMARK(BM_Detect)
    // The default configuration at each size,
    ->ArgsProduct({{3, 10, 120}, {0}, {1}, {kDefaultDetectionSize}})
    // and the alternatives at 1 MP.
    ->ArgsProduct({{10}, {0, 1}, {0, 1}, {320, 400, 480}})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

void BM_DetectEncoded(benchmark::State& state) {
  cv::setNumThreads(1);
  const cv::Mat image = PhotoAt(state.range(0) / 10.0, state);
  if (image.empty()) return;
  const std::string jpeg =
      imaging::EncodeImage(image, imaging::ImageFormat::kJpeg, 90).value();
  const FaceDetector& detector =
      SharedDetector(FaceFinderKind::kHog, true, kDefaultDetectionSize);
  double decode_ms = 0;
  for (auto _ : state) {
    absl::StatusOr<Detection> detection = detector.DetectEncoded(jpeg, {});
    if (!detection.ok()) {
      state.SkipWithError(std::string(detection.status().message()).c_str());
      return;
    }
    decode_ms += detection->decode_duration_ms;
    benchmark::DoNotOptimize(detection);
  }
  state.counters["decode_ms"] = decode_ms / state.iterations();
  state.SetLabel(std::to_string(image.cols) + "x" + std::to_string(image.rows));
}
BENCHMARK(BM_DetectEncoded)
    ->Arg(3)
    ->Arg(10)
    ->Arg(120)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

// Calls per second with one and two threads sharing one detector, as the
// server's threads do: nothing is serialised, so two cores should give
// about twice the calls.
void BM_DetectThroughput(benchmark::State& state) {
  cv::setNumThreads(1);
  static const cv::Mat image = PhotoAt(1.0, state);
  if (image.empty()) return;
  const FaceDetector& detector =
      SharedDetector(FaceFinderKind::kHog, true, kDefaultDetectionSize);
  for (auto _ : state) {
    absl::StatusOr<Detection> detection = detector.Detect(image, {});
    benchmark::DoNotOptimize(detection);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DetectThroughput)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace stache::detector
