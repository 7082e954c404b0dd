// Version and source revision baked in at build time (see server/CMakeLists.txt;
// Docker builds pass -DSTACHE_BUILD_ID=<git revision>).
//
//   LogInfo("starting", {{"version", stache::server::kVersion}});
#ifndef STACHE_SERVER_BUILD_INFO_H_
#define STACHE_SERVER_BUILD_INFO_H_

namespace stache::server {

extern const char kVersion[];
extern const char kBuildId[];

}  // namespace stache::server

#endif  // STACHE_SERVER_BUILD_INFO_H_
