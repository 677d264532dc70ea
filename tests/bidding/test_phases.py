"""The opening's phase machine, without a database."""

from datetime import datetime, timedelta, timezone

import pytest

from bidding.phases import (ALLOWED, Command, Event, OpeningState, Phase, advance, check_command)
from common.errors import ErrorCode, PlatformError

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=timezone.utc)  # 09:00 Beijing time
WINDOW = timedelta(minutes=30)


def run(*events, state=None, now=T0, **facts):
    state = state or OpeningState()
    for event in events:
        state = advance(state, event, now=now, **facts)
    return state


FACTS = dict(bids_on_file=5, min_bids=3, decryption_window=WINDOW, confirmation_window=WINDOW)


def code(call):
    with pytest.raises(PlatformError) as info:
        call()
    return info.value.code


def test_the_happy_path_visits_every_phase_in_order():
    state, seen = OpeningState(), []
    for event in (Event.SIGNIN_OPENS, Event.DEADLINE, Event.START_DECRYPTION, Event.ALL_CLASSIFIED,
                  Event.START_CONFIRMATION, Event.CONFIRMATION_CLOSED):
        state = advance(state, event, now=T0, **FACTS)
        seen.append(state.phase)
    assert seen == [Phase.SIGNIN_OPEN, Phase.DEADLINE_PASSED, Phase.DECRYPTING, Phase.ANNOUNCED,
                    Phase.CONFIRMING, Phase.CLOSED]


@pytest.mark.parametrize("bids, failed", [(0, True), (2, True), (3, False), (10, False)])
def test_fewer_bids_than_the_minimum_fail_the_tender_at_the_deadline(bids, failed):
    state = run(Event.SIGNIN_OPENS, Event.DEADLINE, bids_on_file=bids, min_bids=3)
    assert state.phase == (Phase.FAILED if failed else Phase.DEADLINE_PASSED)


def test_the_minimum_is_the_tenders():
    assert run(Event.DEADLINE, bids_on_file=4, min_bids=5).phase == Phase.FAILED


def test_the_decryption_window_sets_a_timer_and_closes_only_when_due():
    state = run(Event.SIGNIN_OPENS, Event.DEADLINE, Event.START_DECRYPTION, **FACTS)
    assert state.decryption_ends_at == T0 + WINDOW and state.next_due() == T0 + WINDOW
    early = T0 + WINDOW - timedelta(seconds=1)
    assert code(lambda: advance(state, Event.DECRYPTION_WINDOW_CLOSED, now=early)) == ErrorCode.INVALID_STATE
    assert advance(state, Event.DECRYPTION_WINDOW_CLOSED, now=T0 + WINDOW).phase == Phase.ANNOUNCED


def test_no_announcement_before_decryption():
    state = run(Event.SIGNIN_OPENS, Event.DEADLINE, **FACTS)
    assert code(lambda: advance(state, Event.ALL_CLASSIFIED, now=T0)) == ErrorCode.INVALID_STATE
    assert code(lambda: advance(state, Event.START_CONFIRMATION, now=T0, **FACTS)) == ErrorCode.INVALID_STATE


def test_a_pause_stops_the_windows_clock_and_resume_restarts_it():
    state = run(Event.SIGNIN_OPENS, Event.DEADLINE, Event.START_DECRYPTION, **FACTS)
    paused = advance(state, Event.PAUSE, now=T0 + timedelta(minutes=10), reason="网络故障")
    assert paused.paused and paused.remaining == timedelta(minutes=20) and paused.next_due() is None
    resumed = advance(paused, Event.RESUME, now=T0 + timedelta(minutes=50))
    assert not resumed.paused and resumed.decryption_ends_at == T0 + timedelta(minutes=70)


def test_a_pause_needs_a_reason_and_cannot_be_doubled():
    state = run(Event.SIGNIN_OPENS)
    with pytest.raises(PlatformError):
        advance(state, Event.PAUSE, now=T0, reason="  ")
    paused = advance(state, Event.PAUSE, now=T0, reason="x")
    assert code(lambda: advance(paused, Event.PAUSE, now=T0, reason="y")) == ErrorCode.INVALID_STATE
    assert code(lambda: advance(state, Event.RESUME, now=T0)) == ErrorCode.INVALID_STATE


def test_the_deadline_is_the_laws_and_fires_even_while_paused():
    paused = advance(run(Event.SIGNIN_OPENS), Event.PAUSE, now=T0, reason="x")
    after = advance(paused, Event.DEADLINE, now=T0, bids_on_file=3, min_bids=3)
    assert after.phase == Phase.DEADLINE_PASSED and after.paused
    assert code(lambda: advance(after, Event.START_DECRYPTION, now=T0, **FACTS)) == ErrorCode.INVALID_STATE


@pytest.mark.parametrize("terminal", [Phase.CLOSED, Phase.FAILED])
def test_nothing_moves_a_closed_or_failed_opening(terminal):
    for event in Event:
        assert code(lambda: advance(OpeningState(phase=terminal), event, now=T0, reason="x", **FACTS)) \
            == ErrorCode.INVALID_STATE


def test_bidders_release_keys_only_while_decrypting():
    for phase in Phase:
        state = OpeningState(phase=phase)
        if phase == Phase.DECRYPTING:
            check_command("bidder", Command.RELEASE_KEY, state)
        else:
            with pytest.raises(PlatformError):
                check_command("bidder", Command.RELEASE_KEY, state)


def test_supervisors_change_nothing():
    for command in Command:
        if command == Command.ANNOTATE:
            continue
        assert code(lambda: check_command("supervisor", command, OpeningState(phase=Phase.DECRYPTING))) \
            == ErrorCode.FORBIDDEN


def test_bidders_cannot_run_the_hall():
    for command in (Command.START_DECRYPTION, Command.PAUSE, Command.DRAW_COEFFICIENT,
                    Command.ANSWER_OBJECTION):
        assert code(lambda: check_command("bidder", command, OpeningState(phase=Phase.ANNOUNCED))) \
            == ErrorCode.FORBIDDEN


def test_while_paused_only_talk_objections_and_resume_go_through():
    paused = OpeningState(phase=Phase.DECRYPTING, paused=True, pause_reason="x")
    with pytest.raises(PlatformError):
        check_command("bidder", Command.RELEASE_KEY, paused)
    check_command("bidder", Command.OBJECT, paused)
    check_command("host", Command.RESUME, paused)


def test_unknown_commands_are_named_as_such():
    assert code(lambda: check_command("host", "drop_tables", OpeningState())) == ErrorCode.UNKNOWN_COMMAND


def test_every_role_command_pair_is_in_the_table():
    assert set(ALLOWED) == {"bidder", "host", "supervisor"}
