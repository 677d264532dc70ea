"""The opening (开标) as a pure state machine: phases, the events that move between them, the timers
each phase sets, pause and resume, and which role may issue which command in which phase.

No ORM, no clock: ``advance(state, event, now=..., ...)`` returns the next state or raises
``PlatformError(INVALID_STATE)``. The hall's actions apply it under a row lock and append the room
events; the ticker fires the timed events (``deadline``, ``decryption_window_closed``,
``confirmation_window_closed``) when their timestamps pass.

    scheduled ─signin_opens→ signin_open ─deadline→ deadline_passed ─start_decryption→ decrypting
        │                        │                                                        │
        └──────deadline──────────┴─→ failed (流标: fewer bids on file than the minimum)  │
    decrypting ─all_classified→ announced (唱标) ─start_confirmation→ confirming ─confirmation_closed→ closed

Decryption is classified bid by bid (decrypted, revoked 撤销, withdrawn 撤回) when the window closes
(``decryption_window_closed``) or as soon as every bid is decrypted; the announcement follows only
then (电子招标投标办法 30). Pause and resume (with a reason) are possible in every phase before
``closed``; a pause stops the running window's clock, and resuming restarts it with the time that
was left.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from common.errors import BadRequest, ErrorCode, PlatformError

from .lifecycle import LEGAL_MIN_BIDS


class Phase(StrEnum):
    SCHEDULED = "scheduled"
    SIGNIN_OPEN = "signin_open"
    DEADLINE_PASSED = "deadline_passed"
    DECRYPTING = "decrypting"
    ANNOUNCED = "announced"
    CONFIRMING = "confirming"
    CLOSED = "closed"
    FAILED = "failed"


TERMINAL = frozenset({Phase.CLOSED, Phase.FAILED})


class Event(StrEnum):
    SIGNIN_OPENS = "signin_opens"
    DEADLINE = "deadline"
    START_DECRYPTION = "start_decryption"
    ALL_CLASSIFIED = "all_classified"
    DECRYPTION_WINDOW_CLOSED = "decryption_window_closed"
    START_CONFIRMATION = "start_confirmation"
    CONFIRMATION_CLOSED = "confirmation_closed"
    PAUSE = "pause"
    RESUME = "resume"


@dataclass(frozen=True)
class OpeningState:
    phase: Phase = Phase.SCHEDULED
    paused: bool = False
    pause_reason: str = ""
    decryption_ends_at: datetime | None = None
    confirmation_ends_at: datetime | None = None
    # While paused, the time the running window had left (restored on resume).
    remaining: timedelta | None = None

    def running_window(self) -> str | None:
        if self.phase == Phase.DECRYPTING:
            return "decryption_ends_at"
        if self.phase == Phase.CONFIRMING:
            return "confirmation_ends_at"
        return None

    def next_due(self) -> datetime | None:
        """When the ticker must look at this opening next (None: only commands move it)."""
        if self.paused:
            return None
        window = self.running_window()
        return getattr(self, window) if window else None


def _illegal(state: OpeningState, event: Event, why: str = "") -> PlatformError:
    return PlatformError(ErrorCode.INVALID_STATE,
                         why or f"{event.value} is not possible in phase {state.phase.value}",
                         details={"phase": state.phase.value, "event": event.value,
                                  "paused": state.paused})


def advance(state: OpeningState, event: Event | str, *, now: datetime,
            bids_on_file: int | None = None, min_bids: int | None = None,
            decryption_window: timedelta | None = None, confirmation_window: timedelta | None = None,
            reason: str = "") -> OpeningState:
    """The state after ``event`` at ``now``; raises ``PlatformError(INVALID_STATE)`` if illegal.

    ``deadline`` needs ``bids_on_file`` and ``min_bids``; ``start_decryption`` needs
    ``decryption_window``; ``start_confirmation`` needs ``confirmation_window``; ``pause`` needs a
    ``reason``.
    """
    event = Event(event)
    phase = state.phase
    if phase in TERMINAL:
        raise _illegal(state, event, f"the opening is {phase.value}")
    if event == Event.PAUSE:
        if state.paused:
            raise _illegal(state, event, "the opening is already paused")
        if not reason.strip():
            raise BadRequest("a pause states its reason")
        window = state.running_window()
        remaining = max(getattr(state, window) - now, timedelta(0)) if window else None
        return replace(state, paused=True, pause_reason=reason.strip(), remaining=remaining)
    if event == Event.RESUME:
        if not state.paused:
            raise _illegal(state, event, "the opening is not paused")
        resumed = replace(state, paused=False, pause_reason="", remaining=None)
        window = state.running_window()
        if window and state.remaining is not None:
            resumed = replace(resumed, **{window: now + state.remaining})
        return resumed
    # Timed events still fire while paused (the deadline is the law's, not the host's), but
    # host-driven moves wait for the resumption.
    if state.paused and event not in (Event.DEADLINE, Event.SIGNIN_OPENS):
        raise _illegal(state, event, "the opening is paused")
    if event == Event.SIGNIN_OPENS and phase == Phase.SCHEDULED:
        return replace(state, phase=Phase.SIGNIN_OPEN)
    if event == Event.DEADLINE and phase in (Phase.SCHEDULED, Phase.SIGNIN_OPEN):
        if bids_on_file is None or min_bids is None:
            raise ValueError("the deadline needs bids_on_file and min_bids")
        # 实施条例 44: fewer than the minimum → no opening; the law's 3 holds even if a row says less.
        if bids_on_file < max(min_bids, LEGAL_MIN_BIDS):
            return replace(state, phase=Phase.FAILED)
        return replace(state, phase=Phase.DEADLINE_PASSED)
    if event == Event.START_DECRYPTION and phase == Phase.DEADLINE_PASSED:
        if decryption_window is None or decryption_window <= timedelta(0):
            raise ValueError("start_decryption needs a positive decryption_window")
        return replace(state, phase=Phase.DECRYPTING, decryption_ends_at=now + decryption_window)
    if event in (Event.ALL_CLASSIFIED, Event.DECRYPTION_WINDOW_CLOSED) and phase == Phase.DECRYPTING:
        if event == Event.DECRYPTION_WINDOW_CLOSED and now < state.decryption_ends_at:
            raise _illegal(state, event, "the decryption window is still open")
        return replace(state, phase=Phase.ANNOUNCED)
    if event == Event.START_CONFIRMATION and phase == Phase.ANNOUNCED:
        if confirmation_window is None or confirmation_window <= timedelta(0):
            raise ValueError("start_confirmation needs a positive confirmation_window")
        return replace(state, phase=Phase.CONFIRMING, confirmation_ends_at=now + confirmation_window)
    if event == Event.CONFIRMATION_CLOSED and phase == Phase.CONFIRMING:
        return replace(state, phase=Phase.CLOSED)
    raise _illegal(state, event)


# --- Who may do what, when ---------------------------------------------------------------------

class Command(StrEnum):
    SIGN_IN = "sign_in"
    RELEASE_KEY = "release_key"
    CONFIRM_RECORD = "confirm_record"
    OBJECT = "object"
    CHAT = "chat"
    START_DECRYPTION = "start_decryption"
    START_CONFIRMATION = "start_confirmation"
    PAUSE = "pause"
    RESUME = "resume"
    ANSWER_OBJECTION = "answer_objection"
    DRAW_COEFFICIENT = "draw_coefficient"
    ANNOTATE = "annotate"


_BEFORE_CLOSE = frozenset(Phase) - TERMINAL
_LIVE = frozenset({Phase.SIGNIN_OPEN, Phase.DEADLINE_PASSED, Phase.DECRYPTING, Phase.ANNOUNCED,
                   Phase.CONFIRMING})

# role → command → phases in which it is allowed (when not paused, unless noted in ALLOWED_PAUSED)
ALLOWED: dict[str, dict[Command, frozenset[Phase]]] = {
    "bidder": {
        Command.SIGN_IN: frozenset({Phase.SIGNIN_OPEN, Phase.DEADLINE_PASSED, Phase.DECRYPTING}),
        Command.RELEASE_KEY: frozenset({Phase.DECRYPTING}),
        Command.CONFIRM_RECORD: frozenset({Phase.CONFIRMING}),
        # 实施条例 44: objections to the opening are raised during the opening.
        Command.OBJECT: _LIVE,
        Command.CHAT: _LIVE,
    },
    "host": {
        Command.START_DECRYPTION: frozenset({Phase.DEADLINE_PASSED}),
        Command.START_CONFIRMATION: frozenset({Phase.ANNOUNCED}),
        Command.PAUSE: _BEFORE_CLOSE,
        Command.RESUME: _BEFORE_CLOSE,
        Command.ANSWER_OBJECTION: _LIVE | {Phase.CLOSED},
        Command.DRAW_COEFFICIENT: frozenset({Phase.ANNOUNCED}),
        Command.CHAT: _LIVE,
    },
    "supervisor": {Command.ANNOTATE: frozenset(Phase)},
}
# Commands still allowed while paused: the host resumes, people may still talk and object.
ALLOWED_PAUSED = frozenset({Command.RESUME, Command.CHAT, Command.OBJECT, Command.ANSWER_OBJECTION,
                            Command.ANNOTATE})


def check_command(role: str, command: Command | str, state: OpeningState) -> None:
    """Raise ``FORBIDDEN`` (the role never may) or ``INVALID_STATE`` (not now)."""
    try:
        command = Command(command)
    except ValueError:
        raise PlatformError(ErrorCode.UNKNOWN_COMMAND, f"unknown command {command!r}") from None
    phases = ALLOWED.get(role, {}).get(command)
    if phases is None:
        raise PlatformError(ErrorCode.FORBIDDEN, f"a {role} cannot {command.value}")
    if state.phase not in phases:
        raise PlatformError(ErrorCode.INVALID_STATE, f"{command.value} is not possible in phase "
                            f"{state.phase.value}", details={"phase": state.phase.value})
    if state.paused and command not in ALLOWED_PAUSED:
        raise PlatformError(ErrorCode.INVALID_STATE, "the opening is paused",
                            details={"reason": state.pause_reason})
