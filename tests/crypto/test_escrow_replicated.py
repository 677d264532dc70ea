"""tender-envelope/v3: the file key split k-of-n among the tender's custodians by replicated XOR
sharing (crypto.replicated), each custodian's parts wrapped to its own key and bound to this one
envelope; v2 readers' rules do not let it pass as v2, and v2 still reads."""

import itertools
import math
import os

import pytest

from crypto import envelope, escrow_shares, keys, replicated
from crypto.envelope import InvalidEnvelope
from tests.crypto.escrow_envelopes import (IDS, check_a_share_moved_to_another_envelope_does_not_open,
                                           check_a_share_relabelled_to_another_custodian_does_not_open,
                                           check_any_k_custodians_recover_and_k_minus_one_do_not, seal)
from tests.crypto.escrow_envelopes import custodians as _custodians
from tests.crypto.escrow_envelopes import header as _header
from tests.crypto.escrow_envelopes import stanza_at as _stanza_at

_seal = seal  # v3 is the sealer's default: no options


# --- the sharing itself ---------------------------------------------------------------------------

@pytest.mark.parametrize("k,n", [(k, n) for n in range(2, 8) for k in range(2, n + 1)])
def test_any_k_of_the_parts_give_the_secret_and_each_share_has_its_size(k, n):
    secret = os.urandom(32)
    shares = replicated.split(secret, k, n)
    assert [len(s) for s in shares] == [math.comb(n - 1, k - 1) * 32] * n == [replicated.share_size(k, n)] * n
    for subset in itertools.combinations(range(1, n + 1), k):
        assert replicated.combine({i: shares[i - 1] for i in subset}, k, n) == secret
    for subset in itertools.combinations(range(1, n + 1), k - 1):
        with pytest.raises(ValueError):
            replicated.combine({i: shares[i - 1] for i in subset}, k, n)


@pytest.mark.parametrize("k,n", [(2, 3), (3, 5), (4, 7), (2, 7), (7, 7)])
def test_k_minus_one_custodians_hold_nothing_that_depends_on_the_key(k, n):
    """Perfect secrecy, shown constructively: for every coalition of k - 1 custodians and ANY other
    key, there is a full set of shares that gives the coalition exactly the parts it holds and
    makes that other key. So what k - 1 hold is consistent with every key alike."""
    secret, other = os.urandom(32), os.urandom(32)
    shares = replicated.split(secret, k, n)
    all_subsets = replicated.subsets(k, n)
    for coalition in itertools.combinations(range(1, n + 1), k - 1):
        forged = [bytearray(s) for s in shares]
        for subset in all_subsets:
            outsider = next(i for i in subset if i not in coalition)  # every subset has one
            at = [s for s in all_subsets if outsider in s].index(subset) * 32
            fix = bytes(a ^ b ^ c for a, b, c in zip(forged[outsider - 1][at:at + 32], secret, other))
            forged[outsider - 1][at:at + 32] = fix
        assert all(bytes(forged[i - 1]) == shares[i - 1] for i in coalition)
        for subset in all_subsets:
            assert replicated.combine({i: bytes(forged[i - 1]) for i in subset}, k, n) == other


def test_the_split_is_fresh_each_time_and_bounded():
    secret = os.urandom(32)
    assert replicated.split(secret, 2, 3) != replicated.split(secret, 2, 3)
    for k, n in ((1, 3), (4, 3), (2, 8), (2, 1), (True, 3)):
        with pytest.raises(ValueError):
            replicated.split(secret, k, n)
    with pytest.raises(ValueError):
        replicated.split(secret[:31], 2, 3)
    shares = replicated.split(secret, 2, 3)
    with pytest.raises(ValueError):  # a share of the wrong size
        replicated.combine({1: shares[0], 2: shares[1][:-1]}, 2, 3)
    with pytest.raises(ValueError):  # an index outside 1..n
        replicated.combine({1: shares[0], 4: shares[1]}, 2, 3)


# --- in the envelope ------------------------------------------------------------------------------

def test_any_k_custodians_recover_and_k_minus_one_do_not():
    header, shares = check_any_k_custodians_recover_and_k_minus_one_do_not("tender-envelope/v3")
    assert b"-> hpke-p256-rss 1 3 5 " in header.raw and b"hpke-p256-share" not in header.raw
    assert [len(s.value) for s in shares] == [6 * 32] * 5 and escrow_shares.share_size(header) == 192


def test_a_wrong_or_guessed_share_does_not_open_and_does_not_block_the_others():
    env, bidder, private = _seal(k=2, n=4)
    header = _header(env)
    shares = [escrow_shares.unwrap_share(header, p) for p in private]
    size = escrow_shares.share_size(header)
    for _ in range(20):
        with pytest.raises(InvalidEnvelope):
            escrow_shares.recover_file_key(header, [shares[0], escrow_shares.Share(2, os.urandom(size))])
    bad = escrow_shares.Share(1, os.urandom(size))
    assert escrow_shares.recover_file_key(header, [bad] + shares[1:3]) == envelope.unwrap_file_key(header, bidder)
    with pytest.raises(InvalidEnvelope):  # a v2-sized share is refused before anything is combined
        escrow_shares.recover_file_key(header, [shares[0], escrow_shares.Share(2, os.urandom(32))])


