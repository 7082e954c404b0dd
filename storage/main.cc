// stache-storage: stores each service's objects in its own namespaces.
#include <cstdlib>
#include <optional>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "server/allocator.h"
#include "server/flags.h"
#include "server/log.h"
#include "storage/aws_shared_credentials.h"
#include "storage/storage_process.h"

ABSL_FLAG(int, port, 50053, "gRPC port to listen on.");
ABSL_FLAG(int, admin_port, 9093,
          "HTTP port for Prometheus /metrics and /healthz; -1 turns it off.");
ABSL_FLAG(std::string, backend, "local",
          "Where objects live: local (a directory, see --data_dir) or s3 (a bucket "
          "shared by every storage task; credentials from AWS_ACCESS_KEY_ID and "
          "AWS_SECRET_ACCESS_KEY, optionally AWS_SESSION_TOKEN, or an ECS task role).");
ABSL_FLAG(std::string, data_dir, "./data/storage",
          "local: the objects and their metadata (one process per directory). "
          "s3: scratch space for uploads in flight.");
ABSL_FLAG(std::string, s3_endpoint, "",
          "S3 endpoint with scheme, e.g. https://s3.eu-west-1.amazonaws.com or "
          "http://127.0.0.1:9000 (path-style requests).");
ABSL_FLAG(std::string, s3_bucket, "", "S3 bucket (must exist).");
ABSL_FLAG(std::string, s3_region, "us-east-1", "S3 region used for request signing.");
ABSL_FLAG(std::string, auth_policy_file, "",
          "JSON file mapping bearer tokens and client certificates to the namespaces "
          "they may read and write (see README). Or put the JSON in "
          "STACHE_STORAGE_AUTH_POLICY. Neither: the development default (token "
          "dev-gateway-token, namespace gateway), accepted only when --host is "
          "loopback or with --insecure_dev_auth. Set but empty: an error.");
ABSL_FLAG(int64_t, max_object_bytes, 25 * 1024 * 1024,
          "Largest object accepted, in bytes; larger Puts fail with RESOURCE_EXHAUSTED.");

namespace {

// Unset and set-but-empty differ: the second is a mistake to report.
std::optional<std::string> OptionalEnvironment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string Environment(const char* name) {
  return OptionalEnvironment(name).value_or("");
}

// The flag when given; "" when only its variable is there, set but empty
// (ParseFlags has copied it into the flag); unset otherwise.
std::optional<std::string> PolicyFile() {
  const std::string file = absl::GetFlag(FLAGS_auth_policy_file);
  if (!file.empty()) return file;
  if (OptionalEnvironment("STACHE_AUTH_POLICY_FILE").has_value()) return std::string();
  return std::nullopt;
}

// The variables of the AWS SDKs: static keys, else a shared credentials
// file, else an ECS task role.
absl::StatusOr<stache::storage::S3Credentials> S3CredentialsFromEnvironment() {
  if (Environment("AWS_ACCESS_KEY_ID").empty()) {
    if (const std::string file = Environment("AWS_SHARED_CREDENTIALS_FILE");
        !file.empty()) {
      const std::string profile = Environment("AWS_PROFILE");
      return stache::storage::ReadSharedCredentialsFile(
          file, profile.empty() ? "default" : profile);
    }
  }
  std::string container_url = Environment("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  if (const std::string relative = Environment("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
      !relative.empty()) {
    container_url = "http://169.254.170.2" + relative;
  }
  return stache::storage::S3Credentials{
      .access_key_id = Environment("AWS_ACCESS_KEY_ID"),
      .secret_access_key = Environment("AWS_SECRET_ACCESS_KEY"),
      .session_token = Environment("AWS_SESSION_TOKEN"),
      .container_credentials_url = container_url,
      .container_authorization = Environment("AWS_CONTAINER_AUTHORIZATION_TOKEN")};
}

}  // namespace

int main(int argc, char** argv) {
  stache::server::SetLogService("storage");
  stache::server::ParseFlags(
      argc, argv, "stache-storage: stores each service's objects in its own namespaces.");
  stache::server::KeepFreedMemoryForReuse();
  const int64_t max_object_bytes = absl::GetFlag(FLAGS_max_object_bytes);
  absl::StatusOr<stache::storage::S3Credentials> s3_credentials =
      S3CredentialsFromEnvironment();
  if (!s3_credentials.ok()) {
    stache::server::LogError("cannot serve",
                             {{"error", s3_credentials.status().ToString()}});
    return 1;
  }
  stache::storage::StorageProcessConfig config{
      .server = stache::server::ServerConfigFromFlags(absl::GetFlag(FLAGS_port),
                                                      absl::GetFlag(FLAGS_admin_port)),
      .backend = absl::GetFlag(FLAGS_backend),
      .data_dir = absl::GetFlag(FLAGS_data_dir),
      .max_object_bytes =
          max_object_bytes > 0 ? static_cast<uint64_t>(max_object_bytes) : 0,
      .s3_endpoint = absl::GetFlag(FLAGS_s3_endpoint),
      .s3_bucket = absl::GetFlag(FLAGS_s3_bucket),
      .s3_region = absl::GetFlag(FLAGS_s3_region),
      .s3_credentials = *std::move(s3_credentials),
      .auth_policy_file = PolicyFile(),
      .auth_policy_json = OptionalEnvironment("STACHE_STORAGE_AUTH_POLICY"),
      .insecure_dev_auth = absl::GetFlag(FLAGS_insecure_dev_auth)};
  if (absl::Status status = stache::storage::RunStorageProcess(config); !status.ok()) {
    stache::server::LogError("cannot serve", {{"error", status.ToString()}});
    return 1;
  }
  return 0;
}
