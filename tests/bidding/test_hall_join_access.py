"""Every join of a hall authorises by role and phase (``HallRoom.authorise`` → ``access_hall``), and
a bidder's check — the lot it may see and its organisation's bid there — is one query: a reconnect
storm is thousands of bidders' joins at once (issue 4)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Organisation, User
from bidding.lifecycle import Status
from bidding.opening.hall import HallRoom
from common.errors import NotFound
from common.roles import Role
from tests.bidding.test_opening_support import five, hall  # noqa: F401
from tests.conftest import make_code

pytestmark = pytest.mark.django_db


def test_a_bidder_is_authorised_in_one_query_and_every_other_role_as_before(hall):
    people, lot, kind = hall["people"], hall["lot"], HallRoom()
    key = f"hall:{lot.pk}"
    with CaptureQueriesContext(connection) as queries:
        assert kind.authorise(people["alice"], key) == "bidder"
    assert len(queries) == 1
    assert kind.authorise(people["host"], key) == "host"
    assert kind.authorise(people["supervisor"], key) == "supervisor"
    org = Organisation.objects.create(name="没有投标的公司", kind="bidder", credit_code=make_code("91320100F0X"))
    no_bid = User.objects.create(username="frank", role=Role.BIDDER, organisation=org)
    for outsider in (no_bid, people["other_host"], people["expert"]):
        with pytest.raises(NotFound):
            kind.authorise(outsider, key)
    with pytest.raises(NotFound):
        kind.authorise(people["alice"], "hall:999999")
    lot.status = Status.CANCELLED
    lot.save(update_fields=["status"])
    with pytest.raises(NotFound):  # the phase: a cancelled tender has no opening
        kind.authorise(people["alice"], key)
