"""Shared pytest fixtures and settings for mmrecord's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings
from support import REFERENCE

# numba compiles a kernel on its first call: no per-example deadline.
settings.register_profile("mmrecord", deadline=None)
settings.load_profile("mmrecord")


@pytest.fixture(scope="session")
def testdata_dir() -> Path:
    """The reference-written test files (``tests/data/reference``: ``vectors/`` and ``corrupt/``)."""
    return REFERENCE
