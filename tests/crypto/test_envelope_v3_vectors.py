"""The checked-in tender-envelope/v3 vector: reproduced byte for byte, and every step checked with
independent code (RFC 9180 on ECDH + HMAC + AES-GCM; the replicated XOR sharing as
docs/envelope.md, Appendix C, defines it)."""

import importlib.util
import io
import itertools
import json
from pathlib import Path

import pytest

from crypto import envelope, escrow_shares, keys, replicated

VECTORS = Path(__file__).parent / "vectors" / "envelope-v3"
INDEX = json.loads((VECTORS / "index.json").read_text(encoding="utf-8"))
DATA = (VECTORS / INDEX["file"]).read_bytes()
_spec = importlib.util.spec_from_file_location(
    "make_envelope_v3_vectors", Path(__file__).parent / "vectors" / "make_envelope_v3_vectors.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)
K, N = INDEX["threshold"], INDEX["count"]


def key(name):
    return keys.private_key_from_scalar(bytes.fromhex(INDEX["keys"][name]["scalar"]))


def test_the_generator_reproduces_the_checked_in_vector():
    data, index = gen.build()
    assert data == DATA and index == INDEX


def test_the_reference_split_draws_its_parts_as_the_spec_does():
    draws = [bytes.fromhex(d) for d in INDEX["random_parts"]]
    shares = replicated.split(bytes.fromhex(INDEX["file_key"]), K, N, random=lambda n: draws.pop(0))
    assert not draws and [s.hex() for s in shares] == [s["share"] for s in INDEX["shares"]]


def test_each_custodian_unwraps_the_share_the_spec_computes():
    header = envelope.read_header(io.BytesIO(DATA))
    assert (header.version, header.threshold, len(header.shares)) == ("tender-envelope/v3", K, N)
    file_key = bytes.fromhex(INDEX["file_key"])
    for subset in INDEX["subsets"]:  # each subset's parts XOR to the key
        assert gen.xor(*(bytes.fromhex(p) for p in subset["parts"])) == file_key
    for i, spec_share in enumerate(INDEX["shares"], start=1):
        custodian = key(f"custodian{i}")
        stanza = header.shares[i - 1]
        assert stanza.key_id == INDEX["keys"][f"custodian{i}"]["key_id"]
        value = bytes.fromhex(spec_share["share"])
        assert gen.v1.hpke_open_base(stanza.body, custodian, spec_share["info"].encode()) == value
        assert escrow_shares.unwrap_share(header, custodian) == escrow_shares.Share(i, value)
    shares = {s["index"]: bytes.fromhex(s["share"]) for s in INDEX["shares"]}
    for subset in itertools.combinations(shares, K):
        given = {i: shares[i] for i in subset}
        assert gen.rss_combine(given, K, N) == file_key
        assert escrow_shares.recover_file_key(header, [escrow_shares.Share(i, v) for i, v in given.items()]) == file_key
    for subset in itertools.combinations(shares, K - 1):
        with pytest.raises(envelope.InvalidEnvelope):
            escrow_shares.recover_file_key(header, [escrow_shares.Share(i, shares[i]) for i in subset])


def test_the_bidder_opens_it_and_a_stranger_opens_nothing():
    header = envelope.read_header(io.BytesIO(DATA))
    file_key = envelope.unwrap_file_key(header, key("bidder"), role="bidder")
    assert file_key.hex() == INDEX["file_key"] and header.commitment_b64 == INDEX["commitment"]
    assert envelope.open_bytes(DATA, file_key=file_key).hex() == INDEX["plaintext"]
    for unwrap in (envelope.unwrap_file_key, escrow_shares.unwrap_share):
        with pytest.raises(envelope.InvalidEnvelope):
            unwrap(header, key("stranger"))
