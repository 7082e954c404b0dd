#include "gateway/metrics.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace stache::gateway {
namespace {

// Prometheus text format: label values escape backslash, quote and newline.
std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

// HELP text escapes backslash and newline.
std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Integers print exactly (counters reach millions), others round-trip.
std::string FormatValue(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  if (value == std::floor(value) && std::fabs(value) < 9.007199254740992e15) {
    return absl::StrFormat("%.0f", value);
  }
  // The shortest form that reads back as the same double ("0.1", not
  // "0.10000000000000001").
  std::string text;
  for (int precision = 15; precision <= 17; ++precision) {
    text = absl::StrFormat("%.*g", precision, value);
    if (std::strtod(text.c_str(), nullptr) == value) break;
  }
  return text;
}

}  // namespace

std::string MetricFamily::FormatLabels(const LabelValues& values,
                                       const std::string& extra) const {
  std::vector<std::string> pairs;
  for (size_t i = 0; i < label_names_.size() && i < values.size(); ++i) {
    pairs.push_back(absl::StrCat(label_names_[i], "=\"", EscapeLabelValue(values[i]), "\""));
  }
  if (!extra.empty()) pairs.push_back(extra);
  if (pairs.empty()) return "";
  return absl::StrCat("{", absl::StrJoin(pairs, ","), "}");
}

void MetricFamily::RenderHeader(std::string& out, const char* type) const {
  absl::StrAppend(&out, "# HELP ", name_, " ", EscapeHelp(help_), "\n", "# TYPE ", name_,
                  " ", type, "\n");
}

void Counter::Increment(const LabelValues& labels, double amount) {
  absl::MutexLock lock(&mutex_);
  values_[labels] += amount;
}

double Counter::Value(const LabelValues& labels) const {
  absl::MutexLock lock(&mutex_);
  auto it = values_.find(labels);
  return it == values_.end() ? 0 : it->second;
}

void Counter::Render(std::string& out) const {
  RenderHeader(out, "counter");
  absl::MutexLock lock(&mutex_);
  for (const auto& [labels, value] : values_) {
    absl::StrAppend(&out, name_, FormatLabels(labels), " ", FormatValue(value), "\n");
  }
}

void Gauge::Add(const LabelValues& labels, double amount) {
  absl::MutexLock lock(&mutex_);
  values_[labels] += amount;
}

void Gauge::Set(const LabelValues& labels, double value) {
  absl::MutexLock lock(&mutex_);
  values_[labels] = value;
}

double Gauge::Value(const LabelValues& labels) const {
  absl::MutexLock lock(&mutex_);
  auto it = values_.find(labels);
  return it == values_.end() ? 0 : it->second;
}

void Gauge::Render(std::string& out) const {
  RenderHeader(out, "gauge");
  absl::MutexLock lock(&mutex_);
  for (const auto& [labels, value] : values_) {
    absl::StrAppend(&out, name_, FormatLabels(labels), " ", FormatValue(value), "\n");
  }
}

Histogram::Histogram(std::string name, std::string help,
                     std::vector<std::string> label_names,
                     std::vector<double> bucket_bounds)
    : MetricFamily(std::move(name), std::move(help), std::move(label_names)),
      bounds_(std::move(bucket_bounds)) {}

void Histogram::Observe(const LabelValues& labels, double value) {
  absl::MutexLock lock(&mutex_);
  Series& series = series_[labels];
  if (series.bucket_counts.empty()) series.bucket_counts.resize(bounds_.size());
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) {
      ++series.bucket_counts[i];
      break;
    }
  }
  ++series.count;
  series.sum += value;
}

uint64_t Histogram::Count(const LabelValues& labels) const {
  absl::MutexLock lock(&mutex_);
  auto it = series_.find(labels);
  return it == series_.end() ? 0 : it->second.count;
}

