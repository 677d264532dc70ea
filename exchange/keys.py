"""The data exchange's own Ed25519 key (its purpose only: signing pushes), provisioned like the
platform's key (``EXCHANGE_SIGNING_KEY_FILE``; created under ``var/`` by the embedded defaults)."""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from django.conf import settings

from audit.keys import provisioned_signing_key
from crypto import signing


@lru_cache(maxsize=1)
def exchange_signing_key() -> signing.SigningKey:
    return provisioned_signing_key(settings.EXCHANGE_SIGNING_KEY_FILE, what="the exchange signing key",
                                   password_env="EXCHANGE_SIGNING_KEY_PASSWORD")


def public_key() -> bytes:
    return signing.public_key_bytes(exchange_signing_key())


def key_id() -> str:
    """``kaibiao-exchange-`` and the first 16 hex digits of SHA-256 of the raw public key."""
    return "kaibiao-exchange-" + hashlib.sha256(public_key()).hexdigest()[:16]


def key_document() -> dict:
    raw = public_key()
    return {"keyid": key_id(), "alg": "ed25519", "public_key": base64.b64encode(raw).decode(),
            "jwk": {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).decode().rstrip("="),
                    "kid": key_id()}}
