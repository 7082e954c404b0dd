#include "gateway/metrics.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace stache::gateway {

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
      http_waiting_(&registry_.AddGauge(
          "stache_gateway_http_connections_waiting",
          "Requests read in full and waiting for a free HTTP handler thread (at most "
          "--http_max_waiting_connections; more are refused with 503).",
          {})),
      http_open_(&registry_.AddGauge(
          "stache_gateway_http_connections_open",
          "Open HTTP connections (at most --http_max_connections; beyond them new "
          "connections wait in the kernel's listen backlog).",
          {})),
      http_evicted_(&registry_.AddCounter(
          "stache_gateway_http_connections_evicted_total",
          "Connections closed at --http_max_connections to make room for a new one: "
          "the one idle, or waiting for its head, the longest.",
          {})),
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
  http_waiting_->Set({}, 0);
  http_open_->Set({}, 0);
  http_evicted_->Increment({}, 0);
  faces_detected_->Increment({}, 0);
}

void GatewayMetrics::RecordHttpRequest(const std::string& method,
                                       const std::string& route, int status,
                                       absl::Duration latency) {
  http_requests_->Increment({method, route, absl::StrCat(status)});
  http_latency_->Observe({method, route}, absl::ToDoubleSeconds(latency));
}

void GatewayMetrics::RecordBackendCall(const std::string& backend,
                                       const std::string& method, const std::string& code,
                                       absl::Duration latency) {
  backend_calls_->Increment({backend, method, code});
  backend_latency_->Observe({backend, method}, absl::ToDoubleSeconds(latency));
}

}  // namespace stache::gateway
