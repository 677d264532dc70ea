import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def scenario(db):
    from evaluation.testing import build

    return build()


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: fault tests with real processes (still run by make test)")
