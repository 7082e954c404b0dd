#include "gateway/status_board.h"

#include <future>
#include <set>

#include "absl/strings/str_cat.h"
#include "gateway/backend_targets.h"
#include "gateway/image_record.h"
#include "server/build_info.h"

namespace stache::gateway {
namespace {

using ::grpc::health::v1::HealthCheckResponse;
using ::nlohmann::json;

// Distinct addresses remembered; beyond it (DNS keeps changing) start over.
constexpr size_t kMaxCachedProbes = 64;

std::string HealthName(const absl::StatusOr<HealthCheckResponse::ServingStatus>& status) {
  if (!status.ok()) return absl::StatusCodeToString(status.status().code());
  return HealthCheckResponse::ServingStatus_Name(*status);
}

json InfoToJson(const info::v1::GetInfoResponse& info) {
  json components = json::array();
  for (const auto& component : info.components()) {
    components.push_back({{"name", component.name()},
                          {"kind", component.kind()},
                          {"detail", component.detail()}});
  }
  const absl::Time start = absl::FromUnixSeconds(info.start_time().seconds()) +
                           absl::Nanoseconds(info.start_time().nanos());
  return {{"service_name", info.service_name()},
          {"version", info.version()},
          {"build_id", info.build_id()},
          {"instance_id", info.instance_id()},
          {"uptime_seconds", info.uptime_seconds()},
          {"start_time", FormatTimestamp(start)},
          {"api_packages", info.api_packages()},
          {"components", std::move(components)}};
}

}  // namespace

StatusBoard::StatusBoard(InstanceIdentity identity, int64_t max_body_bytes,
                         std::vector<BackendTarget> backends, ProbeFactory probe_factory,
                         absl::Duration probe_timeout)
    : identity_(std::move(identity)),
      max_body_bytes_(max_body_bytes),
      start_time_(absl::Now()),
      backends_(std::move(backends)),
      probe_factory_(std::move(probe_factory)),
      probe_timeout_(probe_timeout) {}

std::shared_ptr<BackendProbe> StatusBoard::ProbeFor(const BackendTarget& backend,
                                                    const std::string& address) {
  const std::string key = absl::StrCat(backend.target, " ", address);
  absl::MutexLock lock(&mutex_);
  auto it = probes_.find(key);
  if (it != probes_.end()) return it->second;
  if (probes_.size() >= kMaxCachedProbes) probes_.clear();
  std::shared_ptr<BackendProbe> probe = probe_factory_(backend.target, address);
  probes_.emplace(key, probe);
  return probe;
}

json StatusBoard::DescribeAddress(const BackendTarget& backend,
                                  const std::string& address,
                                  const server::RequestContext& request_context) {
  std::shared_ptr<BackendProbe> probe = ProbeFor(backend, address);
  const CallContext call = CallContext::WithTimeout(probe_timeout_, request_context);
  auto health = std::async(std::launch::async, [&] {
    return probe->CheckHealth(call, backend.health_service);
  });
  absl::StatusOr<info::v1::GetInfoResponse> info = probe->GetInfo(call);
  json out = info.ok() ? InfoToJson(*info) : json::object();
  out["address"] = address;
  out["health"] = HealthName(health.get());
  if (!info.ok()) out["error"] = info.status().ToString();
  return out;
}

json StatusBoard::Info(const server::RequestContext& request_context) {
  // One task per (backend, address), all in parallel, so the slowest
  // unreachable address bounds the answer, not their sum.
  std::vector<std::vector<std::string>> addresses;
  std::vector<std::vector<std::future<json>>> answers;
  for (const BackendTarget& backend : backends_) {
    addresses.push_back(ResolveTargetAddresses(backend.target));
    answers.emplace_back();
    for (const std::string& address : addresses.back()) {
      answers.back().push_back(
          std::async(std::launch::async, [this, &backend, address, &request_context] {
            return DescribeAddress(backend, address, request_context);
          }));
    }
  }
  json backends = json::array();
  for (size_t i = 0; i < backends_.size(); ++i) {
    json reached = json::array();
    json unreachable = json::array();
    std::set<std::string> seen;
    for (auto& answer : answers[i]) {
      json instance = answer.get();
      instance["name"] = backends_[i].name;
      instance["target"] = backends_[i].target;
      if (!instance.contains("instance_id")) {
        unreachable.push_back(std::move(instance));
      } else if (seen.insert(instance["instance_id"].get<std::string>()).second) {
        // "localhost" resolves to ::1 and 127.0.0.1: one process, listed once.
        reached.push_back(std::move(instance));
      }
    }
    // An address that answers nothing is only news when no replica answered.
    for (json& instance : reached.empty() ? unreachable : reached) {
      backends.push_back(std::move(instance));
    }
  }
  json gateway = {{"service_name", "gateway"},
                  {"version", std::string(server::kVersion)},
                  {"build_id", std::string(server::kBuildId)},
                  {"instance_id", identity_.instance_id},
                  {"instance_source", identity_.source},
                  {"uptime_seconds", absl::ToDoubleSeconds(absl::Now() - start_time_)},
                  {"start_time", FormatTimestamp(start_time_)},
                  {"api_packages", json::array({"REST /v1"})},
                  {"health", "SERVING"},
                  {"max_body_bytes", max_body_bytes_}};
  if (!identity_.availability_zone.empty()) {
    gateway["availability_zone"] = identity_.availability_zone;
  }
  return {{"gateway", std::move(gateway)}, {"backends", std::move(backends)}};
}

json StatusBoard::PublicInfo(const server::RequestContext& request_context) {
  return PublicInfoFrom(Info(request_context));
}

json PublicInfoFrom(const json& info) {
  const json& gateway = info.value("gateway", json::object());
  json public_gateway = json::object();
  for (const char* field :
       {"service_name", "version", "build_id", "health", "max_body_bytes"}) {
    if (gateway.contains(field)) public_gateway[field] = gateway[field];
  }
  json backends = json::array();
  // (name, version, build_id, health) -> its entry in `backends`.
  std::map<std::vector<std::string>, size_t> entries;
  for (const json& instance : info.value("backends", json::array())) {
    const bool answered = instance.contains("instance_id");
    std::vector<std::string> key;
    for (const char* field : {"name", "version", "build_id", "health"}) {
      key.push_back(instance.contains(field) && instance[field].is_string()
                        ? instance[field].get<std::string>()
                        : "");
    }
    auto [it, added] = entries.emplace(key, backends.size());
    if (added) {
      json entry = {{"name", key[0]},
                    {"service_name", key[0]},
                    {"health", key[3]},
                    {"instances", 0}};
      if (answered) {
        entry["version"] = key[1];
        entry["build_id"] = key[2];
      }
      backends.push_back(std::move(entry));
    }
    if (answered)
      backends[it->second]["instances"] =
          backends[it->second]["instances"].get<int>() + 1;
  }
  return {{"gateway", std::move(public_gateway)}, {"backends", std::move(backends)}};
}

Readiness StatusBoard::CheckReadiness(const server::RequestContext& request_context) {
  const CallContext call = CallContext::WithTimeout(probe_timeout_, request_context);
  // Health alone is not enough: a backend can answer SERVING (gRPC serves
  // health without the threads its calls need) while it refuses every call,
  // all its call slots taken. GetInfo goes through the same admission as
  // real work, so a refusal there means the backend refuses work.
  std::vector<std::future<absl::StatusOr<HealthCheckResponse::ServingStatus>>> checks;
  std::vector<std::future<absl::StatusOr<info::v1::GetInfoResponse>>> calls;
  for (const BackendTarget& backend : backends_) {
    checks.push_back(std::async(std::launch::async, [&backend, &call] {
      return backend.probe->CheckHealth(call, backend.health_service);
    }));
    calls.push_back(std::async(
        std::launch::async, [&backend, &call] { return backend.probe->GetInfo(call); }));
  }
  Readiness readiness{.ready = true, .backends = json::object()};
  for (size_t i = 0; i < backends_.size(); ++i) {
    absl::StatusOr<HealthCheckResponse::ServingStatus> status = checks[i].get();
    const absl::StatusOr<info::v1::GetInfoResponse> info = calls[i].get();
    const bool serving = status.ok() && *status == HealthCheckResponse::SERVING;
    readiness.ready = readiness.ready && serving && info.ok();
    if (serving && !info.ok()) {
      readiness.backends[backends_[i].name] =
          absl::StrCat("SERVING but refusing calls: ", info.status().ToString());
    } else {
      readiness.backends[backends_[i].name] =
          status.ok() ? HealthName(status) : status.status().ToString();
    }
  }
  return readiness;
}

}  // namespace stache::gateway
