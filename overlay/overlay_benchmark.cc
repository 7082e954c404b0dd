// Cost of Apply (decode + draw + encode) on 1 and 12 MP JPEG photos with one
// and five faces, twelve small ones, or one in a photo stored sideways, on
// each path (decoding and encoding the whole photo, or changing only the
// mustaches' DCT blocks), of drawing alone per face and style, and Apply's
// throughput on one and two threads.
//
//   build/bin/overlay_benchmark --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <opencv2/imgproc.hpp>
#include <string>
#include <utility>
#include <vector>

#include "imaging/image_encoder.h"
#include "overlay/mustache_overlay.h"
#include "overlay/testing/mustache_measure.h"
#include "tests/testing/images.h"
#include "tests/testing/process.h"

namespace stache::overlay {
namespace {

using ::stache::overlay::testing::GraceHopperFace;
using ::stache::overlay::testing::MakeFace;
using ::stache::overlay::testing::ScaledFace;

// grace_hopper.jpg scaled to about `megapixels`, its face scaled with it,
// and four more faces of the same size on the background.
struct BenchPhoto {
  cv::Mat pixels;
  std::string jpeg;
  std::vector<Face> faces;
};

BenchPhoto MakePhoto(double megapixels) {
  const std::string original =
      stache::testing::ReadFileOrDie(stache::testing::TestDataPath("grace_hopper.jpg"));
  const cv::Mat photo = imaging::DecodeImage(original, {})->pixels;
  const double scale = std::sqrt(megapixels * 1e6 / photo.total());
  BenchPhoto bench;
  cv::resize(photo, bench.pixels, {}, scale, scale, cv::INTER_CUBIC);
  bench.jpeg = *imaging::EncodeImage(bench.pixels, imaging::ImageFormat::kJpeg, 90);
  bench.faces.push_back(ScaledFace(GraceHopperFace(), scale));
  const double inter_ocular = 82 * scale;
  const cv::Size size = bench.pixels.size();
  for (const cv::Point2d& at : {cv::Point2d(0.2, 0.15), cv::Point2d(0.8, 0.15),
                                cv::Point2d(0.2, 0.85), cv::Point2d(0.8, 0.85)}) {
    bench.faces.push_back(
        MakeFace({at.x * size.width, at.y * size.height}, inter_ocular, 8));
  }
  return bench;
}

// Built once (thread-safe static initialisation), as a 12 MP photo takes a
// while to make.
const BenchPhoto& Photo(int megapixels) {
  static const auto* const photos =
      new std::map<int, BenchPhoto>{{1, MakePhoto(1)}, {12, MakePhoto(12)}};
  return photos->at(megapixels);
}

// The service's default: JPEGs kept as JPEG change only in their blocks.
const MustacheOverlay& Overlay() {
  static const MustacheOverlay* const overlay =
      MustacheOverlay::Create({}).value().release();
  return *overlay;
}

// Every photo decoded and encoded whole, as before issue #16.
const MustacheOverlay& PixelOverlay() {
  static const MustacheOverlay* const overlay =
      MustacheOverlay::Create({.edit_jpeg_coefficients = false}).value().release();
  return *overlay;
}

// Args: megapixels, faces, path (0: pixels, 1: JPEG coefficients).
void BM_Apply(benchmark::State& state) {
  const BenchPhoto& photo = Photo(static_cast<int>(state.range(0)));
  const OverlayRequest request{
      .image = photo.jpeg,
      .faces =
          std::vector<Face>(photo.faces.begin(), photo.faces.begin() + state.range(1))};
  const OverlayPath path =
      state.range(2) == 0 ? OverlayPath::kPixels : OverlayPath::kJpegCoefficients;
  const MustacheOverlay& overlay =
      path == OverlayPath::kPixels ? PixelOverlay() : Overlay();
  state.SetLabel(OverlayPathName(path));
  absl::Duration decode, draw, encode;
  for (auto _ : state) {
    absl::StatusOr<OverlayResult> result = overlay.Apply(request);
    if (!result.ok()) {
      state.SkipWithError(std::string(result.status().message()).c_str());
      break;
    }
    if (result->path != path) {
      state.SkipWithError("Apply took the other path");
      break;
    }
    decode += result->decode_duration;
    draw += result->draw_duration;
    encode += result->encode_duration;
    benchmark::DoNotOptimize(result->image.data());
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["decode_ms"] = absl::ToDoubleMilliseconds(decode) / n;
  state.counters["draw_ms"] = absl::ToDoubleMilliseconds(draw) / n;
  state.counters["encode_ms"] = absl::ToDoubleMilliseconds(encode) / n;
}
BENCHMARK(BM_Apply)
    ->ArgNames({"MP", "faces", "path"})
    ->ArgsProduct({{1, 12}, {1, 5}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Runs Apply on `request` through the path state.range(path_arg) names
// (0: pixels, 1: JPEG coefficients), and fails when it takes the other.
void ApplyOnPath(benchmark::State& state, const OverlayRequest& request, int path_arg) {
  const OverlayPath path =
      state.range(path_arg) == 0 ? OverlayPath::kPixels : OverlayPath::kJpegCoefficients;
  const MustacheOverlay& overlay =
      path == OverlayPath::kPixels ? PixelOverlay() : Overlay();
  state.SetLabel(OverlayPathName(path));
  for (auto _ : state) {
    absl::StatusOr<OverlayResult> result = overlay.Apply(request);
    if (!result.ok() || result->path != path) {
      state.SkipWithError("Apply failed or took the other path");
      break;
    }
    benchmark::DoNotOptimize(result->image.data());
  }
}

// A group photo (issue #16): twelve faces 6% of the long side wide (inter-
// ocular distance 2.5% of it, 32 px at 1 MP) in a grid over the photo.
// Args: megapixels, path (0: pixels, 1: JPEG coefficients).
void BM_ApplyGroup(benchmark::State& state) {
  const BenchPhoto& photo = Photo(static_cast<int>(state.range(0)));
  const cv::Size size = photo.pixels.size();
  const double inter_ocular = 0.025 * std::max(size.width, size.height);
  OverlayRequest request{.image = photo.jpeg};
  for (int row = 0; row < 3; ++row) {
    for (int column = 0; column < 4; ++column) {
      request.faces.push_back(
          MakeFace({(column + 0.5) * size.width / 4, (row + 0.5) * size.height / 3},
                   inter_ocular, 0));
    }
  }
  ApplyOnPath(state, request, 1);
}
BENCHMARK(BM_ApplyGroup)
    ->ArgNames({"MP", "path"})
    ->ArgsProduct({{1, 12}, {0, 1}})
    ->Unit(benchmark::kMillisecond);

// A portrait as a phone stores it: sideways, with EXIF orientation 6, at a
// size of whole MCUs as cameras' are (the photo cropped by up to 15 px), so
// the coefficient path turns its blocks. Its face, as the detector reports
// it, is in the upright photo. Args: megapixels, path (0: pixels, 1: JPEG
// coefficients).
void BM_ApplySideways(benchmark::State& state) {
  const int megapixels = static_cast<int>(state.range(0));
  static const auto* const sideways = [] {
    auto* jpegs = new std::map<int, std::string>;
    for (int mp : {1, 12}) {
      const cv::Mat& upright = Photo(mp).pixels;
      cv::Mat stored;
      cv::rotate(upright(cv::Rect(0, 0, upright.cols / 16 * 16, upright.rows / 16 * 16)),
                 stored, cv::ROTATE_90_COUNTERCLOCKWISE);
      (*jpegs)[mp] = stache::testing::WithExifOrientation(
          *imaging::EncodeImage(stored, imaging::ImageFormat::kJpeg, 90), 6);
    }
    return jpegs;
  }();
  const OverlayRequest request{.image = sideways->at(megapixels),
                               .faces = {Photo(megapixels).faces[0]}};
  ApplyOnPath(state, request, 1);
}
BENCHMARK(BM_ApplySideways)
    ->ArgNames({"MP", "path"})
    ->ArgsProduct({{1, 12}, {0, 1}})
    ->Unit(benchmark::kMillisecond);

// Drawing one mustache, nothing else. Args: megapixels, style index.
void BM_DrawOneFace(benchmark::State& state) {
  const BenchPhoto& photo = Photo(static_cast<int>(state.range(0)));
  const std::vector<MustacheStyle> styles = MakeBuiltInStyles();
  const MustacheStyle& style = styles.at(state.range(1));
  state.SetLabel(style.name);
  cv::Mat canvas = photo.pixels.clone();
  const MustachePlacement placement = *PlaceMustache(photo.faces[0], canvas.size());
  for (auto _ : state) {
    // Redrawing on the same canvas costs the same as drawing on a fresh one.
    if (!DrawMustache(placement, style, canvas).ok()) state.SkipWithError("draw failed");
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_DrawOneFace)
    ->ArgNames({"MP", "style"})
    ->ArgsProduct({{1, 12}, {0, 1, 2, 3, 4}})
    ->Unit(benchmark::kMicrosecond);

// Throughput of Apply (the default, coefficient path) on a 1 MP photo with
// one face: with two threads it should nearly double on two cores, as
// nothing is serialised.
void BM_ApplyThroughput(benchmark::State& state) {
  const BenchPhoto& photo = Photo(1);
  const OverlayRequest request{.image = photo.jpeg, .faces = {photo.faces[0]}};
  for (auto _ : state) {
    absl::StatusOr<OverlayResult> result = Overlay().Apply(request);
    if (!result.ok()) state.SkipWithError("apply failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ApplyThroughput)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace stache::overlay
