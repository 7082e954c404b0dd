// A request and a response as the gateway's route handlers see them: plain
// values, no HTTP library types, so the handlers are independent of the
// transport (Boost.Beast in gateway/http_server.cc) and testable alone.
//
//   HttpRequest request{.method = "GET", .target = "/v1/images?page_size=2"};
//   ParseTarget(request);            // path "/v1/images", param page_size=2
//   HttpResponse response;
//   response.SetContent("ok\n", "text/plain");
#ifndef STACHE_GATEWAY_INTERNAL_HTTP_MESSAGE_H_
#define STACHE_GATEWAY_INTERNAL_HTTP_MESSAGE_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace stache::gateway::internal {

using HttpFields = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // as sent: "GET", "POST", ...
  std::string target;  // as sent: path and query, percent-encoded
  std::string path;    // the target's path, percent-decoded (ParseTarget)
  std::multimap<std::string, std::string> params;  // decoded query parameters
  HttpFields headers;                              // in the order received
  std::string remote_addr;
  int version = 11;  // 10 for HTTP/1.0, 11 for HTTP/1.1

  // The first value of a header (names compare case-insensitively); "" when
  // absent.
  std::string HeaderValue(absl::string_view name) const;
  bool HasHeader(absl::string_view name) const;
  std::string ParamValue(const std::string& name) const;
  bool HasParam(const std::string& name) const { return params.count(name) > 0; }
};

struct HttpResponse {
  int status = 200;
  HttpFields headers;
  std::string body;
  // The connection closes after this response (the request's body was not
  // read, or the client misbehaved).
  bool close = false;

  // Replaces any header of that name.
  void SetHeader(absl::string_view name, std::string value);
  std::string HeaderValue(absl::string_view name) const;
  bool HasHeader(absl::string_view name) const;
  void SetContent(std::string content, absl::string_view content_type);
};

// Fills request.path and request.params from request.target. Like most
// servers, "%2F" in the path decodes to "/"; "+" in the query to " ".
void ParseTarget(HttpRequest& request);

// %XX-decodes `text`; with `plus_as_space` (query strings) '+' is a space.
// Malformed escapes are kept as they are.
std::string PercentDecode(absl::string_view text, bool plus_as_space);

}  // namespace stache::gateway::internal

#endif  // STACHE_GATEWAY_INTERNAL_HTTP_MESSAGE_H_
