#include "tests/testing/hostile_images.h"

#include <zlib.h>

#include <cstdio>
// jpeglib.h uses FILE and size_t without including their headers.
#include <jpeglib.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

namespace stache::testing {
namespace {

void PutLe16(std::string& out, uint32_t value) {
  out.push_back(static_cast<char>(value & 0xFF));
  out.push_back(static_cast<char>((value >> 8) & 0xFF));
}
void PutLe32(std::string& out, uint32_t value) {
  PutLe16(out, value & 0xFFFF);
  PutLe16(out, value >> 16);
}
void PutBe32(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>(value >> shift));
}

// Three bands of 16 x 1 pixels, each the first 16 bytes of `source`.
std::string VrtReading(const std::string& source) {
  std::string vrt = "<VRTDataset rasterXSize=\"16\" rasterYSize=\"1\">";
  for (int band = 1; band <= 3; ++band) {
    vrt += "<VRTRasterBand dataType=\"Byte\" band=\"" + std::to_string(band) +
           "\" subClass=\"VRTRawRasterBand\"><SourceFilename relativetoVRT=\"0\">" +
           source +
           "</SourceFilename><ImageOffset>0</ImageOffset><PixelOffset>1</PixelOffset>"
           "<LineOffset>16</LineOffset></VRTRasterBand>";
  }
  return vrt + "</VRTDataset>";
}

// GDAL finds a VRT by searching the first bytes for "<VRTDataset" as a C
// string, so nothing before it may be a NUL byte.
std::string WithDtedAndVrt(std::string head, const std::string& source) {
  head.resize(140, ' ');
  return head + "DTED" + VrtReading(source);
}

// One TIFF IFD entry of type SHORT (3) or LONG (4) and count 1.
void PutEntry(std::string& out, uint16_t tag, uint16_t type, uint32_t value) {
  PutLe16(out, tag);
  PutLe16(out, type);
  PutLe32(out, 1);
  if (type == 3) {
    PutLe16(out, value);
    PutLe16(out, 0);
  } else {
    PutLe32(out, value);
  }
}

struct TiffEntry {
  uint16_t tag, type;
  uint32_t value;
};

std::string Tiff(const std::vector<TiffEntry>& entries, const std::string& pixels) {
  std::string out("II*\0", 4);
  PutLe32(out, 8);
  PutLe16(out, static_cast<uint32_t>(entries.size()));
  const uint32_t data_offset = 8 + 2 + 12 * entries.size() + 4;
  for (const TiffEntry& entry : entries) {
    PutEntry(out, entry.tag, entry.type, entry.tag == 273 ? data_offset : entry.value);
  }
  PutLe32(out, 0);  // no next directory
  return out + pixels;
}

void PutPngChunk(std::string& out, const char* type, const std::string& data) {
  PutBe32(out, static_cast<uint32_t>(data.size()));
  const std::string body = std::string(type, 4) + data;
  out += body;
  PutBe32(out, static_cast<uint32_t>(
                   crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size())));
}

// The inputs are fixed and valid: an error here is a bug in this file.
[[noreturn]] void OnJpegError(j_common_ptr cinfo) {
  char message[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, message);
  std::fprintf(stderr, "hostile_images: libjpeg: %s\n", message);
  std::abort();
}

}  // namespace

std::string GdalPayloadInFakeWebp(WebpChunk chunk, const std::string& source) {
  // RIFF and chunk sizes without NUL bytes; each chunk's frame header is
  // one libwebp refuses (a VP8 inter frame, a VP8L of a wrong version, a
  // VP8X followed by nothing it can decode).
  std::string head = "RIFF\x41\x41\x41\x41WEBP";
  switch (chunk) {
    case WebpChunk::kVp8:
      head += "VP8 \x41\x41\x41\x41\x01\x01\x01\x9d\x01\x2a\x41\x01\x41\x01";
      break;
    case WebpChunk::kVp8l:
      head += "VP8L\x41\x41\x41\x41\x2f\x41\x41\x41\xff";
      break;
    case WebpChunk::kVp8x:
      head += "VP8X\x0a\x01\x01\x01\xff\x01\x01\x20\x01\x01\x20\x01\x01";
      break;
  }
  return WithDtedAndVrt(head, source);
}

std::string GdalPayloadInBmp(uint32_t compression, const std::string& source) {
  std::string head("BM", 2);
  PutLe32(head, 0);   // file size (unused)
  PutLe32(head, 0);   // reserved
  PutLe32(head, 54);  // pixel data offset
  PutLe32(head, 40);  // BITMAPINFOHEADER
  PutLe32(head, 16);  // width
  PutLe32(head, 16);  // height
  PutLe16(head, 1);   // planes
  PutLe16(head, 24);  // bits per pixel
  PutLe32(head, compression);
  head.resize(128, '\x41');
  head += "DICM";
  std::string bytes = WithDtedAndVrt(head, source);
  bytes.resize(std::max<size_t>(bytes.size(), 54 + 16 * 16 * 3), '\x41');
  return bytes;
}

