// Detect on the grace_hopper photo resized to 0.3, 1 and 12 megapixels: the
// core call on decoded pixels (BM_Detect), and decode + detect from JPEG
// bytes as the RPC does it (BM_DetectEncoded); and on group photos with 12
// and 9 faces of 5-9% of the long side at 1 and 12 MP (BM_DetectGroupEncoded,
// see detector/testing/group_photos.h); and the coarse cascade's scan alone,
// OpenCV's evaluator against ours (BM_CascadeScan). One thread, like one core. The
// finder argument: 0 hog (the default before issue #16), 1 cascade,
// 2 coarse_to_fine (the default since).
//
//   STACHE_TESTDATA_DIR=build/testdata build/bin/detector_benchmark
#include <benchmark/benchmark.h>

#include <cmath>
#include <map>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <string>
#include <tuple>

#include "absl/synchronization/mutex.h"
#include "detector/detector.h"
#include "detector/internal/lbp_cascade.h"
#include "detector/internal/model_files.h"
#include "detector/testing/group_photos.h"
#include "imaging/image_decoder.h"
#include "imaging/image_encoder.h"
#include "tests/testing/process.h"

namespace stache::detector {
namespace {

const int kDefaultDetectionSize = DetectorConfig().detection_size_px;

// The photo at `megapixels`, same aspect ratio; empty, and the benchmark
// skipped, when the photo is missing.
cv::Mat PhotoAt(double megapixels, benchmark::State& state) {
  const cv::Mat photo = cv::imread(stache::testing::TestDataPath("grace_hopper.jpg"));
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

FaceFinderKind FinderArg(int64_t arg) {
  return arg == 0   ? FaceFinderKind::kHog
         : arg == 1 ? FaceFinderKind::kCascade
                    : FaceFinderKind::kCoarseToFine;
}

// Arguments: megapixels x 10, finder (0 hog, 1 cascade, 2 coarse_to_fine),
// landmark model (0/1), detection size (long side, px; hog and cascade).
void BM_Detect(benchmark::State& state) {
  cv::setNumThreads(1);
  const cv::Mat image = PhotoAt(state.range(0) / 10.0, state);
  if (image.empty()) return;
  const FaceDetector& detector = SharedDetector(
      FinderArg(state.range(1)), state.range(2) == 1, static_cast<int>(state.range(3)));
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
    // The default configuration at each size, and the one before #16,
    ->ArgsProduct({{3, 10, 120}, {0, 2}, {1}, {kDefaultDetectionSize}})
    // and the alternatives at 1 MP.
    ->ArgsProduct({{10}, {0, 1}, {0, 1}, {320, 400, 480}})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

// Decode + detect, as the RPC does it, on `jpeg` with the finder of
// argument 1.
void DetectEncoded(const std::string& jpeg, const std::string& label,
                   benchmark::State& state) {
  const FaceDetector& detector =
      SharedDetector(FinderArg(state.range(1)), true, kDefaultDetectionSize);
  double decode_ms = 0;
  size_t faces = 0;
  for (auto _ : state) {
    absl::StatusOr<Detection> detection = detector.DetectEncoded(jpeg, {});
    if (!detection.ok()) {
      state.SkipWithError(std::string(detection.status().message()).c_str());
      return;
    }
    decode_ms += detection->decode_duration_ms;
    faces = detection->faces.size();
    benchmark::DoNotOptimize(detection);
  }
  state.counters["decode_ms"] = decode_ms / state.iterations();
  state.counters["faces"] = faces;
  state.SetLabel(label);
}

// Arguments: megapixels x 10, finder.
void BM_DetectEncoded(benchmark::State& state) {
  cv::setNumThreads(1);
  const cv::Mat image = PhotoAt(state.range(0) / 10.0, state);
  if (image.empty()) return;
  DetectEncoded(imaging::EncodeImage(image, imaging::ImageFormat::kJpeg, 90).value(),
                std::to_string(image.cols) + "x" + std::to_string(image.rows), state);
}
BENCHMARK(BM_DetectEncoded)
    ->ArgsProduct({{3, 10, 120}, {0, 2}})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

// A group photo as a JPEG q90: 1 MP with 12 faces (Arg 10), 12 MP with 9
// (Arg 120); empty when the test photos are missing.
std::string GroupJpeg(int64_t megapixels_x10, std::string* label) {
  absl::StatusOr<testing::GroupPhoto> photo;
  if (megapixels_x10 == 120) {
    photo = testing::MakeLargeGroupPhoto();
  } else {
    absl::StatusOr<std::vector<testing::GroupPhoto>> photos = testing::MakeGroupPhotos();
    if (!photos.ok()) return "";
    photo = (*photos)[1];  // group_grass_1mp
  }
  if (!photo.ok()) return "";
  *label = photo->name + ", " + std::to_string(photo->faces.size()) + " faces";
  return imaging::EncodeImage(photo->pixels, imaging::ImageFormat::kJpeg, 90).value();
}

// Arguments: megapixels x 10 (10 or 120), finder.
void BM_DetectGroupEncoded(benchmark::State& state) {
  cv::setNumThreads(1);
  std::string label;
  const std::string jpeg = GroupJpeg(state.range(0), &label);
  if (jpeg.empty()) {
    state.SkipWithError("the group photos need the test data: set STACHE_TESTDATA_DIR");
    return;
  }
  DetectEncoded(jpeg, label, state);
}
BENCHMARK(BM_DetectGroupEncoded)
    ->ArgsProduct({{10, 120}, {0, 2}})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

// The coarse finder's cascade alone, one scan of every window size on the
// 1 MP group photo's grey copy at the coarse finder's scale (520x390):
// OpenCV's cv::CascadeClassifier (Arg 0) against LbpCascade (Arg 1), which
// accept the same windows (lbp_cascade_test).
void BM_CascadeScan(benchmark::State& state) {
  cv::setNumThreads(1);
  absl::StatusOr<std::vector<testing::GroupPhoto>> photos = testing::MakeGroupPhotos();
  if (!photos.ok()) {
    state.SkipWithError("the group photos need the test data: set STACHE_TESTDATA_DIR");
    return;
  }
  cv::Mat small, grey;
  cv::resize((*photos)[1].pixels, small, cv::Size(520, 390), 0, 0, cv::INTER_AREA);
  cv::cvtColor(small, grey, cv::COLOR_BGR2GRAY);
  const std::string xml =
      internal::ReadCascadeFile(DetectorConfig().coarse_cascade_path, "coarse cascade")
          .value();
  const std::unique_ptr<cv::CascadeClassifier> opencv = internal::CascadeFromXml(xml);
  const internal::LbpCascade ours = internal::LbpCascade::FromXml(xml).value();
  size_t hits = 0;
  for (auto _ : state) {
    std::vector<cv::Rect> found;
    if (state.range(0) == 0) {
      std::vector<int> counts;
      opencv->detectMultiScale(grey, found, counts, 1.1, 0);
    } else {
      ours.Scan(grey, 1.1, cv::Size(), cv::Size(), &found);
    }
    hits = found.size();
  }
  state.SetLabel(std::to_string(hits) + " windows accepted");
}
BENCHMARK(BM_CascadeScan)
    ->Arg(0)
    ->Arg(1)
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
      SharedDetector(DetectorConfig().face_finder, true, kDefaultDetectionSize);
  for (auto _ : state) {
    absl::StatusOr<Detection> detection = detector.Detect(image, {});
    benchmark::DoNotOptimize(detection);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DetectThroughput)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace stache::detector
