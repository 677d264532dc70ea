"""Who may touch which sealed-bid object: every role against alice's certificate, upload and
submission. Written out by hand, like test_access_matrix.py."""

import pytest

from bidding.access import (access_bid_lot, access_certificate, access_submission, access_upload, can_approve_certificates)
from common.errors import NotFound, PlatformError
from tests.bidding.conftest import bid_storage, fast_hashing  # noqa: F401 - fixtures

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing", "bid_storage")]

#              see alice's cert  approve certs  bid on the lot  alice's upload & submission
EXPECTED = {
    "admin":       (True,        True,          False,          False),
    "host":        (True,        True,          False,          False),
    "other_host":  (True,        True,          False,          False),
    "alice":       (True,        False,         True,           True),
    "bob":         (False,       False,         True,           False),
    "expert":      (False,       False,         False,          False),
    "venue_staff": (False,       False,         False,          False),
    "supervisor":  (True,        False,         False,          False),
}


@pytest.fixture
def alices_things(people, make_lot):
    from tests.bidding.conftest import certify, seal, token_client, upload

    lot = make_lot()
    key, cert = certify(people["alice"], people["host"])
    client = token_client(people["alice"])
    assert upload(client, lot.pk, seal(lot, people["alice"].organisation, key, b"x")).status_code == 201
    from bidding.models import BidUpload

    return lot, cert, BidUpload.objects.get()


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_the_sealed_bid_matrix(people, alices_things, who):
    lot, cert, upload = alices_things
    user = people[who]
    see_cert, approve, bid, own = EXPECTED[who]
    assert can_approve_certificates(user) is approve
    if see_cert:
        assert access_certificate(user, cert.pk).pk == cert.pk
    else:
        with pytest.raises(NotFound):
            access_certificate(user, cert.pk)
    if see_cert and not approve:
        with pytest.raises(PlatformError):
            access_certificate(user, cert.pk, approve=True)
    if bid:
        assert access_bid_lot(user, lot.pk).pk == lot.pk
    else:
        with pytest.raises(NotFound):
            access_bid_lot(user, lot.pk)
    if own:
        assert access_upload(user, upload.pk).pk == upload.pk
        assert access_submission(user, lot.pk).lot_id == lot.pk
    else:
        with pytest.raises(NotFound):
            access_upload(user, upload.pk)
        with pytest.raises(NotFound):
            access_submission(user, lot.pk)
