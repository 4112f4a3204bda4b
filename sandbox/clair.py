"""A stand-in for Clair v4's matcher API: the vulnerability report of an indexed image manifest.

Clair cannot run on these machines (no container engine, no Go toolchain, not packaged), so, like the
stand-in Kubernetes API, this is a small faithful server. It answers what quay/clair's
httptransport/matcher_v1.go answers for `GET /matcher/api/v1/vulnerability_report/{digest}`:

- 200, `content-type: application/json`, the claircore VulnerabilityReport (openapi.yaml's
  `vulnerability_report` schema: manifest_hash, packages, distributions, repository, environments,
  vulnerabilities, package_vulnerabilities; maps keyed by ids that are unique within the document);
- 404 `{"code":"not-found","message":"index report for manifest \\"sha256:...\\" not found"}` for a
  manifest nobody has indexed;
- 400 `bad-request` for a malformed digest, 405 for a method other than GET;
- 202 with an empty body while the matcher has not finished its first vulnerability-database update
  (`set_fault("initializing")`), 500 `internal-error` for `set_fault("error")`, and a delay for
  `set_fault("latency", seconds=...)`.

Started with a pre-shared key (`ClairStandIn(psk=<base64>, issuers=[...])`, Clair's `auth: psk: {key, iss}`)
it refuses, as Clair's PSK middleware does, every request without a valid `Authorization: Bearer <JWT>`
with 401 and an empty body, before looking at the path: see `check_psk_token` (HS256 only).

The data lives in sandbox/clair_reports.yaml in a compact, hand-edited form (digest -> distribution,
packages and their vulnerabilities); `expand_report` builds the wire shape from it.

    with ClairStandIn() as clair:        # the demo images' reports
        os.environ["CLAIR_URL"] = clair.url

`python -m sandbox.clair [--port 0] [--psk BASE64 [--issuer ISS ...]]` serves the demo data and prints
`export CLAIR_URL=...` (and CLAIR_PSK / CLAIR_PSK_ISSUER with a key).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import yaml

from sandbox._http import ThreadedHTTPService

REPORTS_FILE = Path(__file__).resolve().parent / "clair_reports.yaml"
REPORT_PATH = "/matcher/api/v1/vulnerability_report/"
#: claircore.ParseDigest accepts these algorithms (openapi.yaml's digest schema).
_DIGEST = re.compile(r"^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")
FAULT_KINDS = ("error", "latency", "initializing")
#: Where Debian's package database lives in an image: the environment's package_db.
_DPKG_STATUS = "var/lib/dpkg/status"
#: Clair always accepts this issuer besides auth.psk.iss (httptransport/auth.go).
INTRASERVICE_ISSUER = "clair-intraservice"
#: middleware/auth/httpauth_psk.go: cl.ValidateWithLeeway(jwt.Expected{Time: time.Now()}, 15*time.Second).
PSK_LEEWAY_SECONDS = 15.0
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def _layer_digest(image: str) -> str:
    """A stable, made-up layer digest for the environment's introduced_in."""
    return "sha256:" + hashlib.sha256(f"{image}/layer".encode()).hexdigest()


