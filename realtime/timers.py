"""Timers as data: a row with a due timestamp, applied once by whichever ticker gets there first.

A room kind registers a model (any model with a nullable datetime field, ``next_check`` by default)
and a callback. ``run_due_timers(now)`` locks due rows with ``FOR UPDATE SKIP LOCKED``, so several
tickers share the work without waiting on each other; the callback runs in the same transaction
with the row locked and must move the row out of the due set (clear or advance ``next_check``).
A second ticker either skips the locked row or, after the first commits, no longer sees it as due:
the transition happens exactly once (PostgreSQL re-checks the WHERE clause on the locked row).
A callback that raises rolls back alone; its row stays due and is retried on the next tick. One
that raises ``SigningUnavailable`` (its checkpoint could not be signed: the platform's HSM is away)
is logged without a traceback and reported to ``on_error``, so the ticker raises one alert.

A round hook (``register_round_hook``) is work that must not run inside a timer's transaction (it
commits on its own, then does what follows the commit: a pending bid's completion moves its file
after its commit). ``run_due_timers`` runs every hook first, outside any transaction of its own,
then the timers: a deadline timer of the same round sees what the hooks finished.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from django.db import models, transaction

from crypto.signing import SigningUnavailable

from .models import RoomTimer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TimerKind:
    name: str
    model: type[models.Model]
    callback: Callable[[models.Model, datetime], None]
    field: str = "next_check"
    filters: tuple = ()
    deadline: bool = False  # a legal deadline or window: held while the clock is unsynchronised


_TIMERS: dict[str, TimerKind] = {}
_ROOM_TIMER_CALLBACKS: dict[str, Callable[[RoomTimer, datetime], None]] = {}
_ROUND_HOOKS: dict[str, Callable[[datetime], int]] = {}


def register_timer(name: str, model, callback, *, field: str = "next_check", deadline: bool = False,
                   **filters) -> None:
    """``callback(row, now)`` applies the overdue transition; the row is locked. Idempotent.
    ``deadline``: the timer applies a deadline the law reads from the server's clock (the bid
    deadline, the decryption window, …); ``run_due_timers(..., hold_deadlines=True)`` skips it."""
    _TIMERS[name] = TimerKind(name, model, callback, field, tuple(sorted(filters.items())), deadline)


def unregister_timer(name: str) -> None:
    _TIMERS.pop(name, None)


def register_round_hook(name: str, callback: Callable[[datetime], int]) -> None:
    """``callback(now)`` runs once per round, before the timers, outside any transaction; it returns
    how many things it applied. Idempotent and safe with several tickers (its own locks)."""
    _ROUND_HOOKS[name] = callback


def _run_round_hooks(now: datetime, on_error) -> int:
    applied = 0
    for name, callback in list(_ROUND_HOOKS.items()):
        try:
            applied += callback(now) or 0
        except SigningUnavailable as exc:
            log.warning("round hook %s: the platform cannot sign (%s); retried later", name, exc)
            if on_error is not None:
                on_error(name, exc)
        except Exception as exc:  # noqa: BLE001
            log.exception("round hook %s failed; retried next round", name)
            if on_error is not None:
                on_error(name, exc)
    return applied


def register_room_timer(kind: str, callback: Callable[[RoomTimer, datetime], None]) -> None:
    """For kinds without a model of their own: ``RoomTimer`` rows of this ``kind`` call ``callback``
    and are then marked fired (``next_check`` cleared) unless the callback set a new one."""
    _ROOM_TIMER_CALLBACKS[kind] = callback


def _fire_room_timer(timer: RoomTimer, now: datetime) -> None:
    callback = _ROOM_TIMER_CALLBACKS.get(timer.kind)
    if callback is None:
        return  # a timer of a kind this process does not know: leave it for one that does
    due = timer.next_check
    callback(timer, now)
    if timer.next_check == due:
        timer.next_check = None
    timer.fired_at = now
    timer.fire_count += 1
    timer.save(update_fields=["next_check", "fired_at", "fire_count", "payload"])


def schedule_room_timer(room_key: str, kind: str, at: datetime, payload: dict | None = None) -> RoomTimer:
    return RoomTimer.objects.create(room_key=room_key, kind=kind, next_check=at, payload=payload or {})


def _kinds() -> list[TimerKind]:
    kinds = list(_TIMERS.values())
    kinds.append(TimerKind("realtime.room_timer", RoomTimer, _fire_room_timer,
                           filters=(("kind__in", tuple(_ROOM_TIMER_CALLBACKS)),)))
    return kinds


def run_due_timers(now: datetime, *, batch: int = 50, hold_deadlines: bool = False,
                   on_error: Callable[[str, Exception], None] | None = None) -> int:
    """Apply every overdue timer once; returns how many this call applied. ``hold_deadlines``: not
    the deadline timers (the clock is unsynchronised); they stay due and apply once it is back.
    ``on_error(timer name, exception)`` hears of each callback that failed (and stays due)."""
    applied = _run_round_hooks(now, on_error)
    for kind in _kinds():
        if hold_deadlines and kind.deadline:
            continue
        while True:
            done = 0
            with transaction.atomic():
                due = (kind.model.objects.select_for_update(skip_locked=True)
                       .filter(**{f"{kind.field}__lte": now}, **dict(kind.filters))
                       .order_by(kind.field)[:batch])
                for row in due:
                    try:
                        with transaction.atomic():  # a savepoint: one failure rolls back alone
                            kind.callback(row, now)
                        done += 1
                    except SigningUnavailable as exc:
                        log.warning("timer %s on %s: the platform cannot sign (%s); retried next tick",
                                    kind.name, row.pk, exc)
                        if on_error is not None:
                            on_error(kind.name, exc)
                    except Exception as exc:  # noqa: BLE001
                        log.exception("timer %s on %s failed; retried next tick", kind.name, row.pk)
                        if on_error is not None:
                            on_error(kind.name, exc)
            applied += done
            if done < batch:
                break
    return applied
