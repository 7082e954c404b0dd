#include "gateway/instance_identity.h"

#include "server/instance_id.h"

namespace stache::gateway {

InstanceIdentity HostIdentity() {
  return InstanceIdentity{.instance_id = server::InstanceId(), .source = "hostname"};
}

}  // namespace stache::gateway
