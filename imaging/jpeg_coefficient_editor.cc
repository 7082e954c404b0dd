#include "imaging/jpeg_coefficient_editor.h"

// clang-format off
#include <cstdio>  // jpeglib.h needs FILE first
#include <jpeglib.h>
// clang-format on

#include <algorithm>
#include <array>
#include <cmath>
#include <csetjmp>
#include <new>
#include <opencv2/imgproc.hpp>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "imaging/internal/admission.h"
#include "imaging/internal/jpeg_guard.h"

namespace stache::imaging {
namespace {

constexpr int kBlock = 8;
// Bytes an edit region holds per pixel: the three float planes (chroma
// subsampled or not), BGR before and after drawing, the changed mask.
constexpr int64_t kEditBytesPerPixel = 3 * 4 + 2 * 3 + 1;
// The output is about the input's size; the string doubles as it grows.
constexpr int64_t kOutputChunk = 64 << 10;
// libjpeg's own small allocations (tables, Huffman statistics).
constexpr long kLibjpegOverhead = 8 << 20;
// A baseline Huffman code carries coefficients of at most 10 bits (AC) and
// DC differences of at most 11: coded DC values stay within this too.
constexpr int kMaxCoefficient = 1023;
// The lowest DC a real 8-bit image has (all black with a quantiser of 1);
// with kMaxCoefficient it keeps every DC difference within 11 bits.
constexpr int kMinDc = -1024;

int64_t RoundUp(int64_t value, int64_t step) { return (value + step - 1) / step * step; }

// How the stored image becomes the one a viewer sees under an EXIF
// orientation, as ApplyOrientation turns decoded pixels: the viewer's pixel
// (x, y) is the stored pixel (x, y), or (y, x) when transposed, with the
// stored columns and rows then counted from the far edge where mirrored.
// Blocks move the same way, each block's coefficients transposed with it
// and, where mirrored, the odd frequencies of that direction negated.
struct Turn {
  bool transpose = false;  // orientations 5-8 swap width and height
  bool mirror_x = false;   // the stored columns run from the right
  bool mirror_y = false;   // the stored rows run from the bottom

  bool any() const { return transpose || mirror_x || mirror_y; }

