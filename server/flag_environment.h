// Flags from the environment: every flag FLAG can also be set as
// STACHE_<FLAG> (the command line wins, because it is parsed afterwards).
// ParseFlags applies it to every flag; small tools such as
// stache-healthcheck, which run inside a service's container, apply it to
// the few shared flags they read (the TLS files).
//
//   ApplyFlagEnvironment([](absl::string_view name) { return name == "tls_ca"; });
//   absl::ParseCommandLine(argc, argv);
#ifndef STACHE_SERVER_FLAG_ENVIRONMENT_H_
#define STACHE_SERVER_FLAG_ENVIRONMENT_H_

#include <functional>
#include <string>

#include "absl/strings/string_view.h"

namespace stache::server {

// The environment variable that overrides `flag_name`: "max_image_bytes" ->
// "STACHE_MAX_IMAGE_BYTES".
std::string EnvironmentVariableForFlag(absl::string_view flag_name);

// Sets each registered flag for which `wanted(name)` holds from its
// variable, when that is set. Exits with status 2 and one clear line on a
// value the flag cannot parse.
void ApplyFlagEnvironment(const std::function<bool(absl::string_view)>& wanted);

}  // namespace stache::server

#endif  // STACHE_SERVER_FLAG_ENVIRONMENT_H_
