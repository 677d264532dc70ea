"""The checked-in tender-envelope/v3 vector: reproduced byte for byte, and every step checked with
independent code (RFC 9180 on ECDH + HMAC + AES-GCM; the replicated XOR sharing as
docs/envelope.md, Appendix C, defines it). The checks v2's vector passes the same way are in
escrow_vectors.py."""

import itertools

import pytest

from crypto import envelope, escrow_shares, replicated
from tests.crypto.escrow_vectors import (check_each_custodian_unwraps,
                                         check_the_bidder_opens_it_and_a_stranger_opens_nothing,
                                         check_the_generator_reproduces_it, load)

VECTOR = load("v3")
INDEX, gen = VECTOR.index, VECTOR.gen
K, N = INDEX["threshold"], INDEX["count"]


def test_the_generator_reproduces_the_checked_in_vector():
    check_the_generator_reproduces_it(VECTOR)


def test_the_reference_split_draws_its_parts_as_the_spec_does():
    draws = [bytes.fromhex(d) for d in INDEX["random_parts"]]
    shares = replicated.split(bytes.fromhex(INDEX["file_key"]), K, N, random=lambda n: draws.pop(0))
    assert not draws and [s.hex() for s in shares] == [s["share"] for s in INDEX["shares"]]


def test_each_custodian_unwraps_the_share_the_spec_computes():
    header = VECTOR.header()
    assert (header.version, header.threshold, len(header.shares)) == ("tender-envelope/v3", K, N)
    file_key = bytes.fromhex(INDEX["file_key"])
    for subset in INDEX["subsets"]:  # each subset's parts XOR to the key
        assert gen.xor(*(bytes.fromhex(p) for p in subset["parts"])) == file_key
    check_each_custodian_unwraps(VECTOR, header, [bytes.fromhex(s["share"]) for s in INDEX["shares"]])
    shares = {s["index"]: bytes.fromhex(s["share"]) for s in INDEX["shares"]}
    for subset in itertools.combinations(shares, K):
        given = {i: shares[i] for i in subset}
        assert gen.rss_combine(given, K, N) == file_key
        assert escrow_shares.recover_file_key(header, [escrow_shares.Share(i, v) for i, v in given.items()]) == file_key
    for subset in itertools.combinations(shares, K - 1):
        with pytest.raises(envelope.InvalidEnvelope):
            escrow_shares.recover_file_key(header, [escrow_shares.Share(i, shares[i]) for i in subset])


def test_the_bidder_opens_it_and_a_stranger_opens_nothing():
    check_the_bidder_opens_it_and_a_stranger_opens_nothing(VECTOR)
