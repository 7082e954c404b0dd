#include "detector/internal/model_files.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace stache::detector::internal {

absl::Status CheckReadable(const std::string& path, const std::string& role) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the ", role, " ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadCascadeFile(const std::string& path,
                                            const std::string& role) {
  if (absl::Status readable = CheckReadable(path, role); !readable.ok()) return readable;
  std::ifstream file(path, std::ios::binary);
  std::ostringstream contents;
  contents << file.rdbuf();
  std::string xml = contents.str();
  try {
    if (!CascadeFromXml(xml)->empty()) return xml;
  } catch (const cv::Exception&) {
    // OpenCV's own message is about XML syntax; the one below says what to fix.
  }
  return absl::InvalidArgumentError(
      absl::StrCat("the ", role, " ", path, " is not an OpenCV cascade classifier file"));
}

std::unique_ptr<cv::CascadeClassifier> CascadeFromXml(const std::string& xml) {
  auto cascade = std::make_unique<cv::CascadeClassifier>();
  cv::FileStorage storage(xml, cv::FileStorage::READ | cv::FileStorage::MEMORY);
  cascade->read(storage.getFirstTopLevelNode());
  return cascade;
}

}  // namespace stache::detector::internal
