#include "gateway/web_assets.h"

namespace stache::gateway {

const WebAsset* FindWebAsset(absl::string_view path) {
  if (path == "/") path = "/index.html";
  for (const WebAsset& asset : WebAssets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

}  // namespace stache::gateway
