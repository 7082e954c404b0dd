#include "tests/testing/images.h"

namespace stache::testing {

std::string WithExifOrientation(const std::string& jpeg, int orientation) {
  // TIFF header (MM, 42, IFD at 8), one IFD entry: tag 0x0112 SHORT 1 value.
  const std::string tiff = std::string("MM\0*\0\0\0\x08", 8) +
                           std::string("\0\x01", 2) +          // 1 entry
                           std::string("\x01\x12\0\x03", 4) +  // Orientation, SHORT
                           std::string("\0\0\0\x01", 4) +      // count 1
                           std::string("\0", 1) + static_cast<char>(orientation) +
                           std::string("\0\0", 2) + std::string("\0\0\0\0", 4);
  const std::string body = std::string("Exif\0\0", 6) + tiff;
  const size_t length = body.size() + 2;
  std::string app1 = "\xFF\xE1";
  app1.push_back(static_cast<char>(length >> 8));
  app1.push_back(static_cast<char>(length & 0xFF));
  app1 += body;
  return jpeg.substr(0, 2) + app1 + jpeg.substr(2);
}

std::string WithTableRedefinedBeforeSecondScan(const std::string& jpeg) {
  const size_t first_scan = jpeg.find("\xFF\xDA");
  const size_t second_scan = jpeg.find("\xFF\xDA", first_scan + 2);
  if (first_scan == std::string::npos || second_scan == std::string::npos) return "";
  std::string table("\xFF\xDB\x00\x43\x00", 5);  // DQT, length 67, 8-bit table 0
  table.append(64, '\x07');
  std::string redefined = jpeg;
  redefined.insert(second_scan, table);
  return redefined;
}

}  // namespace stache::testing
