"""Shared pytest fixtures and settings for mmrecord's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings
from support import REFERENCE

# Real storage servers on loopback (HTTP, S3, GCS) behind counting proxies: the fixtures
# http_store, s3_store, gcs_store and remote_store. Nothing starts until a test asks.
pytest_plugins = ("storage_servers",)

# numba compiles a kernel on its first call: no per-example deadline.
settings.register_profile("mmrecord", deadline=None)
settings.load_profile("mmrecord")


@pytest.fixture(scope="session")
def testdata_dir() -> Path:
    """The reference-written test files (``tests/data/reference``: ``vectors/`` and ``corrupt/``)."""
    return REFERENCE
