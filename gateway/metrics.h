// The gateway's Prometheus metric families, served at GET /metrics; the
// registry and metric types are the ones every service uses
// (server/metrics.h).
//
//   MetricsRegistry registry;
//   Counter& requests = registry.AddCounter("stache_gateway_http_requests_total",
//                                           "HTTP requests.", {"route", "code"});
//   requests.Increment({"/v1/images", "201"});
//   std::string text = registry.RenderText();
#ifndef STACHE_GATEWAY_METRICS_H_
#define STACHE_GATEWAY_METRICS_H_

#include <string>

#include "absl/time/time.h"
#include "server/metrics.h"

namespace stache::gateway {

using server::Counter;
using server::Gauge;
using server::Histogram;
using server::LabelValues;
using server::LatencyBucketsSeconds;
using server::MetricsRegistry;

// The gateway's metric families. Owns its registry.
class GatewayMetrics final {
 public:
  GatewayMetrics();

  MetricsRegistry& registry() { return registry_; }

  // One finished HTTP request; `route` is the route template (for example
  // "/v1/images/{id}"), never the raw path, to keep label cardinality bounded.
  void RecordHttpRequest(const std::string& method, const std::string& route, int status,
                         absl::Duration latency);
  // One finished call to a backend; `code` is the canonical gRPC code name.
  void RecordBackendCall(const std::string& backend, const std::string& method,
                         const std::string& code, absl::Duration latency);

  Gauge& http_requests_in_flight() { return *http_in_flight_; }
  // Requests read in full and waiting for a free handler thread. (The name
  // is from when a connection held a thread; a waiting request still holds
  // its connection.)
  Gauge& http_connections_waiting() { return *http_waiting_; }
  // Open HTTP connections (at most --http_max_connections).
  Gauge& http_connections_open() { return *http_open_; }
  // Connections closed at the cap to make room for new ones (idle, or their
  // head not complete).
  Counter& http_connections_evicted() { return *http_evicted_; }
  Counter& faces_detected() { return *faces_detected_; }

 private:
  MetricsRegistry registry_;
  Counter* http_requests_;
  Histogram* http_latency_;
  Gauge* http_in_flight_;
  Gauge* http_waiting_;
  Gauge* http_open_;
  Counter* http_evicted_;
  Counter* backend_calls_;
  Histogram* backend_latency_;
  Counter* faces_detected_;
};

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_METRICS_H_
