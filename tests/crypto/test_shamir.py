"""k-of-n shares of the escrow key: any k recover, k-1 reveal nothing, bad shares are refused."""

import itertools
import os
from collections import Counter

import pytest

from crypto import keys, shamir


@pytest.mark.parametrize("k,n", [(1, 1), (1, 3), (2, 3), (3, 5), (5, 5)])
def test_any_k_shares_recover_the_secret(k, n):
    secret = os.urandom(32)
    shares = shamir.split(secret, k, n)
    assert len(shares) == n and len({s.index for s in shares}) == n
    for subset in itertools.combinations(shares, k):
        assert bytes(shamir.combine(list(subset), k)) == secret
        assert bytes(shamir.combine(list(reversed(subset)), k)) == secret


def test_fewer_than_k_duplicates_and_malformed_shares_are_refused():
    shares = shamir.split(os.urandom(32), 3, 5)
    with pytest.raises(shamir.ShareError):
        shamir.combine(shares[:2], 3)
    with pytest.raises(shamir.ShareError):
        shamir.combine([shares[0], shares[0], shares[1]], 3)
    for bad in (lambda: shamir.Share(0, bytes(32)), lambda: shamir.Share(1, bytes(31)),
                lambda: shamir.Share.from_bytes(b"\x01" * 10)):
        with pytest.raises(shamir.ShareError):
            bad()
    with pytest.raises(ValueError):
        shamir.split(os.urandom(32), 4, 3)


def test_k_minus_one_shares_reveal_nothing_statistically():
    """With k-1 = 1 share of a 2-of-3 split, the share's bytes are uniform whatever the secret:
    the byte distribution for two very different secrets is indistinguishable (chi-square)."""
    def histogram(secret: bytes) -> Counter:
        counts: Counter = Counter()
        for _ in range(400):
            counts.update(shamir.split(secret, 2, 3)[0].value[:4])
        return counts

    for secret in (bytes(32), b"\xff" * 32):
        counts = histogram(secret)
        expected = 400 * 4 / 256
        chi2 = sum((counts.get(b, 0) - expected) ** 2 / expected for b in range(256))
        # 255 degrees of freedom: mean 255, sd ~22.6; 400 is far beyond any plausible uniform draw.
        assert chi2 < 400, chi2


def test_a_private_key_round_trips_and_wrong_shares_are_detected():
    key = keys.generate_bidder_key()
    shares = shamir.split_private_key(key, 2, 3)
    back = shamir.combine_private_key(shares[1:], 2, key.public_key())
    assert keys.private_key_to_scalar(back) == keys.private_key_to_scalar(key)
    forged = [shares[0], shamir.Share(shares[1].index, os.urandom(32))]
    with pytest.raises(shamir.ShareError):
        shamir.combine_private_key(forged, 2, key.public_key())


def test_sealed_shares_open_only_for_their_custodian_tender_and_index():
    custodian, other = keys.generate_bidder_key(), keys.generate_bidder_key()
    share = shamir.split(os.urandom(32), 2, 3)[1]
    sealed = shamir.seal_share(share, custodian.public_key(), tender="ZB-1/01", escrow_key_id="a" * 16)
    assert shamir.open_share(sealed, custodian, tender="ZB-1/01", escrow_key_id="a" * 16,
                             index=share.index) == share
    for kwargs in ({"tender": "ZB-2/01"}, {"escrow_key_id": "b" * 16}, {"index": share.index + 1}):
        args = {"tender": "ZB-1/01", "escrow_key_id": "a" * 16, "index": share.index, **kwargs}
        with pytest.raises(shamir.ShareError):
            shamir.open_share(sealed, custodian, **args)
    with pytest.raises(shamir.ShareError):
        shamir.open_share(sealed, other, tender="ZB-1/01", escrow_key_id="a" * 16, index=share.index)
