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


@lru_cache(maxsize=1)
def platform_document_certificate() -> bytes:
    """The certificate (PEM) of the platform's key that PDF signatures embed (crypto.pades): made
    once beside the key file (``<key>.crt.pem``, public) so every process embeds the same bytes;
    an operator may put there one its CA issued for the same key instead."""
    from django.core.exceptions import ImproperlyConfigured

    from common.files import create_secret_file
    from crypto import pades

    key = platform_signing_key()
    path = Path(settings.PLATFORM_SIGNING_KEY_FILE).with_suffix(".crt.pem")
    if not path.exists():
        create_secret_file(path, pades.platform_certificate(key, name=f"{settings.AUDIT_ORIGIN} document signing"))
    cert = path.read_bytes()
    try:
        if pades.certificate_public_key(cert) != signing.public_key_bytes(key):
            raise pades.PdfSignatureError("it is not this key's")
    except pades.PdfSignatureError as exc:
        raise ImproperlyConfigured(f"the platform's document certificate {path}: {exc}") from None
    return cert


def note_signer() -> NoteSigner:
    return NoteSigner(settings.AUDIT_ORIGIN, platform_signing_key())


def platform_vkey() -> str:
    """The verifier key anyone uses to check checkpoints and receipts offline."""
    return note_signer().vkey
