#include "server/flag_environment.h"

#include <cstdio>
#include <cstdlib>

#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace stache::server {

std::string EnvironmentVariableForFlag(absl::string_view flag_name) {
  std::string name(flag_name);
  absl::AsciiStrToUpper(&name);
  return absl::StrCat("STACHE_", name);
}

void ApplyFlagEnvironment(const std::function<bool(absl::string_view)>& wanted) {
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!wanted(name)) continue;
    const char* value = std::getenv(EnvironmentVariableForFlag(name).c_str());
    if (value == nullptr) continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      std::fprintf(stderr, "invalid value for %s: %s\n",
                   EnvironmentVariableForFlag(name).c_str(), error.c_str());
      std::exit(2);
    }
  }
}

}  // namespace stache::server