void Histogram::Render(std::string& out) const {
  RenderHeader(out, "histogram");
  absl::MutexLock lock(&mutex_);
  for (const auto& [labels, series] : series_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
      cumulative += series.bucket_counts[i];
      absl::StrAppend(&out, name_, "_bucket",
                      FormatLabels(labels, absl::StrCat("le=\"", FormatValue(bounds_[i]), "\"")),
                      " ", cumulative, "\n");
    }
    absl::StrAppend(&out, name_, "_bucket", FormatLabels(labels, "le=\"+Inf\""), " ",
                    series.count, "\n");
    absl::StrAppend(&out, name_, "_sum", FormatLabels(labels), " ", FormatValue(series.sum),
                    "\n");
    absl::StrAppend(&out, name_, "_count", FormatLabels(labels), " ", series.count, "\n");
  }
}

Counter& MetricsRegistry::AddCounter(std::string name, std::string help,
                                     std::vector<std::string> label_names) {
  auto family = std::make_unique<Counter>(std::move(name), std::move(help),
                                          std::move(label_names));
  Counter& result = *family;
  absl::MutexLock lock(&mutex_);
  families_.push_back(std::move(family));
  return result;
}

Gauge& MetricsRegistry::AddGauge(std::string name, std::string help,
                                 std::vector<std::string> label_names) {
  auto family = std::make_unique<Gauge>(std::move(name), std::move(help),
                                        std::move(label_names));
  Gauge& result = *family;
  absl::MutexLock lock(&mutex_);
  families_.push_back(std::move(family));
  return result;
}

Histogram& MetricsRegistry::AddHistogram(std::string name, std::string help,
                                         std::vector<std::string> label_names,
                                         std::vector<double> bucket_bounds) {
  auto family = std::make_unique<Histogram>(std::move(name), std::move(help),
                                            std::move(label_names),
                                            std::move(bucket_bounds));
  Histogram& result = *family;
  absl::MutexLock lock(&mutex_);
  families_.push_back(std::move(family));
  return result;
}

std::string MetricsRegistry::RenderText() const {
  std::string out;
  absl::MutexLock lock(&mutex_);
  for (const auto& family : families_) family->Render(out);
  return out;
}

std::vector<double> LatencyBucketsSeconds() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

GatewayMetrics::GatewayMetrics()
    : http_requests_(&registry_.AddCounter(
          "stache_gateway_http_requests_total",
          "HTTP requests answered, by method, route template and status code.",
          {"method", "route", "code"})),
      http_latency_(&registry_.AddHistogram(
          "stache_gateway_http_request_duration_seconds",
          "Time from routing an HTTP request to its response, by method and route.",
          {"method", "route"}, LatencyBucketsSeconds())),
      http_in_flight_(&registry_.AddGauge("stache_gateway_http_requests_in_flight",
                                          "HTTP requests being handled.", {})),
      backend_calls_(&registry_.AddCounter(
          "stache_gateway_backend_calls_total",
          "gRPC calls to backends, by backend, method and gRPC status code.",
          {"backend", "method", "code"})),
      backend_latency_(&registry_.AddHistogram(
          "stache_gateway_backend_call_duration_seconds",
          "Duration of gRPC calls to backends, by backend and method.",
          {"backend", "method"}, LatencyBucketsSeconds())),
      faces_detected_(&registry_.AddCounter("stache_gateway_faces_detected_total",
                                            "Faces found in uploaded photos.", {})) {
  http_in_flight_->Set({}, 0);
  faces_detected_->Increment({}, 0);
}

void GatewayMetrics::RecordHttpRequest(const std::string& method, const std::string& route,
                                       int status, absl::Duration latency) {
  http_requests_->Increment({method, route, absl::StrCat(status)});
  http_latency_->Observe({method, route}, absl::ToDoubleSeconds(latency));
}

void GatewayMetrics::RecordBackendCall(const std::string& backend, const std::string& method,
                                       const std::string& code, absl::Duration latency) {
  backend_calls_->Increment({backend, method, code});
  backend_latency_->Observe({backend, method}, absl::ToDoubleSeconds(latency));
}

}  // namespace stache::gateway
