#include "gateway/http_errors.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "server/error_reason.h"

namespace stache::gateway {

int HttpStatusForCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnknown:
      return 500;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kFailedPrecondition:
      return 400;
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kInternal:
      return 500;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDataLoss:
      return 500;
    default:
      return 500;
  }
}

int HttpStatusFor(const absl::Status& status) {
  if (server::ReasonOf(status) == server::kReasonNotAnImage) return 415;
  return HttpStatusForCode(status.code());
}

namespace {

// Characters that end a word of a message for redaction purposes.
bool IsWordBoundary(char c) {
  return absl::ascii_isspace(static_cast<unsigned char>(c)) ||
         absl::string_view("'\"(),;<>`").find(c) != absl::string_view::npos;
}

bool IsAllDigits(absl::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// host:port, [v6]:port, a dotted IPv4 address, or a gRPC peer/target.
bool LooksLikeAddress(absl::string_view word) {
  for (absl::string_view scheme : {"ipv4:", "ipv6:", "unix:", "dns:", "unix-abstract:"}) {
    if (absl::StartsWithIgnoreCase(word, scheme)) return true;
  }
  absl::string_view trimmed = absl::StripSuffix(absl::StripSuffix(word, "."), ":");
  const size_t colon = trimmed.rfind(':');
  if (colon != absl::string_view::npos && colon > 0 &&
      IsAllDigits(trimmed.substr(colon + 1))) {
    return true;
  }
  int dots = 0;
  for (char c : trimmed) {
    if (c == '.') {
      ++dots;
    } else if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return dots == 3;
}

std::string Redact(absl::string_view message, bool paths) {
  std::string out;
  out.reserve(message.size());
  size_t i = 0;
  while (i < message.size()) {
    if (IsWordBoundary(message[i])) {
      out.push_back(message[i++]);
      continue;
    }
    size_t end = i;
    while (end < message.size() && !IsWordBoundary(message[end])) ++end;
    const absl::string_view word = message.substr(i, end - i);
    if (absl::StrContains(word, "://")) {
      out += "[url]";
    } else if (LooksLikeAddress(word)) {
      out += "[address]";
    } else if (paths && word.size() > 1 && word[0] == '/') {
      out += "[path]";
    } else {
      out.append(word.data(), word.size());
    }
    i = end;
  }
  return out;
}

}  // namespace

std::string PublicErrorMessage(int http_status, const absl::Status& status) {
  if (http_status == 500 || status.code() == absl::StatusCode::kInternal ||
      status.code() == absl::StatusCode::kUnknown ||
      status.code() == absl::StatusCode::kDataLoss) {
    return "internal error; the gateway logged the details under this request's id";
  }
  return Redact(status.message(), /*paths=*/http_status >= 500);
}

nlohmann::json ErrorBody(int http_status, const absl::Status& status,
                         const std::string& request_id) {
  nlohmann::json error = {{"code", http_status},
                          {"status", absl::StatusCodeToString(status.code())},
                          {"reason", server::ReasonOf(status)},
                          {"message", PublicErrorMessage(http_status, status)}};
  if (!request_id.empty()) error["request_id"] = request_id;
  return {{"error", std::move(error)}};
}

}  // namespace stache::gateway
