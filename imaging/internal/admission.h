// The size checks and memory reservation every decode of client bytes goes
// through, shared by DecodeImage and JpegCoefficientEditor so that both
// refuse the same images with the same messages.
//
//   STACHE_RETURN_IF_ERROR(CheckHeaderSize(header, limits));
//   ... the library reads its header into `info` ...
//   STACHE_RETURN_IF_ERROR(AdmitImage(header, info, limits, peak, deadline, &lease));
#ifndef STACHE_IMAGING_INTERNAL_ADMISSION_H_
#define STACHE_IMAGING_INTERNAL_ADMISSION_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "imaging/decode_budget.h"
#include "imaging/image_decoder.h"
#include "imaging/image_format.h"
#include "imaging/internal/format_decoders.h"

namespace stache::imaging::internal {

// A first refusal from our own reading of the header, before any library
// sees the bytes: a small file may announce a huge image.
absl::Status CheckHeaderSize(const ImageHeader& header, const DecodeLimits& limits);

// The binding checks, on the size the format's library itself read from the
// header it is about to decode: the same size as `header`, the pixel limit,
// the decoded-byte limit; then reserves `peak_bytes` from `limits.budget`
// (if any) into `lease`, waiting at most until `deadline`.
absl::Status AdmitImage(const ImageHeader& header, const SourceInfo& info,
                        const DecodeLimits& limits, int64_t peak_bytes,
                        absl::Time deadline, DecodeMemoryBudget::Lease* lease);

// The decode's own deadline: the caller's, or max_decode_time from now.
DecodeControl MakeDecodeControl(const DecodeLimits& limits);

}  // namespace stache::imaging::internal

#endif  // STACHE_IMAGING_INTERNAL_ADMISSION_H_
