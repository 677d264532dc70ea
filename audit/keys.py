"""The platform's signing keys: Ed25519 signs audit checkpoints and the receipts of ``intl``
tenders; SM2 (the 国密 suite, ``sm2-sm3``) signs the receipts of ``gm`` tenders and, with
``AUDIT_CHECKPOINT_SM2``, every checkpoint a second time.

Production provisions the key files (``PLATFORM_SIGNING_KEY_FILE``, ``PLATFORM_SM2_SIGNING_KEY_FILE``,
readable only by the service); the embedded defaults create them under ``var/`` on first use. Their
public halves are published as signed-note verifier keys (``vkey``, ``sm2_vkey``) so anyone can check
checkpoints and receipts offline.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from common import metrics
from common.files import provisioned_key_pem
from crypto import gm, signing, sm2_x509
from crypto.ca import CertificateError
from crypto.checkpoint import NoteSigner, NoteVerifier, sign_note
from crypto.sm2_note import Sm2NoteSigner


def provisioned_signing_key(path: str | Path, *, what: str, password_env: str) -> signing.SigningKey:
    """An Ed25519 key from its provisioned file (created on first use by the embedded defaults),
    decrypted with the password in ``password_env`` when it has one."""
    pem, password = provisioned_key_pem(
        Path(path), lambda: signing.signing_key_to_pem(signing.generate_signing_key(), None),
        what=what, password_env=password_env)
    return signing.load_signing_key_pem(pem, password)


def platform_signing_key() -> signing.SigningKey:
    """The platform's Ed25519 key: on a PKCS#11 token when ``PLATFORM_SIGNING_KEY_PKCS11`` names one
    (the PIN in ``PLATFORM_SIGNING_KEY_PIN``), else the provisioned file (the embedded demo).

    A token that is not there (pulled out, the HSM down) raises ``signing.SigningUnavailable`` and
    nothing is cached: the next call looks again (resetting the module, so a token put back is
    found). A wrong PIN, a missing key or a malformed URI are configuration errors. With
    ``PLATFORM_SIGNING_PUBLIC_KEY`` the key found must be that one: another (a token swapped under
    the same labels, a replaced file) raises ``SigningUnavailable`` and signs nothing."""
    return _platform_signing_key(settings.PLATFORM_SIGNING_KEY_PKCS11, str(settings.PLATFORM_SIGNING_KEY_FILE),
                                 settings.PLATFORM_SIGNING_PUBLIC_KEY)


@lru_cache(maxsize=2)
def _platform_signing_key(uri: str, path: str, pinned: str = ""):
    key = _load_platform_signing_key(uri, path)
    if pinned:
        expected = pinned_public_key(pinned)
        if signing.public_key_bytes(key) != expected:
            # Raised, so nothing is cached: the right token (or file) put back is found next time.
            metrics.SIGNING_FAILURES.labels("platform", "unavailable").inc()
            where = "the token's" if uri else "the file's"
            raise signing.SigningUnavailable(f"{where} key is not the platform's pinned key "
                                             "(PLATFORM_SIGNING_PUBLIC_KEY): refusing to sign with it")
    return key


def pinned_public_key(pinned: str) -> bytes:
    """``PLATFORM_SIGNING_PUBLIC_KEY``'s 32 bytes (64 hex digits), or ImproperlyConfigured."""
    try:
        expected = bytes.fromhex(pinned)
    except ValueError:
        expected = b""
    if len(expected) != signing.PUBLIC_KEY_SIZE:
        raise ImproperlyConfigured("PLATFORM_SIGNING_PUBLIC_KEY is not 64 hex digits")
    return expected


def platform_public_key() -> bytes:
    """The platform key's public half, what checkpoints, receipts and backups are checked with: the
    pinned one (``PLATFORM_SIGNING_PUBLIC_KEY``) when set — so checking needs no HSM, and works while
    the token is away — otherwise the signing key's own (``SigningUnavailable`` if it is away)."""
    if settings.PLATFORM_SIGNING_PUBLIC_KEY:
        return pinned_public_key(settings.PLATFORM_SIGNING_PUBLIC_KEY)
    return signing.public_key_bytes(platform_signing_key())


