"""Who may see and manage which tender: every role against every kind of lot.

The expected table is written out by hand; a change to ``common.roles`` or the apps' ``access`` modules that
widens or narrows access fails here.
"""

import pytest

from bidding.access import access_lot, access_project, visible_lots
from common.errors import ErrorCode, NotFound, PlatformError

# Lots: "own_draft" and "own_published" are run by host's agency; "other_draft" and
# "other_published" by other_host's; "cancelled" by host's agency.
SEE = {
    #              own_draft own_published other_draft other_published cancelled
    "admin":       (True,    True,         True,       True,           True),
    "host":        (True,    True,         False,      True,           True),
    "other_host":  (False,   True,         True,       True,           False),
    "alice":       (False,   True,         False,      True,           False),
    "bob":         (False,   True,         False,      True,           False),
    "expert":      (False,   False,        False,      False,          False),
    "venue_staff": (False,   False,        False,      False,          False),
    "supervisor":  (True,    True,         True,       True,           True),
}
MANAGE = {
    "admin":       (True,    True,         True,       True,           True),
    "host":        (True,    True,         False,      False,          True),
    "other_host":  (False,   False,        True,       True,           False),
    "alice":       (False,   False,        False,      False,          False),
    "bob":         (False,   False,        False,      False,          False),
    "expert":      (False,   False,        False,      False,          False),
    "venue_staff": (False,   False,        False,      False,          False),
    "supervisor":  (False,   False,        False,      False,          False),
}
LOTS = ["own_draft", "own_published", "other_draft", "other_published", "cancelled"]


@pytest.fixture
def lots(make_lot):
    return {
        "own_draft": make_lot(status="draft"),
        "own_published": make_lot(status="published"),
        "other_draft": make_lot(status="draft", agency="other_agency"),
        "other_published": make_lot(status="published", agency="other_agency"),
        "cancelled": make_lot(status="cancelled"),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("who", sorted(SEE))
def test_the_role_matrix(people, lots, who):
    user = people[who]
    for name, may_see, may_manage in zip(LOTS, SEE[who], MANAGE[who]):
        lot = lots[name]
        if may_see:
            assert access_lot(user, lot.pk).pk == lot.pk, (who, name)
            assert visible_lots(user).filter(pk=lot.pk).exists(), (who, name)
        else:
            with pytest.raises(NotFound):
                access_lot(user, lot.pk)
            assert not visible_lots(user).filter(pk=lot.pk).exists(), (who, name)
        if may_manage:
            assert access_lot(user, lot.pk, manage=True).pk == lot.pk, (who, name)
        else:
            with pytest.raises(PlatformError) as info:
                access_lot(user, lot.pk, manage=True)
            assert info.value.code in (ErrorCode.NOT_FOUND, ErrorCode.FORBIDDEN), (who, name)


@pytest.mark.django_db
def test_missing_and_hidden_lots_answer_the_same(people, lots):
    with pytest.raises(NotFound) as hidden:
        access_lot(people["alice"], lots["own_draft"].pk)
    with pytest.raises(NotFound) as missing:
        access_lot(people["alice"], 10**9)
    assert hidden.value.as_dict() == missing.value.as_dict()
    assert hidden.value.why != missing.value.why  # the difference is only in the log


@pytest.mark.django_db
def test_anonymous_and_inactive_users_see_nothing(people, lots):
    from django.contrib.auth.models import AnonymousUser

    people["host"].is_active = False
    for user in (AnonymousUser(), people["host"]):
        assert not visible_lots(user).exists()
        with pytest.raises(NotFound):
            access_lot(user, lots["own_published"].pk)


@pytest.mark.django_db
def test_malformed_ids_are_not_found(people):
    with pytest.raises(NotFound):
        access_lot(people["admin"], "1 OR 1=1")


@pytest.mark.django_db
def test_projects_follow_their_lots(people, lots):
    draft_project = lots["own_draft"].project
    assert access_project(people["host"], draft_project.pk, manage=True) == draft_project
    with pytest.raises(NotFound):
        access_project(people["alice"], draft_project.pk)
    with pytest.raises(PlatformError):
        access_project(people["other_host"], lots["own_published"].project.pk, manage=True)
    assert access_project(people["alice"], lots["own_published"].project.pk)