  static Turn For(int orientation) {
    switch (orientation) {
      case 2:
        return {.mirror_x = true};
      case 3:
        return {.mirror_x = true, .mirror_y = true};
      case 4:
        return {.mirror_y = true};
      case 5:
        return {.transpose = true};
      case 6:
        return {.transpose = true, .mirror_y = true};
      case 7:
        return {.transpose = true, .mirror_x = true, .mirror_y = true};
      case 8:
        return {.transpose = true, .mirror_x = true};
      default:
        return {};
    }
  }
};

// The orthonormal 8-point DCT-II basis, which is JPEG's DCT:
// F = B f B^T and f = B^T F B for an 8 x 8 block (rows are y or v).
struct DctBasis {
  DctBasis() {
    for (int u = 0; u < kBlock; ++u) {
      const double scale = u == 0 ? std::sqrt(1.0 / kBlock) : std::sqrt(2.0 / kBlock);
      for (int x = 0; x < kBlock; ++x) {
        b[u][x] = static_cast<float>(scale * std::cos((2 * x + 1) * u * M_PI / 16));
        bt[x][u] = b[u][x];
      }
    }
  }
  float b[kBlock][kBlock];
  float bt[kBlock][kBlock];  // transposed
};

const DctBasis& Basis() {
  static const DctBasis basis;
  return basis;
}

// Dequantises `block` and writes its samples (level shift undone, neither
// rounded nor clamped, so the forward transform gives the block back).
void InverseDct(const JCOEF* block, const std::array<float, 64>& quant, cv::Mat& plane,
                int x0, int y0) {
  const auto& b = Basis().b;
  // rows[v][x] = sum_u F[v][u] b[u][x], for the rows of F that are not all
  // zero (most high-frequency rows are, once quantised).
  float rows[kBlock][kBlock];
  int used[kBlock];
  int used_rows = 0;
  for (int v = 0; v < kBlock; ++v) {
    const JCOEF* in = block + v * kBlock;
    bool zero = true;
    for (int u = 0; u < kBlock; ++u) zero = zero && in[u] == 0;
    if (zero) continue;
    float coefficients[kBlock];
    for (int u = 0; u < kBlock; ++u) coefficients[u] = in[u] * quant[v * kBlock + u];
    float* row = rows[used_rows];
    for (int x = 0; x < kBlock; ++x) row[x] = 0;
    for (int u = 0; u < kBlock; ++u) {
      if (coefficients[u] == 0) continue;
      for (int x = 0; x < kBlock; ++x) row[x] += coefficients[u] * b[u][x];
    }
    used[used_rows++] = v;
  }
  for (int y = 0; y < kBlock; ++y) {
    float sum[kBlock] = {128, 128, 128, 128, 128, 128, 128, 128};
    for (int i = 0; i < used_rows; ++i) {
      const float weight = b[used[i]][y];
      for (int x = 0; x < kBlock; ++x) sum[x] += weight * rows[i][x];
    }
    float* out = plane.ptr<float>(y0 + y) + x0;
    for (int x = 0; x < kBlock; ++x) out[x] = sum[x];
  }
}

void ForwardDct(const cv::Mat& plane, int x0, int y0, const std::array<float, 64>& quant,
                JCOEF* block) {
  const auto& b = Basis().b;
  const auto& bt = Basis().bt;
  // columns[y][u] = sum_x f[y][x] b[u][x], summed over x so that the inner
  // loops run along u (contiguous, vectorisable).
  float columns[kBlock][kBlock] = {};
  for (int y = 0; y < kBlock; ++y) {
    const float* in = plane.ptr<float>(y0 + y) + x0;
    for (int x = 0; x < kBlock; ++x) {
      const float sample = in[x] - 128;
      for (int u = 0; u < kBlock; ++u) columns[y][u] += sample * bt[x][u];
    }
  }
  for (int v = 0; v < kBlock; ++v) {
    float sum[kBlock] = {};
    for (int y = 0; y < kBlock; ++y) {
      const float weight = b[v][y];
      for (int u = 0; u < kBlock; ++u) sum[u] += weight * columns[y][u];
    }
    for (int u = 0; u < kBlock; ++u) {
      const int q = cvRound(sum[u] / quant[v * kBlock + u]);
      block[v * kBlock + u] =
          static_cast<JCOEF>(std::clamp(q, -kMaxCoefficient, kMaxCoefficient));
    }
  }
}

// JFIF's full-range YCbCr (ITU-R BT.601 weights), as affine maps for
// cv::transform: [B G R] <- [Y Cb Cr 1] and back.
const cv::Matx34f kYCbCrToBgr(1, 1.772f, 0, -1.772f * 128,  //
                              1, -0.344136f, -0.714136f,
                              (0.344136f + 0.714136f) * 128,  //
                              1, 0, 1.402f, -1.402f * 128);
const cv::Matx34f kBgrToYCbCr(0.114f, 0.587f, 0.299f, 0,          //
                              0.5f, -0.331264f, -0.168736f, 128,  //
                              -0.081312f, -0.418688f, 0.5f, 128);

}  // namespace

struct JpegCoefficientEditor::State {
  struct Component {
    int h_ratio = 1;  // image pixels per sample, across and down
    int v_ratio = 1;
    int width_in_blocks = 0;
    int height_in_blocks = 0;
    int width = 0;  // samples that hold image data
    int height = 0;
    std::array<float, 64> quant{};  // natural order
    std::vector<JBLOCKROW> rows;    // one per block row
  };

  ~State() {
    jpeg_destroy_compress(&destination);  // both safe on a zeroed struct
    jpeg_destroy_decompress(&source);
  }

