// Test photos for the detector's recall on small faces and its false faces,
// made here from the photos scripts/setup.sh extracts from Debian packages:
//  - group photos composited from the two hand-checked faces (grace_hopper,
//    astronaut), each pasted several times onto a face-free photo, scaled so
//    that its box is 5-9% of the photo's long side (never under 40 px),
//    flipped, rolled up to +-20 degrees, lit and blurred differently; where
//    each face and its landmarks are is known from the hand-checked points;
//  - face-free photos (landscapes, food, animals, text, logos, textures,
//    microscopy, vehicles);
//  - real group photos (PASCAL VOC, shipped in libdlib's examples) with
//    their hand-drawn face boxes.
// Everything is deterministic: the same pixels on every run and machine.
//
//   absl::StatusOr<std::vector<GroupPhoto>> photos = MakeGroupPhotos();
//   for (const GroupPhoto& photo : *photos) Detect(photo.pixels) vs photo.faces
//
// What these stand-ins cannot show (see README, Detector > Tests): two
// identities only, no occlusion between people, no motion blur or noise of a
// real camera at high ISO, no profile faces, lighting only changed globally
// per face. The real PASCAL photos cover some of that (many people, real
// lighting and blur) but are small (faces of 37-110 px in 500 px photos).
#ifndef STACHE_DETECTOR_TESTING_GROUP_PHOTOS_H_
#define STACHE_DETECTOR_TESTING_GROUP_PHOTOS_H_

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace stache::detector::testing {

// A face whose position in a test photo is known.
struct KnownFace {
  // dlib-style box (brows to chin, ear to ear), upright.
  cv::Rect2f box;
  cv::Point2f left_eye;  // viewer's left
  cv::Point2f right_eye;
  // Between the nose base and the upper lip, where a mustache goes; only for
  // composited faces (zero for the PASCAL ones).
  cv::Point2f mustache_anchor;
  bool has_landmarks = false;
  float InterOcularDistance() const;
};

struct GroupPhoto {
  std::string name;
  cv::Mat pixels;  // CV_8UC3 BGR
  std::vector<KnownFace> faces;
};

// The composited group photos: about 1 MP each (one at 640x480 where the
// 40 px floor applies, one 12 MP), 4-12 faces each, 64 faces in all. Fails
// naming a missing file (run scripts/setup.sh, or set STACHE_TESTDATA_DIR).
absl::StatusOr<std::vector<GroupPhoto>> MakeGroupPhotos();

// The 12 MP one alone (slow to make: about half a second).
absl::StatusOr<GroupPhoto> MakeLargeGroupPhoto();

// File names (in the test data directory) of photos without any face.
const std::vector<std::string>& FaceFreePhotoFiles();

// The PASCAL VOC photos shipped in libdlib's examples with the boxes from its
// testing.xml and training.xml, enlarged twice (to about 1000 px, so that
// their 37 px faces reach the 40 px and 5% floors).
absl::StatusOr<std::vector<GroupPhoto>> RealGroupPhotos();

// Whether a found box is the known face: their centres are within 30% of the
// known box's width and their widths within a factor of 1.6. Composited
// faces are at least 1.5 widths apart, so one box matches at most one face.
bool BoxMatches(const cv::Rect2f& found, const KnownFace& known);

}  // namespace stache::detector::testing

#endif  // STACHE_DETECTOR_TESTING_GROUP_PHOTOS_H_
