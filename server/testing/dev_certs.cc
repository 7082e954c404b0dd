#include "server/testing/dev_certs.h"

#include "absl/strings/str_cat.h"
#include "tests/testing/process.h"

namespace stache::server::testing {

std::string DevCertsScript() { return STACHE_DEV_CERTS_SCRIPT; }

absl::StatusOr<DevCerts> MakeDevCerts(const std::vector<std::string>& services) {
  DevCerts certs{.dir = stache::testing::MakeTempDir() + "/certs"};
  std::vector<std::string> argv = {DevCertsScript(), certs.dir};
  argv.insert(argv.end(), services.begin(), services.end());
  const stache::testing::CommandResult result =
      stache::testing::RunCommand(argv, absl::Seconds(60));
  if (result.exit_code != 0) {
    return absl::InternalError(absl::StrCat("dev-certs.sh failed:\n", result.output));
  }
  return certs;
}

}  // namespace stache::server::testing
