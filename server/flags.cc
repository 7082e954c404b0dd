#include "server/flags.h"

#include <cstdio>
#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/build_info.h"
#include "server/flag_environment.h"
#include "server/log.h"
#include "server/tls_flags.h"

// Shared by all servers; defined here rather than in each main.cc so that
// their names, defaults and help text cannot drift apart.
ABSL_FLAG(std::string, host, "127.0.0.1",
          "Address to listen on (the admin port too). The default accepts local "
          "clients only; containers set 0.0.0.0 explicitly.");
ABSL_FLAG(bool, insecure_dev_auth, false,
          "Accept (storage) or send (gateway) the published development token even "
          "though a listener is not on loopback. Logged as a warning; never in "
          "production.");
ABSL_FLAG(absl::Duration, grace_period, absl::Seconds(20),
          "On SIGTERM/SIGINT: report NOT_SERVING, stop accepting calls and "
          "let in-flight calls finish for at most this long, then exit 0.");
ABSL_FLAG(absl::Duration, drain_delay, absl::Seconds(1),
          "On SIGTERM/SIGINT: keep serving this long (part of --grace_period) "
          "after reporting NOT_SERVING, so that health-checking clients move "
          "to other replicas before the listener closes.");
ABSL_FLAG(int64_t, max_image_bytes, 25'000'000,
          "Largest encoded image accepted, in bytes. gRPC message limits of "
          "servers and clients are raised to fit it.");
ABSL_FLAG(int, max_concurrent_calls, 32,
          "Unary calls handled at once; more get RESOURCE_EXHAUSTED (backpressure) "
          "instead of an unbounded queue. 0 means no limit (and no separate "
          "limits for streams).");
ABSL_FLAG(int, max_concurrent_streams, 32,
          "Streaming calls of the service's own API (storage Put and Get) handled "
          "at once, apart from --max_concurrent_calls so that they cannot block "
          "unary calls; more get RESOURCE_EXHAUSTED. 0 means no limit.");
ABSL_FLAG(int, max_control_streams, 8,
          "Server reflection streams open at once, apart from both limits above; "
          "more get RESOURCE_EXHAUSTED. 0 means no limit. (Health is never "
          "refused: gRPC serves it without these threads.)");
ABSL_FLAG(absl::Duration, default_call_deadline, absl::Seconds(30),
          "Unary calls whose client set no deadline end with DEADLINE_EXCEEDED "
          "after this long.");
ABSL_FLAG(absl::Duration, default_stream_deadline, absl::Minutes(5),
          "Streams whose client set no deadline end with DEADLINE_EXCEEDED after "
          "this long (health Watch streams excepted).");
ABSL_FLAG(absl::Duration, stream_idle_timeout, absl::Seconds(30),
          "Streams that receive and send nothing for this long end with "
          "DEADLINE_EXCEEDED (health Watch streams, idle by design, excepted).");
ABSL_FLAG(absl::Duration, max_connection_age, absl::Minutes(1),
          "Close each client connection (GOAWAY) after about this long, so that "
          "clients reconnect, resolve the service name again and spread their "
          "calls over replicas added since (scale-out).");
ABSL_FLAG(absl::Duration, max_connection_age_grace, absl::Minutes(5),
          "Calls in flight on a connection closed by --max_connection_age get "
          "this long to finish (keep it at least --default_stream_deadline).");
ABSL_FLAG(std::string, log_level, "info",
          "Lowest level logged: debug, info, warning or error.");

namespace stache::server {

void ParseFlags(int argc, char** argv, absl::string_view usage) {
  absl::FlagsUsageConfig usage_config;
  // --help lists the project's flags, not Abseil's internal ones.
  usage_config.contains_help_flags = [](absl::string_view file) {
    return !absl::StrContains(file, "absl/");
  };
  usage_config.version_string = [] {
    return absl::StrCat(kVersion, " (", kBuildId, ")\n");
  };
  absl::SetFlagsUsageConfig(usage_config);
  absl::SetProgramUsageMessage(
      absl::StrCat(usage,
                   "\n\nEvery flag can also be set from the environment as "
                   "STACHE_<FLAG_NAME>, e.g. STACHE_GRACE_PERIOD=30s; the command line "
                   "wins."));

  ApplyFlagEnvironment([](absl::string_view) { return true; });
  absl::ParseCommandLine(argc, argv);

  LogLevel level;
  if (!ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    std::fprintf(stderr, "invalid --log_level '%s': use debug, info, warning or error\n",
                 absl::GetFlag(FLAGS_log_level).c_str());
    std::exit(2);
  }
  SetLogLevel(level);
}

ServerConfig ServerConfigFromFlags(int port, int admin_port) {
  ServerConfig config;
  config.host = absl::GetFlag(FLAGS_host);
  config.port = port;
  config.admin_port = admin_port;
  config.max_concurrent_calls = absl::GetFlag(FLAGS_max_concurrent_calls);
  config.max_concurrent_streams = absl::GetFlag(FLAGS_max_concurrent_streams);
  config.max_control_streams = absl::GetFlag(FLAGS_max_control_streams);
  config.default_call_deadline = absl::GetFlag(FLAGS_default_call_deadline);
  config.default_stream_deadline = absl::GetFlag(FLAGS_default_stream_deadline);
  config.stream_idle_timeout = absl::GetFlag(FLAGS_stream_idle_timeout);
  config.grace_period = absl::GetFlag(FLAGS_grace_period);
  config.drain_delay = absl::GetFlag(FLAGS_drain_delay);
  config.max_image_bytes = absl::GetFlag(FLAGS_max_image_bytes);
  config.max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  config.max_connection_age_grace = absl::GetFlag(FLAGS_max_connection_age_grace);
  config.tls = TlsConfigFromFlags();
  return config;
}

}  // namespace stache::server
