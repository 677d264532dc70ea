"""The platform's Ed25519 signing key: it signs audit checkpoints and bid receipts.

Production provisions the key file (``PLATFORM_SIGNING_KEY_FILE``, readable only by the service);
the embedded defaults create one under ``var/`` on first use. Its public half is published as a
signed-note verifier key (``vkey``) so anyone can check checkpoints and receipts offline.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from django.conf import settings

from common.files import provisioned_key_pem
from crypto import signing
from crypto.checkpoint import NoteSigner


def provisioned_signing_key(path: str | Path, *, what: str, password_env: str) -> signing.SigningKey:
    """An Ed25519 key from its provisioned file (created on first use by the embedded defaults),
    decrypted with the password in ``password_env`` when it has one."""
    pem, password = provisioned_key_pem(
        Path(path), lambda: signing.signing_key_to_pem(signing.generate_signing_key(), None),
        what=what, password_env=password_env)
    return signing.load_signing_key_pem(pem, password)


@lru_cache(maxsize=1)
def platform_signing_key() -> signing.SigningKey:
    return provisioned_signing_key(settings.PLATFORM_SIGNING_KEY_FILE, what="the platform signing key",
                                   password_env="PLATFORM_SIGNING_KEY_PASSWORD")


def note_signer() -> NoteSigner:
    return NoteSigner(settings.AUDIT_ORIGIN, platform_signing_key())


def platform_vkey() -> str:
    """The verifier key anyone uses to check checkpoints and receipts offline."""
    return note_signer().vkey
