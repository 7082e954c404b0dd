#include "detector/internal/shape_model.h"

#include <dlib/image_processing/shape_predictor.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "detector/internal/model_files.h"

namespace stache::detector::internal {
namespace {

// Leaves fetched this many trees ahead of the one being added: enough to
// cover a miss to memory, few enough to stay in the first-level cache.
constexpr size_t kTreesAhead = 4;
constexpr size_t kFloatsPerLine = 64 / sizeof(float);

}  // namespace

absl::StatusOr<ShapeModel> ShapeModel::Load(const std::string& path) {
  if (absl::Status readable = CheckReadable(path, "landmark model"); !readable.ok()) {
    return readable;
  }
  // dlib::shape_predictor's serialisation, read into its own types.
  int version = 0;
  dlib::matrix<float, 0, 1> initial_shape;
  std::vector<std::vector<dlib::impl::regression_tree>> forests;
  std::vector<std::vector<unsigned long>> anchor_idx;
  std::vector<std::vector<dlib::vector<float, 2>>> deltas;
  try {
    dlib::deserialize(path) >> version >> initial_shape >> forests >> anchor_idx >>
        deltas;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the landmark model ", path, " is not a dlib shape predictor file: ", e.what()));
  }
  const auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the landmark model ", path, " is not a dlib shape predictor file: ", why));
  };
  if (version != 1) return invalid(absl::StrCat("unknown version ", version));
  if (initial_shape.size() == 0 || initial_shape.size() % 2 != 0) {
    return invalid("its mean shape has no points");
  }
  if (forests.size() != anchor_idx.size() || forests.size() != deltas.size()) {
    return invalid("its cascade levels do not match");
  }
  ShapeModel model;
  model.initial_shape_ = initial_shape;
  const long values = initial_shape.size();
  for (size_t l = 0; l < forests.size(); ++l) {
    if (anchor_idx[l].size() != deltas[l].size())
      return invalid("a level's pixels differ");
    for (unsigned long anchor : anchor_idx[l]) {
      if (static_cast<long>(anchor) >= values / 2)
        return invalid("a pixel's anchor is out");
    }
    Level level;
    size_t leaf_floats = 0;
    for (const dlib::impl::regression_tree& tree : forests[l]) {
      leaf_floats += tree.leaf_values.size() * values;
    }
    level.leaves.reserve(leaf_floats);
    level.anchor_idx = std::move(anchor_idx[l]);
    level.deltas = std::move(deltas[l]);
    for (const dlib::impl::regression_tree& tree : forests[l]) {
      // dlib's walk needs a full tree: one more leaf than splits.
      if (tree.leaf_values.size() != tree.splits.size() + 1) {
        return invalid("a tree is not full");
      }
      level.split_begin.push_back(static_cast<uint32_t>(level.threshold.size()));
      for (const dlib::impl::split_feature& split : tree.splits) {
        if (split.idx1 >= level.deltas.size() || split.idx2 >= level.deltas.size()) {
          return invalid("a split reads a pixel the level does not have");
        }
        level.first_pixel.push_back(static_cast<uint32_t>(split.idx1));
        level.second_pixel.push_back(static_cast<uint32_t>(split.idx2));
        level.threshold.push_back(split.thresh);
      }
      level.leaf_begin.push_back(level.leaves.size());
      for (const dlib::matrix<float, 0, 1>& leaf : tree.leaf_values) {
        if (leaf.size() != values) return invalid("a leaf's shape has other points");
        level.leaves.insert(level.leaves.end(), leaf.begin(), leaf.end());
      }
    }
    level.split_begin.push_back(static_cast<uint32_t>(level.threshold.size()));
    forests[l].clear();  // free as we go: the model is about 100 MB
    model.levels_.push_back(std::move(level));
  }
  return model;
}

dlib::full_object_detection ShapeModel::operator()(
    const dlib::cv_image<dlib::bgr_pixel>& image, const dlib::rectangle& box) const {
  dlib::matrix<float, 0, 1> shape = initial_shape_;
  const size_t values = static_cast<size_t>(shape.size());
  std::vector<float> pixels;
  std::vector<const float*> chosen;
  for (const Level& level : levels_) {
    dlib::impl::extract_feature_pixel_values(image, box, shape, initial_shape_,
                                             level.anchor_idx, level.deltas, pixels);
    // Every tree of a level reads the same pixel values, so which leaf each
    // one picks does not depend on the others' leaves.
    const size_t trees = level.leaf_begin.size();
    chosen.resize(trees);
    for (size_t t = 0; t < trees; ++t) {
      const uint32_t begin = level.split_begin[t];
      const uint32_t splits = level.split_begin[t + 1] - begin;
      // dlib's walk: left when the first pixel exceeds the second by more
      // than the threshold; children of i at 2i + 1 and 2i + 2.
      uint32_t i = 0;
      while (i < splits) {
        const uint32_t s = begin + i;
        i = pixels[level.first_pixel[s]] - pixels[level.second_pixel[s]] >
                    level.threshold[s]
                ? 2 * i + 1
                : 2 * i + 2;
      }
      chosen[t] = level.leaves.data() + level.leaf_begin[t] + (i - splits) * values;
    }
    // The leaves added in dlib's order (the same sums), fetched ahead.
    float* sum = &shape(0);
    for (size_t t = 0; t < trees; ++t) {
      if (t + kTreesAhead < trees) {
        const float* ahead = chosen[t + kTreesAhead];
        for (size_t v = 0; v < values; v += kFloatsPerLine) __builtin_prefetch(ahead + v);
      }
      const float* leaf = chosen[t];
      for (size_t v = 0; v < values; ++v) sum[v] += leaf[v];
    }
  }
  const dlib::point_transform_affine to_image = dlib::impl::unnormalizing_tform(box);
  std::vector<dlib::point> parts(values / 2);
  for (size_t i = 0; i < parts.size(); ++i) {
    parts[i] = to_image(dlib::impl::location(shape, static_cast<unsigned long>(i)));
  }
  return dlib::full_object_detection(box, parts);
}

}  // namespace stache::detector::internal
