// Prometheus metrics kept in process and rendered in the text exposition
// format (version 0.0.4): counters, gauges and histograms with labels. The
// gateway serves them at /metrics, every gRPC server on its admin port.
//
//   MetricsRegistry registry;
//   Counter& requests = registry.AddCounter("stache_gateway_http_requests_total",
//                                           "HTTP requests.", {"route", "code"});
//   requests.Increment({"/v1/images", "201"});
//   std::string text = registry.RenderText();
#ifndef STACHE_SERVER_METRICS_H_
#define STACHE_SERVER_METRICS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace stache::server {

// Label values in the order of the family's label names.
using LabelValues = std::vector<std::string>;

// One metric family. Thread-safe.
class MetricFamily {
 public:
  virtual ~MetricFamily() = default;
  const std::string& name() const { return name_; }
  // Appends the HELP, TYPE and sample lines of this family.
  virtual void Render(std::string& out) const = 0;

 protected:
  MetricFamily(std::string name, std::string help, std::vector<std::string> label_names)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)) {}
  // `{a="x",b="y"}` (with `extra` appended, e.g. le="0.5"), or "" for no labels.
  std::string FormatLabels(const LabelValues& values,
                           const std::string& extra = "") const;
  void RenderHeader(std::string& out, const char* type) const;

  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
};

// A family with one number per label set: what counters and gauges share.
class ValueFamily : public MetricFamily {
 public:
  double Value(const LabelValues& labels) const;
  void Render(std::string& out) const override;

 protected:
  ValueFamily(std::string name, std::string help, std::vector<std::string> label_names,
              const char* type)
      : MetricFamily(std::move(name), std::move(help), std::move(label_names)),
        type_(type) {}
  void AddTo(const LabelValues& labels, double amount);
  void SetTo(const LabelValues& labels, double value);

 private:
  const char* const type_;  // "counter" or "gauge"
  mutable absl::Mutex mutex_;
  std::map<LabelValues, double> values_ ABSL_GUARDED_BY(mutex_);
};

class Counter final : public ValueFamily {
 public:
  Counter(std::string name, std::string help, std::vector<std::string> label_names)
      : ValueFamily(std::move(name), std::move(help), std::move(label_names), "counter") {
  }
  void Increment(const LabelValues& labels, double amount = 1) { AddTo(labels, amount); }
};

class Gauge final : public ValueFamily {
 public:
  Gauge(std::string name, std::string help, std::vector<std::string> label_names)
      : ValueFamily(std::move(name), std::move(help), std::move(label_names), "gauge") {}
  void Add(const LabelValues& labels, double amount) { AddTo(labels, amount); }
  void Set(const LabelValues& labels, double value) { SetTo(labels, value); }
};

class Histogram final : public MetricFamily {
 public:
  // `bucket_bounds`: increasing upper bounds; +Inf is implied.
  Histogram(std::string name, std::string help, std::vector<std::string> label_names,
            std::vector<double> bucket_bounds);
  void Observe(const LabelValues& labels, double value);
  // Number of observations (the _count sample).
  uint64_t Count(const LabelValues& labels) const;
  void Render(std::string& out) const override;

 private:
  struct Series {
    std::vector<uint64_t> bucket_counts;  // per bound, not cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  const std::vector<double> bounds_;
  mutable absl::Mutex mutex_;
  std::map<LabelValues, Series> series_ ABSL_GUARDED_BY(mutex_);
};

// Owns metric families and renders them all. Thread-safe; families live as
// long as the registry.
class MetricsRegistry final {
 public:
  Counter& AddCounter(std::string name, std::string help,
                      std::vector<std::string> label_names);
  Gauge& AddGauge(std::string name, std::string help,
                  std::vector<std::string> label_names);
  Histogram& AddHistogram(std::string name, std::string help,
                          std::vector<std::string> label_names,
                          std::vector<double> bucket_bounds);
  // `collect` runs before every render, without the registry's lock held,
  // to bring gauges whose source lives elsewhere (a database, a bucket) up
  // to date. It must be thread-safe and outlive the registry's renders.
  void AddCollector(std::function<void()> collect);
  // Every family in registration order, in the Prometheus text format.
  std::string RenderText() const;

 private:
  template <typename Family>
  Family& Add(std::unique_ptr<Family> family) {
    Family& result = *family;
    absl::MutexLock lock(&mutex_);
    families_.push_back(std::move(family));
    return result;
  }

  mutable absl::Mutex mutex_;
  std::vector<std::unique_ptr<MetricFamily>> families_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::function<void()>> collectors_ ABSL_GUARDED_BY(mutex_);
};

// The content type of a Prometheus text page.
inline constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";
// What GET /metrics serves: the registry's families, then the process's.
std::string RenderMetricsPage(const MetricsRegistry& registry);

// Process metrics in the Prometheus text format, from /proc/self:
// process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_start_time_seconds.
std::string RenderProcessMetrics();

// Latency buckets in seconds, from 5 ms to 30 s.
std::vector<double> LatencyBucketsSeconds();

}  // namespace stache::server

#endif  // STACHE_SERVER_METRICS_H_
