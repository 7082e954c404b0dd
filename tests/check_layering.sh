#!/usr/bin/env bash
# Layers as build facts: fails if the gateway or storage binary links OpenCV,
# or if a core library (no gRPC or HTTP types by design) or imaging's format
# reader refers to gRPC, HTTP or OpenCV symbols. Each rule is first shown to
# catch a deliberate violation: the same check on a target that must break
# it (the detector links OpenCV; the overlay's gRPC adapter refers to gRPC).
#
#   tests/check_layering.sh BUILD_DIR
set -euo pipefail
build="${1:?usage: $0 BUILD_DIR}"
failed=0

# A missing file is an error, never a pass.
links() {  # binary, pattern: does the binary load a library matching it?
  [ -x "$build/bin/$1" ] || { echo "layering: $build/bin/$1 is not built" >&2; exit 2; }
  ldd "$build/bin/$1" | grep -E "$2" >/dev/null
}
refers() {  # static library, pattern: do its undefined symbols match?
  local library
  library="$(find "$build" -name "$1" -print -quit)"
  [ -n "$library" ] || { echo "layering: $1 is not built under $build" >&2; exit 2; }
  # grpc.health.v1's messages are protobuf messages in namespace grpc::, not
  # gRPC: a core may read a health status as it reads any other message.
  nm -C --undefined-only "$library" |
    grep -vE 'grpc::health::v1::HealthCheck(Request|Response)' | grep -E "$2" >/dev/null
}
rule() {  # description, command..., expecting no match
  if "${@:2}"; then echo "layering: VIOLATED: $1" >&2; failed=1; else echo "layering: ok: $1"; fi
}
catches() {  # description, command...: the negative case must match
  if "${@:2}"; then echo "layering: the check catches $1"; else
    echo "layering: the check does not catch $1: it is broken" >&2; failed=1; fi
}

opencv='libopencv|libgdal'
grpc='grpc::|grpc_|httplib::|boost::beast'
catches "the detector linking OpenCV" links stache-detector "$opencv"
catches "the overlay adapter referring to gRPC" refers libstache_overlay.a "$grpc"

rule "stache-gateway links no OpenCV" links stache-gateway "$opencv"
rule "stache-storage links no OpenCV" links stache-storage "$opencv"
rule "server_base refers to no gRPC or HTTP" refers libstache_server_base.a "$grpc"
rule "detector_core refers to no gRPC or HTTP" refers libstache_detector_core.a "$grpc"
rule "overlay_core refers to no gRPC or HTTP" refers libstache_overlay_core.a "$grpc"
rule "storage_core refers to no gRPC or HTTP" refers libstache_storage_core.a "$grpc"
rule "gateway_core refers to no gRPC or HTTP" refers libstache_gateway_core.a "$grpc"
rule "image_format refers to no OpenCV" refers libstache_image_format.a "cv::"
exit $failed
