"""Clair's pre-shared-key authentication (k8sdata.security.clair_auth): HS256 JWTs signed with the standard
library, checked by the Clair stand-in (sandbox/clair.py), which verifies them as Clair's PSK middleware
does. A 401 is a sentence that says the key or issuer is wrong and what to set."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from k8sdata.config import Settings
from k8sdata.errors import Forbidden
from k8sdata.security.clair_auth import (
    DEFAULT_ISSUER,
    ClairKeyError,
    PskSigner,
    decode_key,
    hs256_signature,
    psk_claims,
    sign_hs256,
)
from k8sdata.sources.clair import ClairClient, clair_client
from sandbox.clair import REPORTS_FILE, ClairStandIn, check_psk_token

KEY_TEXT = base64.b64encode(b"a pre-shared key of thirty-two b").decode()
OTHER_KEY_TEXT = base64.b64encode(b"not the key Clair was given .....").decode()
INDEXED = next(iter(yaml.safe_load(REPORTS_FILE.read_text())["reports"]))


def _settings(**env: str) -> Settings:
    return Settings.from_env({"KAMS_REQUEST_TIMEOUT": "5", **env}, home=Path("/nonexistent"))


@pytest.fixture(scope="module")
def locked() -> Iterator[ClairStandIn]:
    """A Clair requiring tokens signed with KEY_TEXT and issued by clairctl or kams."""
    server = ClairStandIn(psk=KEY_TEXT, issuers=["clairctl", "kams"]).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clair(locked: ClairStandIn) -> ClairStandIn:
    locked.refusals.clear()
    return locked


# ------------------------------------------------------------------------------------------ signing

def test_hs256_matches_rfc_7515_appendix_a1() -> None:
    key = base64.urlsafe_b64decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0i"
                                   "PS4hcgUuTwjAzZr1Z9CAow==")
    signing_input = (b"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
                     b".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ")
    assert hs256_signature(signing_input, key) == "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


def test_a_token_carries_what_clair_checks_and_verifies_like_clair() -> None:
    now = 1_800_000_000.5
    claims = psk_claims("kams", now)
    assert claims == {"iss": "kams", "iat": 1_800_000_000, "nbf": 1_799_999_940, "exp": 1_800_000_300}
    token = sign_hs256(claims, decode_key(KEY_TEXT))
    header, payload, _ = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "HS256", "typ": "JWT"}
    assert json.loads(base64.urlsafe_b64decode(payload + "==")) == claims
    key = base64.b64decode(KEY_TEXT)
    assert check_psk_token([f"Bearer {token}"], key, ("clair-intraservice", "kams"), now) is None
    assert check_psk_token([f"Bearer {token}"], key, ("clair-intraservice", "kams"), now + 316) == "expired"


def test_keys_are_read_like_clairs_config_and_bad_ones_say_what_to_set() -> None:
    raw = b"a pre-shared key of thirty-two b"
    assert decode_key(KEY_TEXT) == decode_key(KEY_TEXT.rstrip("=") + "\n") == raw
    assert decode_key(f" {KEY_TEXT[:8]}\r\n{KEY_TEXT[8:]}\n") == raw  # a wrapped line, as Go reads it
    for bad, detail in (("", "CLAIR_PSK is empty"), ("not base64!", "CLAIR_PSK is not base64"),
                        ("this is not base64", "CLAIR_PSK is not base64"),
                        ("a-b_", "CLAIR_PSK is not base64"), ("abcde", "CLAIR_PSK is not base64")):
        with pytest.raises(ClairKeyError) as caught:
            decode_key(bad)
        assert caught.value.detail.startswith(detail)
        assert "CLAIR_PSK_ISSUER" in caught.value.sentence and "auth.psk.key" in caught.value.sentence


def test_one_token_serves_until_a_minute_before_it_expires() -> None:
    now = [1_800_000_000.0]
    signer = PskSigner(key=KEY_TEXT, clock=lambda: now[0])
    first = signer.token()
    now[0] += 239
    assert signer.token() == first
    now[0] += 1  # 240 s old: 60 s left of its 300
    second = signer.token()
    assert second != first
    assert json.loads(base64.urlsafe_b64decode(second.split(".")[1] + "=="))["iat"] == 1_800_000_240
    assert signer.headers() == {"Authorization": f"Bearer {second}"}


def test_a_key_file_is_re_read_when_it_changes(tmp_path: Path) -> None:
    key_file = tmp_path / "psk"
    key_file.write_text(KEY_TEXT + "\n")
    signer = PskSigner(key_file=str(key_file), issuer="kams")
    first = signer.token()
    assert check_psk_token([f"Bearer {first}"], base64.b64decode(KEY_TEXT), ("kams",), time.time()) is None
    assert signer.token() == first  # unchanged file: cached token
    key_file.write_text(OTHER_KEY_TEXT + "\n")
    os.utime(key_file, ns=(time.time_ns(), time.time_ns() + 1_000_000_000))  # as a Secret update moves it
    rotated = signer.token()
    other_key = base64.b64decode(OTHER_KEY_TEXT)
    assert check_psk_token([f"Bearer {rotated}"], other_key, ("kams",), time.time()) is None
    key_file.unlink()
    with pytest.raises(ClairKeyError) as caught:
        signer.token()
    assert f"cannot read CLAIR_PSK_FILE {key_file}" in caught.value.sentence


def test_settings_choose_the_file_over_the_literal_key() -> None:
    assert PskSigner.from_settings(_settings()) is None
    literal = PskSigner.from_settings(_settings(CLAIR_PSK=KEY_TEXT))
    assert literal is not None and (literal.key_file, literal.issuer) == (None, DEFAULT_ISSUER)
    from_file = PskSigner.from_settings(_settings(CLAIR_PSK=KEY_TEXT, CLAIR_PSK_FILE="/run/psk",
                                                  CLAIR_PSK_ISSUER="kams"))
    assert from_file is not None and (from_file.key_file, from_file.issuer) == ("/run/psk", "kams")


# ------------------------------------------------------------------------------ against the stand-in

def test_the_right_key_gets_the_report(clair: ClairStandIn) -> None:
    client = clair_client(_settings(CLAIR_URL=clair.url, CLAIR_PSK=KEY_TEXT))
    try:
        report = client.vulnerability_report(INDEXED)
        assert report is not None and report["manifest_hash"] == INDEXED
        assert client.vulnerability_report("sha256:" + "0" * 64) is None  # past the auth: "not indexed"
    finally:
        client.close()
    assert clair.refusals == []


def _refusal(clair: ClairStandIn, client: ClairClient) -> Forbidden:
    try:
        with pytest.raises(Forbidden) as caught:
            client.vulnerability_report(INDEXED)
    finally:
        client.close()
    return caught.value


@pytest.mark.parametrize(("env", "clock_offset", "reason"), [
    ({"CLAIR_PSK": OTHER_KEY_TEXT}, 0.0, "bad signature"),
    ({"CLAIR_PSK": KEY_TEXT, "CLAIR_PSK_ISSUER": "someone-else"}, 0.0, "unknown issuer"),
    ({"CLAIR_PSK": KEY_TEXT}, -400.0, "expired"),  # a token made 400 s ago lived 300 s
])
def test_wrong_key_wrong_issuer_or_expired_token_is_refused_with_the_sentence(
        clair: ClairStandIn, env: dict[str, str], clock_offset: float, reason: str) -> None:
    settings = _settings(CLAIR_URL=clair.url, **env)
    signer = PskSigner(key=settings.clair_psk, issuer=settings.clair_psk_issuer,
                       clock=lambda: time.time() + clock_offset)
    error = _refusal(clair, ClairClient(clair.url, 5, signer=signer))
    assert clair.refusals == [reason]
    sentence = error.sentence
    assert "HTTP 401" in sentence and "key or the issuer is wrong" in sentence
    assert "CLAIR_PSK" in sentence and "CLAIR_PSK_ISSUER" in sentence and "auth.psk.iss" in sentence
    assert f"issuer {settings.clair_psk_issuer!r}" in sentence


def test_no_key_against_a_clair_that_requires_one_says_what_to_set(clair: ClairStandIn) -> None:
    error = _refusal(clair, clair_client(_settings(CLAIR_URL=clair.url)))
    assert clair.refusals == ["no bearer token"]
    assert "requires a signed token and KAMS has no key" in error.sentence
    assert "Set CLAIR_PSK (or CLAIR_PSK_FILE" in error.sentence and "CLAIR_PSK_ISSUER" in error.sentence


def test_an_unusable_key_is_its_own_sentence_before_any_request(clair: ClairStandIn) -> None:
    asked = len(clair.requests)
    with pytest.raises(ClairKeyError) as caught:
        clair_client(_settings(CLAIR_URL=clair.url, CLAIR_PSK="this is not base64"))
    assert caught.value.sentence.startswith("KAMS cannot use its key for Clair (CLAIR_PSK is not base64")
    assert len(clair.requests) == asked
