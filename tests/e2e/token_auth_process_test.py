#!/usr/bin/env python3
"""Distribution's token authentication (auth.token) end to end: a token server on loopback
(Python's http.server; tokens signed by PyJWT, Debian's python3-jwt) implementing the Docker
token flow (GET realm?service=..&scope=.. with Basic credentials -> {"token", "access_token"}),
Onsen configured with its realm, and the same token server in front of Distribution's
docker-registry (2.8.2, Debian's) as the reference.

    token_auth_process_test.py BINARY

- Three ways of naming the signing key: an x5c chain (ES256 leaf under the bundle's RSA root),
  a kid naming the root's own key by libtrust's key ID (RS256), and (Onsen only: registry:2.8
  has no jwks) a kid of the JWKS file (EdDSA).
- The answers registry:2 gives, compared with docker-registry's byte for byte (the scope's
  action order aside, which Go's map iteration randomizes): no token (challenge with the scope,
  no error), a token from the flow (allowed), expired, wrong audience, wrong issuer, a token for
  another repository and an action not granted (error="insufficient_scope"), the catalog without
  and with registry:catalog:*, alg none, HS256 keyed by the public key, an x5c chain of a foreign
  CA (error="invalid_token").
- Real clients: curl through the flow (token, then an upload), skopeo copy pushing and pulling
  with credentials for the token server, a reader's push refused.
Exit status 0 when everything passed.
"""
import base64
import datetime
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from checks import check, finish  # noqa: E402
from onsen_proc import HOST, Client, Server, free_port  # noqa: E402

ONSEN = sys.argv[1]
DISTRIBUTION = shutil.which("docker-registry")
SERVICE = "onsen-token-test"
ISSUER = "test-token-issuer"
USERS = {
    # user: (password, {repository prefix: actions}, catalog)
    "alice": ("alice-secret", {"team/": {"pull", "push", "delete"}}, True),
    "reader": ("reader-secret", {"team/": {"pull"}}, False),
}


# ---------------------------------------------------------------------------------------------
# Keys: an RSA root (the rootcertbundle), an EC leaf it signs (x5c), an Ed25519 key (JWKS)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def certificate(subject, key, issuer=None, issuer_key=None, ca=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name = issuer.subject if issuer else name
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return builder.sign(issuer_key or key, hashes.SHA256())


def libtrust_key_id(public_key):
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))


class Keys:
    def __init__(self, workdir):
        self.root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.root = certificate("token root", self.root_key, ca=True)
        self.leaf_key = ec.generate_private_key(ec.SECP256R1())
        self.leaf = certificate("token signer", self.leaf_key, self.root, self.root_key)
        self.ed_key = ed25519.Ed25519PrivateKey.generate()
        foreign_root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        foreign_root = certificate("token root", foreign_root_key, ca=True)
        self.foreign_leaf = certificate("token signer", self.leaf_key, foreign_root,
                                        foreign_root_key)
        self.foreign_root = foreign_root
        self.bundle = os.path.join(workdir, "bundle.pem")
        with open(self.bundle, "wb") as f:
            f.write(self.root.public_bytes(serialization.Encoding.PEM))
        self.jwks = os.path.join(workdir, "jwks.json")
        raw = self.ed_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                    serialization.PublicFormat.Raw)
        with open(self.jwks, "w") as f:
            json.dump({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "ed-1",
                                 "x": b64url(raw)}]}, f)
        self.root_kid = libtrust_key_id(self.root_key.public_key())

    @staticmethod
    def der64(cert):
        return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()

    def sign(self, claims, mode):
        if mode == "x5c":
            return jwt.encode(claims, self.leaf_key, algorithm="ES256",
                              headers={"x5c": [self.der64(self.leaf), self.der64(self.root)]})
        if mode == "kid":
            return jwt.encode(claims, self.root_key, algorithm="RS256",
                              headers={"kid": self.root_kid})
        if mode == "jwks":
            return jwt.encode(claims, self.ed_key, algorithm="EdDSA", headers={"kid": "ed-1"})
        if mode == "foreign-x5c":
            return jwt.encode(claims, self.leaf_key, algorithm="ES256",
                              headers={"x5c": [self.der64(self.foreign_leaf),
                                               self.der64(self.foreign_root)]})
        raise ValueError(mode)


def claims(sub, access, exp_in=300, aud=SERVICE, iss=ISSUER):
    now = int(time.time())
    return {"iss": iss, "sub": sub, "aud": aud, "exp": now + exp_in, "nbf": now - 5,
            "iat": now, "jti": os.urandom(8).hex(), "access": access}