def test_a_share_moved_to_another_envelope_does_not_open():
    check_a_share_moved_to_another_envelope_does_not_open()


def test_a_share_relabelled_to_another_custodian_does_not_open():
    check_a_share_relabelled_to_another_custodian_does_not_open()


@pytest.mark.parametrize("mutate", [
    lambda h: h.replace(b"tender-envelope/v3", b"tender-envelope/v2"),                # v3 stanzas read as v2
    lambda h: h.replace(b"tender-envelope/v3", b"tender-envelope/v1"),
    lambda h: h.replace(b"-> hpke-p256-rss", b"-> hpke-p256-share"),                  # v2 stanzas in v3
    lambda h: h.replace(b"-> hpke-p256-rss 2 2 3", b"-> hpke-p256-rss 2 2 4"),        # count differs
    lambda h: h.replace(b"-> hpke-p256-rss 2 2 3", b"-> hpke-p256-rss 2 3 3"),        # threshold: body size
    lambda h: h.replace(b"-> hpke-p256-rss 1 2 3", b"-> hpke-p256-rss 3 2 3"),        # index twice
    lambda h: h.replace(b"-> hpke-p256-rss 1 2 3", b"-> hpke-p256-rss 4 2 3"),        # index beyond n
    lambda h: h.replace(b"-> hpke-p256-rss 2 2 3", b"-> hpke-p256-rss 02 2 3"),       # leading zero
    lambda h: h.replace(b"-> hpke-p256 bidder", b"-> hpke-p256 escrow"),              # no escrow in v3
], ids=["as-v2", "as-v1", "v2-stanza", "count", "threshold", "index-twice", "index-beyond", "leading-zero",
        "escrow"])
def test_malformed_share_sets_are_refused_without_a_key(mutate):
    env, _, _ = _seal(k=2, n=3)
    with pytest.raises(InvalidEnvelope):
        _header(mutate(env))


def test_a_v2_sealed_bid_still_reads_and_recovers_beside_v3():
    private, public = _custodians(3)
    bidder = keys.generate_bidder_key()
    env = envelope.seal_bytes(b"old", **IDS, recipients=[envelope.Recipient("bidder", bidder.public_key())],
                              custodians=public, threshold=2, version=envelope.FORMAT_V2)
    header = _header(env)
    assert header.version == "tender-envelope/v2" and escrow_shares.share_size(header) == 32
    shares = [escrow_shares.unwrap_share(header, p) for p in private[:2]]
    assert escrow_shares.recover_file_key(header, shares) == envelope.unwrap_file_key(header, bidder)


def test_the_version_follows_the_number_of_custodians():
    assert escrow_shares.version_for(7) == "tender-envelope/v3"
    assert escrow_shares.version_for(8) == "tender-envelope/v2"
    bidder = envelope.Recipient("bidder", keys.generate_bidder_key().public_key())
    _, eight = _custodians(8)
    env = envelope.seal_bytes(b"x", **IDS, recipients=[bidder], custodians=eight, threshold=5)
    assert _header(env).version == "tender-envelope/v2"
    with pytest.raises(ValueError):  # v3 holds at most 7
        envelope.seal_bytes(b"x", **IDS, recipients=[bidder], custodians=eight, threshold=5,
                            version=envelope.FORMAT_V3)


def test_the_largest_v3_header_fits_its_limit():
    bidders = [envelope.Recipient("bidder", keys.generate_bidder_key().public_key()) for _ in range(8)]
    _, cs = _custodians(7)
    long_ids = dict(tender_id="T" * 64, lot_id="L" * 64, bidder_id="B" * 64)
    sizes = {k: _header(envelope.seal_bytes(b"x", **long_ids, recipients=bidders, custodians=cs, threshold=k,
                                            chunk_size=16_777_216)).size for k in range(2, 8)}
    assert max(sizes, key=sizes.get) == 4 and sizes[4] == 9029 < envelope.MAX_HEADER_SIZE_V3
    assert sizes[4] > envelope.MAX_HEADER_SIZE  # larger than v1 and v2 allow, which stay at 4096
    env = envelope.seal_bytes(b"x", **long_ids, recipients=bidders, custodians=cs, threshold=4)
    with pytest.raises(InvalidEnvelope):  # and no v2 reading of it
        _header(env.replace(b"tender-envelope/v3", b"tender-envelope/v2", 1))


def test_a_share_body_cut_at_other_columns_or_lengths_is_refused():
    env, _, _ = _seal(k=2, n=3)
    lines, at, end = _stanza_at(env, 1)
    body = b"".join(lines[at + 1:end])
    assert [len(x) for x in lines[at + 1:end]] == [64, 64, 64, 2]  # 65 + 64 + 16 bytes: 194 characters
    for cut in (63, 65, 194):
        rewrapped = lines[:at + 1] + [body[i:i + cut] for i in range(0, len(body), cut)] + lines[end:]
        with pytest.raises(InvalidEnvelope):
            _header(b"\n".join(rewrapped) + env[_header(env).size:])
    for extra in (b"A", b""):  # one character more, or an empty line before the next stanza
        longer = lines[:end - 1] + [lines[end - 1] + extra] + ([b""] if not extra else []) + lines[end:]
        with pytest.raises(InvalidEnvelope):
            _header(b"\n".join(longer))