  internal::DecodeControl control;
  internal::JpegGuard read_guard;
  internal::JpegGuard write_guard;
  jpeg_decompress_struct source{};
  jpeg_compress_struct destination{};
  struct OutputManager {
    jpeg_destination_mgr pub;  // first, so libjpeg's pointer is ours
    State* state;
  } output_manager{};
  jvirt_barray_ptr* coefficients = nullptr;  // as stored
  Turn turn;
  // The coefficients as a viewer sees them, when `turn` moves any.
  std::array<jvirt_barray_ptr, 3> turned{};
  int width = 0;  // as a viewer sees it
  int height = 0;
  cv::Size mcu;
  std::array<Component, 3> components;
  int64_t max_edit_pixels = 0;
  bool encoded = false;
  std::vector<JOCTET> chunk;
  std::string output;
  DecodeMemoryBudget::Lease memory;
};

namespace {

using State = JpegCoefficientEditor::State;

// The steps that may longjmp; see jpeg_guard.h.
absl::Status ReadHeader(State* state, absl::string_view bytes) {
  j_decompress_ptr cinfo = &state->source;
  if (setjmp(state->read_guard.jump) != 0) return state->read_guard.status;
  jpeg_create_decompress(cinfo);  // keeps err and client_data
  cinfo->progress = &state->read_guard.progress;
  jpeg_mem_src(cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(cinfo, TRUE);
  return absl::OkStatus();
}

absl::Status ReadCoefficients(State* state) {
  j_decompress_ptr cinfo = &state->source;
  if (setjmp(state->read_guard.jump) != 0) {
    // jpeg_read_coefficients reads up to the end-of-image marker, where a
    // decode stops after the last row: damage past the image data fails
    // here alone. Decoding decides such a file.
    if (state->read_guard.library_error) {
      return absl::FailedPreconditionError(
          absl::StrCat(state->read_guard.status.message(), "; decode it instead"));
    }
    return state->read_guard.status;
  }
  const Turn turn = state->turn;
  // The turned arrays hold whole MCUs of the turned sampling, as the
  // encoder reads them.
  auto turned_size = [&](int c) {
    const State::Component& component = state->components[c];
    const jpeg_component_info& info = cinfo->comp_info[c];
    const int h = turn.transpose ? info.v_samp_factor : info.h_samp_factor;
    const int v = turn.transpose ? info.h_samp_factor : info.v_samp_factor;
    return cv::Size(static_cast<int>(RoundUp(component.width_in_blocks, h)),
                    static_cast<int>(RoundUp(component.height_in_blocks, v)));
  };
  if (turn.any()) {
    // libjpeg takes arrays only before it reads (as jpegtran's are).
    for (int c = 0; c < 3; ++c) {
      const cv::Size size = turned_size(c);
      const int max_rows = turn.transpose ? cinfo->comp_info[c].h_samp_factor
                                          : cinfo->comp_info[c].v_samp_factor;
      state->turned[c] = (*cinfo->mem->request_virt_barray)(
          reinterpret_cast<j_common_ptr>(cinfo), JPOOL_IMAGE, FALSE,
          static_cast<JDIMENSION>(size.width), static_cast<JDIMENSION>(size.height),
          static_cast<JDIMENSION>(max_rows));
    }
  }
  state->coefficients = jpeg_read_coefficients(cinfo);
  // One row per access: libjpeg allows no more than the rows it asked for
  // (all are in memory, as there is no backing store).
  auto rows_of = [cinfo](jvirt_barray_ptr array, int count) {
    std::vector<JBLOCKROW> rows;
    rows.reserve(count);
    for (int row = 0; row < count; ++row) {
      rows.push_back(
          (*cinfo->mem->access_virt_barray)(reinterpret_cast<j_common_ptr>(cinfo), array,
                                            static_cast<JDIMENSION>(row), 1, TRUE)[0]);
    }
    return rows;
  };
  for (int c = 0; c < 3; ++c) {
    State::Component& component = state->components[c];
    if (!turn.any()) {
      component.rows = rows_of(state->coefficients[c], component.height_in_blocks);
      continue;
    }
    const jpeg_component_info& info = cinfo->comp_info[c];
    const int stored_width = static_cast<int>(info.width_in_blocks);
    const int stored_height = static_cast<int>(info.height_in_blocks);
    const std::vector<JBLOCKROW> stored = rows_of(state->coefficients[c], stored_height);
    // Every row, the MCU padding below the image too: libjpeg refuses to
    // read a row of an array that was never written. The padding is zeros.
    const cv::Size turned = turned_size(c);
    component.rows = rows_of(state->turned[c], turned.height);
    for (size_t row = component.height_in_blocks; row < component.rows.size(); ++row) {
      std::fill_n(&component.rows[row][0][0], size_t{DCTSIZE2} * turned.width, JCOEF{0});
    }
    component.rows.resize(component.height_in_blocks);
    // Where each turned coefficient comes from, and its sign: a mirror
    // negates the odd frequencies along the mirrored direction.
    std::array<int, DCTSIZE2> from;
    std::array<JCOEF, DCTSIZE2> sign;
    for (int v = 0; v < kBlock; ++v) {
      for (int u = 0; u < kBlock; ++u) {
        // The stored block's horizontal and vertical frequencies.
        const int su = turn.transpose ? v : u, sv = turn.transpose ? u : v;
        from[v * kBlock + u] = sv * kBlock + su;
        const bool negate =
            (turn.mirror_x && su % 2 == 1) != (turn.mirror_y && sv % 2 == 1);
        sign[v * kBlock + u] = negate ? -1 : 1;
      }
    }
    for (int by = 0; by < component.height_in_blocks; ++by) {
      for (int bx = 0; bx < component.width_in_blocks; ++bx) {
        int sx = turn.transpose ? by : bx, sy = turn.transpose ? bx : by;
        if (turn.mirror_x) sx = stored_width - 1 - sx;
        if (turn.mirror_y) sy = stored_height - 1 - sy;
        const JCOEF* in = stored[sy][sx];
        JCOEF* out = component.rows[by][bx];
        for (int k = 0; k < DCTSIZE2; ++k)
          out[k] = static_cast<JCOEF>(in[from[k]] * sign[k]);
      }
    }
  }
  return absl::OkStatus();
}

// Whether every coefficient can be written back as baseline JPEG. A hostile
// file's own Huffman tables can code values no 8-bit image has (up to 15
// bits); libjpeg-turbo's SIMD Huffman encoder writes those without an error
// but as a corrupt stream, which decodes to other pixels all over the image.
// One min/max pass over each block row (a loop of fixed length per block,
// which the compiler vectorises), a block at a time only for a row that
// fails it.
bool FitsBaseline(const State& state) {
  for (const State::Component& component : state.components) {
    for (JBLOCKROW row : component.rows) {
      JCOEF low = 0, high = 0;
      for (int b = 0; b < component.width_in_blocks; ++b) {
        const JCOEF* block = row[b];
        for (int k = 0; k < DCTSIZE2; ++k) {
          low = std::min(low, block[k]);
          high = std::max(high, block[k]);
        }
      }
      if (low >= -kMaxCoefficient && high <= kMaxCoefficient) continue;
      for (int b = 0; b < component.width_in_blocks; ++b) {
        const JCOEF* block = row[b];
        if (block[0] < kMinDc || block[0] > kMaxCoefficient) return false;
        for (int k = 1; k < DCTSIZE2; ++k) {
          if (block[k] < -kMaxCoefficient || block[k] > kMaxCoefficient) return false;
        }
      }
    }
  }
  return true;
}

// The output goes into State::output, a chunk at a time; an allocation
// failure becomes an error status rather than an exception through C.
State* StateOf(j_compress_ptr cinfo) {
  return reinterpret_cast<State::OutputManager*>(cinfo->dest)->state;
}

void InitOutput(j_compress_ptr cinfo) {
  State* state = StateOf(cinfo);
  cinfo->dest->next_output_byte = state->chunk.data();
  cinfo->dest->free_in_buffer = state->chunk.size();
}

void AppendOutput(j_compress_ptr cinfo, size_t size) {
  State* state = StateOf(cinfo);
  try {
    state->output.append(reinterpret_cast<const char*>(state->chunk.data()), size);
  } catch (const std::bad_alloc&) {
    state->write_guard.status =
        absl::ResourceExhaustedError("there is not enough memory to encode the image");
    internal::StopJpeg(&state->write_guard);
  }
}

boolean EmptyOutput(j_compress_ptr cinfo) {
  AppendOutput(cinfo, StateOf(cinfo)->chunk.size());
  InitOutput(cinfo);
  return TRUE;
}

void TermOutput(j_compress_ptr cinfo) {
  AppendOutput(cinfo, StateOf(cinfo)->chunk.size() - cinfo->dest->free_in_buffer);
}

absl::Status WriteCoefficients(State* state) {
  j_compress_ptr cinfo = &state->destination;
  if (setjmp(state->write_guard.jump) != 0) {
    // What libjpeg refuses to write, a decode may still take: coefficients
    // out of baseline Huffman coding's range (a hostile file's), or a
    // quantisation table the file redefined after a component's first scan
    // (jpeg_copy_critical_parameters copies the last). The caller decodes.
    if (state->write_guard.library_error) {
      return absl::FailedPreconditionError(
          absl::StrCat(state->write_guard.status.message(), "; decode it instead"));
    }
    return state->write_guard.status;
  }
  jpeg_create_compress(cinfo);  // keeps err and client_data
  cinfo->progress = &state->write_guard.progress;
  cinfo->mem->max_memory_to_use = kLibjpegOverhead;
  state->output_manager.state = state;
  state->output_manager.pub.init_destination = InitOutput;
  state->output_manager.pub.empty_output_buffer = EmptyOutput;
  state->output_manager.pub.term_destination = TermOutput;
  cinfo->dest = &state->output_manager.pub;
  // Quantisation tables, sampling, colour space and JFIF density from the
  // source; no marker is copied, so EXIF, ICC and comments are dropped.
  jpeg_copy_critical_parameters(&state->source, cinfo);
  if (state->turn.transpose) {
    // Turned a quarter: width and height, sampling, density and the
    // quantisation tables (the blocks' rows are their columns now).
    std::swap(cinfo->image_width, cinfo->image_height);
    std::swap(cinfo->X_density, cinfo->Y_density);
    for (int c = 0; c < cinfo->num_components; ++c) {
      std::swap(cinfo->comp_info[c].h_samp_factor, cinfo->comp_info[c].v_samp_factor);
    }
    for (JQUANT_TBL* table : cinfo->quant_tbl_ptrs) {
      if (table == nullptr) continue;
      for (int v = 0; v < kBlock; ++v) {
        for (int u = v + 1; u < kBlock; ++u) {
          std::swap(table->quantval[v * kBlock + u], table->quantval[u * kBlock + v]);
        }
      }
    }
  }
  // The standard Huffman tables: fitting tables to this image takes a second
  // pass that triples the cost of writing (36 instead of 11 ms for 12 MP)
  // for files about 2% smaller.
  cinfo->optimize_coding = FALSE;
  jpeg_write_coefficients(cinfo,
                          state->turn.any() ? state->turned.data() : state->coefficients);
  jpeg_finish_compress(cinfo);
  return absl::OkStatus();
}

}  // namespace

JpegCoefficientEditor::JpegCoefficientEditor(std::unique_ptr<State> state)
    : state_(std::move(state)) {}
JpegCoefficientEditor::JpegCoefficientEditor(JpegCoefficientEditor&&) noexcept = default;
JpegCoefficientEditor& JpegCoefficientEditor::operator=(
    JpegCoefficientEditor&&) noexcept = default;
JpegCoefficientEditor::~JpegCoefficientEditor() = default;

cv::Size JpegCoefficientEditor::size() const { return {state_->width, state_->height}; }
cv::Size JpegCoefficientEditor::mcu_size() const { return state_->mcu; }

absl::StatusOr<JpegCoefficientEditor> JpegCoefficientEditor::Open(
    absl::string_view bytes, const DecodeLimits& limits, int64_t max_edit_pixels) {
  absl::StatusOr<ImageHeader> header = ReadImageHeader(bytes);
  if (!header.ok()) return header.status();
  return Open(bytes, *header, limits, max_edit_pixels);
}

absl::StatusOr<JpegCoefficientEditor> JpegCoefficientEditor::Open(
    absl::string_view bytes, const ImageHeader& header, const DecodeLimits& limits,
    int64_t max_edit_pixels) {
  if (header.format != ImageFormat::kJpeg) {
    return absl::FailedPreconditionError(absl::StrCat(
        "a ", ImageFormatName(header.format), " image has no DCT coefficients"));
  }
  if (absl::Status status = internal::CheckHeaderSize(header, limits); !status.ok()) {
    return status;
  }
  auto state = std::make_unique<State>();
  state->control = internal::MakeDecodeControl(limits);
  if (absl::Status status = state->control.Check(); !status.ok()) return status;
  state->turn = Turn::For(header.orientation);
  internal::InstallJpegGuard(reinterpret_cast<j_common_ptr>(&state->source),
                             &state->read_guard, &state->control, /*decompressing=*/true);
  internal::InstallJpegGuard(reinterpret_cast<j_common_ptr>(&state->destination),
                             &state->write_guard, &state->control,
                             /*decompressing=*/false);
  if (absl::Status status = ReadHeader(state.get(), bytes); !status.ok()) return status;

  const jpeg_decompress_struct& source = state->source;
  if (source.jpeg_color_space != JCS_YCbCr || source.num_components != 3) {
    return absl::FailedPreconditionError(
        "the jpeg image is not YCbCr colour (greyscale cannot carry a coloured "
        "drawing); decode it instead");
  }
  if (source.data_precision != 8) {
    return absl::FailedPreconditionError(
        "the jpeg image is not 8 bits per sample; decode it instead");
  }
  const int max_h = source.max_h_samp_factor, max_v = source.max_v_samp_factor;
  int64_t coefficient_bytes = 0;
  for (int c = 0; c < 3; ++c) {
    const jpeg_component_info& info = source.comp_info[c];
    State::Component& component = state->components[c];
    if (info.h_samp_factor <= 0 || info.v_samp_factor <= 0 ||
        max_h % info.h_samp_factor != 0 || max_v % info.v_samp_factor != 0 ||
        max_h / info.h_samp_factor > 2 || max_v / info.v_samp_factor > 2 ||
        (c == 0 && (info.h_samp_factor != max_h || info.v_samp_factor != max_v))) {
      return absl::FailedPreconditionError(
          "the jpeg image has an unusual chroma sampling; decode it instead");
    }
    component.h_ratio = max_h / info.h_samp_factor;
    component.v_ratio = max_v / info.v_samp_factor;
    component.width_in_blocks = static_cast<int>(info.width_in_blocks);
    component.height_in_blocks = static_cast<int>(info.height_in_blocks);
    component.width = static_cast<int>(info.downsampled_width);
    component.height = static_cast<int>(info.downsampled_height);
    // libjpeg's whole-image arrays hold whole MCUs.
    auto array_bytes = [](int64_t width_in_blocks, int64_t height_in_blocks, int h,
                          int v) {
      return RoundUp(width_in_blocks, h) * RoundUp(height_in_blocks, v) *
             int64_t{sizeof(JBLOCK)};
    };
    const int64_t stored_bytes = array_bytes(info.width_in_blocks, info.height_in_blocks,
                                             info.h_samp_factor, info.v_samp_factor);
    coefficient_bytes += stored_bytes;
    // Turned blocks take a second array, of whole turned MCUs, and the
    // component is described as a viewer sees it.
    if (state->turn.transpose) {
      coefficient_bytes += array_bytes(info.height_in_blocks, info.width_in_blocks,
                                       info.v_samp_factor, info.h_samp_factor);
      std::swap(component.h_ratio, component.v_ratio);
      std::swap(component.width_in_blocks, component.height_in_blocks);
      std::swap(component.width, component.height);
    } else if (state->turn.any()) {
      coefficient_bytes += stored_bytes;
    }
  }
  state->width = static_cast<int>(source.image_width);
  state->height = static_cast<int>(source.image_height);
  state->mcu = cv::Size(kBlock * max_h, kBlock * max_v);
  // A mirror moves whole blocks, so the mirrored side must be whole MCUs:
  // a partial MCU at the far edge holds padding that would come first
  // (jpegtran's -perfect). Most cameras' sizes are (4032 x 3024 at 4:2:0).
  if ((state->turn.mirror_x && state->width % state->mcu.width != 0) ||
      (state->turn.mirror_y && state->height % state->mcu.height != 0)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the jpeg image has EXIF orientation ", header.orientation,
        " and a partial block at the edge it would turn to the front; decode it "
        "instead"));
  }
  if (state->turn.transpose) {
    std::swap(state->width, state->height);
    std::swap(state->mcu.width, state->mcu.height);
  }
  if (max_edit_pixels < 0) max_edit_pixels = 0;
  state->max_edit_pixels = max_edit_pixels;

