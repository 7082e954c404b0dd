// The web page's files (gateway/web/), embedded into the binary at build time
// (gateway/embed_web_assets.cmake), so the gateway serves its page offline
// and an image always carries the page it was tested with.
//
//   if (const WebAsset* asset = FindWebAsset("/app.js")) Serve(asset->body);
#ifndef STACHE_GATEWAY_WEB_ASSETS_H_
#define STACHE_GATEWAY_WEB_ASSETS_H_

#include <vector>

#include "absl/strings/string_view.h"

namespace stache::gateway {

struct WebAsset {
  // URL path, e.g. "/app.js".
  absl::string_view path;
  absl::string_view content_type;
  absl::string_view body;
  // Lower-case hex SHA-256 of body, for ETag.
  absl::string_view sha256_hex;
};

// Every embedded file.
const std::vector<WebAsset>& WebAssets();

// The asset served at `path` ("/" is "/index.html"), or nullptr.
const WebAsset* FindWebAsset(absl::string_view path);

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_WEB_ASSETS_H_
