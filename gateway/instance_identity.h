// Which instance of the gateway this is, for GET /v1/info: on ECS the task id
// and availability zone from the task metadata endpoint (v4, read by
// gateway/ecs_task_metadata.h), elsewhere the host name.
//
//   InstanceIdentity me = HostIdentity();
#ifndef STACHE_GATEWAY_INSTANCE_IDENTITY_H_
#define STACHE_GATEWAY_INSTANCE_IDENTITY_H_

#include <string>

namespace stache::gateway {

struct InstanceIdentity {
  // "<ECS task id>/<pid>" or "<host name>/<pid>", like the backends'
  // instance_id.
  std::string instance_id;
  // Empty outside ECS.
  std::string availability_zone;
  // "ecs" or "hostname".
  std::string source;
};

// The identity every service uses without task metadata (server::InstanceId:
// the host name, or the container's id on ECS).
InstanceIdentity HostIdentity();

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_INSTANCE_IDENTITY_H_
