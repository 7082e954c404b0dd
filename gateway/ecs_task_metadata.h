// Reads the gateway's InstanceIdentity from ECS's task metadata endpoint (v4)
// over HTTP, once at start-up.
//
//   InstanceIdentity me = DescribeInstance(getenv("ECS_CONTAINER_METADATA_URI_V4"),
//                                          absl::Seconds(2));
#ifndef STACHE_GATEWAY_ECS_TASK_METADATA_H_
#define STACHE_GATEWAY_ECS_TASK_METADATA_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/instance_identity.h"

namespace stache::gateway {

// GET <metadata_uri>/task; the task id is the last segment of TaskARN.
// UNAVAILABLE when the endpoint cannot be reached, INVALID_ARGUMENT when the
// URI or the answer is not what ECS documents.
absl::StatusOr<InstanceIdentity> ReadEcsTaskIdentity(const std::string& metadata_uri,
                                                     absl::Duration timeout);

// ReadEcsTaskIdentity when `ecs_metadata_uri` is set, else (or when it
// fails, with a warning in the log) HostIdentity.
InstanceIdentity DescribeInstance(const std::string& ecs_metadata_uri,
                                  absl::Duration timeout);

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_ECS_TASK_METADATA_H_
