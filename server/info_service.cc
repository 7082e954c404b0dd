#include "server/info_service.h"

#include "absl/strings/str_cat.h"
#include "server/build_info.h"
#include "server/call_handler.h"
#include "server/instance_id.h"

namespace stache::server {

InfoServiceImpl::InfoServiceImpl(ServiceIdentity identity)
    : identity_(std::move(identity)),
      instance_id_(InstanceId()),
      start_time_(absl::Now()) {}

grpc::Status InfoServiceImpl::GetInfo(grpc::ServerContext* context,
                                      const stache::info::v1::GetInfoRequest* /*request*/,
                                      stache::info::v1::GetInfoResponse* response) {
  return HandleCall(*context, [&]() -> absl::Status {
    Describe(response);
    return absl::OkStatus();
  });
}

void InfoServiceImpl::Describe(stache::info::v1::GetInfoResponse* response) const {
  response->set_service_name(identity_.service_name);
  response->set_version(kVersion);
  response->set_build_id(kBuildId);
  response->set_instance_id(instance_id_);
  response->set_uptime_seconds(absl::ToDoubleSeconds(absl::Now() - start_time_));
  const absl::Duration since_epoch = start_time_ - absl::UnixEpoch();
  response->mutable_start_time()->set_seconds(absl::ToInt64Seconds(since_epoch));
  response->mutable_start_time()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(since_epoch % absl::Seconds(1))));
  response->add_api_packages("stache.info.v1");
  for (const std::string& name : identity_.service_names) {
    // "stache.detector.v1.DetectorService" -> "stache.detector.v1"
    response->add_api_packages(name.substr(0, name.rfind('.')));
  }
  for (const LoadedComponent& component : identity_.components) {
    auto* out = response->add_components();
    out->set_name(component.name);
    out->set_kind(component.kind);
    out->set_detail(component.detail);
  }
}

}  // namespace stache::server
