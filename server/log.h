// Structured logging: one JSON object per line on stderr, so that log
// shippers (awslogs, docker logs, jq) read fields instead of prose.
//
//   stache::server::SetLogService("detector");
//   stache::server::LogInfo("listening", {{"port", 50051}});
//   => {"ts":"2026-11-26T09:40:00.123Z","level":"info","service":"detector",
//       "msg":"listening","port":50051}
#ifndef STACHE_SERVER_LOG_H_
#define STACHE_SERVER_LOG_H_

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace stache::server {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// Extra fields of a log line; must be a JSON object (or null for none).
using LogFields = nlohmann::json;

// Sets the "service" field of every line. Call once, before serving.
void SetLogService(absl::string_view service);
// Lines below `level` are dropped. Default: kInfo.
void SetLogLevel(LogLevel level);
// Parses "debug", "info", "warning" or "error".
bool ParseLogLevel(absl::string_view text, LogLevel* level);

// Thread-safe; each call writes exactly one line.
void Log(LogLevel level, absl::string_view message, const LogFields& fields = nullptr);
inline void LogInfo(absl::string_view message, const LogFields& fields = nullptr) {
  Log(LogLevel::kInfo, message, fields);
}
inline void LogWarning(absl::string_view message, const LogFields& fields = nullptr) {
  Log(LogLevel::kWarning, message, fields);
}
inline void LogError(absl::string_view message, const LogFields& fields = nullptr) {
  Log(LogLevel::kError, message, fields);
}

}  // namespace stache::server

#endif  // STACHE_SERVER_LOG_H_
