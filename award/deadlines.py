"""The objections' answer deadline, applied by the ticker (docs/award.md, "The answer deadline").

实施条例 54: the tenderer answers an objection to the candidates within 3 days of receiving it and
suspends the procedure until it has. The platform cannot answer for the host, so what follows the
deadline is: the host is reminded, the supervisors are alerted (their console lists the entry as an
alert, the other platforms receive ``award.objection_overdue``), the objector sees that the answer
is overdue (it may complain to the supervisory department, 实施条例 60), and the award stays
refused (``objection_open``) until the answer is given; a late answer is marked ``late``.

The timer fires once per objection: the callback sets ``overdue_at``, which takes the row out of
the due set (``state = open`` and ``overdue_at`` null). It is a deadline timer: while the server's
clock is unsynchronised it is held, like every deadline the law reads from the clock."""

from __future__ import annotations

from datetime import datetime

from audit.log import log_action
from common.actor import Actor
from common.canonical import format_time

from .models import Objection


def hosts_of(lot) -> list[int]:
    """The users reminded: the signed-in hosts of the tenderee and of its agency."""
    from accounts.models import User

    orgs = [o for o in (lot.project.tenderee_id, lot.project.agency_id) if o]
    return list(User.objects.filter(organisation_id__in=orgs, role="host", is_active=True)
                .order_by("pk").values_list("pk", flat=True))


def answer_overdue(objection: Objection, now: datetime) -> None:
    """Timer callback (the row locked): the answer deadline has passed without an answer."""
    if objection.state != Objection.State.OPEN or objection.overdue_at is not None:
        return
    if now <= objection.answer_due:  # due at the deadline itself, overdue only after it
        return
    lot = objection.publicity.lot
    objection.overdue_at = now
    objection.save(update_fields=["overdue_at"])
    log_action("award.objection.overdue", actor=Actor.system("ticker"), obj=objection, tender_id=lot.pk, now=now,
               data={"objection": objection.pk, "overdue_at": [None, format_time(now)],
                     "answer_due": format_time(objection.answer_due), "organisation": objection.organisation_id,
                     "reminded": hosts_of(lot), "award": "suspended"})


def register_timers() -> None:
    from realtime.timers import register_timer

    register_timer("award.objection.overdue", Objection, answer_overdue, field="answer_due", deadline=True,
                   state=Objection.State.OPEN, overdue_at__isnull=True)
