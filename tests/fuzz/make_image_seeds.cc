// Writes a tiny encoded image of every supported format into the directory
// given as argv[1], as seeds for image_header_fuzzer: real encoder output
// (with its headers, tables and chunks) is a better start than hand-made
// headers, and generating it keeps binaries out of git.
#include <cstdio>
#include <fstream>
#include <opencv2/core.hpp>
#include <string>

#include "imaging/image_decoder.h"
#include "tests/testing/hostile_images.h"

namespace {

void Write(const std::string& directory, const std::string& name,
           const std::string& bytes) {
  std::ofstream(directory + "/" + name, std::ios::binary) << bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  using stache::imaging::ImageFormat;
  cv::Mat pixels(6, 8, CV_8UC3);
  cv::randu(pixels, cv::Scalar::all(0), cv::Scalar::all(255));
  for (ImageFormat format : {ImageFormat::kJpeg, ImageFormat::kPng, ImageFormat::kWebp,
                             ImageFormat::kBmp, ImageFormat::kTiff}) {
    absl::StatusOr<std::string> bytes = stache::imaging::EncodeImage(pixels, format, 50);
    if (!bytes.ok()) {
      std::fprintf(stderr, "%s\n", bytes.status().ToString().c_str());
      return 1;
    }
    Write(argv[1], std::string("encoded.") + stache::imaging::ImageFormatName(format),
          *bytes);
  }
  // The attacks of issue #12, so that the fuzzer starts from each class.
  namespace hostile = stache::testing;
  Write(argv[1], "gdal-vp8.webp",
        hostile::GdalPayloadInFakeWebp(hostile::WebpChunk::kVp8, "/etc/hostname"));
  Write(argv[1], "gdal-vp8l.webp",
        hostile::GdalPayloadInFakeWebp(hostile::WebpChunk::kVp8l, "/etc/hostname"));
  Write(argv[1], "gdal.bmp", hostile::GdalPayloadInBmp(0, "/etc/hostname"));
  Write(argv[1], "duplicate-size.tiff", hostile::TiffWithDuplicateSize(300, 300));
  Write(argv[1], "two-pages.tiff", hostile::TwoPageTiff(1, 2));
  Write(argv[1], "float.tiff", hostile::FloatTiffHeader(8, 8));
  Write(argv[1], "rgba16.png", hostile::SixteenBitRgbaPngHeader(8, 8));
  Write(argv[1], "scans.jpg", hostile::ProgressiveJpegWithScans(120));
  cv::Mat deep(6, 8, CV_16UC4);
  cv::randu(deep, cv::Scalar::all(0), cv::Scalar::all(65535));
  absl::StatusOr<std::string> png16 =
      stache::imaging::EncodeImage(deep, ImageFormat::kPng, 50);
  if (png16.ok()) Write(argv[1], "encoded-rgba16.png", *png16);
  return 0;
}
