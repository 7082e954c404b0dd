// Writes a tiny encoded image of every supported format into the directory
// given as argv[1], as seeds for image_header_fuzzer: real encoder output
// (with its headers, tables and chunks) is a better start than hand-made
// headers, and generating it keeps binaries out of git.
//
// With --jpeg-editor, writes seeds for jpeg_coefficient_editor_fuzzer
// instead: small YCbCr JPEGs in each chroma sampling the editor takes (and
// two it refuses), baseline and progressive, with and without restart
// markers, at sizes that are and are not whole MCUs, and one with a
// hostile Huffman table, each after the 8 bytes that place that fuzzer's two
// rectangles.
// clang-format off
#include <cstdio>  // jpeglib.h needs FILE first
#include <jpeglib.h>
// clang-format on

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "imaging/image_decoder.h"
#include "imaging/image_encoder.h"
#include "tests/testing/hostile_images.h"
#include "tests/testing/images.h"

namespace {

void Write(const std::string& directory, const std::string& name,
           const std::string& bytes) {
  std::ofstream(directory + "/" + name, std::ios::binary) << bytes;
}

struct JpegOptions {
  int width = 48;
  int height = 32;
  int h_samp = 2;  // luma sampling factors; chroma is 1 x 1
  int v_samp = 2;
  bool progressive = false;
  int restart_rows = 0;
  bool grey = false;
};

// A JPEG of a gradient with a few shapes (so that blocks carry AC
// coefficients), written with libjpeg directly: OpenCV 4.6 cannot choose
// the chroma sampling.
std::string EncodeJpeg(const JpegOptions& options) {
  cv::Mat bgr(options.height, options.width, CV_8UC3);
  for (int y = 0; y < bgr.rows; ++y) {
    for (int x = 0; x < bgr.cols; ++x) {
      bgr.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 5 % 256, y * 7 % 256, (x + y) * 3 % 256);
    }
  }
  cv::circle(bgr, {bgr.cols / 2, bgr.rows / 2}, bgr.rows / 3, {20, 200, 90}, 2,
             cv::LINE_AA);
  jpeg_compress_struct cinfo;
  jpeg_error_mgr error;
  cinfo.err = jpeg_std_error(&error);  // exits on error: fine for a tool
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long length = 0;
  jpeg_mem_dest(&cinfo, &buffer, &length);
  cinfo.image_width = static_cast<JDIMENSION>(options.width);
  cinfo.image_height = static_cast<JDIMENSION>(options.height);
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_EXT_BGR;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 75, TRUE);
  if (options.grey) {
    jpeg_set_colorspace(&cinfo, JCS_GRAYSCALE);
  } else {
    cinfo.comp_info[0].h_samp_factor = options.h_samp;
    cinfo.comp_info[0].v_samp_factor = options.v_samp;
    for (int c = 1; c < 3; ++c) {
      cinfo.comp_info[c].h_samp_factor = 1;
      cinfo.comp_info[c].v_samp_factor = 1;
    }
  }
  if (options.progressive) jpeg_simple_progression(&cinfo);
  cinfo.restart_in_rows = options.restart_rows;
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = bgr.ptr(static_cast<int>(cinfo.next_scanline));
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string bytes(reinterpret_cast<const char*>(buffer), length);
  std::free(buffer);
  return bytes;
}

void WriteJpegEditorSeeds(const std::string& directory) {
  struct Seed {
    const char* name;
    JpegOptions options;
    // x, y, width, height of two rectangles, in 256ths of the image.
    unsigned char areas[8];
  };
  const Seed seeds[] = {
      {"420.jpg", {}, {64, 64, 64, 64, 0, 0, 0, 0}},
      {"420-odd.jpg", {.width = 37, .height = 29}, {200, 180, 255, 255, 0, 0, 40, 40}},
      {"444.jpg", {.h_samp = 1, .v_samp = 1}, {10, 100, 80, 30, 160, 20, 60, 60}},
      {"422.jpg", {.width = 40, .h_samp = 2, .v_samp = 1}, {0, 0, 255, 255, 0, 0, 0, 0}},
      {"440.jpg", {.h_samp = 1, .v_samp = 2}, {128, 128, 20, 20, 0, 0, 0, 0}},
      {"411.jpg", {.h_samp = 4, .v_samp = 1}, {64, 64, 64, 64, 0, 0, 0, 0}},
      {"progressive-420.jpg",
       {.width = 50, .height = 34, .progressive = true},
       {32, 32, 128, 128, 250, 250, 10, 10}},
      {"progressive-444.jpg",
       {.h_samp = 1, .v_samp = 1, .progressive = true},
       {0, 128, 255, 40, 0, 0, 0, 0}},
      {"restart-420.jpg",
       {.width = 64, .height = 40, .restart_rows = 1},
       {100, 10, 50, 200, 0, 0, 0, 0}},
      {"grey.jpg", {.grey = true}, {64, 64, 64, 64, 0, 0, 0, 0}},
  };
  for (const Seed& seed : seeds) {
    Write(directory, seed.name,
          std::string(reinterpret_cast<const char*>(seed.areas), sizeof(seed.areas)) +
              EncodeJpeg(seed.options));
  }
  // Phone photos stored turned, which the editor turns back: a quarter turn
  // (whole MCUs), a transposition with a partial MCU, a half turn, and a
  // mirror of a partial MCU, which it declines.
  const struct {
    const char* name;
    JpegOptions options;
    int orientation;
  } turned[] = {
      {"420-orientation6.jpg", {}, 6},
      {"422-orientation5-odd.jpg",
       {.width = 40, .height = 29, .h_samp = 2, .v_samp = 1},
       5},
      {"444-orientation3.jpg", {.h_samp = 1, .v_samp = 1}, 3},
      {"420-orientation8-partial.jpg", {.width = 37}, 8},
  };
  for (const auto& seed : turned) {
    Write(directory, seed.name,
          std::string("\x10\x20\x60\x40\x80\x00\x30\x30", 8) +
              stache::testing::WithExifOrientation(EncodeJpeg(seed.options),
                                                   seed.orientation));
  }
  // The editor's first finding: a chroma AC table (class 1, id 1) whose
  // shortest code reads 15-bit coefficients, beyond baseline JPEG's range.
  std::string wide = EncodeJpeg({});
  for (size_t table = wide.find("\xFF\xC4"); table != std::string::npos;
       table = wide.find("\xFF\xC4", table + 2)) {
    if (wide[table + 4] != '\x11') continue;
    const size_t length = (uint8_t(wide[table + 2]) << 8 | uint8_t(wide[table + 3])) + 2;
    std::string codes("\xFF\xC4\x00\x16\x11\x01\x01\x01", 8);
    codes.append(13, '\0');
    codes.append("\x0F\x00\x01", 3);
    wide.replace(table, length, codes);
    Write(directory, "wide-ac-table.jpg",
          std::string("\x20\x20\x80\x80\0\0\0\0", 8) + wide);
    break;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool jpeg_editor = argc == 3 && std::strcmp(argv[2], "--jpeg-editor") == 0;
  if (argc != 2 && !jpeg_editor) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR [--jpeg-editor]\n", argv[0]);
    return 2;
  }
  if (jpeg_editor) {
    WriteJpegEditorSeeds(argv[1]);
    return 0;
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
