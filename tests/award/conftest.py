from __future__ import annotations

from datetime import timedelta

import pytest


@pytest.fixture
def evaluated(db):
    """A lot whose committee has signed its report (every member deemed to agree), session done."""
    from evaluation import actions as a
    from evaluation.testing import build, drive_to, main_staff_act
    from realtime.timers import run_due_timers

    sc = build()
    drive_to(sc, "signing")
    sc.session.refresh_from_db()
    run_due_timers(sc.session.signing_deadline + timedelta(seconds=1))
    main_staff_act(sc, a.do_next)
    sc.session.refresh_from_db()
    assert sc.session.state["step"] == "done"
    return sc