def expand_report(digest: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    """The matcher's VulnerabilityReport JSON for one compact entry of clair_reports.yaml."""
    next_id = iter(range(1, 1_000_000))
    distributions: dict[str, Any] = {}
    distribution: dict[str, Any] | None = None
    if entry.get("distribution"):
        distribution_id = str(next(next_id))
        distribution = {"id": distribution_id, "did": "", "name": "", "version": "", "version_code_name": "",
                        "version_id": "", "arch": "", "cpe": "", "pretty_name": "",
                        **{key: str(value) for key, value in entry["distribution"].items()}}
        distributions[distribution_id] = distribution
    packages: dict[str, Any] = {}
    environments: dict[str, Any] = {}
    vulnerabilities: dict[str, Any] = {}
    package_vulnerabilities: dict[str, list[str]] = {}
    layer = _layer_digest(str(entry.get("image", digest)))
    for item in entry.get("packages") or []:
        package_id = str(next(next_id))
        source = None
        if item.get("source"):
            source = {"id": str(next(next_id)), "name": str(item["source"]), "version": str(item["version"]),
                      "kind": "source", "source": None, "normalized_version": "", "arch": "", "module": "",
                      "cpe": ""}
        packages[package_id] = {"id": package_id, "name": str(item["name"]), "version": str(item["version"]),
                                "kind": "binary", "source": source, "normalized_version": "", "arch": "amd64",
                                "module": "", "cpe": ""}
        environments[package_id] = [{
            "package_db": _DPKG_STATUS if distribution else "",
            "introduced_in": layer,
            "distribution_id": distribution["id"] if distribution else "",
            "repository_ids": None,
        }]
        for found in item.get("vulnerabilities") or []:
            vulnerability_id = str(next(next_id))
            name = str(found["name"])
            vulnerabilities[vulnerability_id] = {
                "id": vulnerability_id,
                "updater": f"{distribution['did']}/updater" if distribution else "osv/go",
                "name": name,
                "description": str(found.get("description", "")),
                "issued": str(found.get("issued", "0001-01-01T00:00:00Z")),
                "links": f"https://security-tracker.debian.org/tracker/{name}",
                "severity": str(found.get("severity", "")),
                "normalized_severity": str(found["normalized_severity"]),
                # The vulnerability's own package record: the affected (source) package name, no version.
                "package": {"id": "", "name": str(item.get("source") or item["name"]), "version": "",
                            "kind": "binary", "source": None, "normalized_version": "", "arch": "",
                            "module": "", "cpe": ""},
                "distribution": distribution,
                "repository": None,
                "fixed_in_version": str(found.get("fixed_in_version", "")),
                "arch_op": "",
            }
            package_vulnerabilities.setdefault(package_id, []).append(vulnerability_id)
    return {
        "manifest_hash": digest,
        "packages": packages,
        "distributions": distributions,
        "repository": {},
        "environments": environments,
        "vulnerabilities": vulnerabilities,
        "package_vulnerabilities": package_vulnerabilities,
        "enrichments": {},
    }


def demo_reports(path: Path = REPORTS_FILE) -> dict[str, dict[str, Any]]:
    """Digest -> the matcher's report JSON, for every image in sandbox/clair_reports.yaml."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {digest: expand_report(digest, entry) for digest, entry in (data.get("reports") or {}).items()}


# ----------------------------------------------------------------------------------- PSK authentication

def decode_config_key(text: str) -> bytes:
    """auth.psk.key as Clair's config reads it (config.Base64: Go's base64.StdEncoding, which skips line
    breaks but wants the padding)."""
    return base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)


def _jws_part(part: str) -> bytes:
    """go-jose's base64URLDecode: trailing '=' trimmed, then the unpadded URL alphabet, strictly."""
    part = part.rstrip("=")
    if not _BASE64URL.match(part) or len(part) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _numeric_date(claims: Mapping[str, Any], name: str) -> int | None:
    """go-jose's NumericDate: a JSON number (null = absent), truncated to whole seconds (int64(f))."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} is not a number")
    return int(value)


def check_psk_token(authorization: Sequence[str], key: bytes, issuers: Sequence[str],
                    now: float) -> str | None:
    """Why Clair's PSK middleware would refuse a request with these Authorization header values, or None
    when it accepts it. Follows quay/clair middleware/auth (fromHeader, PSK.Check) and go-jose v3:
    the first value starting "Bearer " carries a compact JWS; its HMAC must verify with the key; its
    claims must parse (iss/sub/jti strings, aud a string or strings, nbf/exp/iat numbers); nbf, exp and iat
    must hold with 15 s of leeway (each is optional, as in go-jose); and iss must be an accepted issuer.
    Only HS256 is accepted here (Clair would also take HS384/HS512 with the same key)."""
    token = next((value[len("Bearer "):] for value in authorization if value.startswith("Bearer ")), None)
    if token is None:
        return "no bearer token"
    parts = token.split(".")
    if len(parts) != 3:
        return "not a compact JWS"
    try:
        header = json.loads(_jws_part(parts[0]))
        signature = _jws_part(parts[2])
        claims = json.loads(_jws_part(parts[1]))
    except ValueError:  # binascii.Error and JSONDecodeError are ValueErrors
        return "malformed JWS"
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        return "unsupported algorithm"
    if "crit" in header:
        return "unsupported critical header"
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        return "bad signature"
    if not isinstance(claims, dict):
        return "claims are not an object"
    try:
        for name in ("iss", "sub", "jti"):
            if claims.get(name) is not None and not isinstance(claims[name], str):
                raise ValueError(f"{name} is not a string")
        audience = claims.get("aud")
        if audience is not None and not (isinstance(audience, str) or (
                isinstance(audience, list) and all(isinstance(item, str) for item in audience))):
            raise ValueError("aud is neither a string nor strings")
        not_before, expiry, issued_at = (_numeric_date(claims, name) for name in ("nbf", "exp", "iat"))
    except ValueError as error:
        return f"bad claims: {error}"
    # Go's Before/After are strict; the claim times are whole seconds, `now` is not.
    if not_before is not None and now + PSK_LEEWAY_SECONDS < not_before:
        return "not valid yet"
    if expiry is not None and now - PSK_LEEWAY_SECONDS > expiry:
        return "expired"
    if issued_at is not None and now + PSK_LEEWAY_SECONDS < issued_at:
        return "issued in the future"
    if (claims.get("iss") or "") not in issuers:
        return "unknown issuer"
    return None


# ------------------------------------------------------------------------------------------- the server

class ClairStandIn(ThreadedHTTPService):
    """Clair v4's matcher endpoint on 127.0.0.1 (port 0 = a free port, readable at once as `.url`).

    `psk` (base64, as auth.psk.key) turns on Clair's PSK authentication with `issuers` (auth.psk.iss;
    "clair-intraservice" is always accepted too); `clock` is the server's time, for tests of its limits."""

    def __init__(self, reports: Mapping[str, dict[str, Any]] | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, psk: str | None = None, issuers: Sequence[str] = (),
                 clock: Callable[[], float] = time.time) -> None:
        self.reports: dict[str, dict[str, Any]] = dict(demo_reports() if reports is None else reports)
        self.requests: list[str] = []  # paths asked, in order (tests count requests per digest)
        self.psk_key: bytes | None = decode_config_key(psk) if psk is not None else None
        self.issuers: tuple[str, ...] = (INTRASERVICE_ISSUER, *issuers)
        self.refusals: list[str] = []  # why each refused request was refused (Clair logs it at debug level)
        self._clock = clock
        self._fault: tuple[str, float] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        super().__init__(_handler_for(self), host=host, port=port, thread_name="clair-stand-in")

    def set_fault(self, kind: str, *, seconds: float = 1.0) -> None:
        """error: 500 internal-error; latency: wait `seconds`, then answer; initializing: 202, no body."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; choose one of {FAULT_KINDS}")
        with self._lock:
            self._fault = (kind, seconds)

    def clear_faults(self) -> None:
        with self._lock:
            self._fault = None

    def stop(self) -> None:
        self._stopping.set()  # release requests held by a latency fault
        super().stop()

    # ------------------------------------------------------------------------------------------ answers
    def answer(self, method: str, path: str, authorization: Sequence[str] = ()) -> tuple[int, bytes]:
        """(status, body) for one request, as Clair's matcher would answer it. With a PSK, the token is
        checked first, whatever the path (Clair wraps its whole mux in the auth handler)."""
        with self._lock:
            self.requests.append(path)
            fault = self._fault
        if self.psk_key is not None:
            refusal = check_psk_token(authorization, self.psk_key, self.issuers, self._clock())
            if refusal is not None:
                with self._lock:
                    self.refusals.append(refusal)
                return 401, b""  # middleware/auth/handler.go: WriteHeader(401), no body
        if not path.startswith(REPORT_PATH):
            return 404, b"404 page not found\n"  # Go's http.ServeMux for an unknown path
        if method != "GET":
            return _api_error(405, "method-not-allowed", "endpoint only allows GET")
        digest = path.rsplit("/", 1)[-1]
        if not _DIGEST.match(digest):
            return _api_error(400, "bad-request", f"malformed path: invalid digest {digest!r}")
        if fault is not None:
            kind, seconds = fault
            if kind == "error":
                return _api_error(500, "internal-error", "failed to start scan: database is unavailable")
            if kind == "initializing":
                return 202, b""
            self._stopping.wait(seconds)
        report = self.reports.get(digest)
        if report is None:
            return _api_error(404, "not-found", f'index report for manifest "{digest}" not found')
        return 200, json.dumps(report).encode()


def _api_error(status: int, code: str, message: str) -> tuple[int, bytes]:
    """httptransport.apiError's body: {"code": ..., "message": ...}."""
    return status, json.dumps({"code": code, "message": message}, separators=(",", ":")).encode()


