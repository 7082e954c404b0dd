// The upload pipeline in one process, without RPC, storage or HTTP: decode,
// detect, draw and encode grace_hopper.jpg scaled to 1 and 12 MP and encoded
// as JPEG q90 (the photo and sizes of detector_benchmark and
// overlay_benchmark), and group photos with 12 faces at 1 MP and 9 at 12 MP,
// faces of 5-9% of the long side (detector/testing/group_photos.h; the
// "group" cases). Set against uploads of the same files through the
// gateway (scripts/load_test.sh), it prices the microservice hops; the
// figures are in README.md#pipeline-and-load.
//
//   BM_Pipeline/{portrait,group}   the services' core calls chained as the
//                                  gateway chains the RPCs: DetectEncoded
//                                  (decode + detect), then Apply (decode again
//                                  + draw + encode)
//   BM_PipelineDecodeOnce/{...}    what a single process needs: one decode,
//                                  Detect on the pixels, draw, encode
//
//   build/bin/pipeline_benchmark --benchmark_repetitions=5
//
// With STACHE_PIPELINE_PHOTO_DIR=<dir> it also writes the photos it measures
// there (grace_hopper_1mp.jpg, grace_hopper_12mp.jpg, group_1mp.jpg,
// group_12mp.jpg), for scripts/load_test.sh --photo; any one benchmark makes
// all four:
//
//   export STACHE_PIPELINE_PHOTO_DIR=/tmp/photos
//   build/bin/pipeline_benchmark --benchmark_filter=Once/portrait/MP:1/
//   --benchmark_min_time=0.1
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "detector/detector.h"
#include "detector/testing/group_photos.h"
#include "imaging/image_decoder.h"
#include "imaging/image_encoder.h"
#include "overlay/mustache_overlay.h"
#include "overlay/mustache_renderer.h"
#include "overlay/mustache_style.h"
#include "tests/testing/process.h"

namespace stache {
namespace {

// grace_hopper.jpg scaled to about `megapixels` and encoded as JPEG q90, as
// an upload would carry it; empty when the photo is missing.
std::string MakePhoto(int megapixels) {
  const std::string original =
      testing::ReadFileOrDie(testing::TestDataPath("grace_hopper.jpg"));
  absl::StatusOr<imaging::DecodedImage> decoded = imaging::DecodeImage(original, {});
  if (!decoded.ok()) return "";
  const double scale = std::sqrt(megapixels * 1e6 / decoded->pixels.total());
  cv::Mat scaled;
  cv::resize(decoded->pixels, scaled, {}, scale, scale, cv::INTER_CUBIC);
  std::string jpeg = *imaging::EncodeImage(scaled, imaging::ImageFormat::kJpeg, 90);
  if (const char* dir = std::getenv("STACHE_PIPELINE_PHOTO_DIR"); dir != nullptr) {
    std::ofstream(absl::StrCat(dir, "/grace_hopper_", megapixels, "mp.jpg"),
                  std::ios::binary)
        << jpeg;
  }
  return jpeg;
}

// The group photo of about `megapixels` as JPEG q90; empty when the test
// photos are missing.
std::string MakeGroupPhoto(int megapixels) {
  absl::StatusOr<detector::testing::GroupPhoto> photo;
  if (megapixels == 12) {
    photo = detector::testing::MakeLargeGroupPhoto();
  } else {
    absl::StatusOr<std::vector<detector::testing::GroupPhoto>> photos =
        detector::testing::MakeGroupPhotos();
    if (!photos.ok()) return "";
    photo = (*photos)[1];  // group_grass_1mp, 12 faces
  }
  if (!photo.ok()) return "";
  std::string jpeg =
      *imaging::EncodeImage(photo->pixels, imaging::ImageFormat::kJpeg, 90);
  if (const char* dir = std::getenv("STACHE_PIPELINE_PHOTO_DIR"); dir != nullptr) {
    std::ofstream(absl::StrCat(dir, "/group_", megapixels, "mp.jpg"), std::ios::binary)
        << jpeg;
  }
  return jpeg;
}

// Both sizes made at the first call (thread-safe static initialisation), as
// the 12 MP photos take a while; so any benchmark run writes all four.
const std::string& Photo(int megapixels, bool group) {
  static const auto* const photos =
      new std::map<std::pair<int, bool>, std::string>{{{1, false}, MakePhoto(1)},
                                                      {{12, false}, MakePhoto(12)},
                                                      {{1, true}, MakeGroupPhoto(1)},
                                                      {{12, true}, MakeGroupPhoto(12)}};
  return photos->at({megapixels, group});
}

// The services' defaults: HOG with the 68-point model; handlebar, JPEG q90.
const detector::FaceDetector& Detector() {
  static const detector::FaceDetector* const detector =
      detector::FaceDetector::Create({}).value().release();
  return *detector;
}
const overlay::MustacheOverlay& Overlay() {
  static const overlay::MustacheOverlay* const overlay =
      overlay::MustacheOverlay::Create({}).value().release();
  return *overlay;
}

// What the gateway forwards from DetectResponse to ApplyRequest.
std::vector<overlay::Face> ToOverlayFaces(const std::vector<detector::Face>& faces) {
  std::vector<overlay::Face> converted;
  for (const detector::Face& face : faces) {
    const detector::FaceLandmarks& l = face.landmarks;
    converted.push_back({.landmarks = {.left_eye_center = l.left_eye_center,
                                       .right_eye_center = l.right_eye_center,
                                       .nose_base = l.nose_base,
                                       .upper_lip_top = l.upper_lip_top,
                                       .mouth_left = l.mouth_left,
                                       .mouth_right = l.mouth_right},
                         .roll_degrees = face.roll_degrees});
  }
  return converted;
}

// The photo at the benchmark's size (Arg: megapixels); nullptr, and the
// benchmark skipped, when the test photos are missing.
const std::string* PhotoOrSkip(benchmark::State& state, bool group) {
  const std::string& photo = Photo(static_cast<int>(state.range(0)), group);
  if (photo.empty()) {
    state.SkipWithError("test photos not found: set STACHE_TESTDATA_DIR");
    return nullptr;
  }
  return &photo;
}

// Both benchmarks at both sizes, wall clock and the process's CPU time (the
// detector and OpenCV may use more than one thread, as in the services).
void AtBothSizes(benchmark::internal::Benchmark* benchmark) {
  benchmark->ArgName("MP")
      ->Arg(1)
      ->Arg(12)
      ->Unit(benchmark::kMillisecond)
      ->MeasureProcessCPUTime()
      ->UseRealTime();
}

double Ms(absl::Duration duration) { return absl::ToDoubleMilliseconds(duration); }

// Per-step wall-clock times, summed over the iterations.
struct StepTimes {
  double decode_ms = 0;
  double detect_ms = 0;
  double draw_ms = 0;
  double encode_ms = 0;
  size_t faces = 0;

