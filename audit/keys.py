"""The platform's Ed25519 signing key: it signs audit checkpoints and bid receipts.

Production provisions the key file (``PLATFORM_SIGNING_KEY_FILE``, readable only by the service);
the embedded defaults create one under ``var/`` on first use. Its public half is published as a
signed-note verifier key (``vkey``) so anyone can check checkpoints and receipts offline.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from crypto import signing
from crypto.checkpoint import NoteSigner


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = signing.signing_key_to_pem(signing.generate_signing_key(), None)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process created it first: use theirs
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
        out.flush()
        os.fsync(out.fileno())


@lru_cache(maxsize=1)
def platform_signing_key() -> signing.SigningKey:
    path = Path(settings.PLATFORM_SIGNING_KEY_FILE)
    if not path.exists():
        if settings.PRODUCTION:
            raise ImproperlyConfigured(f"the platform signing key {path} does not exist")
        _create(path)
    password = os.environ.get("PLATFORM_SIGNING_KEY_PASSWORD")
    return signing.load_signing_key_pem(path.read_bytes(), password.encode() if password else None)


def note_signer() -> NoteSigner:
    return NoteSigner(settings.AUDIT_ORIGIN, platform_signing_key())


def platform_vkey() -> str:
    """The verifier key anyone uses to check checkpoints and receipts offline."""
    return note_signer().vkey