  const internal::SourceInfo info{.width = source.image_width,
                                  .height = source.image_height,
                                  .channels = 3,
                                  .bytes_per_channel = 1,
                                  .library_bytes = coefficient_bytes};
  // As DecodeImage counts: the library's image-sized buffers (here the
  // coefficients) and ours (the output, regions), not its small tables.
  const int64_t peak = coefficient_bytes + 2 * int64_t(bytes.size()) + kOutputChunk +
                       max_edit_pixels * kEditBytesPerPixel;
  if (absl::Status status = internal::AdmitImage(header, info, limits, peak,
                                                 state->control.deadline, &state->memory);
      !status.ok()) {
    return status;
  }
  // No backing store: whole-image arrays beyond this are an error, not an
  // allocation.
  state->source.mem->max_memory_to_use =
      static_cast<long>(coefficient_bytes + kLibjpegOverhead);
  try {
    for (State::Component& component : state->components) {
      component.rows.reserve(component.height_in_blocks);
    }
    state->chunk.resize(kOutputChunk);
    state->output.reserve(bytes.size() + kOutputChunk);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("there is not enough memory to edit the image");
  }
  if (absl::Status status = ReadCoefficients(state.get()); !status.ok()) return status;
  for (int c = 0; c < 3; ++c) {
    const JQUANT_TBL* table = state->source.comp_info[c].quant_table;
    if (table == nullptr) {
      return absl::InvalidArgumentError(
          "the jpeg image could not be decoded: a component has no quantisation table");
    }
    for (int i = 0; i < 64; ++i) {
      // Turned blocks are transposed: so is their table.
      const int turned = state->turn.transpose ? i % kBlock * kBlock + i / kBlock : i;
      state->components[c].quant[turned] = table->quantval[i];
      if (table->quantval[i] == 0) {
        return absl::InvalidArgumentError(
            "the jpeg image could not be decoded: a quantisation table holds a zero");
      }
    }
  }
  if (!FitsBaseline(*state)) {
    return absl::FailedPreconditionError(
        "the jpeg image holds DCT coefficients beyond 8-bit JPEG's range, which a "
        "baseline JPEG cannot code; decode it instead");
  }
  return JpegCoefficientEditor(std::move(state));
}

