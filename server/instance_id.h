// Which instance of a service this process is, defined once for every
// service: "<base>/<pid>", where the base is the ECS task (from the
// environment ECS gives every container) or else the host name. The gateway,
// which reads ECS's task metadata anyway, passes the task id it read.
//
//   response.set_instance_id(stache::server::InstanceId());
#ifndef STACHE_SERVER_INSTANCE_ID_H_
#define STACHE_SERVER_INSTANCE_ID_H_

#include <string>

#include "absl/strings/string_view.h"

namespace stache::server {

// "<base>/<pid>".
std::string InstanceId(absl::string_view base);

// InstanceId of "ecs-<last segment of ECS_CONTAINER_METADATA_URI_V4>" on ECS,
// else of the host name.
std::string InstanceId();

}  // namespace stache::server

#endif  // STACHE_SERVER_INSTANCE_ID_H_
