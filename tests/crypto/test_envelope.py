"""``tender-envelope/v1``: round trips, the header check without secrets, keys, vectors, memory.

Tamper tests live in test_envelope_tamper.py. The spec is docs/envelope.md.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto import keys
from crypto.envelope import (DEFAULT_CHUNK_SIZE, Binding, InvalidEnvelope, Recipient, open_bytes,
                             open_envelope, read_header, seal, seal_bytes, unwrap_file_key,
                             verify_file_key)
from crypto.stream import TAG_SIZE

VECTORS = Path(__file__).parent / "vectors" / "envelope-v1"
_spec = importlib.util.spec_from_file_location(
    "make_envelope_vectors", Path(__file__).parent / "vectors" / "make_envelope_vectors.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

ALICE = keys.generate_bidder_key()
BOB = keys.generate_bidder_key()
ESCROW = keys.generate_bidder_key()
IDS = {"tender_id": "ZB-2026-0001", "lot_id": "2", "bidder_id": "alice"}
BINDING = Binding("ZB-2026-0001", "2", "alice")


def alice_envelope(plaintext: bytes, chunk_size: int = 64, escrow: bool = False) -> bytes:
    recipients = [Recipient("bidder", ALICE.public_key())]
    if escrow:
        recipients.append(Recipient("escrow", ESCROW.public_key()))
    return seal_bytes(plaintext, **IDS, recipients=recipients, chunk_size=chunk_size)


def header_of(data: bytes):
    return read_header(io.BytesIO(data))


def alice_opens(data: bytes) -> bytes:
    """The bidder's path at the opening: unwrap with the private key, then open."""
    file_key = unwrap_file_key(header_of(data), ALICE)
    return open_bytes(data, file_key=file_key, expected=BINDING)


