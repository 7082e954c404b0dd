#include "server/health_probe.h"

#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace stache::server {

absl::Status CheckGrpcHealth(const std::string& target, const std::string& service,
                             absl::Duration timeout, const TlsMaterial& tls) {
  grpc::ChannelArguments args;
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      MakeChannelCredentials(tls, &args);
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateCustomChannel(target, credentials, args));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("health check of ", target, " failed: ", status.error_message()));
  }
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(absl::StrCat(
        target, " is ",
        grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status())));
  }
  return absl::OkStatus();
}

absl::Status CheckHttpHealth(const std::string& host, int port, const std::string& path,
                             absl::Duration timeout) {
  httplib::Client client(host, port);
  const auto micros = absl::ToInt64Microseconds(timeout);
  client.set_connection_timeout(micros / 1'000'000, micros % 1'000'000);
  client.set_read_timeout(micros / 1'000'000, micros % 1'000'000);
  auto response = client.Get(path);
  const std::string url = absl::StrCat("http://", host, ":", port, path);
  if (!response) {
    return absl::UnavailableError(
        absl::StrCat("GET ", url, " failed: ", httplib::to_string(response.error())));
  }
  if (response->status < 200 || response->status >= 300) {
    return absl::UnavailableError(
        absl::StrCat("GET ", url, " answered ", response->status));
  }
  return absl::OkStatus();
}

}  // namespace stache::server
