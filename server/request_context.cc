#include "server/request_context.h"

#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace stache::server {
namespace {

std::string RandomHex(int bytes) {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  std::string out;
  while (static_cast<int>(out.size()) < 2 * bytes) {
    absl::StrAppend(&out, absl::StrFormat("%016x", generator()));
  }
  out.resize(2 * bytes);
  return out;
}

bool IsLowerHex(absl::string_view text) {
  for (char c : text) {
    if (!absl::ascii_isdigit(c) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

bool AllZero(absl::string_view text) {
  return text.find_first_not_of('0') == absl::string_view::npos;
}

// Plain enough to echo in headers and logs as it is.
bool IsSaneRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' &&
        c != '.' && c != ':') {
      return false;
    }
  }
  return true;
}

std::string NewTraceparent() {
  return absl::StrCat("00-", RandomHex(16), "-", RandomHex(8), "-01");
}

}  // namespace

bool IsValidTraceparent(absl::string_view traceparent) {
  if (traceparent.size() != 55 || traceparent[2] != '-' || traceparent[35] != '-' ||
      traceparent[52] != '-') {
    return false;
  }
  const absl::string_view version = traceparent.substr(0, 2);
  const absl::string_view trace_id = traceparent.substr(3, 32);
  const absl::string_view span_id = traceparent.substr(36, 16);
  const absl::string_view flags = traceparent.substr(53, 2);
  return version == "00" && IsLowerHex(trace_id) && IsLowerHex(span_id) &&
         IsLowerHex(flags) && !AllZero(trace_id) && !AllZero(span_id);
}

std::string NewRequestId() { return RandomHex(16); }

RequestContext RequestContext::FromIncoming(absl::string_view request_id,
                                            absl::string_view traceparent) {
  return RequestContext(
      IsSaneRequestId(request_id) ? std::string(request_id) : NewRequestId(),
      IsValidTraceparent(traceparent) ? std::string(traceparent) : NewTraceparent());
}

std::string RequestContext::trace_id() const {
  return traceparent_.size() == 55 ? traceparent_.substr(3, 32) : "";
}

RequestContext RequestContext::ChildSpan() const {
  if (!IsValidTraceparent(traceparent_)) return FromIncoming(request_id_, "");
  return RequestContext(request_id_, absl::StrCat(traceparent_.substr(0, 36),
                                                  RandomHex(8), traceparent_.substr(52)));
}

LogFields RequestContext::WithLogFields(LogFields fields) const {
  if (!fields.is_object()) fields = LogFields::object();
  fields["request_id"] = request_id_;
  fields["traceparent"] = traceparent_;
  return fields;
}

}  // namespace stache::server
