#include "gateway/ecs_task_metadata.h"

#include <httplib.h>

#include <regex>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/instance_id.h"
#include "server/log.h"

namespace stache::gateway {
namespace {

void SetTimeouts(httplib::Client& client, absl::Duration timeout) {
  const auto micros = absl::ToChronoMicroseconds(timeout);
  client.set_connection_timeout(micros);
  client.set_read_timeout(micros);
  client.set_write_timeout(micros);
}

}  // namespace

absl::StatusOr<InstanceIdentity> ReadEcsTaskIdentity(const std::string& metadata_uri,
                                                     absl::Duration timeout) {
  // ECS sets e.g. http://169.254.170.2/v4/<container id>.
  static const std::regex kUri(R"(^(https?://[^/]+)(/.*)?$)");
  std::smatch match;
  if (!std::regex_match(metadata_uri, match, kUri)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ECS metadata URI '", metadata_uri, "' is not an http URL"));
  }
  httplib::Client client(match[1].str());
  SetTimeouts(client, timeout);
  std::string path = match[2].str();
  while (!path.empty() && path.back() == '/') path.pop_back();
  httplib::Result response = client.Get(absl::StrCat(path, "/task"));
  if (!response) {
    return absl::UnavailableError(absl::StrCat("ECS task metadata at ", metadata_uri,
                                               ": ",
                                               httplib::to_string(response.error())));
  }
  if (response->status != 200) {
    return absl::UnavailableError(absl::StrCat("ECS task metadata at ", metadata_uri,
                                               " answered HTTP ", response->status));
  }
  nlohmann::json task = nlohmann::json::parse(response->body, nullptr, false);
  if (!task.is_object() || !task.contains("TaskARN") || !task["TaskARN"].is_string()) {
    return absl::InvalidArgumentError("ECS task metadata has no TaskARN");
  }
  const std::string arn = task["TaskARN"].get<std::string>();
  InstanceIdentity identity;
  identity.instance_id = server::InstanceId(arn.substr(arn.rfind('/') + 1));
  if (task.contains("AvailabilityZone") && task["AvailabilityZone"].is_string()) {
    identity.availability_zone = task["AvailabilityZone"].get<std::string>();
  }
  identity.source = "ecs";
  return identity;
}

InstanceIdentity DescribeInstance(const std::string& ecs_metadata_uri,
                                  absl::Duration timeout) {
  if (ecs_metadata_uri.empty()) return HostIdentity();
  absl::StatusOr<InstanceIdentity> ecs = ReadEcsTaskIdentity(ecs_metadata_uri, timeout);
  if (ecs.ok()) return *std::move(ecs);
  server::LogWarning("cannot read the ECS task metadata; using the host name",
                     {{"error", ecs.status().ToString()}});
  return HostIdentity();
}

}  // namespace stache::gateway
