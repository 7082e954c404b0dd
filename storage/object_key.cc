#include "storage/object_key.h"

#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace stache::storage {
namespace {

bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-' || c == '/';
}

// Error messages quote what was rejected, escaped and shortened, so that a
// hostile name cannot forge log lines or blow up a response.
std::string Quote(absl::string_view text) {
  constexpr size_t kMaxQuoted = 64;
  std::string quoted = absl::CHexEscape(text.substr(0, kMaxQuoted));
  if (text.size() > kMaxQuoted) absl::StrAppend(&quoted, "...");
  return absl::StrCat("\"", quoted, "\"");
}

absl::Status CheckCharset(absl::string_view what, absl::string_view text,
                          bool allow_slash) {
  for (char c : text) {
    if (!IsKeyChar(c) || (c == '/' && !allow_slash)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " ", Quote(text), " has a character outside [A-Za-z0-9._",
                       allow_slash ? "/" : "", "-]"));
    }
  }
  return absl::OkStatus();
}

// Segments before the last one of a prefix, and all of a key, must be real
// path segments.
absl::Status CheckSegments(absl::string_view what, absl::string_view text,
                           bool last_may_be_partial) {
  if (!text.empty() && text.front() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", Quote(text), " must not start with \"/\""));
  }
  std::vector<absl::string_view> segments = absl::StrSplit(text, '/');
  for (size_t i = 0; i < segments.size(); ++i) {
    const absl::string_view segment = segments[i];
    const bool partial = last_may_be_partial && i + 1 == segments.size();
    if (!partial && (segment.empty() || segment == "." || segment == "..")) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " ", Quote(text), " has an empty, \".\" or \"..\" path segment"));
    }
    if (segment.size() > kMaxKeySegmentBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " ", Quote(text), " has a path segment of ", segment.size(),
                       " bytes; the limit is ", kMaxKeySegmentBytes));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateObjectKey(absl::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("key is empty");
  if (key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("key is ", key.size(), " bytes; the limit is ", kMaxKeyBytes));
  }
  if (absl::Status status = CheckCharset("key", key, /*allow_slash=*/true);
      !status.ok()) {
    return status;
  }
  return CheckSegments("key", key, /*last_may_be_partial=*/false);
}

absl::Status ValidateKeyPrefix(absl::string_view prefix) {
  if (prefix.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key prefix is ", prefix.size(), " bytes; the limit is ", kMaxKeyBytes));
  }
  if (absl::Status status = CheckCharset("key prefix", prefix, /*allow_slash=*/true);
      !status.ok()) {
    return status;
  }
  return CheckSegments("key prefix", prefix, /*last_may_be_partial=*/true);
}

absl::Status ValidateNamespace(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("namespace is empty");
  if (name.size() > kMaxNamespaceBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "namespace is ", name.size(), " bytes; the limit is ", kMaxNamespaceBytes));
  }
  if (absl::Status status = CheckCharset("namespace", name, /*allow_slash=*/false);
      !status.ok()) {
    return status;
  }
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("namespace ", Quote(name), " is not allowed"));
  }
  return absl::OkStatus();
}

absl::Status ValidateLabels(const std::map<std::string, std::string>& labels) {
  if (labels.size() > kMaxLabels) {
    return absl::InvalidArgumentError(
        absl::StrCat(labels.size(), " labels; the limit is ", kMaxLabels));
  }
  for (const auto& [key, value] : labels) {
    if (key.empty() || key.size() > kMaxLabelKeyBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "label key ", Quote(key), " must be 1..", kMaxLabelKeyBytes, " bytes"));
    }
    if (absl::Status status = CheckCharset("label key", key, /*allow_slash=*/true);
        !status.ok()) {
      return status;
    }
    if (value.size() > kMaxLabelValueBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("label ", Quote(key), " has a value of ", value.size(),
                       " bytes; the limit is ", kMaxLabelValueBytes));
    }
    if (!IsValidUtf8(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("label ", Quote(key), " has a value that is not UTF-8"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateContentType(absl::string_view content_type) {
  if (content_type.size() > kMaxContentTypeBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("content type is ", content_type.size(), " bytes; the limit is ",
                     kMaxContentTypeBytes));
  }
  for (char c : content_type) {
    // Printable ASCII only: it becomes an HTTP header value on S3.
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(absl::StrCat("content type ", Quote(content_type),
                                                     " has a non-printable character"));
    }
  }
  return absl::OkStatus();
}

bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<uint8_t>(text[i]);
    size_t length;
    uint32_t code_point;
    if (byte < 0x80) {
      ++i;
      continue;
    } else if ((byte & 0xe0) == 0xc0) {
      length = 2;
      code_point = byte & 0x1f;
    } else if ((byte & 0xf0) == 0xe0) {
      length = 3;
      code_point = byte & 0x0f;
    } else if ((byte & 0xf8) == 0xf0) {
      length = 4;
      code_point = byte & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t j = 1; j < length; ++j) {
      const auto continuation = static_cast<uint8_t>(text[i + j]);
      if ((continuation & 0xc0) != 0x80) return false;
      code_point = (code_point << 6) | (continuation & 0x3f);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kMinForLength[length] || code_point > 0x10ffff ||
        (code_point >= 0xd800 && code_point <= 0xdfff)) {
      return false;
    }
    i += length;
  }
  return true;
}

}  // namespace stache::storage
