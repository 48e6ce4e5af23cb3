"""``require`` (tests/conftest.py): an independent check that cannot run skips locally and fails under CI=true."""

from __future__ import annotations

import pytest


def test_require_passes_when_the_check_can_run(require, monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert require(True, "unused") is None


def test_require_skips_outside_ci(require, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="goldens missing"):
        require(False, "goldens missing")


def test_require_fails_under_ci(require, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="goldens missing.*CI=true"):
        require(False, "goldens missing")
