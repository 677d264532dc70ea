"""The checked-in tender-envelope/v2 vector: reproduced byte for byte, and every step checked with
independent code (RFC 9180 on ECDH + HMAC + AES-GCM; GF(2^128) as docs/envelope.md defines it)."""

import importlib.util
import io
import itertools
import json
from pathlib import Path

import pytest

from crypto import envelope, escrow_shares, keys, shamir

VECTORS = Path(__file__).parent / "vectors" / "envelope-v2"
INDEX = json.loads((VECTORS / "index.json").read_text(encoding="utf-8"))
DATA = (VECTORS / INDEX["file"]).read_bytes()
_spec = importlib.util.spec_from_file_location(
    "make_envelope_v2_vectors", Path(__file__).parent / "vectors" / "make_envelope_v2_vectors.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)


def key(name):
    return keys.private_key_from_scalar(bytes.fromhex(INDEX["keys"][name]["scalar"]))


def test_the_generator_reproduces_the_checked_in_vector():
    data, index = gen.build()
    assert data == DATA and index == INDEX


def test_each_custodian_unwraps_the_share_the_spec_computes():
    header = envelope.read_header(io.BytesIO(DATA))
    assert (header.version, header.threshold, len(header.shares)) == ("tender-envelope/v2", 2, 3)
    file_key = bytes.fromhex(INDEX["file_key"])
    for i, spec_share in enumerate(INDEX["shares"], start=1):
        custodian = key(f"custodian{i}")
        stanza = header.shares[i - 1]
        assert stanza.key_id == INDEX["keys"][f"custodian{i}"]["key_id"]
        # the spec's info, opened with the independent RFC 9180 code
        assert gen.v1.hpke_open_base(stanza.body, custodian, spec_share["info"].encode()) == bytes.fromhex(spec_share["y"])
        assert escrow_shares.unwrap_share(header, custodian) == escrow_shares.Share(i, bytes.fromhex(spec_share["y"]))
    # the spec's field: y_i = p(i) from the coefficients, and any k of them interpolate to the key
    coeffs = {h: [bytes.fromhex(c) for c in cs] for h, cs in INDEX["shamir_coefficients"].items()}
    for i, spec_share in enumerate(INDEX["shares"], start=1):
        assert gen.shamir_eval(file_key[:16], coeffs["low"], i) + gen.shamir_eval(file_key[16:], coeffs["high"], i) \
            == bytes.fromhex(spec_share["y"])
    for pair in itertools.combinations(INDEX["shares"], 2):
        points = [(s["index"], bytes.fromhex(s["y"])) for s in pair]
        low = gen.shamir_combine([(x, y[:16]) for x, y in points])
        high = gen.shamir_combine([(x, y[16:]) for x, y in points])
        assert low + high == file_key
        shares = [shamir.Share(x, y) for x, y in points]
        assert escrow_shares.recover_file_key(header, shares) == file_key
    for single in INDEX["shares"]:
        with pytest.raises(envelope.InvalidEnvelope):
            escrow_shares.recover_file_key(header, [shamir.Share(single["index"], bytes.fromhex(single["y"]))])


def test_the_bidder_opens_it_and_a_stranger_opens_nothing():
    header = envelope.read_header(io.BytesIO(DATA))
    file_key = envelope.unwrap_file_key(header, key("bidder"), role="bidder")
    assert file_key.hex() == INDEX["file_key"] and header.commitment_b64 == INDEX["commitment"]
    assert envelope.open_bytes(DATA, file_key=file_key).hex() == INDEX["plaintext"]
    for unwrap in (envelope.unwrap_file_key, escrow_shares.unwrap_share):
        with pytest.raises(envelope.InvalidEnvelope):
            unwrap(header, key("stranger"))
