// Command-line parsing shared by every binary: Abseil flags, each of which can
// also be set from the environment as STACHE_<FLAG_NAME_IN_CAPITALS> (the
// command line wins). Also defines the flags every gRPC server has, so that
// they are spelled and documented once.
//
//   ABSL_FLAG(int, port, 50051, "gRPC port");  // in main.cc
//   stache::server::ParseFlags(argc, argv, "stache-detector: finds faces");
//   ServerConfig config =
//   stache::server::ServerConfigFromFlags(absl::GetFlag(FLAGS_port));
#ifndef STACHE_SERVER_FLAGS_H_
#define STACHE_SERVER_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/flag_environment.h"
#include "server/grpc_server.h"
#include "server/tls_flags.h"

ABSL_DECLARE_FLAG(std::string, host);
ABSL_DECLARE_FLAG(bool, insecure_dev_auth);
ABSL_DECLARE_FLAG(absl::Duration, grace_period);
ABSL_DECLARE_FLAG(absl::Duration, drain_delay);
ABSL_DECLARE_FLAG(int64_t, max_image_bytes);
ABSL_DECLARE_FLAG(int, max_concurrent_calls);
ABSL_DECLARE_FLAG(int, max_concurrent_streams);
ABSL_DECLARE_FLAG(int, max_control_streams);
ABSL_DECLARE_FLAG(absl::Duration, default_call_deadline);
ABSL_DECLARE_FLAG(absl::Duration, default_stream_deadline);
ABSL_DECLARE_FLAG(absl::Duration, stream_idle_timeout);
ABSL_DECLARE_FLAG(absl::Duration, max_connection_age);
ABSL_DECLARE_FLAG(absl::Duration, max_connection_age_grace);
ABSL_DECLARE_FLAG(std::string, log_level);

namespace stache::server {

// Applies STACHE_* environment overrides, then parses argv (handles --help and
// --version). Exits with status 2 and one clear line on a bad value.
void ParseFlags(int argc, char** argv, absl::string_view usage);

// Reads the shared server flags (the TLS ones of server/tls_flags.h too)
// into a config; `port` and `admin_port` come
// from the binary's own --port and --admin_port flags because each service
// has its own defaults (-1: no admin port).
ServerConfig ServerConfigFromFlags(int port, int admin_port = -1);

}  // namespace stache::server

#endif  // STACHE_SERVER_FLAGS_H_
