"""Shared fixtures: paths to the bundled real test data and to the read-only ../shared inputs.

:func:`require` guards independent checks (parity with the originals, goldens): locally a missing input
skips the test, but under ``CI=true`` it fails, so CI can never pass with such a check silently skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "test-data"
SHARED = REPO.parent / "shared"


def in_ci() -> bool:
    """Whether this run is CI's (``CI=true``, as ``.ci/run`` sets it)."""
    return os.environ.get("CI", "").lower() == "true"


def require(condition: object, reason: str) -> None:
    """Skip the calling test unless ``condition`` holds; under ``CI=true`` fail instead.

    For independent checks (parity with the original tools, committed goldens, shared fixtures): a check
    that cannot run must not let CI pass as if it had.
    """
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true: an independent check that cannot run fails instead of skipping)",
                    pytrace=False)
    pytest.skip(reason)


def shared_path(*parts: str) -> Path:
    """A path under ../shared; skips the test with a clear message when it is absent (fails under CI=true)."""
    path = SHARED.joinpath(*parts)
    require(path.exists(), f"{path} is absent: this test needs the team's shared inputs (../shared next to the repo)")
    return path


@pytest.fixture(scope="session")
def test_data() -> Path:
    return TEST_DATA


@pytest.fixture(scope="session")
def chr20_fasta() -> Path:
    return TEST_DATA / "chr20_slice.fa"


@pytest.fixture(name="require", scope="session")
def require_fixture():
    """:func:`require` for test modules (with ``--import-mode=importlib`` they cannot import conftest)."""
    return require
