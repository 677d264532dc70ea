"""The platform key's public half pinned (``PLATFORM_SIGNING_PUBLIC_KEY``, docs/cryptography.md): a
key that is not it never signs — here a replaced key file; the swapped HSM token is in
tests/audit/test_platform_hsm.py."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from crypto import signing


@pytest.fixture
def key_file(settings, tmp_path):
    from audit.keys import platform_signing_key

    settings.PLATFORM_SIGNING_KEY_PKCS11 = ""
    settings.PLATFORM_SIGNING_KEY_FILE = tmp_path / "platform.pem"
    settings.PLATFORM_SIGNING_PUBLIC_KEY = ""
    platform_signing_key.cache_clear()
    yield settings
    platform_signing_key.cache_clear()


def test_a_replaced_key_file_never_signs_under_the_pin(key_file):
    from audit.keys import platform_signing_key, sign_checkpoint_note

    mine = signing.public_key_bytes(platform_signing_key())  # made on first use, as the demo does
    key_file.PLATFORM_SIGNING_PUBLIC_KEY = mine.hex()
    platform_signing_key.cache_clear()
    assert signing.public_key_bytes(platform_signing_key()) == mine
    # The file replaced by another key (an insider with the server's disk):
    key_file.PLATFORM_SIGNING_KEY_FILE.write_bytes(signing.signing_key_to_pem(signing.generate_signing_key(), None))
    platform_signing_key.cache_clear()
    with pytest.raises(signing.SigningUnavailable, match="pinned key"):
        platform_signing_key()
    with pytest.raises(signing.SigningUnavailable):
        sign_checkpoint_note("kaibiao.local/audit\n1\nAAAA\n")


@pytest.mark.parametrize("pin", ["00" * 31, "zz" * 32, "00" * 33])
def test_a_malformed_pin_is_a_configuration_error(key_file, pin):
    from audit.keys import platform_signing_key

    key_file.PLATFORM_SIGNING_PUBLIC_KEY = pin
    with pytest.raises(ImproperlyConfigured, match="64 hex digits"):
        platform_signing_key()
