"""A tender's archive carries every envelope and receipt, and the offline verifier checks them."""

import io
import json
import zipfile

import pytest

from audit.archive import export_archive
from audit.keys import platform_vkey
from crypto.archive import ArchiveError, verify_archive
from tests.bidding.conftest import certify, package, seal, token_client, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing")]


def _replace(data: bytes, name: str, content: bytes) -> bytes:
    """The archive with one member replaced, every hash fixed and archive.json re-signed with the
    platform's own key: what an insider holding it can do."""
    from tests.audit.test_archive import repack

    return repack(data, {name: lambda _old: content}, signer="platform")


def test_envelopes_and_receipts_travel_in_the_archive_and_verify(people, make_lot, bid_storage):
    lot = make_lot(max_bid_bytes=2**20)
    for who, price in (("alice", 100_000_00), ("bob", 95_000_00)):
        key, _ = certify(people[who], people["host"])
        res = upload(token_client(people[who]), lot.pk,
                     seal(lot, people[who].organisation, key, package(price, who)))
        assert res.status_code == 201, res.content
    buffer = io.BytesIO()
    manifest = export_archive(buffer, lot=lot)
    names = sorted(manifest["files"])
    assert sum(n.startswith("envelopes/") for n in names) == 2
    assert sum(n.startswith("receipts/") for n in names) == 2
    data = buffer.getvalue()
    result = verify_archive(io.BytesIO(data), vkey=platform_vkey())
    assert any("2 receipts verified" in line for line in result.lines)
    # An envelope swapped for another, even with its hash updated in archive.json, is caught by
    # the receipt, which the platform signed.
    envelope = next(n for n in names if n.startswith("envelopes/"))
    forged = _replace(data, envelope, b"tender-envelope/v1\nforged")
    with pytest.raises(ArchiveError, match="not the one receipted"):
        verify_archive(io.BytesIO(forged), vkey=platform_vkey())
