"""The Clair stand-in's pre-shared-key authentication checks tokens as quay/clair's PSK middleware does
(middleware/auth/httpauth_psk.go with go-jose v3's ValidateWithLeeway, 15 s): signature, issuer (plus the
always-accepted "clair-intraservice"), nbf/exp/iat. Tokens are built by hand here, independently of
KAMS's signer, so a mistake in one is not mirrored in the other."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.clair import REPORT_PATH, ClairStandIn, check_psk_token, decode_config_key

KEY_TEXT = "MDQ4ODBlNDAtNDc0ZC00MWUxLThhMzAtOTk0MzEwMGQwYTMxCg=="  # Clair's documentation example
KEY = base64.b64decode(KEY_TEXT)
ISSUERS = ("clair-intraservice", "quay")
NOW = 1_800_000_000.0
DIGEST = "sha256:" + "a" * 64


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(claims: Any, key: bytes = KEY, alg: str = "HS256", digest: Any = hashlib.sha256) -> str:
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(hmac.new(key, signing_input.encode(), digest).digest())}"


def _check(token: str, now: float = NOW) -> str | None:
    return check_psk_token([f"Bearer {token}"], KEY, ISSUERS, now)


GOOD = {"iss": "quay", "iat": int(NOW), "nbf": int(NOW) - 60, "exp": int(NOW) + 60}


def test_a_good_token_and_the_intraservice_issuer_are_accepted() -> None:
    assert _check(_token(GOOD)) is None
    assert _check(_token({**GOOD, "iss": "clair-intraservice"})) is None
    assert _check(_token({"iss": "quay"})) is None  # go-jose: every time claim is optional


@pytest.mark.parametrize(("token", "reason"), [
    (_token(GOOD, key=b"another key"), "bad signature"),
    (_token({**GOOD, "iss": "clairctl"}), "unknown issuer"),
    (_token({key: value for key, value in GOOD.items() if key != "iss"}), "unknown issuer"),
    (_token(GOOD, alg="HS512", digest=hashlib.sha512), "unsupported algorithm"),
    (_token(GOOD, alg="none"), "unsupported algorithm"),
    (_token({**GOOD, "iss": 7}), "bad claims: iss is not a string"),
    (_token({**GOOD, "exp": "soon"}), "bad claims: exp is not a number"),
    (_token(GOOD)[:-1], "bad signature"),
    ("not.a-jwt", "not a compact JWS"),
    ("a.b.c", "malformed JWS"),
])
def test_wrong_key_issuer_algorithm_or_shape_is_refused(token: str, reason: str) -> None:
    assert _check(token) == reason


def test_times_hold_with_fifteen_seconds_of_leeway_like_go_jose() -> None:
    expires = {**GOOD, "exp": int(NOW)}
    assert _check(_token(expires), NOW + 15) is None  # After() is strict: exactly at the leeway still passes
    assert _check(_token(expires), NOW + 15.5) == "expired"
    starts = {**GOOD, "nbf": int(NOW) + 100, "iat": int(NOW), "exp": int(NOW) + 400}
    assert _check(_token(starts), NOW + 85) is None
    assert _check(_token(starts), NOW + 84) == "not valid yet"
    issued = {**GOOD, "iat": int(NOW) + 30, "exp": int(NOW) + 400}
    assert _check(_token(issued), NOW + 15) is None
    assert _check(_token(issued), NOW + 14) == "issued in the future"
    assert _check(_token({**GOOD, "exp": NOW + 0.9}), NOW + 15.5) == "expired"  # NumericDate: whole seconds


def test_the_header_must_be_bearer_and_the_first_bearer_value_counts() -> None:
    token = _token(GOOD)
    assert check_psk_token([], KEY, ISSUERS, NOW) == "no bearer token"
    assert check_psk_token([f"bearer {token}"], KEY, ISSUERS, NOW) == "no bearer token"
    assert check_psk_token(["Basic x", f"Bearer {token}"], KEY, ISSUERS, NOW) is None
    assert check_psk_token(["Bearer x.y.z", f"Bearer {token}"], KEY, ISSUERS, NOW) == "malformed JWS"


def test_the_config_key_is_standard_padded_base64() -> None:
    assert decode_config_key(KEY_TEXT) == KEY
    with pytest.raises(ValueError):
        decode_config_key(KEY_TEXT.rstrip("="))


@pytest.fixture(scope="module")
def locked() -> Iterator[ClairStandIn]:
    server = ClairStandIn(psk=KEY_TEXT, issuers=["quay"]).start()
    try:
        yield server
    finally:
        server.stop()


def test_over_http_every_path_needs_the_token_and_refusals_are_empty_401s(locked: ClairStandIn) -> None:
    locked.refusals.clear()
    refused = requests.get(f"{locked.url}/not/a/clair/path", timeout=5)
    assert (refused.status_code, refused.content, locked.refusals) == (401, b"", ["no bearer token"])
    now = time.time()
    live = {"iss": "quay", "iat": int(now), "nbf": int(now) - 60, "exp": int(now) + 60}
    answer = requests.get(f"{locked.url}{REPORT_PATH}{DIGEST}", timeout=5,
                          headers={"Authorization": f"Bearer {_token(live)}"})
    assert answer.status_code == 404 and answer.json()["code"] == "not-found"  # past the auth: the matcher


def test_without_a_key_the_stand_in_ignores_authorization() -> None:
    with ClairStandIn(reports={}) as open_clair:
        answer = requests.get(f"{open_clair.url}{REPORT_PATH}{DIGEST}", timeout=5,
                              headers={"Authorization": "Bearer nonsense"})
        assert answer.status_code == 404 and open_clair.refusals == []


def test_the_command_line_refuses_a_key_clair_would_not_read(capsys: pytest.CaptureFixture[str]) -> None:
    from sandbox.clair import main

    with pytest.raises(SystemExit) as caught:
        main(["--psk", KEY_TEXT.rstrip("=")])  # unpadded: Clair's config.Base64 refuses it too
    assert caught.value.code == 2 and "--psk is not base64" in capsys.readouterr().err
