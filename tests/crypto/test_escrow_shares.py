"""tender-envelope/v2: the bidder's sealer splits the file key k-of-n among the tender's custodians
(Shamir's scheme), each share wrapped to one custodian's own key, bound to this one envelope. v2 is
no longer the default sealing (v3 is: tests/crypto/test_escrow_replicated.py); it still reads and
recovers, and sealbid writes it for a tender with more than 7 custodians."""

import os

import pytest

from crypto import envelope, escrow_shares, keys, shamir
from crypto.envelope import InvalidEnvelope
from tests.crypto.escrow_envelopes import (IDS, check_a_share_moved_to_another_envelope_does_not_open,
                                           check_a_share_relabelled_to_another_custodian_does_not_open,
                                           check_any_k_custodians_recover_and_k_minus_one_do_not, seal)
from tests.crypto.escrow_envelopes import custodians as _custodians
from tests.crypto.escrow_envelopes import header as _header

V2 = {"version": envelope.FORMAT_V2}  # v3 is the default: v2 is asked for


def _seal(plaintext=b"price 123456 fen", k=3, n=5, custodians=None, **ids):
    return seal(plaintext, k, n, custodians, options=V2, **ids)


def test_any_k_custodians_recover_and_k_minus_one_do_not():
    _, shares = check_any_k_custodians_recover_and_k_minus_one_do_not("tender-envelope/v2", V2)
    assert [s.index for s in shares] == [1, 2, 3, 4, 5]


def test_k_minus_one_shares_with_a_guessed_one_do_not_open():
    env, _, private = _seal(k=2, n=3)
    header = _header(env)
    one = escrow_shares.unwrap_share(header, private[0])
    for _ in range(20):
        guess = shamir.Share(2, os.urandom(32))
        with pytest.raises(InvalidEnvelope):
            escrow_shares.recover_file_key(header, [one, guess])


def test_a_wrong_share_among_more_than_k_does_not_block_recovery():
    env, bidder, private = _seal(k=2, n=4)
    header = _header(env)
    shares = [escrow_shares.unwrap_share(header, p) for p in private]
    bad = shamir.Share(1, os.urandom(32))
    assert escrow_shares.recover_file_key(header, [bad] + shares[1:3]) == \
        envelope.unwrap_file_key(header, bidder)
    with pytest.raises(InvalidEnvelope):  # one index twice
        escrow_shares.recover_file_key(header, [shares[0], shares[0]])


def test_a_share_moved_to_another_envelope_does_not_open():
    check_a_share_moved_to_another_envelope_does_not_open(V2)


def test_a_share_relabelled_to_another_index_does_not_open():
    check_a_share_relabelled_to_another_custodian_does_not_open(V2)


def test_a_stranger_and_the_bidder_hold_no_share():
    env, bidder, _ = _seal(k=2, n=3)
    for key in (keys.generate_bidder_key(), bidder):
        with pytest.raises(InvalidEnvelope):
            escrow_shares.unwrap_share(_header(env), key)


@pytest.mark.parametrize("mutate", [
    lambda h: h.replace(b"-> hpke-p256-share 2 2 3", b"-> hpke-p256-share 2 2 4"),   # count differs
    lambda h: h.replace(b"-> hpke-p256-share 2 2 3", b"-> hpke-p256-share 2 3 3"),   # threshold differs
    lambda h: h.replace(b"-> hpke-p256-share 2 2 3", b"-> hpke-p256-share 02 2 3"),  # leading zero
    lambda h: h.replace(b"-> hpke-p256-share 1 2 3", b"-> hpke-p256-share 3 2 3"),   # index twice
    lambda h: h.replace(b"tender-envelope/v2", b"tender-envelope/v1"),              # share in v1
    lambda h: h.replace(b"tender-envelope/v2", b"tender-envelope/v3"),              # v2 shares under v3
])
def test_malformed_share_sets_are_refused_without_a_key(mutate):
    env, _, _ = _seal(k=2, n=3)
    with pytest.raises(InvalidEnvelope):
        _header(mutate(env))


