// AWS Signature Version 4 for S3 requests, as a pure function (no clock, no
// network), so that a test can compare every part of it with botocore's
// S3SigV4Auth. Our own because libcurl 7.88's CURLOPT_AWS_SIGV4 signs only
// host and x-amz-date and sends no x-amz-content-sha256 on requests without
// a body, which AWS S3 requires on every request (curl adds it from 8.0 on);
// and its canonical request cannot be inspected.
//
//   SignedS3Request signed = SignS3Request(
//       {.method = "GET", .host = "s3.eu-west-1.amazonaws.com",
//        .path = S3CanonicalPath("bucket", "photos/a b.jpg")},
//       keys, "eu-west-1", absl::Now());
//   // send signed.headers with the request to https://host + path + "?" + signed.query
#ifndef STACHE_STORAGE_INTERNAL_SIGV4_H_
#define STACHE_STORAGE_INTERNAL_SIGV4_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace stache::storage::internal {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct SigV4Keys {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary keys (an ECS task role); may be empty
};

struct S3RequestToSign {
  std::string method;  // GET, HEAD, PUT, DELETE
  // The Host header: lower case, with the port unless it is the scheme's
  // default ("127.0.0.1:9000", "s3.eu-west-1.amazonaws.com").
  std::string host;
  // Percent-encoded path, as sent (S3CanonicalPath).
  std::string path;
  // Query parameters, not encoded.
  std::vector<std::pair<std::string, std::string>> query;
  // Headers to send and sign besides host and the x-amz-* ones added here
  // (Content-Type, x-amz-meta-*).
  HttpHeaders headers;
  // Hex SHA-256 of the body; empty means no body.
  std::string payload_sha256_hex;
};

struct SignedS3Request {
  std::string canonical_request;
  std::string string_to_sign;
  std::string authorization;
  // The encoded query string to send after "?" (empty: none).
  std::string query;
  // Every header to send: the request's own, Host, X-Amz-Date,
  // X-Amz-Content-SHA256, X-Amz-Security-Token (with a session token) and
  // Authorization.
  HttpHeaders headers;
};

SignedS3Request SignS3Request(const S3RequestToSign& request, const SigV4Keys& keys,
                              absl::string_view region, absl::Time now);

// "/<bucket>/<key>" (path-style) with each byte but unreserved ones and "/"
// percent-encoded, as S3 expects its keys in the canonical URI (S3 paths
// are encoded once, not normalised).
std::string S3CanonicalPath(absl::string_view bucket, absl::string_view key);

// RFC 3986 percent-encoding of everything but unreserved characters, as
// SigV4 canonical query strings require.
std::string UriEncode(absl::string_view text);

}  // namespace stache::storage::internal

#endif  // STACHE_STORAGE_INTERNAL_SIGV4_H_
