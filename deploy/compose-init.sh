#!/usr/bin/env bash
# The Compose stack's one-shot init container (image stache-init): makes the
# secrets every service needs before any starts, once per stack (they live in
# named volumes, so a restart keeps sessions and tokens):
#   - a CA for the stack and a certificate per service (scripts/dev-certs.sh):
#     every gRPC hop is mutual TLS;
#   - the gateway's storage bearer token and storage's namespace policy, which
#     grants the gateway's namespace to that token or to the certificate named
#     "gateway" (so nothing in the stack uses the published development token);
#   - the gateway's session-signing key.
# Each service mounts only its own volume (/secrets/<service> here, /run/stache
# there); the CA key stays in /secrets/ca, which no service mounts.
set -euo pipefail
umask 077

root="${STACHE_SECRETS_DIR:-/secrets}"
ca="$root/ca"
services=(gateway detector overlay storage)
dev-certs.sh "$ca" "${services[@]}"

for service in "${services[@]}"; do
  out="$root/$service"
  install -m 0644 "$ca/ca.crt" "$out/ca.crt"
  install -m 0600 "$ca/$service.crt" "$out/tls.crt"
  install -m 0600 "$ca/$service.key" "$out/tls.key"
done

# Random values are made once and kept in the CA volume, then copied.
make_secret() {
  [ -s "$ca/$1" ] || openssl rand -hex 32 > "$ca/$1"
}
make_secret storage-token
make_secret session-key
install -m 0600 "$ca/storage-token" "$root"/gateway/storage-token
install -m 0600 "$ca/session-key" "$root"/gateway/session-key

# Storage keeps only the token's digest.
digest="$(tr -d '\n' < "$ca/storage-token" | openssl dgst -sha256 -r | cut -d' ' -f1)"
cat > "$root"/storage/policy.json.tmp <<JSON
{"callers": [
  {"name": "gateway", "token_sha256": "$digest", "client_cert": "gateway",
   "read": ["gateway"], "write": ["gateway"]}]}
JSON
mv "$root"/storage/policy.json.tmp "$root"/storage/policy.json
echo "compose-init: secrets ready for ${services[*]}"
