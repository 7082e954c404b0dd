#include "server/instance_id.h"

#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace stache::server {

std::string InstanceId(absl::string_view base) {
  return absl::StrCat(base, "/", getpid());
}

std::string InstanceId() {
  // ECS sets ECS_CONTAINER_METADATA_URI_V4 to .../v4/<id of this container>.
  if (const char* uri = std::getenv("ECS_CONTAINER_METADATA_URI_V4"); uri != nullptr) {
    const absl::string_view text(uri);
    return InstanceId(absl::StrCat("ecs-", text.substr(text.rfind('/') + 1)));
  }
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return InstanceId(host);
}

}  // namespace stache::server
