"""What the process-level Python suites need to run onsen on the tests' S3 gateway (the Ceph RGW
the ctest fixture s3.gateway_start boots; tests/s3/CMakeLists.txt): the gateway's variables, the
storage.s3 block of a configuration on it, and a read-only look at the bucket's keys (a SigV4
client of two S3 calls, so a test checks what is in the bucket rather than what onsen says).
Python 3 standard library only, as onsen_proc.

Import it after `sys.path.insert(0, <tests/lib>)`."""

import datetime
import hashlib
import hmac
import http.client
import os
import urllib.parse
import xml.etree.ElementTree as ET

BUCKET = "onsen-tests"  # the bucket the fixture creates (tests/support/s3_gateway.h)
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def gateway_env():
    """The gateway's variables (S3_ENDPOINT, AWS_ACCESS_KEY_ID, ...): the export lines of the file
    ONSEN_TEST_S3_ENV names (the fixture writes it), else the environment's own (as
    `eval "$(tests/s3/start-ceph-rgw.sh)"` sets them). SystemExit when neither has a gateway."""
    path = os.environ.get("ONSEN_TEST_S3_ENV")
    if not path:
        if "S3_ENDPOINT" not in os.environ:
            raise SystemExit("no S3 gateway: ONSEN_TEST_S3_ENV and S3_ENDPOINT unset")
        return dict(os.environ)
    env = {}
    with open(path) as f:
        for line in f:
            if line.startswith("export ") and "=" in line:
                k, v = line[len("export "):].strip().split("=", 1)
                env[k] = v.strip("'\"")
    return env


def storage_yaml(env, root, bucket=BUCKET):
    """The `  s3:` block (indented under `storage:`) of a configuration on the gateway, keys under
    rootdirectory root."""
    return ("  s3:\n"
            f"    accesskey: {env['AWS_ACCESS_KEY_ID']}\n"
            f"    secretkey: {env['AWS_SECRET_ACCESS_KEY']}\n"
            f"    region: {env.get('S3_REGION', 'us-east-1')}\n"
            f"    regionendpoint: {env['S3_ENDPOINT']}\n"
            f"    bucket: {bucket}\n"
            f"    rootdirectory: {root}\n"
            "    secure: false\n")


class Bucket:
    """Signed (AWS Signature V4) path-style GETs on one bucket of the gateway."""

    def __init__(self, env, bucket=BUCKET):
        url = urllib.parse.urlsplit(env["S3_ENDPOINT"])
        self.host, self.port = url.hostname, url.port or 80
        self.access, self.secret = env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        self.region = env.get("S3_REGION", "us-east-1")
        self.bucket = bucket

    def _get(self, query):
        """GET /bucket?query (a dict) signed; the parsed XML answer. RuntimeError unless 200."""
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        qs = "&".join(f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
                      for k, v in sorted(query.items()))
        host = f"{self.host}:{self.port}"
        empty = hashlib.sha256(b"").hexdigest()
        headers = {"host": host, "x-amz-content-sha256": empty, "x-amz-date": amz_date}
        signed = ";".join(sorted(headers))
        canonical = "\n".join(["GET", f"/{self.bucket}", qs,
                               "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed,
                               empty])
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                             hashlib.sha256(canonical.encode()).hexdigest()])
        key = ("AWS4" + self.secret).encode()
        for part in (day, self.region, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.access}/{scope}, "
                                    f"SignedHeaders={signed}, Signature={signature}")
        c = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            c.request("GET", f"/{self.bucket}?{qs}", headers=headers)
            r = c.getresponse()
            body = r.read()
        finally:
            c.close()
        if r.status != 200:
            raise RuntimeError(f"S3 GET ?{qs}: {r.status} {body[:300]!r}")
        return ET.fromstring(body)

    def keys(self, prefix):
        """Every object key under prefix (ListObjectsV2, all pages)."""
        out, token = [], None
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            root = self._get(query)
            out += [e.findtext(f"{_NS}Key") for e in root.iter(f"{_NS}Contents")]
            token = root.findtext(f"{_NS}NextContinuationToken")
            if root.findtext(f"{_NS}IsTruncated") != "true" or not token:
                return out

    def multipart_uploads(self, prefix):
        """The keys of the pending multipart uploads under prefix (ListMultipartUploads, all
        pages)."""
        out, marker = [], {}
        while True:
            root = self._get({"uploads": "", "prefix": prefix, **marker})
            out += [e.findtext(f"{_NS}Key") for e in root.iter(f"{_NS}Upload")]
            if root.findtext(f"{_NS}IsTruncated") != "true":
                return out
            marker = {"key-marker": root.findtext(f"{_NS}NextKeyMarker") or "",
                      "upload-id-marker": root.findtext(f"{_NS}NextUploadIdMarker") or ""}