def unsigned(claims_, alg, key=b""):
    """A token with header alg `alg`: "none" (no signature) or HS256 keyed by `key`."""
    header = b64url(json.dumps({"typ": "JWT", "alg": alg}).encode())
    body = b64url(json.dumps(claims_).encode())
    if alg == "none":
        return f"{header}.{body}."
    import hmac
    mac = hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64url(mac)}"


# ---------------------------------------------------------------------------------------------
# The token server


def grant(user, scope):
    """What `user` (None: anonymous) gets of one requested scope: an access entry or None."""
    parts = scope.split(":")
    if len(parts) < 3:
        return None
    kind, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
    if user is None:
        return None
    _, rights, catalog = USERS[user]
    if kind == "registry" and name == "catalog":
        return {"type": kind, "name": name, "actions": ["*"]} if catalog else None
    allowed = set()
    for prefix, acts in rights.items():
        if name.startswith(prefix):
            allowed |= acts
    granted = [a for a in actions if a in allowed]
    return {"type": kind, "name": name, "actions": granted} if granted else None


class TokenServer:
    def __init__(self, keys):
        self.keys = keys
        self.mode = "x5c"
        self.requests = []  # (user, [scopes]) per token request
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                if url.path != "/auth" or query.get("service") != [SERVICE]:
                    return self.answer(400, {"error": "bad request"})
                user = None
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    name, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    if name not in USERS or USERS[name][0] != password:
                        return self.answer(401, {"details": "invalid credentials"})
                    user = name
                scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
                outer.requests.append((user, scopes))
                access = [g for g in (grant(user, s) for s in scopes) if g]
                token = outer.keys.sign(claims(user or "", access), outer.mode)
                self.answer(200, {"token": token, "access_token": token, "expires_in": 300,
                                  "issued_at": datetime.datetime.now(datetime.timezone.utc)
                                  .isoformat()})

            def answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer((HOST, self.port), Handler)
        self.realm = f"http://{HOST}:{self.port}/auth"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def token(self, user, scopes):
        """The flow as a client runs it (Basic credentials to the realm); the token."""
        c = Client(self.port)
        try:
            query = urllib.parse.urlencode([("service", SERVICE)] + [("scope", s) for s in scopes])
            auth = base64.b64encode(f"{user}:{USERS[user][0]}".encode()).decode()
            res = c.request("GET", "/auth?" + query, headers={"Authorization": "Basic " + auth})
            body = json.loads(res.body)
            assert body["token"] == body["access_token"]
            return body["token"]
        finally:
            c.close()

    def stop(self):
        self.httpd.shutdown()


# ---------------------------------------------------------------------------------------------
# The registries


def token_config(tokens, keys, jwks):
    lines = ["auth:", "  token:", f"    realm: {tokens.realm}", f"    service: {SERVICE}",
             f"    issuer: {ISSUER}", f"    rootcertbundle: {keys.bundle}"]
    if jwks:
        lines.append(f"    jwks: {keys.jwks}")
    return "\n".join(lines) + "\n"


def normalized(challenge):
    """A challenge with each scope's actions sorted: Go writes them in map order."""
    def sort_actions(m):
        scopes = []
        for s in m.group(1).split(" "):
            head, _, acts = s.rpartition(":")
            scopes.append(head + ":" + ",".join(sorted(acts.split(","))))
        return 'scope="' + " ".join(sorted(scopes)) + '"'
    return re.sub(r'scope="([^"]*)"', sort_actions, challenge or "")


def answer(port, method, path, token=None):
    c = Client(port)
    try:
        headers = {"Authorization": "Bearer " + token} if token else {}
        res = c.request(method, path, body=b"" if method in ("POST", "PUT") else None,
                        headers=headers)
        return res.status, normalized(res.header("WWW-Authenticate")), res
    finally:
        c.close()


