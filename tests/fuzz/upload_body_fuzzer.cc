// libFuzzer target: the gateway's request body reader on its own
// (gateway/internal/upload_body.h and the streaming multipart parser under
// it), without sockets, so that it runs thousands of times faster than
// gateway_http_fuzzer. Input: one byte choosing the Content-Type (multipart
// with boundary "XyZ", multipart with a boundary read from the input, or a
// raw image), one byte seeding how the body is split into pieces, then the
// body. Checks, besides ASan: no form larger than the limits, memory
// reserved within the budget and all of it given back.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "gateway/internal/upload_body.h"

namespace {

using ::stache::gateway::internal::BodyMemoryBudget;
using ::stache::gateway::internal::kMaxFormFieldBytes;
using ::stache::gateway::internal::UploadBodyReader;
using ::stache::gateway::internal::UploadForm;

constexpr int64_t kMaxBodyBytes = 64 * 1024;
constexpr int64_t kBudgetBytes = 256 * 1024;

void Check(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "upload_body_fuzzer: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t mode = data[0] % 3;
  uint32_t split = data[1];
  std::string body(reinterpret_cast<const char*>(data + 2), size - 2);
  std::string content_type = "image/jpeg";
  if (mode == 0) {
    content_type = "multipart/form-data; boundary=XyZ";
  } else if (mode == 1) {
    const size_t line_end = body.find('\n');
    content_type = "multipart/form-data; " + body.substr(0, line_end);
    body = line_end == std::string::npos ? "" : body.substr(line_end + 1);
  }
  BodyMemoryBudget budget(kBudgetBytes);
  {
    UploadBodyReader reader(content_type, kMaxBodyBytes, &budget);
    bool ok = reader.Begin(split % 5 == 0 ? std::optional<uint64_t>(body.size())
                                          : std::nullopt);
    size_t at = 0;
    while (ok && at < body.size()) {
      // Pieces of 1..64 bytes, then whatever is left in larger steps.
      split = split * 1103515245u + 12345u;
      const size_t piece = 1 + (split >> 16) % 64;
      ok = reader.Write(absl::string_view(body).substr(at, piece));
      at += piece;
      Check(budget.used() <= budget.limit(), "reserved more than the budget");
    }
    if (ok) {
      absl::StatusOr<UploadForm> form = reader.Finish();
      if (form.ok()) {
        Check(!form->image.empty(), "an empty image was accepted");
        Check(static_cast<int64_t>(form->image.size()) <= kMaxBodyBytes,
              "image over the limit");
        Check(form->style.size() <= kMaxFormFieldBytes, "style over its limit");
        Check(form->format.size() <= kMaxFormFieldBytes, "format over its limit");
      } else {
        Check(reader.refusal().has_value(), "a refusal without a status");
      }
    } else {
      Check(reader.refusal().has_value(), "stopped without saying why");
      const int status = reader.refusal()->http_status;
      Check(status == 400 || status == 413 || status == 503, "unexpected refusal status");
    }
  }
  Check(budget.used() == 0, "memory reservation not given back");
  return 0;
}
