#!/usr/bin/env python3
"""Verifies EdgeGuard's X-EdgeGuard-Signature, written from docs/signing.md
with the Python standard library only (hmac, hashlib, base64).

    python3 examples/verify.py --vectors testdata/signing/vectors.json
    EDGEGUARD_SIGNING_KEY=... python3 examples/verify.py --url http://127.0.0.1:8080/

`verify()` is the whole verifier; copy it into a service. The rest runs the
committed test vectors, or sends a request through EdgeGuard to the demo's
echo backend (which answers with the headers it received) and verifies them.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import sys
import time
import urllib.request

OWS = " \t"  # HTTP optional whitespace
NAME = re.compile(r"^[a-z0-9!#$%&'*+.^_`|~-]+$")


class SignatureError(Exception):
    """`code` is one of the error names used by the test vectors."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


def verify(value, method, host, path, get_header, keys, now, max_skew):
    """Returns {name: value} of the signed headers, or raises SignatureError.

    get_header(name) -> str or None (join repeated lines with ", ");
    keys: {kid: secret bytes}; now, max_skew: seconds."""
    parts = value.strip(OWS).split(";")
    if parts[0] != "v1":
        raise SignatureError("unsupported-version" if re.fullmatch(r"v\d+", parts[0]) else "malformed")
    fields = [p.split("=", 1) for p in parts[1:]]
    if [f[0] for f in fields] != ["kid", "t", "h", "sig"] or any(len(f) != 2 for f in fields):
        raise SignatureError("malformed")
    kid, t, names, sig = (f[1] for f in fields)
    names = names.split(",") if names else []
    if (not re.fullmatch(r"[A-Za-z0-9._-]{1,32}", kid) or not re.fullmatch(r"[0-9]{1,19}", t)
            or not re.fullmatch(r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]", sig)
            or len(names) > 64 or len(set(names)) != len(names) or not all(NAME.match(n) for n in names)):
        raise SignatureError("malformed")
    if kid not in keys:
        raise SignatureError("unknown-key")
    if now - int(t) > max_skew:
        raise SignatureError("stale")
    if int(t) - now > max_skew:
        raise SignatureError("future")
    values = []
    for name in names:
        v = get_header(name)
        if v is None:
            raise SignatureError("missing-header")
        values.append(v.strip(OWS))
    lines = ["v1", method, host.strip(OWS), path, t] + [n + ":" + v for n, v in zip(names, values)]
    mac = hmac.new(keys[kid], "\n".join(lines).encode("utf-8"), hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    if not hmac.compare_digest(expected, sig):  # constant time
        raise SignatureError("bad-signature")
    return dict(zip(names, values))


def lookup(pairs):
    """A case-insensitive header lookup over [name, value] pairs."""
    def get(name):
        found = [v for n, v in pairs if n.lower() == name]
        return ", ".join(found) if found else None
    return get


def check_vectors(path):
    doc = json.load(open(path, encoding="utf-8"))
    failures = 0
    for v in doc["positive"]:
        try:
            verify(v["expected"], v["method"], v["host"], v["path"], lookup(v["headers"]),
                   {v["kid"]: v["secret"].encode()}, v["timestamp"], doc["maxSkew"])
        except SignatureError as e:
            failures += 1
            print(f"FAIL {v['name']}: refused ({e.code})")
    for v in doc["negative"]:
        keys = {k["kid"]: k["secret"].encode() for k in v["keys"]}
        try:
            verify(v["header"], v["method"], v["host"], v["path"], lookup(v["headers"]), keys, v["now"], doc["maxSkew"])
            got = "accepted"
        except SignatureError as e:
            got = e.code
        if got != v["error"]:
            failures += 1
            print(f"FAIL {v['name']}: want {v['error']}, got {got}")
    total = len(doc["positive"]) + len(doc["negative"])
    print(f"verify.py: {total - failures}/{total} signature vectors pass")
    return 1 if failures or total == 0 else 0


def check_url(url, key_env, kid):
    key = os.environ.get(key_env, "").strip()
    if not key:
        sys.exit(f"set {key_env} to the key EdgeGuard signs with")
    with urllib.request.urlopen(url) as resp:
        echo = json.load(resp)
    headers = {n: ", ".join(vs) for n, vs in echo["headers"].items()}
    value = headers.get("x-edgeguard-signature")
    if value is None:
        sys.exit("the backend received no X-EdgeGuard-Signature: is signing on?")
    signed = verify(value, echo["method"], headers.get("host", ""), echo["uri"], headers.get,
                    {kid: key.encode()}, int(time.time()), 300)
    print(f"signature valid; signed headers: {signed}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vectors", help="check the test vectors in this JSON file")
    ap.add_argument("--url", help="verify a live request through EdgeGuard to the echo backend")
    ap.add_argument("--key-env", default="EDGEGUARD_SIGNING_KEY", help="variable holding the key (--url)")
    ap.add_argument("--kid", default="k1", help="key id of that key (--url)")
    args = ap.parse_args()
    if args.vectors:
        return check_vectors(args.vectors)
    if args.url:
        return check_url(args.url, args.key_env, args.kid)
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