def cases(tokens, keys):
    """(name, method, path, token) of the comparison; tokens minted once, shared by both. Uploads
    go to team/up, not team/app: a started upload makes Onsen's tags/list of the repository 200
    with no tags where registry:2 keeps answering 404."""
    team_pull = [{"type": "repository", "name": "team/app", "actions": ["pull"]}]
    out = [("no token: /v2/", "GET", "/v2/", None),
           ("no token: tags of team/app", "GET", "/v2/team/app/tags/list", None),
           ("no token: an upload", "POST", "/v2/team/up/blobs/uploads/", None),
           ("no token: the catalog", "GET", "/v2/_catalog", None)]
    for mode in ("x5c", "kid"):
        tokens.mode = mode
        out += [
            (f"{mode}: flow token, /v2/", "GET", "/v2/",
             tokens.token("alice", [])),
            (f"{mode}: flow token, tags of team/app", "GET", "/v2/team/app/tags/list",
             tokens.token("alice", ["repository:team/app:pull"])),
            (f"{mode}: flow token, an upload", "POST", "/v2/team/up/blobs/uploads/",
             tokens.token("alice", ["repository:team/up:pull,push"])),
            (f"{mode}: reader's token, an upload (push not granted)", "POST",
             "/v2/team/up/blobs/uploads/",
             tokens.token("reader", ["repository:team/up:pull,push"])),
            (f"{mode}: token for another repository", "GET", "/v2/team/app/tags/list",
             tokens.token("alice", ["repository:team/other:pull"])),
            (f"{mode}: catalog without registry:catalog:*", "GET", "/v2/_catalog",
             tokens.token("reader", ["registry:catalog:*"])),
            (f"{mode}: catalog with registry:catalog:*", "GET", "/v2/_catalog",
             tokens.token("alice", ["registry:catalog:*"])),
            (f"{mode}: expired token", "GET", "/v2/team/app/tags/list",
             keys.sign(claims("alice", team_pull, exp_in=-120), mode)),
            (f"{mode}: wrong audience", "GET", "/v2/team/app/tags/list",
             keys.sign(claims("alice", team_pull, aud="another-registry"), mode)),
            (f"{mode}: wrong issuer", "GET", "/v2/team/app/tags/list",
             keys.sign(claims("alice", team_pull, iss="someone-else"), mode)),
        ]
    public_pem = keys.root_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    out += [
        ("alg none", "GET", "/v2/team/app/tags/list", unsigned(claims("alice", team_pull), "none")),
        ("HS256 keyed by the root's public key", "GET", "/v2/team/app/tags/list",
         unsigned(claims("alice", team_pull), "HS256", public_pem)),
        ("x5c chain of a foreign CA", "GET", "/v2/team/app/tags/list",
         keys.sign(claims("alice", team_pull), "foreign-x5c")),
        ("not a JWT", "GET", "/v2/team/app/tags/list", "abc.def.ghi"),
    ]
    tokens.mode = "x5c"
    return out


def expected(name, tokens):
    """The status and challenge registry:2's rules give for case `name`."""
    base = f'Bearer realm="{tokens.realm}",service="{SERVICE}"'
    tags = base + ',scope="repository:team/app:pull"'
    upload = base + ',scope="repository:team/up:pull,push"'
    catalog = base + ',scope="registry:catalog:*"'
    if name.startswith("no token"):
        return 401, (tags if "tags" in name else upload if "upload" in name
                     else catalog if "catalog" in name else base)
    if "flow token, /v2/" in name:
        return 200, ""
    if "flow token, tags" in name:
        return 404, ""  # allowed; the repository does not exist yet
    if "flow token, an upload" in name:
        return 202, ""
    if "push not granted" in name:
        return 401, upload + ',error="insufficient_scope"'
    if "another repository" in name:
        return 401, tags + ',error="insufficient_scope"'
    if "catalog without" in name:
        return 401, catalog + ',error="insufficient_scope"'
    if "catalog with" in name:
        return 200, ""
    return 401, tags + ',error="invalid_token"'


def compare(tokens, keys, onsen, distribution):
    for name, method, path, token in cases(tokens, keys):
        status, challenge, res = answer(onsen.port, method, path, token)
        want = expected(name, tokens)
        check(f"onsen: {name}: {want[0]}", (status, challenge) == want,
              f"got {status} {challenge!r}, want {want}")
        if status == 401:
            check(f"onsen: {name}: UNAUTHORIZED in the body", res.code() == "UNAUTHORIZED",
                  res.body[:300])
        if distribution:
            d = answer(distribution.port, method, path, token)
            check(f"registry:2 answers alike: {name}", d[:2] == (status, challenge),
                  f"registry:2 {d[:2]}, onsen {(status, challenge)}")


