#include "overlay/mustache_style.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

namespace stache::overlay {
namespace {

using ::testing::IsSupersetOf;

TEST(MustacheStyleTest, ShipsAtLeastFourNamedStyles) {
  const std::vector<MustacheStyle> styles = MakeBuiltInStyles();
  std::set<std::string> names;
  for (const MustacheStyle& style : styles) {
    names.insert(style.name);
    EXPECT_FALSE(style.display_name.empty()) << style.name;
  }
  EXPECT_EQ(names.size(), styles.size()) << "names must be unique";
  EXPECT_THAT(names, IsSupersetOf({"handlebar", "chevron", "walrus", "pencil"}));
  EXPECT_EQ(names.count("random"), 0u)
      << "\"random\" is reserved for picking a style per face";
}

TEST(MustacheStyleTest, FindsStylesByName) {
  const std::vector<MustacheStyle> styles = MakeBuiltInStyles();
  ASSERT_NE(FindStyle(styles, "walrus"), nullptr);
  EXPECT_EQ(FindStyle(styles, "walrus")->display_name, "Walrus");
  EXPECT_EQ(FindStyle(styles, "Walrus"), nullptr);
  EXPECT_EQ(FindStyle(styles, ""), nullptr);
}

// Centroid-at-origin and symmetry are what make the renderer's placement
// exact; wider-than-tall is what makes the roll measurable.
TEST(MustacheStyleTest, ShapesAreSymmetricCentredAndWiderThanTall) {
  for (const MustacheStyle& style : MakeBuiltInStyles()) {
    double area = 0, moment_x = 0, moment_y = 0;
    for (const auto& outline : style.outlines) {
      ASSERT_GE(outline.size(), 3u) << style.name;
      for (size_t i = 0; i < outline.size(); ++i) {
        const cv::Point2d& a = outline[i];
        const cv::Point2d& b = outline[(i + 1) % outline.size()];
        EXPECT_TRUE(style.bounds.contains(a) || a.x == style.bounds.br().x ||
                    a.y == style.bounds.br().y)
            << style.name;
        const double cross = a.x * b.y - b.x * a.y;
        area += cross;
        moment_x += (a.x + b.x) * cross;
        moment_y += (a.y + b.y) * cross;
      }
    }
    EXPECT_NEAR(moment_x / (3 * area), 0, 1e-9) << style.name;
    EXPECT_NEAR(moment_y / (3 * area), 0, 1e-9) << style.name;
    EXPECT_NEAR(style.bounds.x, -(style.bounds.x + style.bounds.width), 1e-9)
        << style.name;
    EXPECT_GT(style.bounds.width, 2 * style.bounds.height) << style.name;
    EXPECT_FALSE(style.strands.empty()) << style.name;
  }
}

TEST(MustacheStyleTest, StylesLookClearlyDifferent) {
  const std::vector<MustacheStyle> styles = MakeBuiltInStyles();
  for (size_t i = 0; i < styles.size(); ++i) {
    for (size_t j = i + 1; j < styles.size(); ++j) {
      const cv::Rect2d& a = styles[i].bounds;
      const cv::Rect2d& b = styles[j].bounds;
      // Different outlines: the bounding boxes alone tell them apart.
      const bool same_box =
          std::abs(a.width - b.width) < 0.05 && std::abs(a.height - b.height) < 0.05;
      EXPECT_FALSE(same_box) << styles[i].name << " vs " << styles[j].name;
    }
  }
}

}  // namespace
}  // namespace stache::overlay