def test_a_v2_header_without_shares_and_a_share_before_a_recipient_are_refused():
    env, _, _ = _seal(k=2, n=2)
    text = env[:_header(env).size]
    lines = text.split(b"\n")
    starts = [i for i, x in enumerate(lines) if x.startswith(b"-> ")]
    no_shares = lines[:starts[1]] + lines[-2:]  # keep the bidder stanza and the MAC line
    with pytest.raises(InvalidEnvelope):
        _header(b"\n".join(no_shares) + b"\n")
    reordered = lines[:starts[0]] + lines[starts[1]:starts[2]] + lines[starts[0]:starts[1]] + lines[starts[2]:]
    with pytest.raises(InvalidEnvelope):
        _header(b"\n".join(reordered))


def test_the_sealer_refuses_splits_that_are_no_split():
    bidder = keys.generate_bidder_key()
    _, cs = _custodians(3)
    base = dict(IDS, recipients=[envelope.Recipient("bidder", bidder.public_key())])
    for custodians, k in ((cs, 1), (cs, 4), (cs[:1], 1), ([cs[1], cs[0], cs[2]], 2),
                          ([cs[0], escrow_shares.Custodian(2, cs[0].public_key)], 2)):
        for version in (envelope.FORMAT_V2, envelope.FORMAT_V3):
            with pytest.raises(ValueError):
                envelope.seal_bytes(b"x", **base, custodians=custodians, threshold=k, version=version)
    for version, custodians in ((envelope.FORMAT, cs), (envelope.FORMAT_V2, ()), (envelope.FORMAT_V3, ()),
                                ("tender-envelope/v4", cs)):
        with pytest.raises(ValueError):  # shares in v2 and v3 only, and there always
            envelope.seal_bytes(b"x", **base, custodians=custodians, threshold=2 if custodians else None,
                                version=version)
    escrow = keys.generate_bidder_key()
    with pytest.raises(ValueError):  # one backup mechanism per version
        envelope.seal_bytes(b"x", **dict(IDS, recipients=[envelope.Recipient("bidder", bidder.public_key()),
                                                          envelope.Recipient("escrow", escrow.public_key())]),
                            custodians=cs, threshold=2)
    with pytest.raises(ValueError):  # the bidder is not its own custodian
        envelope.seal_bytes(b"x", **base, custodians=[escrow_shares.Custodian(1, bidder.public_key()),
                                                      cs[1]], threshold=2)


def test_the_largest_share_set_fits_the_header_limit():
    bidders = [envelope.Recipient("bidder", keys.generate_bidder_key().public_key()) for _ in range(8)]
    _, cs = _custodians(envelope.MAX_CUSTODIANS)
    env = envelope.seal_bytes(b"x", **dict(IDS, tender_id="T" * 64, lot_id="L" * 64, bidder_id="B" * 64),
                              recipients=bidders, custodians=cs, threshold=envelope.MAX_CUSTODIANS,
                              version=envelope.FORMAT_V2)
    assert _header(env).size < envelope.MAX_HEADER_SIZE


def test_a_v1_envelope_with_an_escrow_key_still_opens():
    bidder, escrow = keys.generate_bidder_key(), keys.generate_bidder_key()
    env = envelope.seal_bytes(b"old", **IDS, recipients=[envelope.Recipient("bidder", bidder.public_key()),
                                                         envelope.Recipient("escrow", escrow.public_key())])
    header = _header(env)
    assert header.version == "tender-envelope/v1" and header.shares == ()
    key = envelope.unwrap_file_key(header, escrow, role="escrow")
    assert envelope.open_bytes(env, file_key=key) == b"old"
    with pytest.raises(InvalidEnvelope):
        escrow_shares.recover_file_key(header, [])


def test_api_base64_takes_padded_and_unpadded_but_only_canonical():
    value = os.urandom(32)
    unpadded = keys.b64encode(value)
    assert keys.b64decode_lenient(unpadded, 32) == value
    assert keys.b64decode_lenient(unpadded + "=", 32) == value
    for bad in (unpadded + "==", unpadded[:-1] + "B=" if unpadded[-1] != "B" else unpadded[:-1] + "C=",
                unpadded + "=" * 4, "=" + unpadded, unpadded[:-2] + "=", unpadded + " "):
        with pytest.raises(ValueError):
            keys.b64decode_lenient(bad, 32)
    with pytest.raises(ValueError):  # the header's decoder stays strict
        keys.b64decode(unpadded + "=", 32)
