"""Fixtures for S3: one real SeaweedFS (`weed mini`) per test session, on free loopback ports.

No mocks: tests talk to the real server over HTTP with real SigV4 signatures and enforced keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.seaweed import SeaweedS3


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A running SeaweedS3 with bucket `kams` created; stopped (whole process group) at session end."""
    store = SeaweedS3(tmp_path_factory.mktemp("seaweed"), bucket="kams")
    store.start()
    try:
        yield store
    finally:
        store.stop()


def isolate_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, access_key: str | None = None,
                secret_key: str | None = None) -> None:
    """boto3's credential chain sees only what a test gives it (as a CronJob's pod sees only its role):
    no profile, config or credentials file, instance metadata or endpoint of the developer's machine,
    and these keys when given."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    if access_key is not None:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key)
    if secret_key is not None:
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key)
