#!/usr/bin/env bash
# The Compose stack's one-shot init container (image stache-init): makes the
# secrets every service needs before any starts, once per stack (they live in
# named volumes, so a restart keeps sessions and tokens):
#   - a CA for the stack and a certificate per service (scripts/dev-certs.sh):
#     every gRPC hop is mutual TLS;
#   - the gateway's storage bearer token and storage's namespace policy, which
#     grants the gateway's namespace to that token or to the certificate named
#     "gateway" (so nothing in the stack uses the published development token);
#   - the gateway's session-signing key;
#   - MinIO's keys, and the same keys as storage's AWS credentials file.
# Each service mounts only its own volume (/secrets/<service> here, /run/stache
# there); the CA key stays in /secrets/ca, which no service mounts.
#
#   compose-init.sh                              # the secrets
#   compose-init.sh make-bucket ENDPOINT BUCKET  # once MinIO is up
set -euo pipefail
umask 077

# The bucket storage keeps photos in (on ECS, the stack makes it). MinIO's
# keys from its secrets volume; "already yours" is success, so a restart is
# harmless.
if [ "${1:-}" = "make-bucket" ]; then
  endpoint="$2" bucket="$3" secrets="${STACHE_MINIO_SECRETS:-/run/stache}"
  code="$(curl -sS -o /tmp/bucket-response -w '%{http_code}' -X PUT \
    --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$(cat "$secrets/minio-user"):$(cat "$secrets/minio-password")" \
    "$endpoint/$bucket")"
  if [ "$code" = 200 ] || grep -q BucketAlreadyOwnedByYou /tmp/bucket-response; then
    echo "compose-init: bucket $bucket ready"
    exit 0
  fi
  echo "compose-init: creating bucket $bucket failed with HTTP $code:" >&2
  cat /tmp/bucket-response >&2
  exit 1
fi

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
make_secret minio-password
[ -s "$ca/minio-user" ] || echo "stache-$(openssl rand -hex 8)" > "$ca/minio-user"
install -m 0600 "$ca/storage-token" "$root"/gateway/storage-token
install -m 0600 "$ca/session-key" "$root"/gateway/session-key
install -m 0600 "$ca/minio-user" "$root"/minio/minio-user
install -m 0600 "$ca/minio-password" "$root"/minio/minio-password
cat > "$root"/storage/aws-credentials <<INI
[default]
aws_access_key_id = $(cat "$ca/minio-user")
aws_secret_access_key = $(cat "$ca/minio-password")
INI

# Storage keeps only the token's digest.
digest="$(tr -d '\n' < "$ca/storage-token" | openssl dgst -sha256 -r | cut -d' ' -f1)"
cat > "$root"/storage/policy.json.tmp <<JSON
{"callers": [
  {"name": "gateway", "token_sha256": "$digest", "client_cert": "gateway",
   "read": ["gateway"], "write": ["gateway"]}]}
JSON
mv "$root"/storage/policy.json.tmp "$root"/storage/policy.json
echo "compose-init: secrets ready for ${services[*]}"
