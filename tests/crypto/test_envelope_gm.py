"""``tender-envelope/gm-v1``, the 国密 suite (docs/envelope.md, Appendix D): what the header names,
an independent reading of the SM4-GCM payload, the custodians' shares, and the suites kept apart.
The tamper matrix (every mutation must fail, on both opening paths) runs on gm-v1 envelopes as on
v1 ones in tests/crypto/test_envelope_tamper.py.
"""

from __future__ import annotations

import importlib.util
import io
import itertools
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from crypto import envelope, escrow_shares, gm, keys
from crypto.envelope import Binding, InvalidEnvelope, Recipient, open_bytes, read_header, seal_bytes, unwrap_file_key
from crypto.envelope_header import FORMAT_GM
from crypto.stream import chunk_nonce

_spec = importlib.util.spec_from_file_location(
    "make_envelope_vectors", Path(__file__).parent / "vectors" / "make_envelope_vectors.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

ALICE = gm.generate_sm2_key()
CUSTODIANS = [gm.generate_sm2_key() for _ in range(3)]
BINDING = Binding("ZB-2026-0001", "2", "alice")
CHUNK = 64
PLAINTEXT = bytes(i * 31 % 251 for i in range(CHUNK * 3 + 8))  # three full chunks and 8 bytes


def seal_alice(plaintext: bytes = PLAINTEXT, *, shares: bool = False, **binding) -> bytes:
    ids = {"tender_id": BINDING.tender_id, "lot_id": BINDING.lot_id, "bidder_id": BINDING.bidder_id,
           **binding}
    extra = {}
    if shares:
        extra = {"custodians": [escrow_shares.Custodian(i + 1, c.public) for i, c in enumerate(CUSTODIANS)],
                 "threshold": 2}
    return seal_bytes(plaintext, **ids, recipients=[Recipient("bidder", ALICE.public)], chunk_size=CHUNK,
                      suite="gm", **extra)


@pytest.fixture(scope="module")
def sealed() -> tuple[bytes, bytes]:
    data = seal_alice()
    return data, unwrap_file_key(read_header(io.BytesIO(data)), ALICE)


def split(data: bytes) -> tuple[bytes, list[bytes]]:
    return gen.split(data, CHUNK)


def test_the_untouched_envelope_opens_and_names_its_suite(sealed):
    data, file_key = sealed
    header = read_header(io.BytesIO(data))
    assert header.version == FORMAT_GM and header.cipher_suite == "gm" and header.suite == "sm2"
    assert header.key_ids("bidder") == (ALICE.key_id,)
    assert data.startswith(b"tender-envelope/gm-v1\n") and b"\n-> sm2 bidder " in data
    assert open_bytes(data, file_key=file_key, expected=BINDING) == PLAINTEXT
    assert len(split(data)[1]) == 4


def test_the_payload_is_sm4_gcm_under_the_hkdf_sm3_payload_key(sealed):
    # An independent reading of Appendix D: derive the payload key with HKDF-SM3 and decrypt the
    # first chunk with SM4-GCM straight from `cryptography`.
    data, file_key = sealed
    header, chunks = split(data)
    nonce = read_header(io.BytesIO(data)).nonce
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    payload_key = HKDF(hashes.SM3(), 16, nonce, b"tender-envelope/gm-v1 payload").derive(file_key)
    ct = chunks[0]
    dec = Cipher(algorithms.SM4(payload_key), modes.GCM(chunk_nonce(0, False), ct[-16:])).decryptor()
    assert dec.update(ct[:-16]) + dec.finalize() == PLAINTEXT[:CHUNK]


# --- custodians' shares in the gm suite ---------------------------------------------------------------

def test_k_custodians_recover_the_file_key_and_one_does_not():
    data = seal_alice(shares=True)
    header = read_header(io.BytesIO(data))
    assert header.share_key_ids() == tuple(c.key_id for c in CUSTODIANS) and header.threshold == 2
    assert b"\n-> sm2-share 1 2 3 " in data
    file_key = unwrap_file_key(header, ALICE)
    shares = [escrow_shares.unwrap_share(header, c) for c in CUSTODIANS]
    for pair in itertools.combinations(shares, 2):
        assert escrow_shares.recover_file_key(header, list(pair)) == file_key
    with pytest.raises(InvalidEnvelope):
        escrow_shares.recover_file_key(header, shares[:1])
    with pytest.raises(InvalidEnvelope):
        escrow_shares.unwrap_share(header, ALICE)  # the bidder holds no share


def test_a_share_stanza_moved_to_another_envelope_or_index_does_not_open():
    one, two = seal_alice(shares=True), seal_alice(shares=True)
    h1, h2 = (read_header(io.BytesIO(d)) for d in (one, two))
    # Custodian 1's stanza of envelope one, pasted over its stanza in envelope two.
    s1 = h1.raw.split(b"-> sm2-share 1 ")[1].split(b"-> sm2-share 2 ")[0]
    s2 = h2.raw.split(b"-> sm2-share 1 ")[1].split(b"-> sm2-share 2 ")[0]
    pasted = read_header(io.BytesIO(two.replace(s2, s1, 1)))
    with pytest.raises(InvalidEnvelope):
        escrow_shares.unwrap_share(pasted, CUSTODIANS[0])
    # Stanzas 1 and 2 of one envelope swapped, key ids with them: each custodian finds its own
    # key id at the other index, and its context (index) no longer matches.
    text = h1.raw
    a = b"-> sm2-share 1 " + text.split(b"-> sm2-share 1 ")[1].split(b"-> sm2-share 2 ")[0]
    b = b"-> sm2-share 2 " + text.split(b"-> sm2-share 2 ")[1].split(b"-> sm2-share 3 ")[0]
    swapped_a = a.replace(b"-> sm2-share 1 ", b"-> sm2-share 2 ", 1)
    swapped_b = b.replace(b"-> sm2-share 2 ", b"-> sm2-share 1 ", 1)
    swapped = read_header(io.BytesIO(one.replace(a + b, swapped_b + swapped_a, 1)))
    for custodian in CUSTODIANS[:2]:
        with pytest.raises(InvalidEnvelope):
            escrow_shares.unwrap_share(swapped, custodian)


# --- the suites kept apart -------------------------------------------------------------------------

def test_the_suites_do_not_mix():
    p256 = keys.generate_bidder_key()
    ids = {"tender_id": "T", "lot_id": "1", "bidder_id": "B"}
    with pytest.raises(ValueError):  # an SM2 key in the international suite
        seal_bytes(b"x", **ids, recipients=[Recipient("bidder", ALICE.public)])
    with pytest.raises(ValueError):  # a P-256 key in the gm suite
        seal_bytes(b"x", **ids, recipients=[Recipient("bidder", p256.public_key())], suite="gm")
    with pytest.raises(ValueError):
        seal_bytes(b"x", **ids, recipients=[Recipient("escrow", ALICE.public), Recipient("bidder", CUSTODIANS[0].public)],
                   suite="gm")  # gm-v1 has no dealt escrow stanza
    intl = seal_bytes(b"x", **ids, recipients=[Recipient("bidder", p256.public_key())])
    gm_env = seal_bytes(b"x", **ids, recipients=[Recipient("bidder", ALICE.public)], suite="gm")
    with pytest.raises(ValueError):  # a P-256 key offered to a gm envelope, and the reverse
        unwrap_file_key(read_header(io.BytesIO(gm_env)), p256)
    with pytest.raises(ValueError):
        unwrap_file_key(read_header(io.BytesIO(intl)), ALICE)


def test_a_gm_header_with_an_international_stanza_or_version_line_is_rejected():
    gm_env = seal_alice()
    intl = seal_bytes(b"x", tender_id=BINDING.tender_id, lot_id=BINDING.lot_id, bidder_id=BINDING.bidder_id,
                      recipients=[Recipient("bidder", keys.generate_bidder_key().public_key())])
    for bad in (gm_env.replace(b"tender-envelope/gm-v1\n", b"tender-envelope/v1\n", 1),
                gm_env.replace(b"-> sm2 bidder", b"-> hpke-p256 bidder", 1),
                intl.replace(b"tender-envelope/v1\n", b"tender-envelope/gm-v1\n", 1),
                gm_env.replace(b"-> sm2 bidder", b"-> sm2 escrow", 1)):
        with pytest.raises(InvalidEnvelope):
            read_header(io.BytesIO(bad))


def test_the_largest_gm_header_fits_its_own_limit_and_is_no_v2_header():
    # 8 sm2 stanzas, 10 sm2-share stanzas, the longest ids and chunk size: the grammar's largest
    # gm-v1 header. SM2 bodies (161 bytes) are longer than HPKE's (113), so it is over v2's limit.
    bidders = [Recipient("bidder", gm.generate_sm2_key().public) for _ in range(8)]
    custodians = [escrow_shares.Custodian(i + 1, gm.generate_sm2_key().public) for i in range(10)]
    data = seal_bytes(b"x", tender_id="T" * 64, lot_id="L" * 64, bidder_id="B" * 64, recipients=bidders,
                      custodians=custodians, threshold=10, chunk_size=16_777_216, suite="gm")
    header = read_header(io.BytesIO(data))
    assert header.size == 4949 and envelope.MAX_HEADER_SIZE < header.size < envelope.MAX_HEADER_SIZE_GM
    assert len(header.stanzas) == 8 and len(header.shares) == 10
    with pytest.raises(InvalidEnvelope):  # the same stanzas under another version line do not read
        read_header(io.BytesIO(data.replace(FORMAT_GM.encode(), b"tender-envelope/v2", 1)))


def test_each_suite_writes_only_its_own_versions():
    ids = {"tender_id": "T", "lot_id": "1", "bidder_id": "B"}
    p256 = [keys.generate_bidder_key().public_key() for _ in range(4)]
    intl_custodians = [escrow_shares.Custodian(i + 1, k) for i, k in enumerate(p256[1:])]
    gm_custodians = [escrow_shares.Custodian(i + 1, c.public) for i, c in enumerate(CUSTODIANS)]
    bidder, gm_bidder = Recipient("bidder", p256[0]), Recipient("bidder", ALICE.public)

    def version(**kw) -> str:
        return read_header(io.BytesIO(seal_bytes(b"x", **ids, **kw))).version

    # the international suite: v3 for custodians by default, v2 when asked, v1 without them
    assert version(recipients=[bidder], custodians=intl_custodians, threshold=2) == envelope.FORMAT_V3
    assert version(recipients=[bidder], custodians=intl_custodians, threshold=2,
                   version=envelope.FORMAT_V2) == envelope.FORMAT_V2
    assert version(recipients=[bidder]) == envelope.FORMAT
    # the gm suite: gm-v1, with its Shamir sm2-share stanzas or none
    with_shares = read_header(io.BytesIO(seal_bytes(b"x", **ids, recipients=[gm_bidder], custodians=gm_custodians,
                                                    threshold=2, suite="gm")))
    assert with_shares.version == FORMAT_GM and escrow_shares.share_size(with_shares) == 32
    assert b"-> sm2-share 1 2 3 " in with_shares.raw and b"hpke-p256" not in with_shares.raw
    assert version(recipients=[gm_bidder], suite="gm") == FORMAT_GM
    for kw in ({"recipients": [gm_bidder], "suite": "gm", "version": envelope.FORMAT_V3,
                "custodians": gm_custodians, "threshold": 2},
               {"recipients": [gm_bidder], "suite": "gm", "version": envelope.FORMAT},
               {"recipients": [bidder], "version": FORMAT_GM},
               {"recipients": [bidder], "custodians": gm_custodians, "threshold": 2},  # SM2 custodians, intl
               {"recipients": [bidder], "suite": "sm9"}):
        with pytest.raises(ValueError):
            seal_bytes(b"x", **ids, **kw)