def test_jwks(tokens, keys, onsen):
    tokens.mode = "jwks"
    token = tokens.token("alice", ["repository:team/app:pull,push"])
    status, challenge, _ = answer(onsen.port, "POST", "/v2/team/app/blobs/uploads/", token)
    check("jwks: an EdDSA token whose kid names a JWKS key is allowed", status == 202,
          f"{status} {challenge}")
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    check("jwks: the token's header is alg EdDSA, kid ed-1",
          header.get("alg") == "EdDSA" and header.get("kid") == "ed-1", header)
    other = ed25519.Ed25519PrivateKey.generate()
    forged = jwt.encode(claims("alice", [{"type": "repository", "name": "team/app",
                                          "actions": ["pull"]}]), other, algorithm="EdDSA",
                        headers={"kid": "ed-1"})
    status, challenge, _ = answer(onsen.port, "GET", "/v2/team/app/tags/list", forged)
    check("jwks: the kid of a JWKS key signed by another key: invalid_token",
          status == 401 and challenge.endswith('error="invalid_token"'), f"{status} {challenge}")
    tokens.mode = "x5c"


def test_curl(tokens, onsen):
    scope = "repository:team/curl:pull,push"
    out = subprocess.run(["curl", "-sS", "-u", f"alice:{USERS['alice'][0]}", "-G", tokens.realm,
                          "--data-urlencode", f"service={SERVICE}", "--data-urlencode",
                          f"scope={scope}"], capture_output=True, text=True, timeout=30)
    try:
        token = json.loads(out.stdout)["token"]
    except (ValueError, KeyError):
        token = None
    check("curl: the token server gives alice a token", token is not None, out.stdout + out.stderr)
    url = f"http://{HOST}:{onsen.port}/v2/team/curl/blobs/uploads/"
    head = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-D", "-", "-X", "POST", url],
                          capture_output=True, text=True, timeout=30).stdout
    check("curl: without the token, 401 with the challenge naming the scope",
          head.startswith("HTTP/1.1 401") and
          f'scope="{scope}"' in head and f'realm="{tokens.realm}"' in head, head)
    head = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-D", "-", "-X", "POST", "-H",
                           f"Authorization: Bearer {token}", url],
                          capture_output=True, text=True, timeout=30).stdout
    check("curl: with the token, the upload starts (202)", head.startswith("HTTP/1.1 202"), head)


def skopeo(env_dir, *args):
    env = dict(os.environ, HOME=env_dir, XDG_RUNTIME_DIR=env_dir, TMPDIR=env_dir, NO_PROXY="*")
    env = {k: v for k, v in env.items() if not k.startswith("REGISTRY_")}
    return subprocess.run(["timeout", "120", "skopeo", "--policy",
                           os.path.join(env_dir, "policy.json"), "copy", "--src-tls-verify=false",
                           "--dest-tls-verify=false", "--retry-times", "0", *args],
                          env=env, capture_output=True, text=True)


def test_skopeo(work, tokens, server, label):
    env_dir = os.path.join(work, f"skopeo-env-{label}")
    os.makedirs(env_dir, mode=0o700)
    with open(os.path.join(env_dir, "policy.json"), "w") as f:
        f.write('{"default":[{"type":"insecureAcceptAnything"}]}')
    src = os.path.join(work, "layout")
    if not os.path.exists(src):
        subprocess.run([sys.executable, os.path.join(HERE, "..", "interop", "make_oci_layout.py"),
                        src, "--layers", "2", "--layer-size", "50000", "--tag", "v1", "--seed",
                        "token"], capture_output=True, check=True)
    image = f"docker://{HOST}:{server.port}/team/skopeo:v1"
    before = len(tokens.requests)
    p = skopeo(env_dir, "--dest-creds", f"alice:{USERS['alice'][0]}", f"oci:{src}:v1", image)
    check(f"{label}: skopeo copy (push) with alice's credentials", p.returncode == 0,
          p.stderr[-2000:])
    asked = [s for user, scopes in tokens.requests[before:] if user == "alice" for s in scopes]
    check(f"{label}: skopeo asked the token server for push on team/skopeo",
          any(s.startswith("repository:team/skopeo:") and "push" in s for s in asked), asked)
    out = os.path.join(work, f"pulled-{label}")
    p = skopeo(env_dir, "--src-creds", f"reader:{USERS['reader'][0]}", image, f"dir:{out}")
    check(f"{label}: skopeo copy (pull) with the reader's credentials", p.returncode == 0,
          p.stderr[-2000:])
    p = skopeo(env_dir, "--dest-creds", f"reader:{USERS['reader'][0]}", f"oci:{src}:v1",
               f"docker://{HOST}:{server.port}/team/skopeo:reader")
    check(f"{label}: skopeo push with the reader's credentials is refused", p.returncode != 0,
          p.stderr[-2000:])
    p = skopeo(env_dir, "--dest-creds", "alice:wrong", f"oci:{src}:v1", image)
    check(f"{label}: skopeo with a wrong password is refused", p.returncode != 0,
          p.stderr[-2000:])
    return p


