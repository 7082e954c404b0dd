#include "gateway/internal/multipart_parser.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace stache::gateway::internal {
namespace {

// Bytes before the first delimiter are ignored (RFC 2046 preamble), but not
// without end: a body that never gets to its first part is not a form.
constexpr size_t kMaxPreambleBytes = 1024;

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed multipart/form-data body: ", why));
}

// RFC 2046 bchars, which a boundary consists of.
bool IsBoundaryChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("'()+_,-./:=? ").find(c) != absl::string_view::npos;
}

// The value of a parameter: a token, or a quoted string with \-escapes.
std::string ParameterValue(absl::string_view value) {
  value = absl::StripAsciiWhitespace(value);
  if (value.size() < 2 || value.front() != '"' || value.back() != '"')
    return std::string(value);
  value = value.substr(1, value.size() - 2);
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size()) ++i;
    out.push_back(value[i]);
  }
  return out;
}

// Splits "a; b=\"x;y\"; c" at the semicolons outside quotes.
std::vector<absl::string_view> SplitParameters(absl::string_view header) {
  std::vector<absl::string_view> out;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == '\\' && quoted) {
      ++i;
    } else if (header[i] == '"') {
      quoted = !quoted;
    } else if (header[i] == ';' && !quoted) {
      out.push_back(header.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(header.substr(start));
  return out;
}

}  // namespace

absl::StatusOr<std::string> BoundaryFromContentType(absl::string_view content_type) {
  std::vector<absl::string_view> parameters = SplitParameters(content_type);
  for (size_t i = 1; i < parameters.size(); ++i) {
    absl::string_view parameter = absl::StripLeadingAsciiWhitespace(parameters[i]);
    const size_t equals = parameter.find('=');
    if (equals == absl::string_view::npos) continue;
    if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(parameter.substr(0, equals)),
                                "boundary")) {
      continue;
    }
    std::string boundary = ParameterValue(parameter.substr(equals + 1));
    if (boundary.empty() || boundary.size() > kMaxBoundaryBytes ||
        boundary.back() == ' ') {
      return absl::InvalidArgumentError(
          "malformed multipart/form-data body: the boundary must be 1 to 70 characters");
    }
    for (char c : boundary) {
      if (!IsBoundaryChar(c)) {
        return absl::InvalidArgumentError(
            "malformed multipart/form-data body: the boundary has a character RFC 2046 "
            "does not allow");
      }
    }
    return boundary;
  }
  return absl::InvalidArgumentError(
      "malformed multipart/form-data body: Content-Type has no boundary parameter");
}

MultipartParser::MultipartParser(absl::string_view boundary, Callbacks callbacks)
    : delimiter_(absl::StrCat("\r\n--", boundary)), callbacks_(std::move(callbacks)) {
  // The first delimiter may open the body without the CRLF before it.
  buffered_ = "\r\n";
}

bool MultipartParser::Fail(absl::Status status) {
  state_ = State::kFailed;
  error_ = std::move(status);
  buffered_.clear();
  buffered_.shrink_to_fit();
  return false;
}

absl::Status MultipartParser::Feed(absl::string_view data) {
  if (state_ == State::kFailed) return error_;
  if (state_ == State::kEpilogue) return absl::OkStatus();  // ignored (RFC 2046)
  buffered_.append(data.data(), data.size());
  while (Step()) {
  }
  return state_ == State::kFailed ? error_ : absl::OkStatus();
}

absl::Status MultipartParser::Finish() {
  if (state_ == State::kFailed) return error_;
  if (state_ != State::kEpilogue) {
    Fail(Malformed(parts_ == 0 ? "no part delimited by the boundary"
                               : "the body ends before the closing boundary"));
    return error_;
  }
  return absl::OkStatus();
}