std::string TiffWithDuplicateSize(uint32_t width, uint32_t height) {
  return Tiff({{256, 4, width},
               {257, 4, height},
               {258, 3, 8},
               {259, 3, 1},
               {262, 3, 1},
               {273, 4, 0},
               {277, 3, 1},
               {278, 4, 1},
               {279, 4, 1},
               {256, 4, 1},
               {257, 4, 1}},
              std::string(1, '\x80'));
}

std::string TwoPageTiff(uint8_t first, uint8_t second) {
  // Header, then per page: the pixel, then its directory.
  std::string out("II*\0", 4);
  PutLe32(out, 9);
  out.push_back(static_cast<char>(first));
  const uint32_t second_pixel = 9 + 2 + 12 * 8 + 4;
  auto directory = [&](uint32_t pixel_offset, uint32_t next) {
    PutLe16(out, 8);
    for (const TiffEntry& entry : std::vector<TiffEntry>{{256, 4, 1},
                                                         {257, 4, 1},
                                                         {258, 3, 8},
                                                         {259, 3, 1},
                                                         {262, 3, 1},
                                                         {273, 4, pixel_offset},
                                                         {278, 4, 1},
                                                         {279, 4, 1}}) {
      PutEntry(out, entry.tag, entry.type, entry.value);
    }
    PutLe32(out, next);
  };
  directory(8, second_pixel + 1);
  out.push_back(static_cast<char>(second));
  directory(second_pixel, 0);
  return out;
}

std::string FloatTiffHeader(uint32_t width, uint32_t height) {
  return Tiff({{256, 4, width},
               {257, 4, height},
               {258, 3, 32},
               {259, 3, 1},
               {262, 3, 2},
               {273, 4, 0},
               {277, 3, 3},
               {278, 4, height},
               {279, 4, width * 12},
               {339, 3, 3}},
              std::string(64, '\0'));
}

std::string SixteenBitRgbaPngHeader(uint32_t width, uint32_t height) {
  std::string out("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  PutBe32(ihdr, width);
  PutBe32(ihdr, height);
  ihdr += std::string("\x10\x06\0\0\0",
                      5);  // 16 bits, RGBA, deflate, no filter, no interlace
  PutPngChunk(out, "IHDR", ihdr);
  PutPngChunk(out, "IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8));
  PutPngChunk(out, "IEND", "");
  return out;
}

std::string ProgressiveJpegWithScans(int scans) {
  std::vector<jpeg_scan_info> script;
  script.push_back({3, {0, 1, 2, 0}, 0, 0, 0, 1});  // DC, first pass
  for (int component = 0; component < 3; ++component) {
    for (int k = 1; k <= 63; ++k) script.push_back({1, {component}, k, k, 0, 1});
  }
  if (scans < 2 || scans > 190) {
    std::fprintf(stderr, "hostile_images: scans must be 2..190, not %d\n", scans);
    std::abort();
  }
  // Coefficients never sent are zero, which is valid: keep the first
  // scans, then refine DC.
  std::vector<jpeg_scan_info> chosen(script.begin(), script.begin() + (scans - 1));
  chosen.push_back({3, {0, 1, 2, 0}, 0, 0, 1, 0});

  jpeg_compress_struct cinfo;
  jpeg_error_mgr error_manager;
  cinfo.err = jpeg_std_error(&error_manager);
  error_manager.error_exit = OnJpegError;
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = 16;
  cinfo.image_height = 16;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  cinfo.scan_info = chosen.data();
  cinfo.num_scans = static_cast<int>(chosen.size());
  jpeg_start_compress(&cinfo, TRUE);
  std::vector<unsigned char> row(16 * 3);
  for (int y = 0; y < 16; ++y) {
    for (int x = 0; x < 16 * 3; ++x)
      row[x] = static_cast<unsigned char>((x * 5 + y * 11) & 0xFF);
    JSAMPROW rows[] = {row.data()};
    jpeg_write_scanlines(&cinfo, rows, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string out(reinterpret_cast<char*>(buffer), size);
  std::free(buffer);
  return out;
}

std::string JpegWithRepeatedScans(int repeats) {
  const std::string jpeg = ProgressiveJpegWithScans(10);
  // The last scan runs from its SOS marker to the EOI marker at the end.
  const size_t last_scan = jpeg.rfind("\xFF\xDA");
  const size_t end = jpeg.size() - 2;
  const std::string scan = jpeg.substr(last_scan, end - last_scan);
  std::string out = jpeg.substr(0, end);
  out.reserve(out.size() + scan.size() * repeats + 2);
  for (int i = 0; i < repeats; ++i) out += scan;
  return out + "\xFF\xD9";
}

}  // namespace stache::testing
