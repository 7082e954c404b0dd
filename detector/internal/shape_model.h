// dlib's shape predictor (the 68-point landmark model), evaluated exactly
// as dlib::shape_predictor evaluates it, with its trees laid out for the
// memory.
//
//   absl::StatusOr<ShapeModel> model = ShapeModel::Load(path);
//   dlib::full_object_detection shape = (*model)(image, box);
//   // == dlib::shape_predictor's (image, box), point for point
//
// dlib keeps each tree's splits and each of its 32 leaves (136 floats) in
// separate allocations, and walks the 7500 trees of a fit one after the
// other, adding each leaf to the shape before it reads the next tree: most
// of a fit's time is spent waiting for memory (it was 29% of the time of a
// group photo's detection, for 1% of its instructions). Here each level's
// trees sit in a few contiguous arrays; within a level every tree reads the
// same pixel values, so all leaves are chosen first, then added in dlib's
// order while the next ones are fetched ahead. The sums are the same floats
// added in the same order, so the points are dlib's; shape_model_test holds
// them to dlib's own predictor.
#ifndef STACHE_DETECTOR_INTERNAL_SHAPE_MODEL_H_
#define STACHE_DETECTOR_INTERNAL_SHAPE_MODEL_H_

#include <dlib/geometry/rectangle.h>
#include <dlib/geometry/vector.h>
#include <dlib/image_processing/full_object_detection.h>
#include <dlib/matrix.h>
#include <dlib/opencv/cv_image.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace stache::detector::internal {

// Immutable once loaded: safe to use from many threads at once.
class ShapeModel {
 public:
  // A dlib shape predictor file (dlib's serialisation, version 1). Fails
  // with a message naming the file when it cannot be read or is not one.
  static absl::StatusOr<ShapeModel> Load(const std::string& path);

  unsigned long num_parts() const { return initial_shape_.size() / 2; }

  // As dlib::shape_predictor::operator()(image, box).
  dlib::full_object_detection operator()(const dlib::cv_image<dlib::bgr_pixel>& image,
                                         const dlib::rectangle& box) const;

 private:
  // One level of the cascade: where its pixels are read, relative to the
  // shape, and its trees.
  struct Level {
    std::vector<unsigned long> anchor_idx;
    std::vector<dlib::vector<float, 2>> deltas;
    // Tree t's splits are split_begin[t] .. split_begin[t + 1] - 1 of the
    // split arrays, a full binary tree in dlib's order; its leaves follow
    // one another from leaf_begin[t] (in floats), each num_parts() * 2 long.
    std::vector<uint32_t> split_begin;
    std::vector<uint32_t> first_pixel;
    std::vector<uint32_t> second_pixel;
    std::vector<float> threshold;
    std::vector<size_t> leaf_begin;
    std::vector<float> leaves;
  };

  dlib::matrix<float, 0, 1> initial_shape_;
  std::vector<Level> levels_;
};

}  // namespace stache::detector::internal

#endif  // STACHE_DETECTOR_INTERNAL_SHAPE_MODEL_H_
