"""Signed pushes (RFC 9421 with Ed25519, RFC 9530 digest): a receiver verifies with the public key
alone, and every change an attacker can make to a push fails the same way."""

from __future__ import annotations

import base64
import hashlib

import pytest

from crypto.httpsig import HttpSignatureError, sign_request, verify_request
from crypto.signing import generate_signing_key, public_key_bytes, sign

URL = "https://receiver.example/kaibiao/events"
BODY = '{"id":"6f1c","kind":"award.made","tender":7}'.encode()
NOW = 1_800_000_000


def signed(key=None, body=BODY, created=NOW):
    key = key or KEY
    headers = {"Content-Type": "application/json", "Idempotency-Key": "6f1c"}
    headers.update(sign_request(key, method="POST", target_uri=URL, headers=headers, body=body,
                                keyid="kaibiao-exchange-test", created=created))
    return headers


KEY = generate_signing_key()
PUBLIC = public_key_bytes(KEY)


def test_a_receiver_verifies_a_push_with_the_public_key_alone():
    headers = signed()
    assert verify_request(PUBLIC, method="POST", target_uri=URL, headers=headers, body=BODY, now=NOW) == \
        "kaibiao-exchange-test"
    lower = {k.lower(): v for k, v in headers.items()}  # header names in any case
    verify_request(PUBLIC, method="post", target_uri=URL, headers=lower, body=BODY, now=NOW + 10)


def test_the_signature_base_is_the_documented_one():
    """Written from docs/data-exchange.md alone: the lines, the order, the params, no final LF."""
    headers = signed()
    params = headers["Signature-Input"][len("kb="):]
    digest = "sha-256=:" + base64.b64encode(hashlib.sha256(BODY).digest()).decode() + ":"
    assert headers["Content-Digest"] == digest
    base = "\n".join(['"@method": POST', f'"@target-uri": {URL}', '"content-type": application/json',
                      f'"content-digest": {digest}', '"idempotency-key": 6f1c', f'"@signature-params": {params}'])
    assert params == ('("@method" "@target-uri" "content-type" "content-digest" "idempotency-key")'
                      f';created={NOW};keyid="kaibiao-exchange-test";alg="ed25519"')
    mine = "kb=:" + base64.b64encode(sign(KEY, base.encode())).decode() + ":"
    assert headers["Signature"] == mine  # Ed25519 is deterministic


def _set(name, value):
    return lambda h, b, u: ({**h, name: value}, b, u)


MUTATIONS = {
    "body": lambda h, b, u: (h, b + b" ", u),
    "uri": lambda h, b, u: (h, b, u + "?x=1"),
    "idempotency key": _set("Idempotency-Key", "7f1c"),
    "content type": _set("Content-Type", "text/plain"),
    "digest": lambda h, b, u: ({**h, "Content-Digest": "sha-256=:" + base64.b64encode(
        hashlib.sha256(b"x").digest()).decode() + ":"}, b"x", u),  # body and digest both replaced
    "key id": lambda h, b, u: ({**h, "Signature-Input": h["Signature-Input"].replace("-test", "-evil")}, b, u),
    "fewer components": lambda h, b, u: ({**h, "Signature-Input": h["Signature-Input"].replace(
        ' "idempotency-key"', "")}, b, u),
    "other algorithm": lambda h, b, u: ({**h, "Signature-Input": h["Signature-Input"].replace(
        "ed25519", "hmac-sha256")}, b, u),
    "flipped signature bit": lambda h, b, u: ({**h, "Signature": "kb=:" + base64.b64encode(bytes(
        [base64.b64decode(h["Signature"][4:-1])[0] ^ 1]) + base64.b64decode(h["Signature"][4:-1])[1:]).decode()
        + ":"}, b, u),
    "no signature": lambda h, b, u: ({k: v for k, v in h.items() if k != "Signature"}, b, u),
    "re-signed with another key": lambda h, b, u: (signed(key=generate_signing_key()), b, u),
    "stale": lambda h, b, u: (signed(created=NOW - 3600), b, u),
    "line break smuggled": _set("Idempotency-Key", "6f1c\n\"@method\": GET"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_every_change_to_a_push_fails_verification(name):
    headers, body, uri = MUTATIONS[name](signed(), BODY, URL)
    with pytest.raises(HttpSignatureError) as info:
        verify_request(PUBLIC, method="POST", target_uri=uri, headers=headers, body=body, now=NOW)
    assert str(info.value) == "the push does not verify"


def test_the_method_is_covered():
    with pytest.raises(HttpSignatureError):
        verify_request(PUBLIC, method="PUT", target_uri=URL, headers=signed(), body=BODY, now=NOW)
