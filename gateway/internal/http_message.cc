#include "gateway/internal/http_message.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace stache::gateway::internal {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const std::string* FindField(const HttpFields& fields, absl::string_view name) {
  for (const auto& [key, value] : fields) {
    if (absl::EqualsIgnoreCase(key, name)) return &value;
  }
  return nullptr;
}

}  // namespace

std::string HttpRequest::HeaderValue(absl::string_view name) const {
  const std::string* value = FindField(headers, name);
  return value != nullptr ? *value : std::string();
}

bool HttpRequest::HasHeader(absl::string_view name) const {
  return FindField(headers, name) != nullptr;
}

std::string HttpRequest::ParamValue(const std::string& name) const {
  auto it = params.find(name);
  return it != params.end() ? it->second : std::string();
}

void HttpResponse::SetHeader(absl::string_view name, std::string value) {
  for (auto& [key, existing] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) {
      existing = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::string(name), std::move(value));
}

std::string HttpResponse::HeaderValue(absl::string_view name) const {
  const std::string* value = FindField(headers, name);
  return value != nullptr ? *value : std::string();
}

bool HttpResponse::HasHeader(absl::string_view name) const {
  return FindField(headers, name) != nullptr;
}

void HttpResponse::SetContent(std::string content, absl::string_view content_type) {
  body = std::move(content);
  SetHeader("Content-Type", std::string(content_type));
}

std::string PercentDecode(absl::string_view text, bool plus_as_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      const int high = HexValue(text[i + 1]);
      const int low = HexValue(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_as_space && c == '+' ? ' ' : c);
  }
  return out;
}

void ParseTarget(HttpRequest& request) {
  absl::string_view target = request.target;
  const size_t fragment = target.find('#');
  if (fragment != absl::string_view::npos) target = target.substr(0, fragment);
  const size_t question = target.find('?');
  request.path = PercentDecode(target.substr(0, question), /*plus_as_space=*/false);
  request.params.clear();
  if (question == absl::string_view::npos) return;
  for (absl::string_view pair :
       absl::StrSplit(target.substr(question + 1), '&', absl::SkipEmpty())) {
    const size_t equals = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, equals), /*plus_as_space=*/true);
    std::string value =
        equals == absl::string_view::npos
            ? std::string()
            : PercentDecode(pair.substr(equals + 1), /*plus_as_space=*/true);
    request.params.emplace(std::move(key), std::move(value));
  }
}

}  // namespace stache::gateway::internal
