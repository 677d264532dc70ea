"""``tender-envelope/gm-v1``, the 国密 suite (docs/envelope.md, Appendix D): the tamper matrix the
international suite passes (tests/crypto/test_envelope_tamper.py), repeated with SM2 keys, SM4-GCM
chunks and HMAC-SM3; the custodians' shares; and the suites kept apart.

Each mutation is tried on both paths of a real opening: the platform with the released file key,
and the bidder unwrapping with its SM2 private key first.
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from crypto import envelope, escrow_shares, gm, keys
from crypto.envelope import (Binding, InvalidEnvelope, Recipient, open_bytes, open_envelope,
                             read_header, seal_bytes, unwrap_file_key, verify_file_key)
from crypto.envelope_header import FORMAT_GM, header_mac
from crypto.stream import TAG_SIZE, chunk_nonce

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


def opens_with_key(data: bytes, file_key: bytes) -> bool:
    try:
        open_envelope(io.BytesIO(data), io.BytesIO(), file_key=file_key, expected=BINDING)
    except InvalidEnvelope:
        return False
    return True


def opens_with_private_key(data: bytes) -> bool:
    try:
        header = read_header(io.BytesIO(data))
        open_bytes(data, file_key=unwrap_file_key(header, ALICE), expected=BINDING)
    except InvalidEnvelope:
        return False
    return True


def survivors(mutations, file_key: bytes) -> list[str]:
    return [name for name, data in mutations
            if opens_with_key(data, file_key) or opens_with_private_key(data)]


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


@pytest.mark.parametrize("mask", [0x01, 0x80])
def test_flipping_a_bit_anywhere_is_detected(sealed, mask):
    data, file_key = sealed
    header_size = len(split(data)[0])

    def flipped():
        for i in range(len(data)):
            where = "header" if i < header_size else "payload"
            yield f"{where} byte {i}", data[:i] + bytes([data[i] ^ mask]) + data[i + 1:]

    assert survivors(flipped(), file_key) == []


def test_truncation_anywhere_is_detected(sealed):
    data, file_key = sealed
    assert survivors(((f"cut at {n}", data[:n]) for n in range(len(data))), file_key) == []


def test_dropped_duplicated_and_reordered_chunks_are_detected(sealed):
    data, file_key = sealed
    header, chunks = split(data)
    n = len(chunks)
    mutations = []
    for i in range(n):
        mutations.append((f"drop {i}", header + b"".join(chunks[:i] + chunks[i + 1:])))
        mutations.append((f"duplicate {i}", header + b"".join(chunks[:i + 1] + chunks[i:])))
    for order in itertools.permutations(range(n)):
        if list(order) != list(range(n)):
            mutations.append((f"order {order}", header + b"".join(chunks[i] for i in order)))
    assert survivors(mutations, file_key) == []


def test_appended_data_is_detected(sealed):
    data, file_key = sealed
    _, chunks = split(data)
    other = seal_alice()
    appended = {"one zero byte": b"\x00", "a tag's worth": os.urandom(TAG_SIZE),
                "a copy of the final chunk": chunks[-1], "another envelope's payload": other[len(split(other)[0]):],
                "another whole envelope": other}
    assert survivors(((name, data + extra) for name, extra in appended.items()), file_key) == []


def test_a_final_chunk_before_the_end_is_rejected_even_if_sealed_with_the_key(sealed):
    data, file_key = sealed
    header, chunks = split(data)
    aead = gm.SM4GCM(envelope._derive(file_key, read_header(io.BytesIO(data)).nonce, "payload", FORMAT_GM))
    early_final = aead.encrypt(chunk_nonce(0, True), PLAINTEXT[:CHUNK])
    assert not opens_with_key(header + early_final + b"".join(chunks[1:]), file_key)


MOVES = {
    "another tender": (b"\ntender ZB-2026-0001\n", b"\ntender ZB-2026-0002\n"),
    "another lot": (b"\nlot 2\n", b"\nlot 3\n"),
    "another bidder": (b"\nbidder alice\n", b"\nbidder bob\n"),
}


def _remac(data: bytes, file_key: bytes) -> bytes:
    """Recompute the header MAC (HMAC-SM3), as only someone holding the file key can."""
    header = read_header(io.BytesIO(data))
    mac_input = header.raw[:header.raw.rindex(b"\n---") + 4]
    mac = header_mac(file_key, header.nonce, mac_input, FORMAT_GM)
    return mac_input + b" " + keys.b64encode(mac).encode() + b"\n" + data[header.size:]


@pytest.mark.parametrize("move", sorted(MOVES))
def test_an_envelope_moved_to_another_tender_lot_or_bidder_does_not_open(sealed, move):
    data, file_key = sealed
    moved = data.replace(*MOVES[move], 1)
    header = read_header(io.BytesIO(moved))
    with pytest.raises(InvalidEnvelope):
        verify_file_key(header, file_key)
    with pytest.raises(InvalidEnvelope):
        unwrap_file_key(header, ALICE)


@pytest.mark.parametrize("move", sorted(MOVES))
def test_even_the_file_key_holder_cannot_rebind_the_wrapped_key(sealed, move):
    # The MAC verifies after a re-MAC, but the SM2 stanza carries SM3 of the original ids, so the
    # bidder's unwrap refuses it (the context binding of Appendix D).
    data, file_key = sealed
    moved = _remac(data.replace(*MOVES[move], 1), file_key)
    header = read_header(io.BytesIO(moved))
    verify_file_key(header, file_key)
    with pytest.raises(InvalidEnvelope):
        unwrap_file_key(header, ALICE)
    assert not opens_with_key(moved, file_key)


def test_a_commitment_that_does_not_match_the_key_is_rejected_even_with_a_valid_mac(sealed):
    data, file_key = sealed
    header = read_header(io.BytesIO(data))
    lying = _remac(data.replace(header.commitment_b64.encode(), keys.b64encode(os.urandom(32)).encode(), 1),
                   file_key)
    with pytest.raises(InvalidEnvelope):
        verify_file_key(read_header(io.BytesIO(lying)), file_key)


def test_a_second_key_that_decrypts_the_same_sm4_gcm_bytes_is_rejected(monkeypatch):
    """The invisible-salamander attack on SM4-GCM: GCM is as linear with SM4 as with AES."""
    def sm4_block(key: bytes, block: bytes) -> bytes:
        return Cipher(algorithms.SM4(key), modes.ECB()).encryptor().update(block)

    monkeypatch.setattr(gen, "_aes_block", sm4_block)
    key1, key2, nonce = os.urandom(32), os.urandom(32), os.urandom(16)
    p1, p2 = (envelope._derive(k, nonce, "payload", FORMAT_GM) for k in (key1, key2))
    ct = gen.gcm_salamander(p1, p2, chunk_nonce(0, True), want1={0: b"price 100000 fen"},
                            want2={1: b"price  90000 fen"}, blocks=4, free=3)
    pt1 = gm.SM4GCM(p1).decrypt(chunk_nonce(0, True), ct)
    assert gm.SM4GCM(p2).decrypt(chunk_nonce(0, True), ct)[16:32] == b"price  90000 fen"
    out = io.BytesIO()
    from crypto.envelope_gm import sm2_wrap
    envelope._seal(io.BytesIO(pt1), out, binding=BINDING, chunk_size=CHUNK,
                   recipients=[Recipient("bidder", ALICE.public)], file_key=key1, nonce=nonce,
                   wrap=sm2_wrap, suite="gm")
    data = out.getvalue()
    assert data.endswith(ct)
    assert open_bytes(data, file_key=key1, expected=BINDING) == pt1
    sink = io.BytesIO()
    with pytest.raises(InvalidEnvelope):
        open_envelope(io.BytesIO(data), sink, file_key=key2, expected=BINDING)
    assert sink.getvalue() == b""


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