def _load_platform_signing_key(uri: str, path: str):
    if uri:
        from crypto import platform_token, token

        try:
            return platform_token.TokenSigningKey(
                platform_token.parse_uri(uri, os.environ.get("PLATFORM_SIGNING_KEY_PIN", "")),
                on_failure=lambda outcome: metrics.SIGNING_FAILURES.labels("platform", outcome).inc())
        except token.TokenError as exc:
            if exc.kind in ("no_token", "failed"):
                # Raised, so lru_cache keeps nothing: the next call tries the token again.
                metrics.SIGNING_FAILURES.labels("platform", "unavailable").inc()
                raise signing.SigningUnavailable(f"PLATFORM_SIGNING_KEY_PKCS11: {exc}") from None
            raise ImproperlyConfigured(f"PLATFORM_SIGNING_KEY_PKCS11: {exc}") from None
        except ValueError as exc:
            raise ImproperlyConfigured(f"PLATFORM_SIGNING_KEY_PKCS11: {exc}") from None
    return provisioned_signing_key(path, what="the platform signing key",
                                   password_env="PLATFORM_SIGNING_KEY_PASSWORD")


platform_signing_key.cache_clear = _platform_signing_key.cache_clear  # type: ignore[attr-defined]


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


@lru_cache(maxsize=1)
def platform_sm2_signing_key() -> gm.SM2PrivateKey:
    path = settings.PLATFORM_SM2_SIGNING_KEY_FILE
    pem, password = provisioned_key_pem(
        Path(path), lambda: sm2_x509.private_key_to_pem(gm.generate_sm2_key()),
        what="the platform SM2 signing key", password_env="PLATFORM_SM2_SIGNING_KEY_PASSWORD")
    if password is not None:
        raise ImproperlyConfigured("the SM2 signing key file is not password-protected (SEC 1 PEM): "
                                   "protect it with the file's permissions, or keep the key in an HSM")
    try:
        return gm.check_pair(sm2_x509.load_private_key_pem(pem))
    except (CertificateError, gm.SM2Error) as exc:
        raise ImproperlyConfigured(f"the platform SM2 signing key {path}: {exc}") from None


def sm2_signing_available() -> bool:
    """Embedded mode makes the SM2 key on first use; production has it only if it was provisioned
    (a trading centre without gm tenders and without SM2 checkpoints need not)."""
    return not settings.PRODUCTION or Path(settings.PLATFORM_SM2_SIGNING_KEY_FILE).exists()


def note_signer() -> NoteSigner:
    return NoteSigner(settings.AUDIT_ORIGIN, platform_signing_key())


def sm2_note_signer() -> Sm2NoteSigner:
    return Sm2NoteSigner(settings.AUDIT_ORIGIN, platform_sm2_signing_key())


def sign_checkpoint_note(body: str) -> str:
    """A checkpoint's note: the Ed25519 line always (witnesses and monitors read it), and an SM2
    line after it when ``AUDIT_CHECKPOINT_SM2`` is on."""
    signers = [note_signer()]
    if settings.AUDIT_CHECKPOINT_SM2:
        signers.append(sm2_note_signer())
    return sign_note(body, *signers)


def platform_verifier() -> NoteVerifier:
    """The platform's note verifier (``platform_public_key``: the pinned key when there is one)."""
    return NoteVerifier(settings.AUDIT_ORIGIN, platform_public_key())


def platform_vkey() -> str:
    """The verifier key anyone uses to check checkpoints and receipts offline."""
    return platform_verifier().vkey


def platform_sm2_vkey() -> str | None:
    """The SM2 verifier key (receipts of gm tenders, SM2 checkpoint lines); None if not provisioned."""
    return sm2_note_signer().vkey if sm2_signing_available() else None