absl::StatusOr<cv::Rect> JpegCoefficientEditor::Edit(
    cv::Rect area, absl::FunctionRef<absl::Status(cv::Mat& bgr, cv::Point origin)> draw) {
  State& state = *state_;
  if (state.encoded) return absl::FailedPreconditionError("the image is encoded already");
  area &= cv::Rect(0, 0, state.width, state.height);
  if (area.empty()) return cv::Rect();
  const cv::Size mcu = state.mcu;
  auto round_down = [](int v, int step) { return v / step * step; };
  auto round_up = [](int v, int step) { return (v + step - 1) / step * step; };
  // Whole MCUs: the blocks of every component line up with them.
  const int x0 = round_down(area.x, mcu.width), y0 = round_down(area.y, mcu.height);
  const int x1 = round_up(area.br().x, mcu.width), y1 = round_up(area.br().y, mcu.height);
  // And one MCU around them, which chroma upsampling reads.
  const int cx0 = std::max(0, x0 - mcu.width), cy0 = std::max(0, y0 - mcu.height);
  const int cx1 = std::min(x1 + mcu.width, round_up(state.width, mcu.width));
  const int cy1 = std::min(y1 + mcu.height, round_up(state.height, mcu.height));
  const cv::Size context(cx1 - cx0, cy1 - cy0);
  if (int64_t{context.width} * context.height > state.max_edit_pixels) {
    return absl::FailedPreconditionError(
        absl::StrCat("a region of ", context.width, " x ", context.height,
                     " pixels is more than this editor was opened for"));
  }
  // The image pixels of the MCUs, within `context`.
  const cv::Rect visible(x0 - cx0, y0 - cy0, std::min(x1, state.width) - x0,
                         std::min(y1, state.height) - y0);

  std::array<cv::Mat, 3> planes;  // samples of `context`, per component
  cv::Mat bgr(visible.size(), CV_8UC3);
  try {
    for (int c = 0; c < 3; ++c) {
      const State::Component& component = state.components[c];
      cv::Mat& plane = planes[c];
      const int hr = component.h_ratio, vr = component.v_ratio;
      plane.create(context.height / vr, context.width / hr, CV_32F);
      plane.setTo(128);
      // The samples the visible pixels need: their own, and one more each
      // way where upsampling interpolates.
      const cv::Rect needed =
          cv::Rect(visible.x / hr - (hr > 1), visible.y / vr - (vr > 1),
                   (visible.width + hr - 1) / hr + 2 * (hr > 1),
                   (visible.height + vr - 1) / vr + 2 * (vr > 1)) &
          cv::Rect(0, 0, plane.cols, plane.rows);
      const int bx0 = cx0 / hr / kBlock;
      const int by0 = cy0 / vr / kBlock;
      for (int by = needed.y / kBlock; by <= (needed.br().y - 1) / kBlock; ++by) {
        for (int bx = needed.x / kBlock; bx <= (needed.br().x - 1) / kBlock; ++bx) {
          // Blocks past the component's last are MCU padding, wholly
          // outside the image: they are filled in below.
          if (by0 + by >= component.height_in_blocks ||
              bx0 + bx >= component.width_in_blocks) {
            continue;
          }
          InverseDct(component.rows[by0 + by][bx0 + bx], component.quant, plane,
                     bx * kBlock, by * kBlock);
        }
      }
      // Samples past the image's edge repeat the last ones, as a decoder's
      // upsampling assumes.
      const int cols = std::min(plane.cols, component.width - cx0 / component.h_ratio);
      const int rows = std::min(plane.rows, component.height - cy0 / component.v_ratio);
      if (cols < plane.cols) {
        for (int y = 0; y < std::min(rows, plane.rows); ++y) {
          float* row = plane.ptr<float>(y);
          std::fill(row + cols, row + plane.cols, row[cols - 1]);
        }
      }
      for (int y = rows; y < plane.rows; ++y) plane.row(rows - 1).copyTo(plane.row(y));
    }
    // Chroma to full size by linear interpolation between sample centres,
    // as libjpeg's "fancy" upsampling does.
    std::array<cv::Mat, 3> full;
    for (int c = 0; c < 3; ++c) {
      if (planes[c].size() == context) {
        full[c] = planes[c];
      } else {
        cv::resize(planes[c], full[c], context, 0, 0, cv::INTER_LINEAR);
      }
    }
    // YCbCr to BGR as one affine map over the visible pixels (vectorised
    // by OpenCV), rounded and saturated to bytes.
    const cv::Rect inside(visible.tl(), visible.size());
    cv::Mat ycbcr;
    cv::merge(std::vector<cv::Mat>{full[0](inside), full[1](inside), full[2](inside)},
              ycbcr);
    cv::Mat bgr_float;
    cv::transform(ycbcr, bgr_float, kYCbCrToBgr);
    bgr_float.convertTo(bgr, CV_8U);
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("decoding a jpeg region failed: ", e.what()));
  }

  const cv::Mat before = bgr.clone();
  cv::Mat canvas = bgr;
  if (absl::Status status = draw(canvas, cv::Point(x0, y0)); !status.ok()) return status;
  if (canvas.data != bgr.data || canvas.size() != visible.size() ||
      canvas.type() != CV_8UC3) {
    return absl::InternalError("the drawing replaced the region instead of changing it");
  }
  cv::Mat changed(visible.size(), CV_8U);
  for (int y = 0; y < visible.height; ++y) {
    const cv::Vec3b* a = before.ptr<cv::Vec3b>(y);
    const cv::Vec3b* b = bgr.ptr<cv::Vec3b>(y);
    uint8_t* out = changed.ptr<uint8_t>(y);
    for (int x = 0; x < visible.width; ++x) out[x] = a[x] != b[x] ? 1 : 0;
  }
  if (cv::countNonZero(changed) == 0) return cv::Rect();

  // New samples where pixels changed; every other sample keeps the value
  // its coefficients give, so unchanged blocks code back to themselves.
  const cv::Rect touched = cv::boundingRect(changed);
  std::array<cv::Mat, 3> drawn;  // the changed pixels' Y, Cb, Cr over `touched`
  try {
    cv::Mat drawn_bgr, drawn_ycbcr;
    bgr(touched).convertTo(drawn_bgr, CV_32F);
    cv::transform(drawn_bgr, drawn_ycbcr, kBgrToYCbCr);
    cv::split(drawn_ycbcr, drawn.data());
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("coding a jpeg region failed: ", e.what()));
  }
  cv::Rect extent;
  for (int c = 0; c < 3; ++c) {
    const State::Component& component = state.components[c];
    cv::Mat& plane = planes[c];
    const int hr = component.h_ratio, vr = component.v_ratio;
    cv::Mat dirty = cv::Mat::zeros(plane.rows / kBlock, plane.cols / kBlock, CV_8U);
    // `visible` starts on an MCU boundary, so on a sample boundary.
    const int sx0 = visible.x / hr, sy0 = visible.y / vr;
    for (int sy = touched.y / vr; sy * vr < touched.br().y; ++sy) {
      float* row = plane.ptr<float>(sy0 + sy);
      const int y_begin = std::max(sy * vr, touched.y);
      const int y_end = std::min((sy + 1) * vr, touched.br().y);
      for (int sx = touched.x / hr; sx * hr < touched.br().x; ++sx) {
        // The sample covers hr x vr pixels; a changed one makes it their
        // mean, with unchanged pixels counting at the old value. (Pixels
        // outside `touched` are unchanged.)
        const int x_begin = std::max(sx * hr, touched.x);
        const int x_end = std::min((sx + 1) * hr, touched.br().x);
        const int pixels = (std::min((sy + 1) * vr, visible.height) - sy * vr) *
                           (std::min((sx + 1) * hr, visible.width) - sx * hr);
        const float old_value = row[sx0 + sx];
        float sum = 0;
        int changed_pixels = 0;
        for (int y = y_begin; y < y_end; ++y) {
          const uint8_t* is_changed = changed.ptr<uint8_t>(y);
          const float* value = drawn[c].ptr<float>(y - touched.y) - touched.x;
          for (int x = x_begin; x < x_end; ++x) {
            if (is_changed[x] == 0) continue;
            ++changed_pixels;
            sum += value[x];
          }
        }
        if (changed_pixels == 0) continue;
        row[sx0 + sx] = (sum + old_value * (pixels - changed_pixels)) / pixels;
        dirty.at<uint8_t>((sy0 + sy) / kBlock, (sx0 + sx) / kBlock) = 1;
      }
    }
    const int bx0 = cx0 / hr / kBlock, by0 = cy0 / vr / kBlock;
    for (int by = 0; by < dirty.rows; ++by) {
      for (int bx = 0; bx < dirty.cols; ++bx) {
        // Changed pixels lie in the image, so in real blocks.
        if (dirty.at<uint8_t>(by, bx) == 0 || by0 + by >= component.height_in_blocks ||
            bx0 + bx >= component.width_in_blocks) {
          continue;
        }
        ForwardDct(plane, bx * kBlock, by * kBlock, component.quant,
                   component.rows[by0 + by][bx0 + bx]);
        extent |= cv::Rect(cx0 + bx * kBlock * hr, cy0 + by * kBlock * vr, kBlock * hr,
                           kBlock * vr);
      }
    }
  }
  return extent & cv::Rect(0, 0, state.width, state.height);
}

absl::StatusOr<std::string> JpegCoefficientEditor::Encode() {
  State& state = *state_;
  if (state.encoded) return absl::FailedPreconditionError("the image is encoded already");
  state.encoded = true;
  if (absl::Status status = WriteCoefficients(&state); !status.ok()) return status;
  return std::move(state.output);
}

}  // namespace stache::imaging
