// Writes a tiny encoded image of every supported format into the directory
// given as argv[1], as seeds for image_header_fuzzer: real encoder output
// (with its headers, tables and chunks) is a better start than hand-made
// headers, and generating it keeps binaries out of git.
#include <cstdio>
#include <fstream>
#include <opencv2/core.hpp>
#include <string>

#include "imaging/image_decoder.h"

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
    const std::string path =
        std::string(argv[1]) + "/encoded." + stache::imaging::ImageFormatName(format);
    std::ofstream(path, std::ios::binary) << *bytes;
  }
  return 0;
}
