#!/usr/bin/python3
"""Signs S3 requests with botocore's own S3SigV4Auth (Debian's
python3-botocore), the reference that sigv4_test compares our signer with.

  /usr/bin/python3 storage/testing/botocore_sign.py requests.json
requests.json: {"time": "20261130T120000Z", "requests": [{"endpoint":
"https://host", "region", "method", "bucket", "key", "query": [[k, v]],
"headers": [[name, value]], "body" (text), "access_key_id",
"secret_access_key", "session_token"}]}
Prints a JSON list of {"canonical_request", "authorization", "headers"}.
"""
import datetime
import json
import sys
from unittest import mock
from urllib.parse import quote

import botocore.auth
import botocore.awsrequest
import botocore.credentials


class RecordingS3SigV4Auth(botocore.auth.S3SigV4Auth):
    """S3SigV4Auth unchanged, but keeping the canonical request it signs."""

    def canonical_request(self, request):
        self.recorded = super().canonical_request(request)
        return self.recorded


def sign(spec, now):
    # botocore's S3 serializer encodes a key this way ({Key+}: "/" kept).
    url = f"{spec['endpoint']}/{spec['bucket']}"
    if spec.get("key"):
        url += "/" + quote(spec["key"], safe="/~")
    request = botocore.awsrequest.AWSRequest(
        method=spec["method"], url=url, headers=dict(spec.get("headers", [])),
        params=[tuple(p) for p in spec.get("query", [])],
        data=spec.get("body", "").encode() or None)
    credentials = botocore.credentials.Credentials(
        spec["access_key_id"], spec["secret_access_key"], spec.get("session_token") or None)
    auth = RecordingS3SigV4Auth(credentials, "s3", spec["region"])

    class FixedClock(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return now

    with mock.patch.object(botocore.auth.datetime, "datetime", FixedClock):
        auth.add_auth(request)
    return {"canonical_request": auth.recorded,
            "authorization": request.headers["Authorization"],
            "headers": {k.lower(): v for k, v in request.headers.items()}}


def main():
    spec = json.load(open(sys.argv[1]))
    now = datetime.datetime.strptime(spec["time"], "%Y%m%dT%H%M%SZ")
    json.dump([sign(request, now) for request in spec["requests"]],
              sys.stdout, indent=1)


if __name__ == "__main__":
    main()
