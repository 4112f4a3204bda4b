"""Fixtures for S3: one real SeaweedFS (`weed mini`) per test session, on free loopback ports.

No mocks: tests talk to the real server over HTTP with real SigV4 signatures and enforced keys.
"""

from __future__ import annotations

from collections.abc import Iterator

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
