#!/usr/bin/env python3
"""Writes vectors.json: signature test vectors computed from docs/signing.md
with the Python standard library only, independently of the Rust signer.

    python3 testdata/signing/generate.py > testdata/signing/vectors.json

Checked by tests/signing_vectors.rs (the Rust signer and verifier) and by
examples/verify.py --vectors (a second verifier written from the docs).
"""
import base64
import hashlib
import hmac
import json
import re

KEY = "edgeguard-test-vector-key-0001-abcdefghijklmnop"
OLD_KEY = "edgeguard-previous-key-2024-01-qrstuvwxyz012345"
T = 1700000000
MAX_SKEW = 300
OWS = " \t"  # HTTP optional whitespace, trimmed from values


def canonical(method, host, path, t, headers):
    lines = ["v1", method, host, path, str(t)]
    lines += [name.lower() + ":" + value.strip(OWS) for name, value in headers]
    return "\n".join(lines)


def header(secret, kid, method, host, path, t, headers):
    text = canonical(method, host, path, t, headers)
    mac = hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()
    sig = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    names = ",".join(name.lower() for name, _ in headers)
    return f"v1;kid={kid};t={t};h={names};sig={sig}"


def positive(name, method, host, path, headers, secret=KEY, kid="k1", t=T):
    return {
        "name": name,
        "secret": secret,
        "kid": kid,
        "method": method,
        "host": host,
        "path": path,
        "timestamp": t,
        "headers": [list(h) for h in headers],
        "canonical": canonical(method, host, path, t, headers),
        "expected": header(secret, kid, method, host, path, t, headers),
    }


POSITIVE = [
    positive(
        "client IP and country",
        "GET", "app.example.com", "/orders/42?expand=items",
        [("x-real-ip", "203.0.113.10"), ("x-geo-country", "SE")],
    ),
    positive(
        "default header set with percent-encoded city, names lower-cased",
        "GET", "app.example.com", "/",
        [
            ("X-Real-IP", "203.0.113.10"), ("X-Geo-Country", "SE"), ("X-Geo-Country-Name", "Sweden"),
            ("X-Geo-Continent", "EU"), ("X-Geo-Region", "E"), ("X-Geo-City", "Link%C3%B6ping"),
            ("X-Geo-Time-Zone", "Europe/Stockholm"), ("X-Geo-ASN", "64496"),
        ],
    ),
    positive(
        "IPv6 client, host with port, encoded path and query kept as received",
        "GET", "api.example.com:8443", "/caf%C3%A9/a%2Fb?q=a%20b&x=1",
        [("x-real-ip", "2001:db8:2::1"), ("x-geo-country", "BR")],
    ),
    positive("no signed headers (client-IP header off, no geo)", "HEAD", "app.example.com", "/healthz", []),
    positive(
        "raw UTF-8 value (geo.encoding raw) is signed as UTF-8 bytes",
        "GET", "app.example.com", "/", [("x-real-ip", "203.0.113.10"), ("x-geo-city", "Linköping")],
    ),
    positive(
        "previous key during a rotation",
        "POST", "app.example.com", "/api/v1/items",
        [("x-real-ip", "198.51.100.23")], secret=OLD_KEY, kid="2024-01",
    ),
    positive(
        "surrounding spaces and tabs are not signed",
        "GET", "app.example.com", "/", [("x-real-ip", " 203.0.113.10"), ("x-geo-country", "SE\t ")],
    ),
]


def negative(name, error, base, header_value=None, headers=None, keys=None, now=T, **request):
    return {
        "name": name,
        "error": error,
        "header": header_value if header_value is not None else base["expected"],
        "method": request.get("method", base["method"]),
        "host": request.get("host", base["host"]),
        "path": request.get("path", base["path"]),
        "headers": headers if headers is not None else base["headers"],
        "keys": keys if keys is not None else [{"kid": "k1", "secret": KEY}, {"kid": "2024-01", "secret": OLD_KEY}],
        "now": now,
    }


BASE = POSITIVE[0]
SIG = BASE["expected"].rsplit("sig=", 1)[1]
NEGATIVE = [
    negative("tampered geo header", "bad-signature", BASE,
             headers=[["x-real-ip", "203.0.113.10"], ["x-geo-country", "US"]]),
    negative("tampered client IP", "bad-signature", BASE,
             headers=[["x-real-ip", "198.51.100.1"], ["x-geo-country", "SE"]]),
    negative("tampered path", "bad-signature", BASE, path="/orders/43?expand=items"),
    negative("tampered query", "bad-signature", BASE, path="/orders/42"),
    negative("tampered method", "bad-signature", BASE, method="DELETE"),
    negative("tampered host", "bad-signature", BASE, host="admin.example.com"),
    negative("tampered timestamp", "bad-signature", BASE, header_value=BASE["expected"].replace(f"t={T}", f"t={T + 1}")),
    negative("signed header dropped from h=", "bad-signature", BASE,
             header_value=BASE["expected"].replace("h=x-real-ip,x-geo-country", "h=x-real-ip")),
    negative("right key id, wrong key", "bad-signature", BASE, keys=[{"kid": "k1", "secret": OLD_KEY}]),
    negative("unknown key id", "unknown-key", BASE, keys=[{"kid": "k2", "secret": KEY}]),
    negative("stale: 301 s old with maxSkew 300 s", "stale", BASE, now=T + 301),
    negative("future: 301 s ahead with maxSkew 300 s", "future", BASE, now=T - 301),
    negative("signed header missing", "missing-header", BASE, headers=[["x-real-ip", "203.0.113.10"]]),
    negative("upper-case name in h=", "malformed", BASE,
             header_value=BASE["expected"].replace("h=x-real-ip", "h=X-Real-IP")),
    negative("fields out of order", "malformed", BASE,
             header_value=f"v1;t={T};kid=k1;h=x-real-ip,x-geo-country;sig={SIG}"),
    negative("padded signature", "malformed", BASE, header_value=BASE["expected"] + "="),
    negative("standard base64 alphabet", "malformed", BASE,
             header_value=f"v1;kid=k1;t={T};h=x-real-ip,x-geo-country;sig=" + "+" * 42 + "A"),
    negative("unknown version", "unsupported-version", BASE, header_value="v2" + BASE["expected"][2:]),
    negative("not a signature", "malformed", BASE, header_value="Bearer abc"),
]

if __name__ == "__main__":
    doc = {
        "description": "EdgeGuard signature test vectors (docs/signing.md); regenerate with testdata/signing/generate.py",
        "maxSkew": MAX_SKEW,
        "positive": POSITIVE,
        "negative": NEGATIVE,
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    # One line per header pair and per key, for readable diffs.
    text = re.sub(r'\[\s+("[^"\n]*"),\s+("[^"\n]*")\s+\]', r"[\1, \2]", text)
    text = re.sub(r'\{\s+("kid": "[^"\n]*"),\s+("secret": "[^"\n]*")\s+\}', r"{\1, \2}", text)
    print(text)