def _handler_for(service: ClairStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "clair-stand-in"
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            status, body = service.answer(self.command, self.path.split("?", 1)[0],
                                          self.headers.get_all("Authorization") or [])
            self.send_response(status)
            if body:
                self.send_header("Content-Type", "application/json" if body.startswith(b"{")
                                 else "text/plain; charset=utf-8")
                self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Length", str(len(body)))
            # A client that gave up (its timeout ran out during a latency fault) has closed the socket.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests read `service.requests`

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the Clair v4 matcher stand-in with the demo images.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--psk", help="require JWTs signed with this base64 key (Clair's auth.psk.key)")
    parser.add_argument("--issuer", action="append", default=[],
                        help="an accepted issuer (auth.psk.iss); repeat for more (default: clairctl)")
    args = parser.parse_args(argv)
    issuers = args.issuer or ["clairctl"]
    try:
        clair = ClairStandIn(port=args.port, psk=args.psk, issuers=issuers)
    except (binascii.Error, ValueError):
        parser.error("--psk is not base64 (standard alphabet, padded, as in Clair's config)")
    with clair:
        print(f"export CLAIR_URL={clair.url}", flush=True)
        if args.psk:
            print(f"export CLAIR_PSK={args.psk}", f"export CLAIR_PSK_ISSUER={issuers[0]}", sep="\n",
                  flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