# --- round trips ------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 128, 64 * 3 + 5])
def test_it_round_trips_around_small_chunk_boundaries(size):
    plaintext = os.urandom(size)
    data = alice_envelope(plaintext)
    assert alice_opens(data) == plaintext
    chunks = max(1, -(-size // 64))
    assert len(data) == header_of(data).size + size + chunks * TAG_SIZE


@pytest.mark.parametrize("size", [0, 1, DEFAULT_CHUNK_SIZE - 1, DEFAULT_CHUNK_SIZE,
                                  DEFAULT_CHUNK_SIZE + 1, 3 * DEFAULT_CHUNK_SIZE + 7])
def test_it_round_trips_with_the_default_chunk_size(size):
    plaintext = os.urandom(size)
    data = alice_envelope(plaintext, chunk_size=DEFAULT_CHUNK_SIZE)
    assert header_of(data).chunk_size == DEFAULT_CHUNK_SIZE
    assert alice_opens(data) == plaintext


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plaintext=st.binary(max_size=2000), chunk_size=st.integers(64, 700))
def test_it_round_trips_random_sizes_and_chunk_sizes(plaintext, chunk_size):
    data = alice_envelope(plaintext, chunk_size=chunk_size)
    assert alice_opens(data) == plaintext


def test_seal_reports_what_it_wrote():
    out = io.BytesIO()
    result = seal(io.BytesIO(b"x" * 100), out, **IDS, recipients=[Recipient("bidder", ALICE.public_key())],
                  chunk_size=64)
    data = out.getvalue()
    assert (result.payload_size, result.envelope_size) == (100, len(data))
    assert data.startswith(result.header.raw)
    assert result.commitment == header_of(data).commitment
    assert result.header.commitment_b64.encode() in result.header.raw


def test_each_envelope_gets_a_fresh_file_key_and_nonce():
    a, b = alice_envelope(b"same bid"), alice_envelope(b"same bid")
    ha, hb = header_of(a), header_of(b)
    assert ha.nonce != hb.nonce and ha.commitment != hb.commitment
    assert unwrap_file_key(ha, ALICE) != unwrap_file_key(hb, ALICE)
    assert a[ha.size:] != b[hb.size:]


class _ReadOnly:
    """A reader with only ``read`` (no readinto, no readline), returning short reads."""

    def __init__(self, data: bytes):
        self._data, self._pos = data, 0

    def read(self, n: int) -> bytes:
        n = min(n, 7)
        out = self._data[self._pos:self._pos + n]
        self._pos += len(out)
        return out


class _PartialWriter:
    """A writer that writes at most 5 bytes per call, as a raw file may."""

    def __init__(self):
        self.data = bytearray()

    def write(self, b) -> int:
        self.data += bytes(b[:5])
        return min(5, len(b))


def test_it_streams_through_minimal_readers_and_partial_writers():
    plaintext = os.urandom(300)
    writer = _PartialWriter()
    seal(_ReadOnly(plaintext), writer, **IDS, recipients=[Recipient("bidder", ALICE.public_key())],
         chunk_size=64)
    data = bytes(writer.data)
    header = read_header(_ReadOnly(data))
    out = _PartialWriter()
    open_envelope(_ReadOnly(data), out, file_key=unwrap_file_key(header, ALICE))
    assert bytes(out.data) == plaintext


# --- the header, without secrets --------------------------------------------------------------------

def test_read_header_needs_no_key_and_stops_at_the_payload():
    data = alice_envelope(b"y" * 150, escrow=True)
    reader = io.BytesIO(data)
    header = read_header(reader)
    assert (header.version, header.suite) == ("tender-envelope/v1", "hpke-p256")
    assert header.binding == BINDING and header.chunk_size == 64
    assert header.key_ids("bidder") == (keys.key_id(ALICE.public_key()),)
    assert header.key_ids("escrow") == (keys.key_id(ESCROW.public_key()),)
    assert reader.read() == data[header.size:]
    assert data[:header.size] == header.raw


def _valid_header(escrow: bool = True) -> bytes:
    return header_of(alice_envelope(b"", escrow=escrow)).raw


def _replace_line(old_prefix: bytes, new_line: bytes):
    def mutate(h: bytes) -> bytes:
        lines = h.split(b"\n")
        index = next(i for i, line in enumerate(lines) if line.startswith(old_prefix))
        lines[index] = new_line
        return b"\n".join(lines)
    return mutate


def _stanza(role: str, body: bytes, kid: str = "0123456789abcdef") -> bytes:
    text = keys.b64encode(body).encode()
    return f"-> hpke-p256 {role} {kid}\n".encode() + b"".join(
        text[i:i + 64] + b"\n" for i in range(0, len(text), 64))


def _drop_stanza(role: bytes):
    def mutate(h: bytes) -> bytes:
        lines = h.split(b"\n")
        i = lines.index(next(line for line in lines if line.startswith(b"-> hpke-p256 " + role)))
        return b"\n".join(lines[:i] + lines[i + 4:])
    return mutate


def _insert_before_mac(extra: bytes):
    return lambda h: h.replace(b"\n--- ", b"\n" + extra + b"--- ")


def _pad_commit(h: bytes) -> bytes:
    lines = h.split(b"\n")
    i = next(i for i, line in enumerate(lines) if line.startswith(b"commit "))
    lines[i] += b"="
    return b"\n".join(lines)


def _copy_escrow_stanza(h: bytes, kid: str) -> bytes:
    lines = h.split(b"\n")
    i = next(i for i, line in enumerate(lines) if line.startswith(b"-> hpke-p256 escrow "))
    return b"\n".join([f"-> hpke-p256 escrow {kid}".encode()] + lines[i + 1:i + 4]) + b"\n"


def _rewrap_first_body(h: bytes) -> bytes:
    lines = h.split(b"\n")
    body = lines[8] + lines[9] + lines[10]
    lines[8:11] = [body[:60], body[60:120], body[120:]]
    return b"\n".join(lines)


MALFORMED = {
    "unknown version": lambda h: h.replace(b"tender-envelope/v1", b"tender-envelope/v2"),
    "age file": lambda h: h.replace(b"tender-envelope/v1", b"age-encryption.org/v1"),
    "CRLF line ends": lambda h: h.replace(b"\n", b"\r\n"),
    "missing lot line": lambda h: h.replace(b"\nlot 2\n", b"\n"),
    "empty line": _replace_line(b"lot ", b""),
    "reordered lines": lambda h: h.replace(b"tender ZB-2026-0001\nlot 2\n", b"lot 2\ntender ZB-2026-0001\n"),
    "id with a space": _replace_line(b"bidder ", b"bidder alice smith"),
    "empty id": _replace_line(b"bidder ", b"bidder "),
    "id of 65 characters": _replace_line(b"tender ", b"tender " + b"x" * 65),
    "non-ASCII id": _replace_line(b"tender ", "tender 招标".encode()),
    "trailing space": _replace_line(b"lot ", b"lot 2 "),
    "chunk too small": _replace_line(b"chunk ", b"chunk 63"),
    "chunk too large": _replace_line(b"chunk ", b"chunk 16777217"),
    "chunk with a leading zero": _replace_line(b"chunk ", b"chunk 064"),
    "chunk not decimal": _replace_line(b"chunk ", b"chunk 0x40"),
    "short nonce": _replace_line(b"nonce ", b"nonce AAAAAAAAAAAAAAAAAAAA"),
    "padded commitment": _pad_commit,
    "unknown stanza type": lambda h: h.replace(b"-> hpke-p256 escrow", b"-> x25519 escrow"),
    "unknown role": lambda h: h.replace(b"-> hpke-p256 escrow", b"-> hpke-p256 host"),
    "upper-case key id": _replace_line(b"-> hpke-p256 escrow", b"-> hpke-p256 escrow ABCDEF0123456789"),
    "stanza body rewrapped": _rewrap_first_body,
    "enc not on the curve": _insert_before_mac(_stanza("escrow", b"\x04" + bytes(64) + bytes(48))),
    "stanza body too short": _insert_before_mac(_stanza("escrow", b"\x04" + bytes(111))),
    "only an escrow stanza": _drop_stanza(b"bidder"),
    "no stanza": lambda h: _drop_stanza(b"escrow")(_drop_stanza(b"bidder")(h)),
    "duplicate key id": lambda h: _insert_before_mac(b"\n".join(h.split(b"\n")[7:11]) + b"\n")(h),
    "nine stanzas": lambda h: _insert_before_mac(b"".join(_copy_escrow_stanza(h, f"{i:016x}")
                                                          for i in range(7)))(h),
    "MAC missing": lambda h: h[:h.index(b"--- ")],
    "MAC too short": lambda h: h[:-5] + b"\n",
    "header over 4 KiB": lambda h: h.replace(b"\n--- ", b"\n" + b"x" * 4096 + b"\n--- "),
    "empty file": lambda h: b"",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_read_header_rejects_a_malformed_header(name):
    header = _valid_header()
    bad = MALFORMED[name](header)
    assert bad != header
    with pytest.raises(InvalidEnvelope):
        read_header(io.BytesIO(bad + b"payload"))


def test_a_header_with_an_enc_not_on_the_curve_is_rejected_before_any_key_is_used():
    bad = _valid_header()
    lines = bad.split(b"\n")
    lines[8:11] = _stanza("bidder", b"\x04" + b"\x01" * 64 + bytes(48)).split(b"\n")[1:4]
    with pytest.raises(InvalidEnvelope):
        read_header(io.BytesIO(b"\n".join(lines)))


# --- keys ---------------------------------------------------------------------------------------

def test_the_bidder_and_the_escrow_unwrap_the_same_file_key():
    header = header_of(alice_envelope(b"bid", escrow=True))
    file_key = unwrap_file_key(header, ALICE, role="bidder")
    assert unwrap_file_key(header, ESCROW, role="escrow") == file_key
    assert verify_file_key(header, file_key) is None


def test_bobs_key_does_not_open_alices_envelope():
    header = header_of(alice_envelope(b"alice's bid", escrow=True))
    with pytest.raises(InvalidEnvelope):
        unwrap_file_key(header, BOB)


def test_a_key_is_not_accepted_under_another_role():
    header = header_of(alice_envelope(b"bid", escrow=True))
    with pytest.raises(InvalidEnvelope):
        unwrap_file_key(header, ESCROW, role="bidder")
    with pytest.raises(InvalidEnvelope):
        unwrap_file_key(header, ALICE, role="escrow")


@pytest.mark.parametrize("wrong", [os.urandom(32), bytes(32), b"", os.urandom(31), os.urandom(33)])
def test_a_wrong_file_key_is_rejected_before_any_plaintext(wrong):
    data = alice_envelope(b"secret price " * 20)
    header = header_of(data)
    with pytest.raises(InvalidEnvelope):
        verify_file_key(header, wrong)
    sink = io.BytesIO()
    with pytest.raises(InvalidEnvelope):
        open_envelope(io.BytesIO(data), sink, file_key=wrong)
    assert sink.getvalue() == b""


def test_a_file_key_one_bit_off_is_rejected():
    data = alice_envelope(b"bid")
    key = bytearray(unwrap_file_key(header_of(data), ALICE))
    key[31] ^= 1
    with pytest.raises(InvalidEnvelope):
        open_bytes(data, file_key=bytes(key))


def test_open_checks_the_expected_binding():
    data = alice_envelope(b"bid")
    key = unwrap_file_key(header_of(data), ALICE)
    assert open_bytes(data, file_key=key, expected=BINDING) == b"bid"
    for other in (Binding("ZB-2026-0002", "2", "alice"), Binding("ZB-2026-0001", "3", "alice"),
                  Binding("ZB-2026-0001", "2", "bob")):
        with pytest.raises(InvalidEnvelope):
            open_bytes(data, file_key=key, expected=other)


def test_misuse_raises_value_errors_before_anything_is_written():
    bidder = Recipient("bidder", ALICE.public_key())
    cases = [
        dict(IDS, recipients=[]),
        dict(IDS, recipients=[Recipient("escrow", ESCROW.public_key())]),
        dict(IDS, recipients=[bidder, Recipient("escrow", ALICE.public_key())]),
        dict(IDS, recipients=[bidder] + [Recipient("escrow", keys.generate_bidder_key().public_key())
                                         for _ in range(8)]),
        dict(IDS, recipients=[bidder], chunk_size=63),
        dict(IDS, recipients=[bidder], chunk_size=(16 << 20) + 1),
        dict(IDS, tender_id="", recipients=[bidder]),
        dict(IDS, bidder_id="alice smith", recipients=[bidder]),
        dict(IDS, lot_id="标段一", recipients=[bidder]),
        dict(IDS, lot_id="x" * 65, recipients=[bidder]),
    ]
    for kwargs in cases:
        out = io.BytesIO()
        with pytest.raises(ValueError):
            seal(io.BytesIO(b"bid"), out, **kwargs)
        assert out.getvalue() == b"", kwargs


def test_recipients_and_private_keys_are_validated():
    from cryptography.hazmat.primitives.asymmetric import ec
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ValueError):
        Recipient("host", ALICE.public_key())
    with pytest.raises(ValueError):
        Recipient("bidder", p384.public_key())
    with pytest.raises(ValueError):
        Recipient("bidder", b"\x04" + bytes(64))  # not on the curve
    assert Recipient("bidder", keys.public_key_to_bytes(ALICE.public_key())).key_id == \
        keys.key_id(ALICE.public_key())
    header = header_of(alice_envelope(b"bid"))
    with pytest.raises(ValueError):
        unwrap_file_key(header, p384)
    with pytest.raises(ValueError):
        unwrap_file_key(header, ALICE, role="host")


def test_public_key_encoding_and_key_ids():
    raw = keys.public_key_to_bytes(ALICE.public_key())
    assert len(raw) == 65 and raw[0] == 4
    assert keys.public_key_to_bytes(keys.load_public_key_bytes(raw)) == raw
    assert keys.key_id(ALICE.public_key()) == hashlib.sha256(raw).hexdigest()[:16]
    compressed = bytes([2 + (raw[-1] & 1)]) + raw[1:33]
    for bad in (compressed, raw[:-1], b"\x05" + raw[1:], b"\x04" + bytes(64)):
        with pytest.raises(ValueError):
            keys.load_public_key_bytes(bad)


def test_base64_is_canonical_and_unpadded():
    assert keys.b64decode(keys.b64encode(b"\xff" * 32), 32) == b"\xff" * 32
    for bad in ("AA==", "AB", "A", "A*AA", "YWJj\n", "////"[:3] + "/=", "ĀĀ"):
        with pytest.raises(ValueError):
            keys.b64decode(bad)
    with pytest.raises(ValueError):
        keys.b64decode("AAAA", 4)


# --- the key file (docs/envelope.md, Appendix A) -----------------------------------------------------

def test_a_key_file_round_trips_and_names_its_key_without_the_password():
    data = keys.private_key_to_file(ALICE, "正确 horse".encode(), iterations=100_000)
    doc = json.loads(data)
    assert doc["format"] == "tender-key/v1" and doc["iterations"] == 100_000
    assert keys.read_key_file_public(data)[0] == keys.key_id(ALICE.public_key())
    loaded = keys.load_private_key_file(data, "正确 horse".encode())
    assert keys.private_key_to_scalar(loaded) == keys.private_key_to_scalar(ALICE)


def test_a_key_file_with_the_wrong_password_says_so():
    data = keys.private_key_to_file(ALICE, b"right", iterations=100_000)
    with pytest.raises(keys.WrongPassword):
        keys.load_private_key_file(data, b"wrong")


def _edit_key_file(data: bytes, **changes) -> bytes:
    doc = json.loads(data)
    doc.update(changes)
    return json.dumps({k: v for k, v in doc.items() if v is not None}).encode()


def test_a_malformed_key_file_is_refused():
    data = keys.private_key_to_file(ALICE, b"pw", iterations=100_000)
    bob_public = keys.b64encode(keys.public_key_to_bytes(BOB.public_key()))
    bad_files = [
        b"not json", b"[]", data[:-20],
        _edit_key_file(data, format="tender-key/v2"),
        _edit_key_file(data, kdf="scrypt"),
        _edit_key_file(data, curve="P-384"),
        _edit_key_file(data, iterations=1000),
        _edit_key_file(data, iterations=10_000_001),
        _edit_key_file(data, iterations="600000"),
        _edit_key_file(data, comment="extra member"),
        _edit_key_file(data, salt=None),
        _edit_key_file(data, salt=keys.b64encode(bytes(15))),
        _edit_key_file(data, key_id="0" * 16),
        _edit_key_file(data, public_key=bob_public, key_id=keys.key_id(BOB.public_key())),
    ]
    for bad in bad_files:
        with pytest.raises(keys.InvalidKeyFile):
            keys.load_private_key_file(bad, b"pw")
    with pytest.raises(ValueError):
        keys.private_key_to_file(ALICE, b"", iterations=100_000)
    with pytest.raises(ValueError):
        keys.private_key_to_file(ALICE, b"pw", iterations=99_999)


# --- checked-in vectors --------------------------------------------------------------------------

INDEX = json.loads((VECTORS / "index.json").read_text(encoding="utf-8"))
VECTOR_KEYS = {name: keys.private_key_from_scalar(bytes.fromhex(k["scalar"]))
               for name, k in INDEX["keys"].items()}
BY_NAME = {v["name"]: v for v in INDEX["vectors"]}


def _base(vector: dict) -> dict:
    return BY_NAME[vector["base"]] if "base" in vector else vector


@pytest.mark.parametrize("vector", INDEX["vectors"], ids=lambda v: v["name"])
def test_vector(vector):
    data = (VECTORS / vector["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == vector["envelope_sha256"]
    base = _base(vector)
    file_key = bytes.fromhex(base["file_key"])
    expect = vector["expect"]
    if expect == "header":
        with pytest.raises(InvalidEnvelope):
            header_of(data)
        return
    header = header_of(data)
    if expect == "key":
        with pytest.raises(InvalidEnvelope):
            verify_file_key(header, file_key)
        with pytest.raises(InvalidEnvelope):
            unwrap_file_key(header, VECTOR_KEYS["bidder"])
        return
    assert unwrap_file_key(header, VECTOR_KEYS["bidder"], role="bidder") == file_key
    with pytest.raises(InvalidEnvelope):
        unwrap_file_key(header, VECTOR_KEYS["stranger"])
    if expect == "payload":
        with pytest.raises(InvalidEnvelope):
            open_bytes(data, file_key=file_key)
        return
    binding = Binding(vector["tender"], vector["lot"], vector["bidder"])
    assert (header.binding, header.chunk_size) == (binding, vector["chunk_size"])
    assert header.commitment_b64 == vector["commitment"]
    assert header.nonce.hex() == vector["nonce"]
    for role in vector["recipients"]:
        assert unwrap_file_key(header, VECTOR_KEYS[role], role=role) == file_key
    plaintext = open_bytes(data, file_key=file_key, expected=binding)
    assert plaintext == bytes.fromhex(vector["plaintext"])
    assert hashlib.sha256(plaintext).hexdigest() == vector["plaintext_sha256"]
    if expect == "salamander":
        attacker_key = bytes.fromhex(vector["attacker_file_key"])
        with pytest.raises(InvalidEnvelope):
            verify_file_key(header, attacker_key)
        with pytest.raises(InvalidEnvelope):
            open_bytes(data, file_key=attacker_key)
    else:
        assert expect == "ok"


def test_the_generator_reproduces_the_checked_in_vectors_byte_for_byte():
    files, index = gen.build()
    assert sorted(files) == sorted(p.name for p in VECTORS.glob("*.tenv"))
    for name, data in files.items():
        assert (VECTORS / name).read_bytes() == data, name
    assert index == INDEX


def test_the_reference_hpke_opens_what_the_library_wraps():
    # The browser implements HPKE from the spec on WebCrypto; the generator's reference does the
    # same in Python. Vectors show library-opens-reference; this shows reference-opens-library.
    header = header_of(alice_envelope(b"bid", escrow=True))
    file_key = unwrap_file_key(header, ALICE)
    for stanza, key in zip(header.stanzas, (ALICE, ESCROW)):
        assert gen.hpke_open_base(stanza.body, key, header.binding.hpke_info(stanza.role)) == file_key


# --- memory ----------------------------------------------------------------------------------------

class _Pattern:
    """64 MiB of deterministic bytes without holding them: a reader with ``readinto``."""

    BLOCK = bytes(range(256)) * 4096  # 1 MiB; byte i of the stream is i % 256
    RING = memoryview(BLOCK * 2)  # built before tracing starts; slices of it copy nothing

    def __init__(self, size: int):
        self.pos, self.size = 0, size

    def readinto(self, view) -> int:
        n = min(len(view), self.size - self.pos, len(self.BLOCK))
        start = self.pos % 256
        view[:n] = self.RING[start:start + n]
        self.pos += n
        return n


class _Spool:
    """Keeps the envelope on disk (not in traced memory) and hashes what it is given."""

    def __init__(self, f):
        self.f, self.sha = f, hashlib.sha256()

    def write(self, b) -> int:
        self.sha.update(b)
        return self.f.write(b)


def test_sealing_and_opening_64_mib_keeps_memory_bounded(tmp_path):
    size, chunk = 64 << 20, DEFAULT_CHUNK_SIZE
    expected = hashlib.sha256()
    for _ in range(size // len(_Pattern.BLOCK)):
        expected.update(_Pattern.BLOCK)
    path = tmp_path / "bid.tenv"
    tracemalloc.start()
    try:
        with open(path, "wb") as f:
            seal(_Pattern(size), _Spool(f), **IDS, recipients=[Recipient("bidder", ALICE.public_key())])
        _, seal_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with open(path, "rb") as f:
            header = read_header(f)
            file_key = unwrap_file_key(header, ALICE)
            f.seek(0)
            sink = _Spool(open(os.devnull, "wb"))
            result = open_envelope(f, sink, file_key=file_key)
            sink.f.close()
        _, open_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.payload_size == size
    assert sink.sha.digest() == expected.digest()
    assert seal_peak < 3 * chunk, seal_peak
    assert open_peak < 3 * chunk, open_peak
