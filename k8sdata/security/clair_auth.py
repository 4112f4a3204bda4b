"""Clair v4's pre-shared-key (PSK) authentication: a short-lived HS256 JWT on every matcher request.

Clair configured with

    auth:
      psk:
        key: <base64>          # decoded, it is the HMAC key
        iss: [<issuers>]       # accepted `iss` claims; "clair-intraservice" is always accepted too

answers 401 (empty body) to any request without `Authorization: Bearer <JWT>` that its middleware
(quay/clair middleware/auth/httpauth_psk.go, go-jose v3) accepts: a compact JWS whose HMAC verifies with
the decoded key, whose `iss` is one of the issuers, and whose `nbf`, `exp` and `iat` hold at Clair's clock
with 15 seconds of leeway. KAMS signs like Clair's own intraservice signer (internal/httputil/signer.go):
`iat` = now, `nbf` = a minute ago (a Clair whose clock is slightly behind still accepts it), and `exp` a
few minutes ahead; one token serves every request until a minute before it expires. The issuer defaults
to what `clairctl` sends ("clairctl"), which an operator adds to `auth.psk.iss` for it anyway.

Settings: CLAIR_PSK (the base64 text of `auth.psk.key`) or CLAIR_PSK_FILE (a file holding that text,
e.g. a mounted Secret; re-read when it changes, so a rotated key is picked up without a restart) and
CLAIR_PSK_ISSUER. Signing uses only the standard library (hmac, hashlib, base64, json).

k8sdata.sources.clair.ClairClient takes a PskSigner (`clair_client(settings)` builds both) and turns a 401
into `unauthorized(signer)`: a sentence that says the key or issuer is wrong and what to set.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from k8sdata.errors import Forbidden, SourceError

if TYPE_CHECKING:
    from k8sdata.config import Settings

#: clairctl's `--issuer` default (cmd/clairctl/main.go): the issuer operators already list for tools.
DEFAULT_ISSUER = "clairctl"
#: The issuer Clair always accepts besides auth.psk.iss (httptransport/auth.go: IntraserviceIssuer).
INTRASERVICE_ISSUER = "clair-intraservice"
#: The clock skew Clair forgives on nbf, exp and iat (httpauth_psk.go: ValidateWithLeeway(..., 15s)).
CLAIR_LEEWAY_SECONDS = 15.0
#: How long a token is valid: short, so a leaked header is soon worthless, yet one token serves a page.
TOKEN_LIFETIME_SECONDS = 300.0
#: A cached token is replaced this long before it expires, so none is sent that expires in flight.
RENEW_BEFORE_EXPIRY_SECONDS = 60.0
#: nbf lies this far in the past, as in Clair's own signer (go-jose's DefaultLeeway, one minute).
NOT_BEFORE_MARGIN_SECONDS = 60.0

_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_HEADER = {"alg": "HS256", "typ": "JWT"}


class ClairKeyError(SourceError):
    """CLAIR_PSK / CLAIR_PSK_FILE cannot be used: not base64, empty, or the file is unreadable.
    Its own kind (not NotConfigured) so the page says so: an unset Clair is silent, a broken key is not."""

    kind = "bad_key"

    def _what(self) -> str:
        return "KAMS cannot use its key for Clair"

    def _next(self) -> str:
        return KEY_HINT


KEY_HINT = ("Set CLAIR_PSK (or CLAIR_PSK_FILE, a file such as a mounted Secret holding it) to the base64 "
            "text of Clair's auth.psk.key, and CLAIR_PSK_ISSUER to one of the issuers in its auth.psk.iss "
            f"(default {DEFAULT_ISSUER}).")


# ------------------------------------------------------------------------------------------- signing

def base64url(data: bytes) -> str:
    """JWS's base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def hs256_signature(signing_input: bytes, key: bytes) -> str:
    """The base64url HMAC-SHA256 of a JWS signing input ("<header>.<payload>", both base64url)."""
    return base64url(hmac.new(key, signing_input, hashlib.sha256).digest())


