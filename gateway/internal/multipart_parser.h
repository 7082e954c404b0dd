// A streaming parser of multipart/form-data bodies (RFC 7578 / RFC 2046):
// bytes go in as they arrive off the socket, in pieces of any size, and come
// out as parts (name, file name, content type) and their data, without the
// body ever being held whole. Its own memory is bounded (a delimiter's worth
// of lookahead, one part's headers); what the data callback keeps is the
// caller's business. No HTTP library types: fuzzed on its own
// (tests/fuzz/multipart_fuzzer.cc).
//
//   MultipartParser parser(*BoundaryFromContentType(content_type),
//                          {.on_part = [&](const MultipartPart& p) { ...; return true; },
//                           .on_data = [&](absl::string_view d) { ...; return true; }});
//   for (auto piece : pieces) STACHE_RETURN_IF_ERROR(parser.Feed(piece));
//   STACHE_RETURN_IF_ERROR(parser.Finish());
#ifndef STACHE_GATEWAY_INTERNAL_MULTIPART_PARSER_H_
#define STACHE_GATEWAY_INTERNAL_MULTIPART_PARSER_H_

#include <cstddef>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace stache::gateway::internal {

// Headers of one part longer than this are refused (browsers send ~150 bytes).
inline constexpr size_t kMaxPartHeaderBytes = 8 * 1024;
// More parts than this are refused: an upload form has two or three.
inline constexpr int kMaxParts = 16;
// RFC 2046 allows boundaries of 1..70 characters.
inline constexpr size_t kMaxBoundaryBytes = 70;

// What a part says about itself in its headers.
struct MultipartPart {
  std::string name;          // Content-Disposition's name, "" when absent
  std::string filename;      // Content-Disposition's filename, "" when absent
  std::string content_type;  // "" when absent
};

// The boundary parameter of a multipart/form-data Content-Type (quoted or
// not); INVALID_ARGUMENT when it is missing or not a valid boundary.
absl::StatusOr<std::string> BoundaryFromContentType(absl::string_view content_type);

// Not thread-safe; one per body.
class MultipartParser final {
 public:
  struct Callbacks {
    // A new part begins; false stops parsing (Feed returns CANCELLED).
    std::function<bool(const MultipartPart&)> on_part;
    // The next bytes of the current part's data; false stops parsing.
    std::function<bool(absl::string_view)> on_data;
  };

  MultipartParser(absl::string_view boundary, Callbacks callbacks);

  // The next bytes of the body. INVALID_ARGUMENT when they are not
  // multipart (the message says why), CANCELLED when a callback said stop.
  // After an error every later call returns it again.
  absl::Status Feed(absl::string_view data);
  // The body ended: INVALID_ARGUMENT unless the closing delimiter was seen.
  absl::Status Finish();

  int parts() const { return parts_; }

 private:
  enum class State { kPreamble, kAfterDelimiter, kHeaders, kData, kEpilogue, kFailed };

  // Consumes what it can of buffered_; false when more bytes are needed.
  bool Step();
  bool Fail(absl::Status status);
  bool ParseHeaders(absl::string_view block);

  const std::string delimiter_;  // "\r\n--" + boundary
  Callbacks callbacks_;
  State state_ = State::kPreamble;
  // Bytes received and not yet consumed: at most one part's headers or a
  // delimiter's length of data (plus the piece being fed).
  std::string buffered_;
  size_t preamble_bytes_ = 0;
  int parts_ = 0;
  absl::Status error_;
};

}  // namespace stache::gateway::internal

#endif  // STACHE_GATEWAY_INTERNAL_MULTIPART_PARSER_H_
