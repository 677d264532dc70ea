"""The ticker's side of pending completions (``bidding.pending``): once the platform's key signs
again, each pending upload is completed through the same action as the bidder's own ``complete``
(``complete_upload``), on behalf of the user who asked, outside any timer's transaction (it
commits, then moves the file). A round hook (``realtime.timers.register_round_hook``): it runs
before the deadline timers of the same round, so an opening held for it starts in that round."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from django.db import models

from common.actor import Actor
from common.errors import ErrorCode, PlatformError
from crypto.signing import SigningUnavailable

from . import pending
from .submissions import complete_upload

log = logging.getLogger(__name__)
TICKER_AGENT = "kaibiao-ticker (pending completion)"


def complete_pending(now: datetime) -> int:
    """The ticker's round hook: complete each pending upload whose next attempt is due, through
    ``complete_upload`` on behalf of the user who asked (outside any transaction: it commits, then
    moves the file). Raises ``SigningUnavailable`` after the first that still cannot be signed (the
    others wait for the next attempt); returns how many it completed."""
    done = 0
    due = (pending.pending_uploads().filter(models.Q(completion_next_try__isnull=True) | models.Q(completion_next_try__lte=now))
           .select_related("completion_user").order_by("completion_requested_at"))
    for upload in list(due):
        # On behalf of the user who asked; the user agent says the ticker finished it.
        actor = dataclasses.replace(Actor.of(upload.completion_user), user_agent=TICKER_AGENT)
        try:
            complete_upload(upload.completion_user, actor, upload.pk, now=now)
        except SigningUnavailable:
            raise
        except PlatformError as exc:  # refused (audited there) or busy (the bidder's own retry)
            log.warning("pending completion of upload %s: %s %s", upload.pk, exc.code.value, exc.message)
            if exc.code == ErrorCode.UPLOAD_LOST:
                pending.void_lost(upload, now)
            continue
        done += 1
    return done


def register() -> None:
    from realtime.timers import register_round_hook

    register_round_hook("bidding.pending_completions", complete_pending)
