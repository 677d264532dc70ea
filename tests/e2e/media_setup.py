"""Set-up of the media browser test (``test_media.py``), run inside ``manage.py shell`` (the ORM
does not work under Playwright's sync API): an evaluation session with a main venue and two sub
venues (``evaluation.testing.build``), a hall with two bids (``hall_setup``), and a session cookie
for each person the test opens a page for. Prints one JSON line."""

from __future__ import annotations

import json


def build_media() -> None:
    from accounts.models import User
    from evaluation.testing import build, session_cookie

    sc = build(per_venue=(1, 1, 1), n_bidders=3)
    venues = [{"id": v.pk, "name": v.name, "staff": session_cookie(sc.staff[v.pk])} for v in sc.venues]
    outsider = next(iter(sc.bidder_users.values()))
    print(json.dumps({
        "session": sc.session.pk, "lot": sc.lot.pk, "venues": venues,
        "supervisor": session_cookie(sc.supervisor), "outsider": session_cookie(outsider),
        "staff_ids": [sc.staff[v.pk].pk for v in sc.venues],
        "supervisor_id": sc.supervisor.pk, "demo_host": session_cookie(User.objects.get(username="host")),
    }, ensure_ascii=False))


def segments(lot: int) -> None:
    """The sealed segments of a tender with their audit entries, as JSON (for the test's checks)."""
    from audit.models import AuditEntry
    from realtime.models import MediaSegment

    logged = {json.loads(e.body)["data"]["file"]: json.loads(e.body)["data"]
              for e in AuditEntry.objects.filter(action="realtime.media.recording_closed", tender_id=lot)}
    print(json.dumps([{"name": s.name, "location": s.location, "sha256": s.sha256, "kind": s.kind,
                       "size": s.size, "logged": logged.get(s.name)}
                      for s in MediaSegment.objects.filter(tender_id=lot)]))


def announce(lot: int) -> None:
    """The lot's opening at its published announcement (as the opening's last step leaves it), and
    a supervisor's cookie."""
    from accounts.models import User
    from bidding.models import Lot
    from bidding.models_opening import Opening
    from common import clock
    from evaluation.testing import session_cookie
    from tests.bidding.test_hall_media import ANNOUNCEMENT

    now = clock.now()
    Opening.objects.update_or_create(lot=Lot.objects.get(pk=lot), defaults={
        "phase": "announced", "announcement": ANNOUNCEMENT, "created_at": now, "updated_at": now})
    print(json.dumps({"supervisor": session_cookie(User.objects.get(username="supervisor"))}))
