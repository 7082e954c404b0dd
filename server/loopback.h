// Whether a listen address or target host is on loopback, for the rules that
// allow development credentials only where no other machine can connect.
//
//   if (!IsLoopbackHost(config.host) && !config.insecure_dev_auth) return Error(...);
#ifndef STACHE_SERVER_LOOPBACK_H_
#define STACHE_SERVER_LOOPBACK_H_

#include "absl/strings/string_view.h"

namespace stache::server {

// True for "localhost", 127.0.0.0/8 and ::1 (brackets allowed). False for
// wildcards (0.0.0.0, ::), other names and addresses: they may be reached from
// elsewhere.
bool IsLoopbackHost(absl::string_view host);

}  // namespace stache::server

#endif  // STACHE_SERVER_LOOPBACK_H_
