"""Every way of changing a sealed envelope must end in ``InvalidEnvelope`` (docs/envelope.md), in
both cipher suites: one matrix, run on a ``tender-envelope/v1`` envelope (P-256 HPKE stanzas,
AES-256-GCM chunks, HMAC-SHA-256) and on a ``tender-envelope/gm-v1`` one (Appendix D: SM2 stanzas,
SM4-GCM chunks, HMAC-SM3), so a mutation added for one suite is tried on the other.

Each mutation is tried on both paths a real opening takes: the platform opening with the released
file key (``open_envelope`` with the expected binding), and the bidder unwrapping with its private
key first. Mutations loop inside one test each (as Django's ``test_unsign_detects_tampering``) and
report every survivor at once. What only the gm suite has (its shares, the suites kept apart) is in
test_envelope_gm.py.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import io
import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto import envelope, gm, keys
from crypto.envelope import (Binding, InvalidEnvelope, Recipient, open_bytes, open_envelope,
                             read_header, seal_bytes, unwrap_file_key, verify_file_key)
from crypto.envelope_gm import sm2_wrap
from crypto.envelope_header import FORMAT_GM, header_mac
from crypto.stream import TAG_SIZE, chunk_nonce

_spec = importlib.util.spec_from_file_location(
    "make_envelope_vectors", Path(__file__).parent / "vectors" / "make_envelope_vectors.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

BINDING = Binding("ZB-2026-0001", "2", "alice")
CHUNK = 64
PLAINTEXT = bytes(i * 31 % 251 for i in range(CHUNK * 3 + 8))  # three full chunks and 8 bytes


def _sha256_header_mac(file_key: bytes, nonce: bytes, mac_input: bytes) -> bytes:
    # Computed here from the spec's parts, not with crypto's header_mac: an insider's recomputation.
    return hmac.digest(envelope._derive(file_key, nonce, "header"), mac_input, hashlib.sha256)


def _sm4_block(key: bytes, block: bytes) -> bytes:
    return Cipher(algorithms.SM4(key), modes.ECB()).encryptor().update(block)


@dataclass(frozen=True)
class Suite:
    """What the matrix needs to know of a cipher suite."""
    name: str
    version: str  # the version line of the envelopes sealed here
    bidder: object  # alice's private key (unwrap_file_key takes it)
    others: tuple  # the other recipients' private keys (the intl suite's escrow)
    public: Callable[[object], object]  # a private key's public key, for a Recipient
    seal_options: dict  # what seal_bytes / envelope._seal take to use the suite
    aead: Callable[[bytes], object]  # payload key -> encrypt(nonce, pt, aad) / decrypt(nonce, ct, aad)
    mac: Callable[[bytes, bytes, bytes], bytes]  # (file key, nonce, MAC input) -> header MAC
    block: Callable[[bytes, bytes], bytes]  # the block cipher under GCM (the salamander's)
    wrap: Callable  # envelope._seal's stanza wrap

    def recipients(self, *, others: bool = True) -> list[Recipient]:
        extra = [Recipient("escrow", self.public(k)) for k in self.others] if others else []
        return [Recipient("bidder", self.public(self.bidder)), *extra]


INTL = Suite("intl", envelope.FORMAT, keys.generate_bidder_key(), (keys.generate_bidder_key(),),
             lambda k: k.public_key(), {}, AESGCM, _sha256_header_mac, gen._aes_block, envelope._hpke_wrap)
GM = Suite("gm", FORMAT_GM, gm.generate_sm2_key(), (), lambda k: k.public, {"suite": "gm"}, gm.SM4GCM,
           lambda file_key, nonce, mac_input: header_mac(file_key, nonce, mac_input, FORMAT_GM),
           _sm4_block, sm2_wrap)


@pytest.fixture(scope="module", params=[INTL, GM], ids=lambda s: s.name)
def suite(request) -> Suite:
    return request.param


def seal_alice(suite: Suite, plaintext: bytes = PLAINTEXT) -> bytes:
    return seal_bytes(plaintext, tender_id=BINDING.tender_id, lot_id=BINDING.lot_id,
                      bidder_id=BINDING.bidder_id, recipients=suite.recipients(), chunk_size=CHUNK,
                      **suite.seal_options)


@pytest.fixture(scope="module")
def sealed(suite) -> tuple[bytes, bytes]:
    data = seal_alice(suite)
    assert read_header(io.BytesIO(data)).version == suite.version
    return data, unwrap_file_key(read_header(io.BytesIO(data)), suite.bidder)


def opens_with_key(data: bytes, file_key: bytes) -> bool:
    try:
        open_envelope(io.BytesIO(data), io.BytesIO(), file_key=file_key, expected=BINDING)
    except InvalidEnvelope:
        return False
    return True


def opens_with_private_key(data: bytes, bidder) -> bool:
    try:
        header = read_header(io.BytesIO(data))
        open_bytes(data, file_key=unwrap_file_key(header, bidder), expected=BINDING)
    except InvalidEnvelope:
        return False
    return True


def survivors(mutations, file_key: bytes, bidder) -> list[str]:
    """Names of the mutations that opened on either path (must be none)."""
    return [name for name, data in mutations
            if opens_with_key(data, file_key) or opens_with_private_key(data, bidder)]


def split(data: bytes) -> tuple[bytes, list[bytes]]:
    return gen.split(data, CHUNK)


def test_the_untouched_envelope_opens(sealed, suite):
    data, file_key = sealed
    assert opens_with_key(data, file_key) and opens_with_private_key(data, suite.bidder)
    assert len(split(data)[1]) == 4


@pytest.mark.parametrize("mask", [0x01, 0x80])
def test_flipping_a_bit_anywhere_is_detected(sealed, suite, mask):
    data, file_key = sealed
    header_size = len(split(data)[0])

    def flipped():
        for i in range(len(data)):
            where = "header" if i < header_size else "payload"
            yield f"{where} byte {i}", data[:i] + bytes([data[i] ^ mask]) + data[i + 1:]

    assert survivors(flipped(), file_key, suite.bidder) == []


def test_truncation_anywhere_is_detected(sealed, suite):
    data, file_key = sealed
    header, chunks = split(data)
    boundaries = {len(header) + k * (CHUNK + TAG_SIZE) for k in range(len(chunks))}
    cuts = [(f"cut at {n}" + (" (chunk boundary)" if n in boundaries else ""), data[:n])
            for n in range(len(data))]
    assert boundaries <= {n for n in range(len(data))}  # the boundaries are among the cuts
    assert survivors(cuts, file_key, suite.bidder) == []


def test_dropped_swapped_duplicated_and_reordered_chunks_are_detected(sealed, suite):
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
    assert survivors(mutations, file_key, suite.bidder) == []


def test_appended_data_is_detected(sealed, suite):
    data, file_key = sealed
    _, chunks = split(data)
    other = seal_alice(suite)
    appended = {
        "one zero byte": b"\x00",
        "a tag's worth of bytes": os.urandom(TAG_SIZE),
        "a full chunk of random bytes": os.urandom(CHUNK + TAG_SIZE),
        "a copy of the final chunk": chunks[-1],
        "a copy of the first chunk": chunks[0],
        "another envelope's payload": other[len(split(other)[0]):],
        "another whole envelope": other,
    }
    assert survivors(((name, data + extra) for name, extra in appended.items()), file_key, suite.bidder) == []


def test_a_stream_cut_after_a_non_final_chunk_is_rejected(sealed):
    # The final-flag byte cannot be changed without the key; what an attacker can do is drop the
    # final chunk, leaving a last chunk that was sealed as non-final.
    data, file_key = sealed
    header, chunks = split(data)
    for keep in range(1, len(chunks)):
        cut = header + b"".join(chunks[:keep])
        assert not opens_with_key(cut, file_key), keep


def test_a_final_chunk_before_the_end_is_rejected_even_if_sealed_with_the_key(sealed, suite):
    data, file_key = sealed
    header, chunks = split(data)
    payload_key = _payload_key(read_header(io.BytesIO(data)), file_key)
    aead = suite.aead(payload_key)
    early_final = aead.encrypt(chunk_nonce(0, True), PLAINTEXT[:CHUNK], None)
    assert not opens_with_key(header + early_final + b"".join(chunks[1:]), file_key)
    # ...and an empty final chunk after full ones (docs/envelope.md: one encoding per plaintext).
    body = b"".join(aead.encrypt(chunk_nonce(i, False), PLAINTEXT[i * CHUNK:(i + 1) * CHUNK], None)
                    for i in range(3))
    last = aead.encrypt(chunk_nonce(3, False), PLAINTEXT[3 * CHUNK:], None)
    assert not opens_with_key(header + body + last + aead.encrypt(chunk_nonce(4, True), b"", None),
                              file_key)


def _payload_key(header, file_key: bytes) -> bytes:
    return envelope._derive(file_key, header.nonce, "payload", header.version)


def _replace(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) >= 1
    return data.replace(old, new, 1)


MOVES = {
    "another tender": (b"\ntender ZB-2026-0001\n", b"\ntender ZB-2026-0002\n"),
    "another lot": (b"\nlot 2\n", b"\nlot 3\n"),
    "another bidder": (b"\nbidder alice\n", b"\nbidder bob\n"),
}


@pytest.mark.parametrize("move", sorted(MOVES))
def test_an_envelope_moved_to_another_tender_lot_or_bidder_does_not_open(sealed, suite, move):
    data, file_key = sealed
    moved = _replace(data, *MOVES[move])
    header = read_header(io.BytesIO(moved))  # still well-formed: the platform cannot tell...
    with pytest.raises(InvalidEnvelope):  # ...but the MAC can, with the key,
        verify_file_key(header, file_key)
    for key in (suite.bidder, *suite.others):  # and HPKE's info (gm: the SM3 context) stops the unwrap.
        with pytest.raises(InvalidEnvelope):
            unwrap_file_key(header, key)


def _remac(data: bytes, file_key: bytes, suite: Suite) -> bytes:
    """Recompute the header MAC, as only someone holding the file key can."""
    header = read_header(io.BytesIO(data))
    mac_input = header.raw[:header.raw.rindex(b"\n---") + 4]
    mac = suite.mac(file_key, header.nonce, mac_input)
    return mac_input + b" " + keys.b64encode(mac).encode() + b"\n" + data[header.size:]


@pytest.mark.parametrize("move", sorted(MOVES))
def test_even_the_file_key_holder_cannot_rebind_the_wrapped_key(sealed, suite, move):
    # Someone who learnt the file key (after an opening) re-MACs a moved header: the MAC now
    # verifies, but the stanzas were wrapped with the old ids in HPKE's info (gm: the SM2 stanza
    # carries SM3 of the original ids, Appendix D's context binding), so no recipient can unwrap
    # it, and a platform that passes the binding it expects still refuses it.
    data, file_key = sealed
    moved = _remac(_replace(data, *MOVES[move]), file_key, suite)
    header = read_header(io.BytesIO(moved))
    verify_file_key(header, file_key)
    for key in (suite.bidder, *suite.others):
        with pytest.raises(InvalidEnvelope):
            unwrap_file_key(header, key)
    assert not opens_with_key(moved, file_key)  # expected=BINDING, the original ids


def test_a_commitment_that_does_not_match_the_key_is_rejected_even_with_a_valid_mac(sealed, suite):
    # A sealer could publish (and get receipted) a commitment of another key while MACing with
    # the real one; the receipt's commitment would then prove nothing. Both checks must pass.
    data, file_key = sealed
    header = read_header(io.BytesIO(data))
    other = keys.b64encode(os.urandom(32)).encode()
    lying = _remac(_replace(data, header.commitment_b64.encode(), other), file_key, suite)
    with pytest.raises(InvalidEnvelope):
        verify_file_key(read_header(io.BytesIO(lying)), file_key)
    assert not opens_with_key(lying, file_key)


@pytest.mark.parametrize("suite", [INTL], ids=["intl"], indirect=True)  # gm-v1 has bidder stanzas only
def test_a_stanza_relabelled_to_another_role_does_not_unwrap(sealed, suite):
    data, file_key = sealed
    relabelled = _remac(_replace(data, b"-> hpke-p256 escrow", b"-> hpke-p256 bidder"), file_key, suite)
    header = read_header(io.BytesIO(relabelled))
    with pytest.raises(InvalidEnvelope):
        unwrap_file_key(header, suite.others[0])


def test_a_key_that_decrypts_the_same_gcm_bytes_is_rejected_by_the_commitment(suite, monkeypatch):
    """The invisible-salamander attack, built for real.

    GCM's tag is linear in the ciphertext blocks over GF(2^128), whether the block cipher is AES
    or SM4, so a bidder who picks two file keys can solve for one ciphertext block that makes a
    single chunk authenticate under both payload keys, to two different prices. The envelope is
    honestly sealed under key1; releasing key2 must fail before any plaintext is produced.
    """
    monkeypatch.setattr(gen, "_aes_block", suite.block)  # the generator's GCM over this suite's cipher
    key1, key2, nonce = os.urandom(32), os.urandom(32), os.urandom(16)
    p1, p2 = (envelope._derive(k, nonce, "payload", suite.version) for k in (key1, key2))
    ct = gen.gcm_salamander(p1, p2, chunk_nonce(0, True), want1={0: b"price 100000 fen"},
                            want2={1: b"price  90000 fen"}, blocks=4, free=3)
    pt1 = suite.aead(p1).decrypt(chunk_nonce(0, True), ct, None)
    pt2 = suite.aead(p2).decrypt(chunk_nonce(0, True), ct, None)
    assert pt1[:16] == b"price 100000 fen" and pt2[16:32] == b"price  90000 fen"

    out = io.BytesIO()
    envelope._seal(io.BytesIO(pt1), out, binding=BINDING, chunk_size=CHUNK,
                   recipients=suite.recipients(others=False), file_key=key1, nonce=nonce,
                   wrap=suite.wrap, **suite.seal_options)
    data = out.getvalue()
    assert data.endswith(ct)  # the payload is exactly the two-key ciphertext
    header = read_header(io.BytesIO(data))
    assert open_bytes(data, file_key=key1, expected=BINDING) == pt1
    with pytest.raises(InvalidEnvelope):
        verify_file_key(header, key2)
    sink = io.BytesIO()
    with pytest.raises(InvalidEnvelope):
        open_envelope(io.BytesIO(data), sink, file_key=key2, expected=BINDING)
    assert sink.getvalue() == b""


class _RecordingWriter:
    def __init__(self):
        self.writes: list[bytes] = []

    def write(self, b) -> int:
        self.writes.append(bytes(b))
        return len(b)


@pytest.mark.parametrize("bad_chunk", [0, 1, 2, 3])
def test_no_plaintext_of_a_failing_chunk_reaches_the_writer(sealed, bad_chunk):
    data, file_key = sealed
    header, chunks = split(data)
    chunks = list(chunks)
    broken = bytearray(chunks[bad_chunk])
    broken[3] ^= 0x04
    chunks[bad_chunk] = bytes(broken)
    writer = _RecordingWriter()
    with pytest.raises(InvalidEnvelope):
        open_envelope(io.BytesIO(header + b"".join(chunks)), writer, file_key=file_key)
    # Exactly the chunks before the broken one came out; nothing from it or after it.
    assert writer.writes == [PLAINTEXT[i * CHUNK:(i + 1) * CHUNK] for i in range(bad_chunk)]
