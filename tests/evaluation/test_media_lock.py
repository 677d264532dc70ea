"""A venue whose audio and video were up and are gone counts as dropped (docs/media.md): the
session locks after ``EVAL_VENUE_DROP_SECONDS`` though the venue's page is still connected, and
resumes when its media are back. Only what the media patrol saw recently counts: no patrol, or a
stale one, locks nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from common import clock
from evaluation import actions_venues as av
from evaluation.models import EvaluationSession
from evaluation.testing import drive_to
from realtime.models import Presence, RoomTimer

from .test_lock_and_back import enter

pytestmark = pytest.mark.django_db


def patrol_saw(sc, at, sending, ever):
    """The media patrol's last round on the session's media room, as ``run_patrol`` records it."""
    RoomTimer.objects.update_or_create(
        kind="media.patrol", room_key=f"venue:{sc.session.pk}:{sc.venues[0].pk}",
        defaults={"next_check": at + timedelta(seconds=10),
                  "payload": {"media_room": f"eval-{sc.session.pk}", "tender_id": sc.lot.pk,
                              "senders": sorted(sending), "ever": sorted(ever), "at": at.isoformat()}})


def missing(sc):
    return EvaluationSession.objects.get(pk=sc.session.pk).state["missing_venues"]


def test_a_venue_that_lost_its_media_locks_the_session_and_its_return_resumes_it(scenario, settings):
    sc = scenario
    settings.EVAL_VENUE_DROP_SECONDS, settings.MEDIA_PATROL_SECONDS = 10, 10
    drive_to(sc, "scoring")
    t0 = clock.now()
    for v in sc.venues:
        enter(sc, v, sc.staff[v.pk], "staff", t0)  # every venue's page stays connected throughout
    check = lambda t: av.check_venues(EvaluationSession.objects.get(pk=sc.session.pk), t)  # noqa: E731
    everyone = {sc.staff[v.pk].pk for v in sc.venues}
    sub = sc.venues[1]
    patrol_saw(sc, t0, everyone, everyone)
    check(t0)
    assert missing(sc) == []
    patrol_saw(sc, t0 + timedelta(seconds=1), everyone - {sc.staff[sub.pk].pk}, everyone)
    check(t0 + timedelta(seconds=2))
    assert missing(sc) == []  # not yet long enough
    patrol_saw(sc, t0 + timedelta(seconds=11), everyone - {sc.staff[sub.pk].pk}, everyone)
    check(t0 + timedelta(seconds=13))
    assert missing(sc) == [str(sub.pk)]
    patrol_saw(sc, t0 + timedelta(seconds=20), everyone, everyone)
    check(t0 + timedelta(seconds=21))
    assert missing(sc) == []


def test_no_patrol_a_stale_one_or_a_venue_that_never_sent_locks_nothing(scenario, settings):
    sc = scenario
    settings.EVAL_VENUE_DROP_SECONDS, settings.MEDIA_PATROL_SECONDS = 10, 10
    drive_to(sc, "scoring")
    t0 = clock.now()
    for v in sc.venues:
        enter(sc, v, sc.staff[v.pk], "staff", t0)
    check = lambda t: av.check_venues(EvaluationSession.objects.get(pk=sc.session.pk), t)  # noqa: E731
    check(t0)
    check(t0 + timedelta(seconds=15))
    assert missing(sc) == []  # no media room at all
    main = sc.staff[sc.venues[0].pk].pk
    patrol_saw(sc, t0 + timedelta(seconds=15), {main}, {main})  # the sub venues never sent (no camera)
    check(t0 + timedelta(seconds=16))
    check(t0 + timedelta(seconds=30))
    assert missing(sc) == []
    patrol_saw(sc, t0 + timedelta(seconds=30), set(), {main})  # the main venue lost it, but...
    check(t0 + timedelta(seconds=31))
    Presence.objects.update(seen_at=t0 + timedelta(seconds=75))  # the pages' heartbeats
    check(t0 + timedelta(seconds=75))  # ...the patrol's view is 45 s old by now: unknown
    assert missing(sc) == []
