// Which instance of the gateway this is, for GET /v1/info: on ECS the task id
// and availability zone from the task metadata endpoint (v4), elsewhere the
// host name. Read once at start-up.
//
//   InstanceIdentity me = DescribeInstance(getenv("ECS_CONTAINER_METADATA_URI_V4"),
//                                          absl::Seconds(2));
#ifndef STACHE_GATEWAY_INSTANCE_IDENTITY_H_
#define STACHE_GATEWAY_INSTANCE_IDENTITY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

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

// GET <metadata_uri>/task; the task id is the last segment of TaskARN.
// UNAVAILABLE when the endpoint cannot be reached, INVALID_ARGUMENT when the
// URI or the answer is not what ECS documents.
absl::StatusOr<InstanceIdentity> ReadEcsTaskIdentity(const std::string& metadata_uri,
                                                     absl::Duration timeout);

// The identity every service uses without task metadata (server::InstanceId:
// the host name, or the container's id on ECS).
InstanceIdentity HostIdentity();

// ReadEcsTaskIdentity when `ecs_metadata_uri` is set, else (or when it
// fails, with a warning in the log) HostIdentity.
InstanceIdentity DescribeInstance(const std::string& ecs_metadata_uri,
                                  absl::Duration timeout);

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_INSTANCE_IDENTITY_H_
