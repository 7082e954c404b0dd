// The storage service's own Prometheus metrics, served on its admin port
// beside the RPC metrics every server has: what each namespace holds and
// how many object bytes go in and out.
//
//   StorageMetrics metrics(registry, store.get(), absl::Seconds(60));
//   StorageServiceImpl service(store.get(), &policy, &metrics);
#ifndef STACHE_STORAGE_STORAGE_METRICS_H_
#define STACHE_STORAGE_STORAGE_METRICS_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/metrics.h"
#include "storage/blob_store.h"

namespace stache::storage {

// Registers in `registry`:
//   stache_storage_objects{namespace}              objects stored now
//   stache_storage_stored_bytes{namespace}         their total size
//   stache_storage_written_bytes_total{namespace}  object bytes stored by Puts
//   stache_storage_read_bytes_total{namespace}     object bytes sent by Gets
//   stache_storage_usage_errors_total              failed refreshes of the gauges
// The gauges come from store->Usage(), asked when /metrics is scraped but
// at most once per `usage_max_age` (a full listing is costly on S3); a
// failed refresh keeps the last values. Does not own the registry or the
// store; both must outlive it, and it must outlive the registry's renders.
// Thread-safe.
class StorageMetrics final {
 public:
  StorageMetrics(server::MetricsRegistry& registry, BlobStore* store,
                 absl::Duration usage_max_age);
  StorageMetrics(const StorageMetrics&) = delete;
  StorageMetrics& operator=(const StorageMetrics&) = delete;

  void CountWritten(absl::string_view ns, uint64_t bytes);
  void CountRead(absl::string_view ns, uint64_t bytes);

 private:
  void RefreshUsage();

  BlobStore* const store_;
  const absl::Duration usage_max_age_;
  server::Gauge& objects_;
  server::Gauge& stored_bytes_;
  server::Counter& written_bytes_;
  server::Counter& read_bytes_;
  server::Counter& usage_errors_;
  absl::Mutex mutex_;
  absl::Time last_refresh_ ABSL_GUARDED_BY(mutex_) = absl::InfinitePast();
  // Namespaces ever reported, so one that empties drops to 0, not out.
  std::map<std::string, NamespaceUsage> last_usage_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace stache::storage

#endif  // STACHE_STORAGE_STORAGE_METRICS_H_
