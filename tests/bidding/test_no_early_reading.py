"""The server cannot read a bid before the opening: after bids are submitted, neither the database
(every table, every column) nor the storage directory holds the plaintext, the file key or the
bidder's private key, in any common encoding."""

from __future__ import annotations

import base64
import hashlib
import io
import json

import pytest
from django.db import connection

from crypto import envelope, keys
from tests.bidding.conftest import certify, package, seal, token_client, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing")]

MARKER = "NO-EARLY-READING-7f3a9c 技术标绝密"
PRICE_FEN = 987654321012


def encodings(secret: bytes) -> list[bytes]:
    b64 = base64.b64encode(secret)
    return [secret, secret.hex().encode(), secret.hex().upper().encode(), b64, b64.rstrip(b"="),
            base64.urlsafe_b64encode(secret).rstrip(b"=")]


def database_bytes() -> list[tuple[str, bytes]]:
    """Every value of every row of every table, as bytes."""
    out = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                for value in row:
                    if value is None:
                        continue
                    if isinstance(value, memoryview):
                        data = bytes(value)
                    elif isinstance(value, (bytes, bytearray)):
                        data = bytes(value)
                    elif isinstance(value, str):
                        data = value.encode("utf-8")
                    elif isinstance(value, (dict, list)):
                        data = json.dumps(value, ensure_ascii=False).encode("utf-8")
                    else:
                        data = str(value).encode("utf-8")
                    out.append((table, data))
    return out


def test_nothing_stored_can_read_a_bid_before_the_opening(people, make_lot, bid_storage, tmp_path):
    lot = make_lot()
    secrets_found = {}
    needles: dict[str, list[bytes]] = {}
    for name in ("alice", "bob"):
        user = people[name]
        key, _ = certify(user, people["host"])
        plaintext = package(PRICE_FEN, MARKER)
        env = seal(lot, user.organisation, key, plaintext)
        res = upload(token_client(user), lot.pk, env)
        assert res.status_code == 201, res.content
        file_key = envelope.unwrap_file_key(envelope.read_header(io.BytesIO(env)), key)
        needles[f"{name} file key"] = encodings(file_key)
        needles[f"{name} private scalar"] = encodings(keys.private_key_to_scalar(key))
        needles[f"{name} PKCS#8"] = encodings(keys.private_key_to_pkcs8(key))
        needles[f"{name} package"] = [plaintext[:512], plaintext[-512:]]
    needles["marker"] = [MARKER.encode(), "技术标绝密".encode(), "技术方案".encode()]
    needles["price"] = [str(PRICE_FEN).encode(), b"9876543210.12", b"98765432101.2"]

    haystacks = database_bytes()
    # The scan does see what is stored: the bids' rows, their hashes, their headers.
    assert any(t == "bidding_bidsubmission" for t, _ in haystacks)
    assert any(hashlib.sha256(env).hexdigest().encode() in d for _, d in haystacks)
    assert any(envelope.read_header(io.BytesIO(env)).raw in d for _, d in haystacks)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            haystacks.append((str(path), path.read_bytes()))
    assert any(p.endswith(".tenv") for p, _ in haystacks)
    for where, data in haystacks:
        for what, forms in needles.items():
            for form in forms:
                if form in data:
                    secrets_found.setdefault(what, set()).add(where)
    assert secrets_found == {}
