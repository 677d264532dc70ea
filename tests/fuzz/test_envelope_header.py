"""Fuzzing the envelope's readers (crypto/envelope.py): whatever the bytes — random, or a valid
envelope with bytes flipped, inserted, deleted or cut — ``read_header`` and ``open_bytes`` either
succeed or raise ``InvalidEnvelope``, never anything else (docs/envelope.md: one opaque error)."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings

from tests.conftest import IN_CI
from hypothesis import strategies as st

from crypto import envelope, keys

KEY = keys.generate_bidder_key()
VALID = envelope.seal_bytes(b"bid " * 300, tender_id="ZB-2026-1", lot_id="01",
                            bidder_id="91320100AL10000001", chunk_size=256,
                            recipients=[envelope.Recipient("bidder", KEY.public_key())])
HEADER_END = len(envelope.read_header(io.BytesIO(VALID)).raw)
FILE_KEY = envelope.unwrap_file_key(envelope.read_header(io.BytesIO(VALID)), KEY, role="bidder")
FUZZ = settings(max_examples=150, deadline=None, derandomize=IN_CI, suppress_health_check=[HealthCheck.too_slow])


def mutations():
    """Edits of the valid envelope, mostly in its header (where the parser works hardest)."""
    where = st.integers(0, len(VALID) - 1) | st.integers(0, HEADER_END)
    flip = st.tuples(st.just("flip"), where, st.integers(1, 255))
    insert = st.tuples(st.just("insert"), where, st.binary(min_size=1, max_size=40))
    delete = st.tuples(st.just("delete"), where, st.integers(1, 40))
    cut = st.tuples(st.just("cut"), where, st.just(0))
    return st.lists(flip | insert | delete | cut, min_size=1, max_size=4)


def apply(edits) -> bytes:
    data = bytearray(VALID)
    for kind, at, arg in edits:
        at = min(at, max(len(data) - 1, 0))
        if kind == "flip" and data:
            data[at] ^= arg
        elif kind == "insert":
            data[at:at] = arg
        elif kind == "delete":
            del data[at:at + arg]
        elif kind == "cut":
            del data[at:]
    return bytes(data)


def read(data: bytes):
    try:
        return envelope.read_header(io.BytesIO(data))
    except envelope.InvalidEnvelope:
        return None


@given(st.binary(max_size=4096))
@FUZZ
def test_random_bytes_are_not_an_envelope(data):
    read(data)


@given(st.lists(st.sampled_from(VALID[:HEADER_END].split(b"\n")) | st.binary(max_size=80), max_size=12))
@FUZZ
def test_header_lines_reshuffled_and_replaced(lines):
    read(b"\n".join(lines) + b"\n")


@given(mutations())
@FUZZ
def test_an_edited_envelope_reads_or_is_invalid_and_never_opens_to_other_bytes(edits):
    data = apply(edits)
    header = read(data)
    try:
        plaintext = envelope.open_bytes(data, file_key=FILE_KEY)
    except envelope.InvalidEnvelope:
        return
    # Opening succeeded: then it opened to exactly the sealed bytes, with a header that parses.
    assert plaintext == b"bid " * 300 and header is not None


CUSTODIANS = [keys.generate_bidder_key() for _ in range(4)]
VALID_V3 = envelope.seal_bytes(b"bid " * 30, tender_id="ZB-2026-1", lot_id="01", bidder_id="91320100AL10000001",
                               chunk_size=256, recipients=[envelope.Recipient("bidder", KEY.public_key())],
                               custodians=[envelope.Custodian(i + 1, c.public_key()) for i, c in enumerate(CUSTODIANS)],
                               threshold=3)
V3_END = len(envelope.read_header(io.BytesIO(VALID_V3)).raw)
FILE_KEY_V3 = envelope.unwrap_file_key(envelope.read_header(io.BytesIO(VALID_V3)), KEY, role="bidder")


@given(st.lists(st.tuples(st.integers(0, V3_END - 1), st.integers(1, 255)), min_size=1, max_size=4)
       | st.lists(st.sampled_from(VALID_V3[:V3_END].split(b"\n")) | st.binary(max_size=80), max_size=40))
@FUZZ
def test_an_edited_v3_header_reads_or_is_invalid_and_its_shares_recover_only_its_key(edits):
    """The v3 share stanzas' variable-length bodies: a flipped byte or reshuffled lines either still
    read, or are refused with InvalidEnvelope; what still reads never recovers another key."""
    from crypto import escrow_shares

    if edits and isinstance(edits[0], tuple):
        data = bytearray(VALID_V3)
        for at, bit in edits:
            data[at] ^= bit
        data = bytes(data)
    else:
        data = b"\n".join(edits) + b"\n"
    header = read(data)
    if header is None or len(header.shares) != 4:
        return
    shares = []
    for c in CUSTODIANS:
        try:
            shares.append(escrow_shares.unwrap_share(header, c))
        except envelope.InvalidEnvelope:
            pass
    try:
        key = escrow_shares.recover_file_key(header, shares)
    except envelope.InvalidEnvelope:
        return
    assert key == FILE_KEY_V3

