#include "server/metrics.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace stache::server {
namespace {

// Prometheus text format: label values escape backslash, quote and newline.
std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
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

void AppendSample(std::string& out, const char* name, const char* type, const char* help,
                  double value) {
  absl::StrAppendFormat(&out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name,
                        type, name, value);
}

}  // namespace

std::string MetricFamily::FormatLabels(const LabelValues& values,
                                       const std::string& extra) const {
  std::vector<std::string> pairs;
  for (size_t i = 0; i < label_names_.size() && i < values.size(); ++i) {
    pairs.push_back(
        absl::StrCat(label_names_[i], "=\"", EscapeLabelValue(values[i]), "\""));
  }
  if (!extra.empty()) pairs.push_back(extra);
  if (pairs.empty()) return "";
  return absl::StrCat("{", absl::StrJoin(pairs, ","), "}");
}

void MetricFamily::RenderHeader(std::string& out, const char* type) const {
  absl::StrAppend(&out, "# HELP ", name_, " ", EscapeHelp(help_), "\n", "# TYPE ", name_,
                  " ", type, "\n");
}

void ValueFamily::AddTo(const LabelValues& labels, double amount) {
  absl::MutexLock lock(&mutex_);
  values_[labels] += amount;
}

void ValueFamily::SetTo(const LabelValues& labels, double value) {
  absl::MutexLock lock(&mutex_);
  values_[labels] = value;
}

double ValueFamily::Value(const LabelValues& labels) const {
  absl::MutexLock lock(&mutex_);
  auto it = values_.find(labels);
  return it == values_.end() ? 0 : it->second;
}

void ValueFamily::Render(std::string& out) const {
  RenderHeader(out, type_);
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
      absl::StrAppend(
          &out, name_, "_bucket",
          FormatLabels(labels, absl::StrCat("le=\"", FormatValue(bounds_[i]), "\"")), " ",
          cumulative, "\n");
    }
    absl::StrAppend(&out, name_, "_bucket", FormatLabels(labels, "le=\"+Inf\""), " ",
                    series.count, "\n");
    absl::StrAppend(&out, name_, "_sum", FormatLabels(labels), " ",
                    FormatValue(series.sum), "\n");
    absl::StrAppend(&out, name_, "_count", FormatLabels(labels), " ", series.count, "\n");
  }
}

Counter& MetricsRegistry::AddCounter(std::string name, std::string help,
                                     std::vector<std::string> label_names) {
  return Add(std::make_unique<Counter>(std::move(name), std::move(help),
                                       std::move(label_names)));
}

Gauge& MetricsRegistry::AddGauge(std::string name, std::string help,
                                 std::vector<std::string> label_names) {
  return Add(
      std::make_unique<Gauge>(std::move(name), std::move(help), std::move(label_names)));
}

Histogram& MetricsRegistry::AddHistogram(std::string name, std::string help,
                                         std::vector<std::string> label_names,
                                         std::vector<double> bucket_bounds) {
  return Add(std::make_unique<Histogram>(std::move(name), std::move(help),
                                         std::move(label_names),
                                         std::move(bucket_bounds)));
}

void MetricsRegistry::AddCollector(std::function<void()> collect) {
  absl::MutexLock lock(&mutex_);
  collectors_.push_back(std::move(collect));
}

std::string MetricsRegistry::RenderText() const {
  std::vector<std::function<void()>> collectors;
  {
    absl::MutexLock lock(&mutex_);
    collectors = collectors_;
  }
  for (const auto& collect : collectors) collect();
  std::string out;
  absl::MutexLock lock(&mutex_);
  for (const auto& family : families_) family->Render(out);
  return out;
}

std::string RenderMetricsPage(const MetricsRegistry& registry) {
  return registry.RenderText() + RenderProcessMetrics();
}

std::vector<double> LatencyBucketsSeconds() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

std::string RenderProcessMetrics() {
  std::string out;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), {});
  // Fields after the command name (which may contain spaces) start at ')'.
  const size_t close = stat.rfind(')');
  if (close != std::string::npos) {
    std::vector<std::string> fields =
        absl::StrSplit(stat.substr(close + 2), ' ', absl::SkipEmpty());
    // state is field 3 overall, index 0 here: utime 14 -> 11, stime 15 -> 12,
    // starttime 22 -> 19, vsize 23 -> 20, rss 24 -> 21.
    if (fields.size() > 21) {
      const double cpu = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
      AppendSample(out, "process_cpu_seconds_total", "counter",
                   "User and system CPU time spent, in seconds.", cpu);
      AppendSample(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size.",
                   std::stod(fields[20]));
      AppendSample(out, "process_resident_memory_bytes", "gauge", "Resident memory size.",
                   std::stod(fields[21]) * page);
      std::ifstream uptime_file("/proc/uptime");
      double uptime = 0;
      uptime_file >> uptime;
      const double boot = static_cast<double>(time(nullptr)) - uptime;
      AppendSample(out, "process_start_time_seconds", "gauge",
                   "Start time of the process since the Unix epoch, in seconds.",
                   boot + std::stod(fields[19]) / ticks);
    }
  }
  std::error_code error;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++fds;
  }
  AppendSample(out, "process_open_fds", "gauge", "Open file descriptors.", fds);
  return out;
}

}  // namespace stache::server
