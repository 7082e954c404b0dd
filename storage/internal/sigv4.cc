#include "storage/internal/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "storage/internal/sha256.h"

namespace stache::storage::internal {
namespace {

constexpr char kAlgorithm[] = "AWS4-HMAC-SHA256";

bool IsUnreserved(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

std::string Encode(absl::string_view text, bool keep_slash) {
  std::string encoded;
  for (char c : text) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      encoded.push_back(c);
    } else {
      absl::StrAppendFormat(&encoded, "%%%02X", static_cast<unsigned char>(c));
    }
  }
  return encoded;
}

std::string Hmac(absl::string_view key, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
  return std::string(reinterpret_cast<const char*>(out), length);
}

// Trimall: no whitespace around the value, runs of it as one space.
std::string CanonicalHeaderValue(absl::string_view value) {
  return absl::StrJoin(
      absl::StrSplit(value, absl::ByAnyChar(" \t\r\n\f\v"), absl::SkipEmpty()), " ");
}

}  // namespace

std::string UriEncode(absl::string_view text) { return Encode(text, false); }

std::string S3CanonicalPath(absl::string_view bucket, absl::string_view key) {
  std::string path = absl::StrCat("/", Encode(bucket, false));
  if (!key.empty()) absl::StrAppend(&path, "/", Encode(key, true));
  return path;
}

SignedS3Request SignS3Request(const S3RequestToSign& request, const SigV4Keys& keys,
                              absl::string_view region, absl::Time now) {
  const std::string timestamp =
      absl::FormatTime("%Y%m%dT%H%M%SZ", now, absl::UTCTimeZone());
  const std::string date = timestamp.substr(0, 8);
  const std::string payload =
      request.payload_sha256_hex.empty() ? Sha256Hex("") : request.payload_sha256_hex;

  SignedS3Request signed_request;
  signed_request.headers = request.headers;
  signed_request.headers.emplace_back("Host", request.host);
  signed_request.headers.emplace_back("X-Amz-Date", timestamp);
  signed_request.headers.emplace_back("X-Amz-Content-SHA256", payload);
  if (!keys.session_token.empty()) {
    signed_request.headers.emplace_back("X-Amz-Security-Token", keys.session_token);
  }

  // Sorted by encoded name, then value; the same string is sent.
  std::vector<std::pair<std::string, std::string>> query;
  for (const auto& [name, value] : request.query) {
    query.emplace_back(UriEncode(name), UriEncode(value));
  }
  std::sort(query.begin(), query.end());
  signed_request.query = absl::StrJoin(query, "&", absl::PairFormatter("="));

  // Lower-case names, sorted; repeated names join their values with ",".
  std::map<std::string, std::vector<std::string>> canonical_headers;
  for (const auto& [name, value] : signed_request.headers) {
    canonical_headers[absl::AsciiStrToLower(name)].push_back(CanonicalHeaderValue(value));
  }
  std::string header_block;
  std::vector<absl::string_view> names;
  for (const auto& [name, values] : canonical_headers) {
    absl::StrAppend(&header_block, name, ":", absl::StrJoin(values, ","), "\n");
    names.push_back(name);
  }
  const std::string signed_headers = absl::StrJoin(names, ";");

  signed_request.canonical_request = absl::StrJoin(
      {absl::string_view(request.method), absl::string_view(request.path),
       absl::string_view(signed_request.query), absl::string_view(header_block),
       absl::string_view(signed_headers), absl::string_view(payload)},
      "\n");
  const std::string scope = absl::StrCat(date, "/", region, "/s3/aws4_request");
  signed_request.string_to_sign =
      absl::StrCat(kAlgorithm, "\n", timestamp, "\n", scope, "\n",
                   Sha256Hex(signed_request.canonical_request));
  std::string key = Hmac(absl::StrCat("AWS4", keys.secret_access_key), date);
  key = Hmac(key, region);
  key = Hmac(key, "s3");
  key = Hmac(key, "aws4_request");
  const std::string signature =
      absl::BytesToHexString(Hmac(key, signed_request.string_to_sign));
  signed_request.authorization =
      absl::StrCat(kAlgorithm, " Credential=", keys.access_key_id, "/", scope,
                   ", SignedHeaders=", signed_headers, ", Signature=", signature);
  signed_request.headers.emplace_back("Authorization", signed_request.authorization);
  return signed_request;
}

}  // namespace stache::storage::internal
