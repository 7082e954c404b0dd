// libFuzzer target: storage key, prefix, namespace, label, content type and
// UTF-8 validation (storage/object_key.h). Besides not crashing, an accepted
// key must be safe as a file name below the data directory: no "..", "."
// or empty segment, no leading "/", within the length limits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "storage/object_key.h"

namespace {

void CheckAcceptedKey(absl::string_view key) {
  using namespace stache::storage;
  if (key.empty() || key.size() > kMaxKeyBytes || key[0] == '/') std::abort();
  for (absl::string_view segment : absl::StrSplit(key, '/')) {
    if (segment.empty() || segment == "." || segment == ".." ||
        segment.size() > kMaxKeySegmentBytes) {
      std::abort();
    }
  }
  for (char c : key) {
    if (c == '\0' || c == '\\' || static_cast<unsigned char>(c) >= 0x80) std::abort();
  }
}

// Every complete segment of an accepted prefix follows the key rules; the
// last one may be partial ("ima" of "images").
void CheckAcceptedPrefix(absl::string_view prefix) {
  if (prefix.empty()) return;
  const size_t last_slash = prefix.rfind('/');
  if (last_slash == absl::string_view::npos) return;
  CheckAcceptedKey(prefix.substr(0, last_slash));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stache::storage;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  if (ValidateObjectKey(input).ok()) CheckAcceptedKey(input);
  if (ValidateNamespace(input).ok() &&
      (input.empty() || input.size() > kMaxNamespaceBytes || input == "." ||
       input == ".." || absl::StrContains(input, '/'))) {
    std::abort();
  }
  if (ValidateKeyPrefix(input).ok()) CheckAcceptedPrefix(input);
  (void)ValidateContentType(input);
  (void)IsValidUtf8(input);
  // Labels: the input split at the first NUL into a key and a value.
  const size_t split = input.find('\0');
  std::map<std::string, std::string> labels;
  labels[std::string(input.substr(0, split))] =
      split == absl::string_view::npos ? "" : std::string(input.substr(split + 1));
  if (ValidateLabels(labels).ok() && !IsValidUtf8(labels.begin()->second)) std::abort();
  return 0;
}
