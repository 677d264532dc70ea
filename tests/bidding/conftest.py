"""Fixtures for sealed bids: a storage directory and CA per test, certified bidder keys, and
helpers to seal and upload through the API."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.test import Client

from accounts.models import ApiToken
from bidding import certificates
from common.actor import Actor
from crypto import ca, envelope, keys


@pytest.fixture
def bid_storage(settings, tmp_path):
    settings.STORAGE_DIR = tmp_path / "storage"
    settings.PLATFORM_CA_KEY_FILE = tmp_path / "ca-key.pem"
    settings.PLATFORM_SM2_CA_KEY_FILE = tmp_path / "sm2-ca-key.pem"
    settings.BID_UPLOAD_MAX_CHUNK_BYTES = 4 * 2**20
    return settings.STORAGE_DIR


def token_client(user) -> Client:
    _, secret = ApiToken.issue(user, "test")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def certify(user, approver, key=None, now=None):
    """Give ``user``'s organisation a current certificate for ``key`` (made if not given)."""
    from common import clock

    key = key or keys.generate_bidder_key()
    now = now or clock.now()
    csr = ca.make_csr(key, organisation=user.organisation.name,
                      credit_code=user.organisation.credit_code).decode()
    cert = certificates.request_certificate(user, Actor.of(user), csr_pem=csr, now=now)
    cert = certificates.decide_certificate(approver, Actor.of(approver), cert.pk, approve=True, now=now)
    return key, cert


def seal(lot, org, key, plaintext: bytes, *, escrow_public=None, lot_code=None, chunk_size=65536,
         custodians=(), threshold=None):
    """An envelope as a sealer makes it: v1, or v3 with ``custodians`` (``escrow_shares.Custodian``)."""
    recipients = [envelope.Recipient("bidder", key.public_key())]
    if escrow_public is not None:
        recipients.append(envelope.Recipient("escrow", escrow_public))
    return envelope.seal_bytes(plaintext, tender_id=lot.project.code, lot_id=lot_code or lot.code,
                               bidder_id=org.credit_code, recipients=recipients, chunk_size=chunk_size,
                               custodians=custodians, threshold=threshold)


def register_custodians(people, names) -> dict:
    """Each custodian makes its own key pair and registers the public key: ``{name: private key}``."""
    out = {}
    for name in names:
        key = keys.generate_bidder_key()
        res = token_client(people[name]).post(
            "/api/v1/custodians/me", content_type="application/json",
            data=json.dumps({"public_key": keys.b64encode(keys.public_key_to_bytes(key.public_key()))}))
        assert res.status_code == 200, res.content
        out[name] = key
    return out


def tender_custodians(client, lot_id):
    """``GET /lots/{id}/escrow`` as a sealer reads it: (custodians, threshold)."""
    from crypto import escrow_shares

    body = client.get(f"/api/v1/lots/{lot_id}/escrow").json()
    assert body["scheme"] == "shares", body
    return [escrow_shares.Custodian(c["index"], keys.b64decode(c["public_key"], 65))
            for c in body["custodians"]], body["threshold"]


def deal_escrow(lot, custodian_keys: dict, users: dict, threshold: int, now):
    """A set-up as the platform made it before v2 (a dealt escrow key, scheme "dealer"), written
    as those rows are: the escrow key is split, each share sealed to its custodian, then forgotten.
    Returns the escrow public key."""
    from bidding.models import Custodian, EscrowKey, EscrowShare
    from crypto import shamir

    private = keys.generate_bidder_key()
    public = private.public_key()
    kid = keys.key_id(public)
    shares = shamir.split_private_key(private, threshold, len(custodian_keys))
    escrow = EscrowKey.objects.create(lot=lot, scheme="dealer", public_key=keys.public_key_to_bytes(public),
                                      key_id=kid, threshold=threshold, count=len(shares), created_at=now)
    for (name, ckey), share in zip(custodian_keys.items(), shares):
        custodian = Custodian.objects.get(user=users[name])
        sealed = shamir.seal_share(share, ckey.public_key(), tender=f"{lot.project.code}/{lot.code}",
                                   escrow_key_id=kid)
        EscrowShare.objects.create(escrow=escrow, custodian=custodian, index=share.index, sealed=sealed,
                                   public_key=bytes(custodian.public_key), key_id=custodian.key_id)
    return public


def package(price_fen: int, marker: str) -> bytes:
    """A bid package as the tool makes it: a tar with manifest.json and a document."""
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in (("manifest.json", json.dumps({"format": "tender-bid/v1",
                                                          "fields": {"price": price_fen}}).encode()),
                           ("docs/技术标.txt", f"技术方案 {marker}\n".encode() * 50)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def a_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("bid.txt", "投标报价 100 元")
    return out.getvalue()


def upload(client, lot_id, data: bytes, *, chunk=1 << 20, sha256=None, complete=True):
    """Create, PATCH in chunks, complete; returns the last response."""
    body = {"size": len(data)}
    if sha256:
        body["sha256"] = sha256
    res = client.post(f"/api/v1/lots/{lot_id}/uploads", data=json.dumps(body),
                      content_type="application/json")
    if res.status_code != 201:
        return res
    uid = res.json()["id"]
    offset = 0
    while offset < len(data):
        piece = data[offset:offset + chunk]
        res = patch(client, uid, offset, piece)
        if res.status_code != 200:
            return res
        offset = int(res["Upload-Offset"])
    if not complete:
        return res
    return client.post(f"/api/v1/uploads/{uid}/complete")


def patch(client, uid, offset, piece):
    return client.generic("PATCH", f"/api/v1/uploads/{uid}", data=piece,
                          content_type="application/octet-stream", HTTP_UPLOAD_OFFSET=str(offset))


def stored_files(root) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def fast_hashing(settings):
    """The shared ``people`` fixture hashes eight passwords with Argon2; these tests sign in with
    tokens, so a cheap hasher saves seconds per test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
