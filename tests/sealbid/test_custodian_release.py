"""``sealbid custodian release`` checks what the platform sends before it unwraps or releases
anything: the header must be the bid the recovery names, the share index its own."""

import io

import pytest

from crypto import envelope, escrow_shares, keys
from sealbid import errors
from sealbid.custodian import unwrap_for_release
from sealbid.errors import CliError

IDS = dict(tender_id="ZB-2026-0042", lot_id="1", bidder_id="91320000MA1XYZ0001")
CUSTODIANS = [keys.generate_bidder_key() for _ in range(3)]


def _context(**changes):
    env = envelope.seal_bytes(b"bid", **IDS, recipients=[envelope.Recipient("bidder", keys.generate_bidder_key().public_key())],
                              custodians=[escrow_shares.Custodian(i + 1, k.public_key()) for i, k in enumerate(CUSTODIANS)],
                              threshold=2)
    header = envelope.read_header(io.BytesIO(env))
    ctx = {"header": keys.b64encode(header.raw), "tender": IDS["tender_id"], "lot": IDS["lot_id"],
           "bidder": IDS["bidder_id"], "commitment": header.commitment_b64, "index": 2}
    ctx.update(changes)
    return ctx, header


def test_it_releases_its_own_share_of_the_named_bid():
    ctx, header = _context()
    index, share = unwrap_for_release(ctx, CUSTODIANS[1])
    assert header.version == envelope.FORMAT_V3 and escrow_shares.share_size(header) == 64  # 2-of-3: two parts
    assert index == 2 and keys.b64decode(share, 64) == escrow_shares.unwrap_share(header, CUSTODIANS[1]).value


@pytest.mark.parametrize("changes,key,code", [
    ({"bidder": "91320000MA1XYZ0002"}, 1, errors.REFUSED),         # another bidder's bid
    ({"commitment": "A" * 43}, 1, errors.REFUSED),                 # another envelope
    ({"index": 1}, 1, errors.REFUSED),                             # the platform names another index
    ({"header": "not base64"}, 1, errors.REFUSED),
    ({}, None, errors.CERTIFICATE),                                 # a key that holds no share
])
def test_it_refuses_before_releasing(changes, key, code):
    ctx, _ = _context(**changes)
    private = CUSTODIANS[key] if key is not None else keys.generate_bidder_key()
    with pytest.raises(CliError) as info:
        unwrap_for_release(ctx, private)
    assert info.value.exit_code == code
