#!/usr/bin/env bash
# Development certificates for TLS between the stache services: a CA and, for
# each service, a certificate it uses as server and as client (mutual TLS).
#
#   scripts/dev-certs.sh certs                      # gateway detector overlay storage
#   scripts/dev-certs.sh --group-readable /certs storage gateway
#   scripts/dev-certs.sh --owner=10001:10001 /certs   # as root, for user 10001
#
# Writes OUT_DIR/ca.crt, ca.key and <service>.crt, <service>.key. Each service
# certificate is signed by the CA, names DNS:<service>, DNS:localhost and
# IP:127.0.0.1 (Compose names and local runs), and is good for serverAuth and
# clientAuth. EC P-256 keys, 825 days (the CA too).
#
# Idempotent: an existing CA, and service certificates it signed that are
# not about to expire, are kept; --force makes everything anew (and a new CA
# means new service certificates). Keys are readable by their owner only
# (mode 0600); --group-readable (or DEV_CERTS_KEY_MODE=0640) lets the group
# read the service keys too, for a Compose init container whose output
# non-root service users read; --key-mode=MODE sets any mode; --owner=
# UID[:GID] (run as root) hands the service files to the user the services
# run as. The CA key always stays 0600 and its owner's. Development only: production certificates come from a
# secret store.
set -euo pipefail

usage() {
  echo "usage: $0 [--force] [--group-readable | --key-mode=MODE] [--owner=UID[:GID]]" \
       "OUT_DIR [SERVICE...]" >&2
  exit 2
}

force=0
key_mode="${DEV_CERTS_KEY_MODE:-0600}"
owner=""
out_dir=""
services=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --group-readable) key_mode=0640 ;;
    --key-mode=*) key_mode="${arg#--key-mode=}" ;;
    --owner=*) owner="${arg#--owner=}" ;;
    -h|--help) usage ;;
    -*) echo "unknown option $arg" >&2; usage ;;
    *) if [ -z "$out_dir" ]; then out_dir="$arg"; else services+=("$arg"); fi ;;
  esac
done
[ -n "$out_dir" ] || usage
[ ${#services[@]} -gt 0 ] || services=(gateway detector overlay storage)
if ! [[ "$key_mode" =~ ^0?[0-7]{3}$ ]]; then
  echo "--key-mode wants an octal mode such as 0600, got '$key_mode'" >&2
  exit 2
fi
for service in "${services[@]}"; do
  # The name becomes a DNS SAN and a file name: a DNS label, nothing else.
  if ! [[ "$service" =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]]; then
    echo "service name '$service' is not a DNS label (a-z, 0-9, -)" >&2
    exit 2
  fi
  if [ "$service" = ca ]; then
    echo "'ca' names the CA's own files; pick another service name" >&2
    exit 2
  fi
done
command -v openssl >/dev/null || { echo "openssl is not installed" >&2; exit 1; }

readonly days=825
# Certificates expiring within this many seconds are made anew.
readonly renew_before=$((30 * 24 * 3600))
umask 077
# Certificates are public and keys are protected by their own mode, so a
# directory made here can be entered by the service users.
[ -d "$out_dir" ] || mkdir -p -m 0755 "$out_dir"
scratch="$(mktemp -d "$out_dir/.dev-certs.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# True when $1 exists and does not expire within renew_before.
fresh() { [ -f "$1" ] && openssl x509 -in "$1" -noout -checkend "$renew_before" >/dev/null 2>&1; }

new_ca=0
if [ $force -eq 1 ] || [ ! -f "$out_dir/ca.key" ] || ! fresh "$out_dir/ca.crt"; then
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$scratch/ca.key" -out "$scratch/ca.crt" -days "$days" \
    -subj "/CN=stache development CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  chmod 0600 "$scratch/ca.key"
  chmod 0644 "$scratch/ca.crt"
  mv -f "$scratch/ca.key" "$out_dir/ca.key"
  mv -f "$scratch/ca.crt" "$out_dir/ca.crt"
  new_ca=1
  echo "wrote $out_dir/ca.crt $out_dir/ca.key"
else
  echo "kept $out_dir/ca.crt $out_dir/ca.key"
fi

for service in "${services[@]}"; do
  cert="$out_dir/$service.crt"
  key="$out_dir/$service.key"
  if [ $new_ca -eq 0 ] && [ -f "$key" ] && fresh "$cert" &&
     openssl verify -CAfile "$out_dir/ca.crt" "$cert" >/dev/null 2>&1; then
    chmod "$key_mode" "$key"
    [ -z "$owner" ] || chown "$owner" "$key" "$cert"
    echo "kept $cert $key"
    continue
  fi
  cat > "$scratch/$service.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:$service,DNS:localhost,IP:127.0.0.1
EOF
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$scratch/$service.key" -out "$scratch/$service.csr" \
    -subj "/CN=$service" 2>/dev/null
  openssl x509 -req -in "$scratch/$service.csr" -CA "$out_dir/ca.crt" \
    -CAkey "$out_dir/ca.key" -set_serial "0x$(openssl rand -hex 16)" -days "$days" \
    -extfile "$scratch/$service.ext" -out "$scratch/$service.crt" 2>/dev/null
  chmod "$key_mode" "$scratch/$service.key"
  chmod 0644 "$scratch/$service.crt"
  [ -z "$owner" ] || chown "$owner" "$scratch/$service.key" "$scratch/$service.crt"
  mv -f "$scratch/$service.key" "$key"
  mv -f "$scratch/$service.crt" "$cert"
  echo "wrote $cert $key"
done
