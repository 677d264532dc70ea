"""Crash injection for the fault tests: ``KAIBIAO_CRASH_AT=<step>[:<n>]`` makes the process kill
itself with SIGKILL the ``n``-th time (default the first) it reaches the named step, as a power cut
or ``kill -9`` would. Never in production: there the variable is ignored.

Steps of a sealed-bid upload (bidding/submissions.py, bidding/api_bids.py; docs/sealbid.md,
"Crash safety"): ``create`` (the upload committed, its answer not sent), ``patch-before-write``,
``patch-after-write`` (the bytes fsync'd, the offset not yet recorded), ``complete-before-commit``
(the submission written, not committed), ``complete-after-commit-before-move`` (committed, the file
not yet in its final place), ``after-move`` (in place, the answer not sent), ``receipt`` (the
receipt built, the answer about to be sent).
"""

from __future__ import annotations

import os
import signal

STEPS = ("create", "patch-before-write", "patch-after-write", "complete-before-commit",
         "complete-after-commit-before-move", "after-move", "receipt")
_seen: dict[str, int] = {}


def _armed() -> tuple[str, int] | None:
    raw = os.environ.get("KAIBIAO_CRASH_AT", "")
    if not raw:
        return None
    from django.conf import settings

    if settings.PRODUCTION:
        return None
    step, _, nth = raw.partition(":")
    if step not in STEPS:
        raise ValueError(f"KAIBIAO_CRASH_AT: unknown step {step!r} (one of {', '.join(STEPS)})")
    return step, int(nth or 1)


def crash_point(step: str) -> None:
    """Die here (SIGKILL, no clean-up of any kind) if the fault test asked for this step."""
    armed = _armed()
    if armed is None or armed[0] != step:
        return
    _seen[step] = _seen.get(step, 0) + 1
    if _seen[step] >= armed[1]:
        os.kill(os.getpid(), signal.SIGKILL)
