"""Helpers for the realtime tests: signed-in WebSocket clients that check the protocol's invariants
(one reply per command, gap-free sequences per stream) on everything they receive."""

from __future__ import annotations

import pytest

from tests.realtime_client import ProtocolClient, connect  # noqa: F401  (re-exported for these tests)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: fault tests with real processes (still run by make test)")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The shared people fixture hashes eight passwords; Argon2 makes that 1.3 s per test here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