bool MultipartParser::Step() {
  switch (state_) {
    case State::kPreamble: {
      const size_t at = buffered_.find(delimiter_);
      if (at == std::string::npos) {
        // Keep what could be the start of a delimiter.
        const size_t keep = std::min(buffered_.size(), delimiter_.size() - 1);
        preamble_bytes_ += buffered_.size() - keep;
        buffered_.erase(0, buffered_.size() - keep);
        if (preamble_bytes_ > kMaxPreambleBytes) {
          return Fail(Malformed("no part delimited by the boundary"));
        }
        return false;
      }
      preamble_bytes_ += at;
      if (preamble_bytes_ > kMaxPreambleBytes) {
        return Fail(Malformed("no part delimited by the boundary"));
      }
      buffered_.erase(0, at + delimiter_.size());
      state_ = State::kAfterDelimiter;
      return true;
    }
    case State::kAfterDelimiter: {
      // "--" closes the body; else optional whitespace then CRLF opens a part.
      size_t i = 0;
      if (buffered_.size() >= 2 && buffered_.compare(0, 2, "--") == 0) {
        state_ = State::kEpilogue;
        buffered_.clear();
        buffered_.shrink_to_fit();
        return false;
      }
      while (i < buffered_.size() && (buffered_[i] == ' ' || buffered_[i] == '\t')) ++i;
      if (i > 64) return Fail(Malformed("text after a boundary"));
      if (buffered_.size() < i + 2) return false;
      if (buffered_.compare(i, 2, "\r\n") != 0) {
        // "-" alone may still become "--".
        if (buffered_.size() == 1 && buffered_[0] == '-') return false;
        return Fail(Malformed("text after a boundary"));
      }
      if (parts_ == kMaxParts) {
        return Fail(Malformed(absl::StrCat("more than ", kMaxParts, " parts")));
      }
      buffered_.erase(0, i + 2);
      state_ = State::kHeaders;
      return true;
    }
    case State::kHeaders: {
      size_t end = std::string::npos;
      size_t skip = 0;
      if (absl::StartsWith(buffered_, "\r\n")) {
        end = 0;  // no headers at all
        skip = 2;
      } else if ((end = buffered_.find("\r\n\r\n")) != std::string::npos) {
        skip = end + 4;
      }
      if (end == std::string::npos) {
        if (buffered_.size() > kMaxPartHeaderBytes) {
          return Fail(Malformed(absl::StrCat("a part's headers are longer than ",
                                             kMaxPartHeaderBytes, " bytes")));
        }
        return false;
      }
      if (end > kMaxPartHeaderBytes) {
        return Fail(Malformed(absl::StrCat("a part's headers are longer than ",
                                           kMaxPartHeaderBytes, " bytes")));
      }
      if (!ParseHeaders(absl::string_view(buffered_).substr(0, end))) return false;
      buffered_.erase(0, skip);
      state_ = State::kData;
      return true;
    }
    case State::kData: {
      const size_t at = buffered_.find(delimiter_);
      const size_t data_end =
          at != std::string::npos
              ? at
              : buffered_.size() - std::min(buffered_.size(), delimiter_.size() - 1);
      if (data_end > 0 &&
          !callbacks_.on_data(absl::string_view(buffered_).substr(0, data_end))) {
        return Fail(absl::CancelledError("stopped by the data callback"));
      }
      if (at == std::string::npos) {
        buffered_.erase(0, data_end);
        return false;
      }
      buffered_.erase(0, at + delimiter_.size());
      state_ = State::kAfterDelimiter;
      return true;
    }
    case State::kEpilogue:
    case State::kFailed:
      return false;
  }
  return false;
}

bool MultipartParser::ParseHeaders(absl::string_view block) {
  MultipartPart part;
  bool has_disposition = false;
  for (absl::string_view line : absl::StrSplit(block, "\r\n")) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return Fail(Malformed("a part header is not 'Name: value'"));
    }
    const absl::string_view name = absl::StripAsciiWhitespace(line.substr(0, colon));
    const absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (absl::EqualsIgnoreCase(name, "Content-Type")) {
      part.content_type = std::string(value);
    } else if (absl::EqualsIgnoreCase(name, "Content-Disposition")) {
      if (has_disposition)
        return Fail(Malformed("a part has two Content-Disposition headers"));
      has_disposition = true;
      std::vector<absl::string_view> parameters = SplitParameters(value);
      if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(parameters[0]),
                                  "form-data")) {
        return Fail(Malformed("a part's Content-Disposition is not form-data"));
      }
      for (size_t i = 1; i < parameters.size(); ++i) {
        absl::string_view parameter = absl::StripLeadingAsciiWhitespace(parameters[i]);
        const size_t equals = parameter.find('=');
        if (equals == absl::string_view::npos) continue;
        const absl::string_view key =
            absl::StripAsciiWhitespace(parameter.substr(0, equals));
        if (absl::EqualsIgnoreCase(key, "name")) {
          part.name = ParameterValue(parameter.substr(equals + 1));
        } else if (absl::EqualsIgnoreCase(key, "filename")) {
          part.filename = ParameterValue(parameter.substr(equals + 1));
        }
      }
    }
  }
  if (!has_disposition)
    return Fail(Malformed("a part has no Content-Disposition header"));
  ++parts_;
  if (!callbacks_.on_part(part))
    return Fail(absl::CancelledError("stopped by the part callback"));
  return true;
}

}  // namespace stache::gateway::internal
