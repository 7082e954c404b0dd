// Changes a few regions of a JPEG without decoding and re-encoding the rest:
// reads the DCT coefficients (libjpeg's jpeg_read_coefficients), decodes only
// the 8 x 8 blocks of a region to BGR pixels, lets the caller draw on them,
// and codes only the blocks whose pixels changed back, with the image's own
// quantisation tables. Every other block keeps its coefficients bit for bit,
// so a decoder shows exactly the pixels it showed before outside the
// changed blocks (give or take one pixel of chroma upsampling next to them):
// no generation loss, and a fraction of the CPU of a full decode and encode.
//
//   STACHE_ASSIGN_OR_RETURN(JpegCoefficientEditor editor,
//                           JpegCoefficientEditor::Open(bytes, limits, 500 * 200));
//   STACHE_RETURN_IF_ERROR(editor.Edit(area, [](cv::Mat& bgr, cv::Point origin) {
//     return Draw(bgr, origin);  // BGR pixels of `area` rounded out to whole MCUs
//   }));
//   STACHE_ASSIGN_OR_RETURN(std::string jpeg, editor.Encode());
#ifndef STACHE_IMAGING_JPEG_COEFFICIENT_EDITOR_H_
#define STACHE_IMAGING_JPEG_COEFFICIENT_EDITOR_H_

#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "imaging/image_decoder.h"

namespace stache::imaging {

// Move-only; one editor is used by one thread at a time. `bytes` passed to
// Open must outlive it.
class JpegCoefficientEditor final {
 public:
  // Reads the coefficients of the JPEG `bytes` under the same checks and
  // messages as DecodeImage (header size first, then the pixel and byte
  // limits, the memory budget, the scan limit, the deadline, libjpeg's
  // errors), reserving the coefficients, the output and regions of up to
  // `max_edit_pixels` pixels from `limits.budget`.
  //
  // An EXIF orientation other than 1 is applied losslessly, as jpegtran
  // turns a photo: blocks are moved, transposed and mirrored, so the editor,
  // its regions and the output (which carries no EXIF) show the photo as a
  // viewer and DecodeImage do.
  //
  // FAILED_PRECONDITION, before any coefficient is read, for a valid JPEG
  // this editor cannot change faithfully, so the caller decodes it instead:
  // an orientation that would mirror a side that is not a whole number of
  // MCUs (its padding would come first), a colour space other than YCbCr
  // (greyscale cannot carry a coloured drawing; CMYK), a precision other
  // than 8 bits, or chroma sampling other than 1 or 2 luma pixels per
  // chroma sample each way.
  // Also FAILED_PRECONDITION for damage libjpeg finds after the last row of
  // image data (reading coefficients goes on to the end-of-image marker, a
  // decode stops before), for coefficients a baseline JPEG cannot code (a
  // hostile Huffman table's; libjpeg-turbo's SIMD encoder would write them
  // as a corrupt stream), and from Encode for whatever libjpeg refuses to
  // write (a quantisation table redefined between scans): DecodeImage
  // decides those files.
  static absl::StatusOr<JpegCoefficientEditor> Open(absl::string_view bytes,
                                                    const DecodeLimits& limits,
                                                    int64_t max_edit_pixels);
  // The same with `header` read from `bytes` already by ReadImageHeader, as
  // DecodeImage's overload takes it: the bytes are not parsed again.
  static absl::StatusOr<JpegCoefficientEditor> Open(absl::string_view bytes,
                                                    const ImageHeader& header,
                                                    const DecodeLimits& limits,
                                                    int64_t max_edit_pixels);

  JpegCoefficientEditor(JpegCoefficientEditor&&) noexcept;
  JpegCoefficientEditor& operator=(JpegCoefficientEditor&&) noexcept;
  ~JpegCoefficientEditor();

  // Width and height as a viewer sees them (orientation applied).
  cv::Size size() const;
  // Pixels per MCU each way, as a viewer sees them: 8 or 16, by the chroma
  // sampling.
  cv::Size mcu_size() const;

  // Decodes `area` (clipped to the image, rounded out to whole MCUs) to
  // CV_8UC3 BGR, calls `draw` with those pixels and their top-left corner in
  // the image, and codes every 8 x 8 block (per component) in which a pixel
  // changed back. Returns the changed blocks' extent in image pixels (empty
  // when `draw` changed nothing). Blocks outside it are untouched.
  // FAILED_PRECONDITION when the rounded area with one MCU around it (which
  // chroma upsampling reads) exceeds the `max_edit_pixels` given to Open;
  // `draw`'s own error otherwise.
  absl::StatusOr<cv::Rect> Edit(
      cv::Rect area,
      absl::FunctionRef<absl::Status(cv::Mat& bgr, cv::Point origin)> draw);

  // A baseline JPEG of the coefficients with the source's quantisation
  // tables and sampling, the standard Huffman tables, a JFIF header (with the
  // source's density) and no other marker: no EXIF, ICC profile or comment,
  // as EncodeImage writes none. The editor cannot be used afterwards.
  absl::StatusOr<std::string> Encode();

  // Opaque: libjpeg's objects and the coefficients, defined in the .cc.
  struct State;

 private:
  explicit JpegCoefficientEditor(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace stache::imaging

#endif  // STACHE_IMAGING_JPEG_COEFFICIENT_EDITOR_H_