def sign_hs256(claims: Mapping[str, Any], key: bytes) -> str:
    """A compact HS256 JWS (a JWT) of `claims`."""
    header = base64url(json.dumps(_HEADER, separators=(",", ":")).encode())
    payload = base64url(json.dumps(dict(claims), separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}"
    return f"{signing_input}.{hs256_signature(signing_input.encode('ascii'), key)}"


def psk_claims(issuer: str, now: float, lifetime: float = TOKEN_LIFETIME_SECONDS) -> dict[str, Any]:
    """The claims Clair checks: iss, and the NumericDates (whole seconds) iat, nbf and exp."""
    return {"iss": issuer, "iat": int(now), "nbf": int(now - NOT_BEFORE_MARGIN_SECONDS),
            "exp": int(now + lifetime)}


def decode_key(text: str, origin: str = "CLAIR_PSK") -> bytes:
    """The HMAC key from the base64 text of Clair's auth.psk.key (standard alphabet, as Go's
    base64.StdEncoding reads it). Line breaks (as Go skips them) and surrounding blanks (a file's trailing
    newline) are ignored and missing padding is forgiven; anything else that is not base64 (a space inside
    included) is a ClairKeyError naming `origin`."""
    compact = text.strip().replace("\r", "").replace("\n", "")
    if not compact:
        raise ClairKeyError("clair", f"{origin} is empty")
    if not _BASE64.match(compact) or len(compact.rstrip("=")) % 4 == 1:
        raise ClairKeyError("clair", f"{origin} is not base64: Clair's auth.psk.key uses the standard "
                                     "alphabet A-Z a-z 0-9 + /")
    try:
        key = base64.b64decode(compact.rstrip("=") + "=" * (-len(compact.rstrip("=")) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ClairKeyError("clair", f"{origin} is not base64") from None
    if not key:
        raise ClairKeyError("clair", f"{origin} decodes to an empty key")
    return key


class PskSigner:
    """Bearer tokens for Clair's PSK authentication, from a literal key or a key file.

    One token is reused until RENEW_BEFORE_EXPIRY_SECONDS before it expires. The key file is checked
    (one stat) before each token is handed out and re-read when it changed: Kubernetes updates a mounted
    Secret in place, so a rotated key works without restarting KAMS. Thread-safe."""

    def __init__(self, *, key: str | None = None, key_file: str | None = None, issuer: str = DEFAULT_ISSUER,
                 lifetime: float = TOKEN_LIFETIME_SECONDS, clock: Callable[[], float] = time.time) -> None:
        if key is None and key_file is None:
            raise ValueError("PskSigner needs a key or a key file")
        self.issuer = issuer
        self.key_file = key_file
        self.lifetime = lifetime
        self._clock = clock
        self._key = decode_key(key) if key_file is None and key is not None else b""
        self._file_state: tuple[int, int, int] | None = None  # (inode, size, mtime_ns) of the key read
        self._token: tuple[str, float] | None = None  # (token, its exp)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> PskSigner | None:
        """The signer CLAIR_PSK_FILE or CLAIR_PSK describe (the file wins, as PROMETHEUS_TOKEN_FILE
        does), or None when neither is set (Clair without authentication)."""
        if settings.clair_psk_file:
            return cls(key_file=settings.clair_psk_file, issuer=settings.clair_psk_issuer)
        if settings.clair_psk:
            return cls(key=settings.clair_psk, issuer=settings.clair_psk_issuer)
        return None

    @property
    def key_origin(self) -> str:
        """Where the key comes from, for sentences: "CLAIR_PSK_FILE (/path)" or "CLAIR_PSK"."""
        return f"CLAIR_PSK_FILE ({self.key_file})" if self.key_file else "CLAIR_PSK"

    def _current_key(self) -> bytes:
        """The key; from the file, re-read (and the cached token dropped) when the file changed."""
        if self.key_file is None:
            return self._key
        try:
            status = os.stat(self.key_file)  # follows the ..data symlink a Secret volume swaps
            state = (status.st_ino, status.st_size, status.st_mtime_ns)
            if state != self._file_state:
                text = Path(self.key_file).read_text(encoding="utf-8")
                self._key = decode_key(text, self.key_origin)
                self._file_state = state
                self._token = None
        except OSError as error:
            raise ClairKeyError("clair", f"cannot read CLAIR_PSK_FILE {self.key_file}: "
                                         f"{error.strerror or error}") from None
        except UnicodeDecodeError:
            raise ClairKeyError("clair", f"{self.key_origin} is not text (it should hold base64)") from None
        return self._key

    def token(self) -> str:
        """A valid JWT: the cached one, or a fresh one when it nears expiry or the key changed."""
        with self._lock:
            key = self._current_key()
            now = self._clock()
            if self._token is not None and now < self._token[1] - RENEW_BEFORE_EXPIRY_SECONDS:
                return self._token[0]
            claims = psk_claims(self.issuer, now, self.lifetime)
            token = sign_hs256(claims, key)
            self._token = (token, float(claims["exp"]))
            return token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}


# ------------------------------------------------------------------------------------------ refusal

def unauthorized(signer: PskSigner | None) -> Forbidden:
    """The sentence for Clair's 401: its PSK middleware refused the token, or KAMS sent none."""
    if signer is None:
        return Forbidden("clair", "HTTP 401: Clair requires a signed token and KAMS has no key to sign one",
                         hint=f"Clair uses pre-shared-key authentication. {KEY_HINT}")
    return Forbidden(
        "clair",
        f"HTTP 401: Clair refused KAMS's token, issuer {signer.issuer!r}, key from {signer.key_origin}",
        hint=("The pre-shared key or the issuer is wrong. Set CLAIR_PSK (or CLAIR_PSK_FILE) to the base64 "
              "text of Clair's auth.psk.key, and CLAIR_PSK_ISSUER to one of the issuers in its auth.psk.iss. "
              "If both are right, the clocks of KAMS and Clair differ by more than "
              f"{CLAIR_LEEWAY_SECONDS:g} seconds."))
