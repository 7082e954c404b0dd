#include "overlay/internal/linear_light.h"

#include <array>
#include <cmath>

namespace stache::overlay::internal {
namespace {

// 4096 steps are fine enough that every 8-bit sRGB value survives a round
// trip, even near black where the sRGB curve is steepest.
constexpr int kLinearSteps = 4096;

struct Tables {
  std::array<float, 256> to_linear;
  std::array<uint8_t, kLinearSteps + 1> to_srgb;
};

double DecodeSrgb(double v) {
  return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
}

double EncodeSrgb(double v) {
  return v <= 0.0031308 ? v * 12.92 : 1.055 * std::pow(v, 1 / 2.4) - 0.055;
}

Tables MakeTables() {
  Tables tables;
  for (int i = 0; i < 256; ++i)
    tables.to_linear[i] = static_cast<float>(DecodeSrgb(i / 255.0));
  for (int i = 0; i <= kLinearSteps; ++i) {
    tables.to_srgb[i] = static_cast<uint8_t>(
        std::lround(EncodeSrgb(static_cast<double>(i) / kLinearSteps) * 255));
  }
  return tables;
}

// Immutable after the (thread-safe) first call.
const Tables& GetTables() {
  static const Tables* const tables = new Tables(MakeTables());
  return *tables;
}

uint8_t ToSrgb(const Tables& tables, float linear) {
  const long index = std::lround(linear * kLinearSteps);
  return tables.to_srgb[index < 0 ? 0 : index > kLinearSteps ? kLinearSteps : index];
}

template <int kChannels>
void Composite(const Tables& tables, const cv::Mat& coverage,
               const cv::Scalar& colour_bgr, cv::Mat& target) {
  uint8_t colour[3];
  float colour_linear[3];
  for (int c = 0; c < 3; ++c) {
    colour[c] = cv::saturate_cast<uint8_t>(colour_bgr[c]);
    colour_linear[c] = tables.to_linear[colour[c]];
  }
  for (int y = 0; y < target.rows; ++y) {
    const uint8_t* alpha_row = coverage.ptr<uint8_t>(y);
    uint8_t* pixel = target.ptr<uint8_t>(y);
    for (int x = 0; x < target.cols; ++x, pixel += kChannels) {
      const uint8_t alpha = alpha_row[x];
      if (alpha == 0) continue;
      if (alpha == 255) {
        for (int c = 0; c < 3; ++c) pixel[c] = colour[c];
        if constexpr (kChannels == 4) pixel[3] = 255;
        continue;
      }
      const float a = alpha / 255.0f;
      if constexpr (kChannels == 3) {
        for (int c = 0; c < 3; ++c) {
          pixel[c] =
              ToSrgb(tables, colour_linear[c] * a + tables.to_linear[pixel[c]] * (1 - a));
        }
      } else {
        // "Over" with straight alpha: weight the background by its own
        // opacity, then divide the result's opacity back out.
        const float below = pixel[3] / 255.0f * (1 - a);
        const float out_alpha = a + below;
        for (int c = 0; c < 3; ++c) {
          pixel[c] =
              ToSrgb(tables, (colour_linear[c] * a + tables.to_linear[pixel[c]] * below) /
                                 out_alpha);
        }
        pixel[3] = static_cast<uint8_t>(std::lround(out_alpha * 255));
      }
    }
  }
}

}  // namespace

float SrgbToLinear(uint8_t value) { return GetTables().to_linear[value]; }

uint8_t LinearToSrgb(float linear) { return ToSrgb(GetTables(), linear); }

void CompositeInLinearLight(const cv::Mat& coverage, const cv::Scalar& colour_bgr,
                            cv::Mat target) {
  CV_Assert(coverage.type() == CV_8UC1 && coverage.size() == target.size());
  if (target.type() == CV_8UC4) {
    Composite<4>(GetTables(), coverage, colour_bgr, target);
  } else {
    CV_Assert(target.type() == CV_8UC3);
    Composite<3>(GetTables(), coverage, colour_bgr, target);
  }
}

}  // namespace stache::overlay::internal