  void Report(benchmark::State& state, bool group) const {
    const int megapixels = static_cast<int>(state.range(0));
    const double n = static_cast<double>(state.iterations());
    state.counters["decode_ms"] = decode_ms / n;
    state.counters["detect_ms"] = detect_ms / n;
    state.counters["draw_ms"] = draw_ms / n;
    state.counters["encode_ms"] = encode_ms / n;
    state.counters["faces"] = static_cast<double>(faces);
    state.SetLabel(absl::StrCat(megapixels, " MP JPEG q90", group ? ", group" : "", ", ",
                                Photo(megapixels, group).size(), " bytes"));
  }
};

void BM_Pipeline(benchmark::State& state, bool group) {
  const std::string* photo = PhotoOrSkip(state, group);
  if (photo == nullptr) return;
  // Loaded before timing starts (the 68-point model takes a second).
  const detector::FaceDetector& detector = Detector();
  const overlay::MustacheOverlay& overlay = Overlay();
  StepTimes times;
  for (auto _ : state) {
    absl::StatusOr<detector::Detection> detection = detector.DetectEncoded(*photo, {});
    if (!detection.ok()) {
      state.SkipWithError(std::string(detection.status().message()).c_str());
      return;
    }
    absl::StatusOr<overlay::OverlayResult> result =
        overlay.Apply({.image = *photo, .faces = ToOverlayFaces(detection->faces)});
    if (!result.ok()) {
      state.SkipWithError(std::string(result.status().message()).c_str());
      return;
    }
    times.decode_ms += detection->decode_duration_ms + Ms(result->decode_duration);
    times.detect_ms += detection->detect_duration_ms;
    times.draw_ms += Ms(result->draw_duration);
    times.encode_ms += Ms(result->encode_duration);
    times.faces = detection->faces.size();
    benchmark::DoNotOptimize(result->image.data());
  }
  times.Report(state, group);
}
BENCHMARK_CAPTURE(BM_Pipeline, portrait, false)->Apply(AtBothSizes);
BENCHMARK_CAPTURE(BM_Pipeline, group, true)->Apply(AtBothSizes);

void BM_PipelineDecodeOnce(benchmark::State& state, bool group) {
  const std::string* photo = PhotoOrSkip(state, group);
  if (photo == nullptr) return;
  const std::vector<overlay::MustacheStyle> styles = overlay::MakeBuiltInStyles();
  const overlay::MustacheStyle& handlebar = *overlay::FindStyle(styles, "handlebar");
  const detector::FaceDetector& detector = Detector();
  StepTimes times;
  for (auto _ : state) {
    absl::Time step = absl::Now();
    absl::StatusOr<imaging::DecodedImage> decoded = imaging::DecodeImage(*photo, {});
    if (!decoded.ok()) {
      state.SkipWithError(std::string(decoded.status().message()).c_str());
      return;
    }
    cv::Mat& pixels = decoded->pixels;
    times.decode_ms += Ms(absl::Now() - step);
    step = absl::Now();
    absl::StatusOr<detector::Detection> detection = detector.Detect(pixels, {});
    if (!detection.ok()) {
      state.SkipWithError(std::string(detection.status().message()).c_str());
      return;
    }
    times.detect_ms += Ms(absl::Now() - step);
    step = absl::Now();
    for (const overlay::Face& face : ToOverlayFaces(detection->faces)) {
      absl::StatusOr<overlay::MustachePlacement> placement =
          overlay::PlaceMustache(face, pixels.size());
      if (!placement.ok() || !overlay::DrawMustache(*placement, handlebar, pixels).ok()) {
        state.SkipWithError("cannot draw the mustache");
        return;
      }
    }
    times.draw_ms += Ms(absl::Now() - step);
    step = absl::Now();
    absl::StatusOr<std::string> jpeg =
        imaging::EncodeImage(pixels, imaging::ImageFormat::kJpeg, 90);
    times.encode_ms += Ms(absl::Now() - step);
    times.faces = detection->faces.size();
    benchmark::DoNotOptimize(jpeg);
  }
  times.Report(state, group);
}
BENCHMARK_CAPTURE(BM_PipelineDecodeOnce, portrait, false)->Apply(AtBothSizes);
BENCHMARK_CAPTURE(BM_PipelineDecodeOnce, group, true)->Apply(AtBothSizes);

}  // namespace
}  // namespace stache
