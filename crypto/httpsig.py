"""Signed HTTP pushes: HTTP Message Signatures (RFC 9421) with Ed25519, and Content-Digest (RFC 9530).

The profile the platform sends and receivers check (docs/data-exchange.md, "Signed pushes"):

- ``Content-Digest: sha-256=:<base64 of SHA-256(body)>:``
- ``Signature-Input: kb=("@method" "@target-uri" "content-type" "content-digest" "idempotency-key");created=<unix seconds>;keyid="<key id>";alg="ed25519"``
- ``Signature: kb=:<base64 of the 64-byte Ed25519 signature>:``

The signature base is RFC 9421 §2.5's: one line per covered component, ``"<name>": <value>``, in the
order listed, then ``"@signature-params": <the inner list and parameters exactly as in
Signature-Input>``, lines joined by LF with no final LF. ``@method`` is upper case, ``@target-uri``
the full request URI as sent; header values are trimmed of surrounding spaces.

``verify_request`` accepts only this profile (the label ``kb``, these five components at least, an
Ed25519 ``alg``, ``created`` within ``max_age`` of ``now``) and raises ``HttpSignatureError`` for
every failure alike. No Django here: a receiver can use this module as it is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Mapping

from . import signing

LABEL = "kb"
COMPONENTS = ("@method", "@target-uri", "content-type", "content-digest", "idempotency-key")
_INPUT = re.compile(r'^kb=\(((?:"[a-z@-]+" ?)+)\);created=(\d{1,12});keyid="([A-Za-z0-9._:-]{1,100})";alg="ed25519"$')
_SIG = re.compile(r"^kb=:([A-Za-z0-9+/=]{1,200}):$")
_DIGEST = re.compile(r"^sha-256=:([A-Za-z0-9+/=]{44}):$")


class HttpSignatureError(ValueError):
    """The push's digest or signature does not verify, or its headers are not the profile's."""


def content_digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def signature_params(components: tuple[str, ...], *, created: int, keyid: str) -> str:
    inner = " ".join(f'"{c}"' for c in components)
    return f'({inner});created={created};keyid="{keyid}";alg="ed25519"'


def signature_base(method: str, target_uri: str, headers: Mapping[str, str], components: tuple[str, ...],
                   params: str) -> bytes:
    lines = []
    lower = {k.lower(): v for k, v in headers.items()}
    for c in components:
        if c == "@method":
            value = method.upper()
        elif c == "@target-uri":
            value = target_uri
        elif c.startswith("@") or c not in lower:
            raise HttpSignatureError("a covered component is missing")
        else:
            value = lower[c].strip()
        if "\n" in value or "\r" in value:
            raise HttpSignatureError("a covered component has a line break")
        lines.append(f'"{c}": {value}')
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines).encode("utf-8")


def sign_request(key: signing.SigningKey, *, method: str, target_uri: str, headers: Mapping[str, str],
                 body: bytes, keyid: str, created: int) -> dict[str, str]:
    """The headers to add to a request: Content-Digest, Signature-Input and Signature. ``headers``
    holds at least Content-Type and Idempotency-Key."""
    all_headers = {**headers, "Content-Digest": content_digest(body)}
    params = signature_params(COMPONENTS, created=created, keyid=keyid)
    base = signature_base(method, target_uri, all_headers, COMPONENTS, params)
    signature = base64.b64encode(signing.sign(key, base)).decode()
    return {"Content-Digest": all_headers["Content-Digest"], "Signature-Input": f"{LABEL}={params}",
            "Signature": f"{LABEL}=:{signature}:"}


def verify_request(public_key: bytes | signing.VerifyKey, *, method: str, target_uri: str,
                   headers: Mapping[str, str], body: bytes, now: int, max_age: int = 300) -> str:
    """Check a received push; return its key id. ``headers`` as received (any case)."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        digest = _DIGEST.match(lower.get("content-digest", "").strip())
        if digest is None or base64.b64decode(digest.group(1)) != hashlib.sha256(body).digest():
            raise HttpSignatureError("bad digest")
        parsed = _INPUT.match(lower.get("signature-input", "").strip())
        sig = _SIG.match(lower.get("signature", "").strip())
        if parsed is None or sig is None:
            raise HttpSignatureError("not the profile")
        components = tuple(re.findall(r'"([a-z@-]+)"', parsed.group(1)))
        if not set(COMPONENTS) <= set(components) or len(set(components)) != len(components):
            raise HttpSignatureError("not every required component is covered")
        created = int(parsed.group(2))
        if not (now - max_age <= created <= now + 60):
            raise HttpSignatureError("stale")
        params = lower["signature-input"].strip()[len(LABEL) + 1:]
        base = signature_base(method, target_uri, lower, components, params)
        signing.verify(public_key, base64.b64decode(sig.group(1), validate=True), base)
    except (signing.SignatureError, binascii.Error, ValueError):
        # One error for every failure: a sender learns nothing about which check failed.
        raise HttpSignatureError("the push does not verify") from None
    return parsed.group(3)
