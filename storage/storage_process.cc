#include "storage/storage_process.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/log.h"
#include "server/loopback.h"
#include "server/status_macros.h"
#include "storage/local_blob_store.h"
#include "storage/s3_blob_store.h"
#include "storage/storage_metrics.h"
#include "storage/storage_service.h"

namespace stache::storage {

absl::Status ValidateStorageProcessConfig(const StorageProcessConfig& config) {
  STACHE_RETURN_IF_ERROR(server::ValidateServerConfig(config.server));
  if (config.backend != "local" && config.backend != "s3") {
    return absl::InvalidArgumentError(
        absl::StrCat("--backend=", config.backend, " is not one of local, s3"));
  }
  if (config.data_dir.empty()) return absl::InvalidArgumentError("--data_dir is empty");
  if (config.max_object_bytes == 0) {
    return absl::InvalidArgumentError("--max_object_bytes must be positive");
  }
  if (config.backend == "s3") {
    if (config.s3_endpoint.empty()) {
      return absl::InvalidArgumentError("--backend=s3 needs --s3_endpoint");
    }
    if (config.s3_bucket.empty()) {
      return absl::InvalidArgumentError("--backend=s3 needs --s3_bucket");
    }
    const S3Credentials& credentials = config.s3_credentials;
    if ((credentials.access_key_id.empty() || credentials.secret_access_key.empty()) &&
        credentials.container_credentials_url.empty()) {
      return absl::InvalidArgumentError(
          "--backend=s3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
          "environment, "
          "or an ECS task role (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)");
    }
  }
  if (config.auth_policy_file.has_value() && config.auth_policy_json.has_value()) {
    return absl::InvalidArgumentError(
        "set either --auth_policy_file or STACHE_STORAGE_AUTH_POLICY, not both");
  }
  // An empty setting is a deployment mistake (a secret that did not
  // arrive); falling back to the development token would hide it.
  if (config.auth_policy_file.has_value() && config.auth_policy_file->empty()) {
    return absl::InvalidArgumentError(
        "--auth_policy_file (STACHE_AUTH_POLICY_FILE) is set but empty: name the policy "
        "file, or unset it");
  }
  if (config.auth_policy_json.has_value() &&
      absl::StripAsciiWhitespace(*config.auth_policy_json).empty()) {
    return absl::InvalidArgumentError(
        "STACHE_STORAGE_AUTH_POLICY is set but empty: put the policy JSON in it, or "
        "unset "
        "it");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<BlobStore>> OpenBlobStore(
    const StorageProcessConfig& config) {
  if (config.backend == "s3") {
    STACHE_ASSIGN_OR_RETURN(
        std::unique_ptr<S3BlobStore> store,
        S3BlobStore::Open({.endpoint = config.s3_endpoint,
                           .region = config.s3_region,
                           .bucket = config.s3_bucket,
                           .credentials = config.s3_credentials,
                           .spool_dir = config.data_dir + "/spool",
                           .max_object_bytes = config.max_object_bytes}));
    return store;
  }
  STACHE_ASSIGN_OR_RETURN(
      std::unique_ptr<LocalBlobStore> store,
      LocalBlobStore::Open(
          {.data_dir = config.data_dir, .max_object_bytes = config.max_object_bytes}));
  const LocalRecoveryReport& report = store->recovery_report();
  server::LogInfo("local store recovered",
                  {{"data_dir", config.data_dir},
                   {"temp_files_removed", report.temp_files_removed},
                   {"unreferenced_blobs_removed", report.unreferenced_blobs_removed},
                   {"objects_missing_blobs", report.objects_missing_blobs}});
  if (report.objects_missing_blobs > 0) {
    server::LogError("objects have lost their bytes; Get answers DATA_LOSS for them",
                     {{"count", report.objects_missing_blobs}});
  }
  return store;
}

namespace {

absl::StatusOr<NamespacePolicy> LoadConfiguredPolicy(const StorageProcessConfig& config,
                                                     std::string* source) {
  if (config.auth_policy_file.has_value()) {
    *source = absl::StrCat("file ", *config.auth_policy_file);
    return NamespacePolicy::FromFile(*config.auth_policy_file);
  }
  if (config.auth_policy_json.has_value()) {
    *source = "environment STACHE_STORAGE_AUTH_POLICY";
    return NamespacePolicy::FromJson(*config.auth_policy_json);
  }
  *source = "development default";
  // The published token must not open a listener other machines reach.
  // Every listener (the gRPC and the admin port) is on config.server.host.
  if (!server::IsLoopbackHost(config.server.host)) {
    if (!config.insecure_dev_auth) {
      return absl::FailedPreconditionError(absl::StrCat(
          "no auth policy: set --auth_policy_file or STACHE_STORAGE_AUTH_POLICY (the "
          "development token is accepted only when listening on loopback, and --host is ",
          config.server.host, ")"));
    }
    server::LogWarning(
        "--insecure_dev_auth: accepting the published development token on a listener "
        "other machines can reach; never do this in production",
        {{"host", config.server.host}, {"namespace", kDevelopmentNamespace}});
  } else {
    server::LogWarning(
        "no auth policy configured: using the development default, for local runs only",
        {{"namespace", kDevelopmentNamespace},
         {"hint", "set --auth_policy_file or STACHE_STORAGE_AUTH_POLICY in production"}});
  }
  return NamespacePolicy::DevelopmentDefault();
}

}  // namespace

absl::StatusOr<NamespacePolicy> LoadNamespacePolicy(const StorageProcessConfig& config,
                                                    std::string* source) {
  STACHE_ASSIGN_OR_RETURN(NamespacePolicy policy, LoadConfiguredPolicy(config, source));
  if (policy.names_client_certs() && !config.server.tls.require_client_cert) {
    return absl::FailedPreconditionError(
        "the auth policy names callers by client_cert, but client certificates are not "
        "verified: set --tls_require_client_cert with --tls_ca, --tls_cert and "
        "--tls_key");
  }
  return policy;
}

absl::Status RunStorageProcess(const StorageProcessConfig& config) {
  server::BlockTerminationSignals();
  STACHE_RETURN_IF_ERROR(ValidateStorageProcessConfig(config));
  std::string policy_source;
  STACHE_ASSIGN_OR_RETURN(const NamespacePolicy policy,
                          LoadNamespacePolicy(config, &policy_source));
  STACHE_ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store, OpenBlobStore(config));
  server::MetricsRegistry registry;
  // Local usage is one SQL aggregate; on S3 it lists the whole bucket.
  StorageMetrics metrics(
      registry, store.get(),
      config.backend == "s3" ? absl::Seconds(60) : absl::ZeroDuration());
  // LoadServerTls (in GrpcServer::Start) refuses --tls_require_client_cert
  // without --tls_ca, so certificates that reach the service were verified.
  StorageServiceImpl service(
      store.get(), &policy, &metrics,
      /*trust_client_certs=*/config.server.tls.require_client_cert);
  server::ServiceIdentity identity{
      .service_name = "storage",
      .service_names = {"stache.storage.v1.StorageService"},
      .components = {{.name = store->BackendName(),
                      .kind = "backend",
                      .detail = store->BackendLocation()},
                     {.name = "auth_policy",
                      .kind = "policy",
                      .detail = absl::StrCat(policy_source, " (", policy.caller_count(),
                                             " callers)")},
                     {.name = "max_object_bytes",
                      .kind = "limit",
                      .detail = absl::StrCat(store->max_object_bytes())}}};
  STACHE_ASSIGN_OR_RETURN(std::unique_ptr<server::GrpcServer> grpc_server,
                          server::GrpcServer::Start(config.server, std::move(identity),
                                                    {&service}, &registry));
  return grpc_server->RunUntilTerminated();
}

}  // namespace stache::storage