def test_env_only(work, tokens, keys):
    """Distribution's variables alone configure token auth (REGISTRY_AUTH=token, _TOKEN_*)."""
    env = {"REGISTRY_AUTH": "token", "REGISTRY_AUTH_TOKEN_REALM": tokens.realm,
           "REGISTRY_AUTH_TOKEN_SERVICE": SERVICE, "REGISTRY_AUTH_TOKEN_ISSUER": ISSUER,
           "REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE": keys.bundle,
           "REGISTRY_AUTH_TOKEN_JWKS": keys.jwks,
           "REGISTRY_AUTH_TOKEN_SIGNINGALGORITHMS": "[ES256, EdDSA]"}
    server = Server(ONSEN, workdir=os.path.join(work, "onsen-env"), env=env, ready=(401,))
    try:
        server.start()
        status, challenge, _ = answer(server.port, "GET", "/v2/")
        check("env only: /v2/ without a token: 401 with the realm and service",
              (status, challenge) == (401, f'Bearer realm="{tokens.realm}",service="{SERVICE}"'),
              f"{status} {challenge}")
        tokens.mode = "x5c"
        token = tokens.token("alice", ["repository:team/env:pull,push"])
        status, _, _ = answer(server.port, "POST", "/v2/team/env/blobs/uploads/", token)
        check("env only: an ES256 x5c token from the flow starts an upload", status == 202, status)
        tokens.mode = "kid"
        token = tokens.token("alice", ["repository:team/env:pull,push"])
        status, challenge, _ = answer(server.port, "POST", "/v2/team/env/blobs/uploads/", token)
        check("env only: an RS256 token is refused (SIGNINGALGORITHMS=[ES256, EdDSA])",
              status == 401 and challenge.endswith('error="invalid_token"'), f"{status} {challenge}")
        tokens.mode = "x5c"
    finally:
        server.stop()


def test_bad_keys(work, tokens, keys):
    """Key files that cannot serve stop the start, naming the file (registry:2 refuses to start
    too)."""
    for name, extra in (("missing bundle", "    rootcertbundle: /nonexistent/bundle.pem\n"),
                        ("bundle without certificates", f"    rootcertbundle: {keys.jwks}\n"),
                        ("HMAC only", f"    rootcertbundle: {keys.bundle}\n"
                                      "    signingalgorithms: [HS256]\n")):
        config = ("auth:\n  token:\n" f"    realm: {tokens.realm}\n    service: {SERVICE}\n"
                  f"    issuer: {ISSUER}\n" + extra)
        server = Server(ONSEN, workdir=os.path.join(work, "bad-" + name.replace(" ", "-")),
                        config_extra=config)
        server.write_config()
        p = subprocess.run([ONSEN, "serve", server.config_path], capture_output=True, text=True,
                           timeout=30, env=server.env)
        out = p.stdout + p.stderr
        check(f"bad keys: {name}: onsen exits 1 with the reason", p.returncode == 1 and
              "startup failed" in out and ("bundle" in out or "HMAC" in out), out[-1000:])


def main():
    work = tempfile.mkdtemp(prefix="onsen-token-")
    keys = Keys(work)
    tokens = TokenServer(keys)
    onsen = Server(ONSEN, workdir=os.path.join(work, "onsen"), log_level="info",
                   config_extra=token_config(tokens, keys, jwks=True), ready=(401,))
    distribution = None
    try:
        onsen.start()
        if DISTRIBUTION:
            distribution = Server(DISTRIBUTION, workdir=os.path.join(work, "distribution"),
                                  config_extra=token_config(tokens, keys, jwks=False),
                                  ready=(401,), name="distribution").start()
        else:
            print("skip registry:2 comparison: docker-registry not installed")
        compare(tokens, keys, onsen, distribution)
        test_jwks(tokens, keys, onsen)
        test_curl(tokens, onsen)
        test_env_only(work, tokens, keys)
        test_bad_keys(work, tokens, keys)
        if shutil.which("skopeo"):
            test_skopeo(work, tokens, onsen, "onsen")
            if distribution:
                test_skopeo(work, tokens, distribution, "registry:2")
        else:
            print("skip skopeo: not installed")
        log = onsen.log()
        check("onsen's log says why tokens were refused, and holds no token",
              "token refused" in log and "lacks scope" in log and
              not re.search(r"eyJ[A-Za-z0-9_-]{20,}", log), log[-2000:])
    finally:
        onsen.stop()
        if distribution:
            distribution.stop()
        tokens.stop()
    code = finish()
    if code == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work}")
    return code


if __name__ == "__main__":
    sys.exit(main())
