#include "storage/storage_metrics.h"

#include "server/log.h"

namespace stache::storage {

StorageMetrics::StorageMetrics(server::MetricsRegistry& registry, BlobStore* store,
                               absl::Duration usage_max_age)
    : store_(store),
      usage_max_age_(usage_max_age),
      objects_(registry.AddGauge("stache_storage_objects", "Objects stored now.",
                                 {"namespace"})),
      stored_bytes_(registry.AddGauge("stache_storage_stored_bytes",
                                      "Total size of the objects stored now.",
                                      {"namespace"})),
      written_bytes_(registry.AddCounter("stache_storage_written_bytes_total",
                                         "Object bytes stored by successful Puts.",
                                         {"namespace"})),
      read_bytes_(registry.AddCounter("stache_storage_read_bytes_total",
                                      "Object bytes sent by Gets.", {"namespace"})),
      usage_errors_(registry.AddCounter(
          "stache_storage_usage_errors_total",
          "Failed attempts to read the stored objects and bytes from the backend.", {})) {
  registry.AddCollector([this] { RefreshUsage(); });
}

void StorageMetrics::CountWritten(absl::string_view ns, uint64_t bytes) {
  written_bytes_.Increment({std::string(ns)}, static_cast<double>(bytes));
}

void StorageMetrics::CountRead(absl::string_view ns, uint64_t bytes) {
  read_bytes_.Increment({std::string(ns)}, static_cast<double>(bytes));
}

void StorageMetrics::RefreshUsage() {
  // Held across the backend call on purpose: concurrent scrapes wait for
  // one listing instead of each starting their own.
  absl::MutexLock lock(&mutex_);
  const absl::Time now = absl::Now();
  if (now - last_refresh_ < usage_max_age_) return;
  absl::StatusOr<std::map<std::string, NamespaceUsage>> usage = store_->Usage();
  if (!usage.ok()) {
    usage_errors_.Increment({});
    server::LogWarning("cannot read storage usage for metrics",
                       {{"error", usage.status().ToString()}});
    return;
  }
  last_refresh_ = now;
  for (auto& [ns, previous] : last_usage_) previous = {};
  for (const auto& [ns, current] : *usage) last_usage_[ns] = current;
  for (const auto& [ns, current] : last_usage_) {
    objects_.Set({ns}, static_cast<double>(current.objects));
    stored_bytes_.Set({ns}, static_cast<double>(current.bytes));
  }
}

}  // namespace stache::storage
