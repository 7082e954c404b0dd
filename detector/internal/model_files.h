// Reading model and cascade files at start-up, with errors that name the
// file, and making cascade instances from a copy held in memory (so that
// pools can make more later without touching the file system).
//
//   STACHE_ASSIGN_OR_RETURN(std::string xml, ReadCascadeFile(path, "eye cascade"));
//   std::unique_ptr<cv::CascadeClassifier> cascade = CascadeFromXml(xml);
#ifndef STACHE_DETECTOR_INTERNAL_MODEL_FILES_H_
#define STACHE_DETECTOR_INTERNAL_MODEL_FILES_H_

#include <memory>
#include <opencv2/objdetect.hpp>
#include <string>

#include "absl/status/statusor.h"

namespace stache::detector::internal {

// NOT_FOUND naming the `role` ("landmark model") and `path` when the file
// cannot be opened for reading.
absl::Status CheckReadable(const std::string& path, const std::string& role);

// The file's contents once they parse as an OpenCV cascade classifier.
absl::StatusOr<std::string> ReadCascadeFile(const std::string& path,
                                            const std::string& role);

// A cascade from the contents ReadCascadeFile returned. Thread-safe.
std::unique_ptr<cv::CascadeClassifier> CascadeFromXml(const std::string& xml);

}  // namespace stache::detector::internal

#endif  // STACHE_DETECTOR_INTERNAL_MODEL_FILES_H_
