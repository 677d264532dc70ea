"""Workflows of an evaluation session: creation, sign-in, pledge, the chair election, the steps and
their clock, the document shown, going back, and the lock when a venue drops.

Every ``do_*`` runs inside ``transaction.atomic()`` with the session row locked (``lock_session``):
it validates with the pure rules (``evaluation.rules``), changes the rows, writes the audit entry and
appends the room events in the same transaction. Scoring is in ``actions_scoring``, the report and
its signatures in ``actions_report``, clarifications in ``actions_clarify``, the draw in
``actions_draw``; rejecting all bids and extending the time in ``actions_outcome``, replacing a
member in ``actions_replace``, the lowest-evaluated-price adjustments in ``actions_price``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction

from audit.checkpoints import issue_checkpoint
from common.errors import BadRequest, ErrorCode, PlatformError

from . import state as st
from .inputs import bids_for_evaluation
from .models import EvaluationSession, Member, SessionBidder, SessionVenue, Venue
from .rules import steps
from .workflow import (Call, arrival_step, audit, check_step, check_unlocked, current_state, driver,
                       forbidden, invalid, lock_session, member_by_code, member_of,
                       presence_check_seconds, save_state, seated_member)


# --- creation -------------------------------------------------------------------------------------

def do_create_session(*, lot, draw, main_venue_id: int, sub_venue_ids: list[int], scoring: dict,
                      blind: bool, tenderer_reps: list[str], k_percent: str, call: Call) -> EvaluationSession:
    """A session for ``lot`` with the drawn committee seated by region at the venues."""
    from evaluation.models import Expert

    from .rules.aggregate import parse_items
    from .rules.settings import validate_evaluation_settings

    if draw.lot_id != lot.pk or not draw.committee:
        raise invalid("the draw is not this lot's, or has no committee")
    if draw.state != draw.State.DRAWN:  # a superseded draw's committee is no committee
        raise invalid("only the lot's current, computed draw seats a committee")
    if hasattr(draw, "session"):
        raise PlatformError(ErrorCode.CONFLICT, "this draw already has a session")
    venue_ids = [main_venue_id] + [v for v in sub_venue_ids if v != main_venue_id]
    venues = {v.pk: v for v in Venue.objects.filter(pk__in=venue_ids).select_related("region")}
    if len(venues) != len(venue_ids) or len(venue_ids) < 2:
        raise BadRequest("one main venue and at least one sub venue, all existing")
    items = parse_items(scoring.get("items") or [])
    criteria = [str(c) for c in scoring.get("criteria") or []]
    if not criteria:
        raise BadRequest("the compliance review needs criteria")
    rules = validate_evaluation_settings(lot.evaluation_settings or {})
    if rules["price_formula"] != "f87_lowest" and not k_percent:
        raise BadRequest("the construction formula needs the drawn coefficient K")
    bids = bids_for_evaluation(lot)
    if not bids:
        raise invalid("no bids to evaluate")
    experts = {str(e.pk): e for e in Expert.objects.filter(pk__in=[int(i) for i in draw.committee])
               .select_related("region")}
    by_region = {v.region.code: v for v in sorted(venues.values(), key=lambda v: v.pk != main_venue_id)}
    tie_seed = secrets.token_bytes(32)
    session = EvaluationSession.objects.create(
        lot=lot, draw=draw, main_venue_id=main_venue_id, rules_settings=rules,
        scoring={"items": [{"id": i.id, "category": i.category, "kind": i.kind, "max": str(i.max),
                            "step": str(i.step)} for i in items], "criteria": criteria},
        blind=blind, k_percent=k_percent or "", tie_seed_hex=tie_seed.hex(),
        tie_seed_commitment=hashlib.sha256(tie_seed).hexdigest(),
        state=st.dump_state(steps.start(now=call.now)), created_by=call.user, created_at=call.now,
        next_check=call.now + timedelta(seconds=presence_check_seconds()))
    for vid in venue_ids:
        SessionVenue.objects.create(session=session, venue_id=vid, is_main=vid == main_venue_id)
    seats: dict[int, int] = {}
    for n, expert_id in enumerate(draw.committee, start=1):
        expert = experts[expert_id]
        venue = by_region.get(expert.region.code)
        if venue is None:
            raise BadRequest("no venue of the session is in the region of a drawn expert",
                             details={"region": expert.region.code})
        seats[venue.pk] = seats.get(venue.pk, 0) + 1
        Member.objects.create(session=session, expert=expert, venue=venue, code=f"E{n}",
                              seat=seats[venue.pk], tenderer_rep=expert_id in set(map(str, tenderer_reps)))
    order = list(bids)
    secrets.SystemRandom().shuffle(order)  # codes in random order: a code says nothing of the name
    for n, bid in enumerate(order, start=1):
        SessionBidder.objects.create(session=session, code=f"B{n:02d}", bidder_org_id=bid.bidder_org_id,
                                     name=bid.bidder_name, credit_code=bid.credit_code,
                                     price_fen=bid.price_fen, announced=bid.announced)
    audit(session, "evaluation.session.created", call, draw=draw.pk, venues=venue_ids, blind=blind,
          bidders=len(order), members=len(draw.committee), tie_seed_commitment=session.tie_seed_commitment)
    issue_checkpoint(f"evaluation {session.pk} created", now=call.now)
    return session


# --- sign-in and pledge ---------------------------------------------------------------------------

def member_patch(session, member) -> st.Patch | Any:
    member = Member.objects.select_related("expert", "expert__user").get(pk=member.pk)
    return lambda venue_id: [(["members", member.code], st.member_view(member, venue_id))]


def do_sign_in(session, venue_id: int, call: Call) -> dict:
    member = member_of(session, call.user)
    arrival_step(session, member, steps.Step.SIGN_IN)
    if member.venue_id != venue_id:
        raise forbidden("sign in at the venue you are seated at")
    if member.signed_in_at is None:
        member.signed_in_at = call.now
        member.save(update_fields=["signed_in_at"])
        audit(session, "evaluation.member.signed_in", call, member=member.code, venue=venue_id)
        st.broadcast(session, "eval.member", member_patch(session, member), now=call.now)
    return {"member": member.code}


def do_confirm(session, venue_id: int, call: Call) -> dict:
    """Venue staff confirm a signed-in expert's identity (at their own venue only)."""
    member = member_by_code(session, call.payload.get("member"))
    arrival_step(session, member, steps.Step.SIGN_IN)
    if member.venue_id != venue_id or not session.venues.filter(venue_id=venue_id).exists():
        raise forbidden("staff confirm the experts of their own venue")
    if member.signed_in_at is None:
        raise invalid("the expert has not signed in")
    if member.confirmed_at is None:
        member.confirmed_at, member.confirmed_by = call.now, call.user
        member.save(update_fields=["confirmed_at", "confirmed_by"])
        audit(session, "evaluation.member.confirmed", call, member=member.code, venue=venue_id)
        st.broadcast(session, "eval.member", member_patch(session, member), now=call.now)
    return {"member": member.code, "confirmed": True}


def do_pledge(session, venue_id: int, call: Call) -> dict:
    member = member_of(session, call.user)
    arrival_step(session, member, steps.Step.PLEDGE)
    recusal = call.payload.get("recusal") or ""
    if not isinstance(recusal, str) or len(recusal) > 2000:
        raise BadRequest("'recusal' is a text of at most 2000 characters")
    member.pledged_at, member.recusal = call.now, recusal.strip()
    member.save(update_fields=["pledged_at", "recusal"])
    audit(session, "evaluation.member.pledged", call, member=member.code, recusal=member.recusal)
    st.broadcast(session, "eval.member", member_patch(session, member), now=call.now)
    return {"member": member.code, "recused": bool(member.recusal)}


def do_vote_chair(session, venue_id: int, call: Call) -> dict:
    state = check_step(session, steps.Step.CHAIR_ELECTION)
    if state.chair is not None:
        raise invalid("the chair is elected")
    from .models import ChairVote

    voter = seated_member(session, call.user)
    candidate = member_by_code(session, call.payload.get("candidate"))
    if candidate.tenderer_rep:
        raise BadRequest("the tenderer's representative cannot chair (F87 45)")
    rnd = state.election_round
    if ChairVote.objects.filter(session=session, round=rnd, voter=voter).exists():
        raise invalid("you have voted in this round", round=rnd)
    ChairVote.objects.create(session=session, round=rnd, voter=voter, candidate=candidate, at=call.now)
    audit(session, "evaluation.chair.voted", call, round=rnd, voter=voter.code)
    st.to_member(session, voter, "eval.my_vote", [(["chair_vote", voter.code], candidate.code)], now=call.now)
    members = list(session.members.values_list("code", flat=True))
    votes = dict(ChairVote.objects.filter(session=session, round=rnd, voter__replaced_at__isnull=True)
                 .values_list("voter__code", "candidate__code"))
    if len(votes) == len(members):
        ineligible = set(session.members.filter(tenderer_rep=True).values_list("code", flat=True))
        new = steps.advance(state, steps.ChairVote(votes=votes, members=frozenset(members),
                                                   ineligible=frozenset(ineligible)), now=call.now)
        save_state(session, new)
        audit(session, "evaluation.chair.round_closed", call, round=rnd, chair=new.chair,
              tally={c: list(votes.values()).count(c) for c in sorted(set(votes.values()))})
        # A new round clears every member's own vote display.
        for m in session.members.select_related("expert__user"):
            if new.chair is None:
                st.to_member(session, m, "eval.my_vote", [(["chair_vote", m.code], None)], now=call.now)
    st.broadcast(session, "eval.election",
                 st.session_patch(session) + [(["election"], st.section_election(session))], now=call.now)
    return {"round": rnd, "voted": True}


# --- steps, clock, documents ----------------------------------------------------------------------

def _before_leaving(session, state: steps.State, call: Call) -> st.Patch:
    """Preconditions and results of leaving the current step; returns extra patches."""
    from . import actions_outcome, actions_report, actions_scoring

    members = session.members.all()
    if steps.ORDER.index(state.step) > steps.ORDER.index(steps.Step.PLEDGE):
        # A replacement (Reg 48) arrives mid-session: nothing moves on until it has taken its seat.
        waiting = [m.code for m in members if m.signed_in_at is None or m.confirmed_at is None
                   or m.pledged_at is None]
        if waiting:
            raise invalid("a replacement signs in, is confirmed and pledges first", missing=waiting)
    if state.step == steps.Step.SIGN_IN:
        missing = [m.code for m in members if m.signed_in_at is None or m.confirmed_at is None]
        if missing:
            raise invalid("every member signs in and is confirmed by venue staff", missing=missing)
    elif state.step == steps.Step.PLEDGE:
        missing = [m.code for m in members if m.pledged_at is None]
        recused = [m.code for m in members if m.recusal]
        if missing or recused:
            raise invalid("every member pledges; a recused member must be replaced first",
                          missing=missing, recused=recused)
    elif state.step == steps.Step.COMPLIANCE:
        return actions_scoring.decide_compliance(session, call)
    elif state.step == steps.Step.SCORING:
        actions_outcome.check_reject_all_decided(session)
        from .actions_price_review import check_review_done

        check_review_done(session, call)
        return actions_scoring.compute_summary(session, call, require_complete=True)
    elif state.step == steps.Step.SUMMARY:
        return actions_scoring.compute_ranking(session, call)
    elif state.step == steps.Step.RANKING:
        return actions_report.prepare_report(session, call)
    elif state.step == steps.Step.SIGNING:
        return actions_report.check_all_signed(session)
    return []


def close_session_media(session, call: Call) -> None:
    """The evaluation is done: after the commit, the session's media room is closed and its
    recordings' hashes go into the audit log under the lot (``realtime.recordings``, docs/media.md)."""
    from functools import partial

    from realtime.recordings import close_media_room

    transaction.on_commit(partial(close_media_room, f"eval-{session.pk}",
                                  room_key=st.room_key(session.pk, session.main_venue_id),
                                  tender_id=session.lot_id, actor=call.actor, now=call.now), robust=True)


def do_next(session, venue_id: int, call: Call) -> dict:
    by = driver(session, call)
    state = check_unlocked(session)
    if state.pending_back is not None:
        raise invalid("a request to go back is waiting for the supervisor")
    if state.step == steps.Step.DONE:
        raise invalid("the evaluation is done")
    extra = _before_leaving(session, state, call)
    new = steps.advance(state, steps.Next(by=by), now=call.now)
    save_state(session, new, step_deadline=None)
    if new.step == steps.Step.DONE:
        session.next_check = None
        session.save(update_fields=["next_check"])
        close_session_media(session, call)
    audit(session, "evaluation.step.advanced", call, step_from=state.step.value, step=new.step.value, by=by)
    issue_checkpoint(f"evaluation {session.pk} {new.step.value}", now=call.now)
    # The bidders' section after the new step: statuses, and names once 暗标 ends at the ranking.
    st.broadcast(session, "eval.step", st.session_patch(session) + list(extra)
                 + [(["bidders"], st.section_bidders(session)),
                    (["price_review"], st.section_price_review(session))], now=call.now)
    return {"step": new.step.value}


def do_set_clock(session, venue_id: int, call: Call) -> dict:
    driver(session, call)
    check_unlocked(session)
    minutes = call.payload.get("minutes")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 24 * 60:
        raise BadRequest("'minutes' is an integer from 1 to 1440")
    session.step_deadline = call.now + timedelta(minutes=minutes)
    session.save(update_fields=["step_deadline"])
    audit(session, "evaluation.clock.set", call, deadline=session.step_deadline, minutes=minutes)
    st.broadcast(session, "eval.clock", st.session_patch(session), now=call.now)
    return {"deadline": st.section_session(session)["deadline"]}


def do_show_document(session, venue_id: int, call: Call) -> dict:
    driver(session, call)
    check_unlocked(session)
    doc = call.payload
    if not isinstance(doc.get("id"), str) or not isinstance(doc.get("title"), str) or \
            len(doc["id"]) > 100 or len(doc["title"]) > 200:
        raise BadRequest("a document has an 'id' and a 'title'")
    page = doc.get("page", 1)
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise BadRequest("'page' is a positive integer")
    session.document = {"id": doc["id"], "title": doc["title"], "page": page}
    session.save(update_fields=["document"])
    audit(session, "evaluation.document.shown", call, **session.document)
    st.broadcast(session, "eval.document", st.session_patch(session), now=call.now)
    return session.document


def do_request_back(session, venue_id: int, call: Call) -> dict:
    if driver(session, call) != "chair":
        raise forbidden("only the chair requests going back")
    state = check_unlocked(session)
    to, reason = call.payload.get("to"), call.payload.get("reason")
    if to not in {s.value for s in steps.Step} or not isinstance(reason, str) or len(reason) > 2000:
        raise BadRequest("'to' is a step and 'reason' a text")
    new = steps.advance(state, steps.RequestBack(by="chair", to=steps.Step(to), reason=reason), now=call.now)
    save_state(session, new)
    audit(session, "evaluation.back.requested", call, to=to, reason=reason.strip(), step=state.step.value)
    st.broadcast(session, "eval.back", st.session_patch(session), now=call.now)
    return {"pending": to}


def do_decide_back(session, venue_id: int, call: Call) -> dict:
    state = current_state(session)
    approve = call.payload.get("approve")
    if not isinstance(approve, bool):
        raise BadRequest("'approve' is true or false")
    event = steps.ApproveBack(by="supervisor") if approve else steps.RejectBack(by="supervisor")
    new = steps.advance(state, event, now=call.now)
    save_state(session, new, **({"step_deadline": None} if approve else {}))
    # After the new step is saved: the bidders' section ``_reopen`` sends is the one of the step gone
    # back to (暗标 hides the names again before the ranking).
    extra: st.Patch = _reopen(session, new.step, call) if approve else []
    audit(session, "evaluation.back.approved" if approve else "evaluation.back.rejected", call,
          to=state.pending_back.to.value if state.pending_back else None, step_from=state.step.value)
    if approve:
        issue_checkpoint(f"evaluation {session.pk} back to {new.step.value}", now=call.now)
    st.broadcast(session, "eval.back", st.session_patch(session) + extra, now=call.now)
    return {"step": new.step.value}


def _reopen(session, step: steps.Step, call: Call) -> st.Patch:
    """Going back clears the results decided at and after ``step`` (they are decided again)."""
    order = steps.ORDER.index(step)
    patch: st.Patch = []
    cleared = []
    if order <= steps.ORDER.index(steps.Step.CHAIR_ELECTION):
        # The chair is elected again from round 1 (the votes cast are in the audit log).
        session.chair_votes.all().delete()
        patch.append((["election"], {"round": 1, "voted": [], "tallies": {}}))
        for m in session.members.select_related("expert__user"):
            st.to_member(session, m, "eval.my_vote", [(["chair_vote", m.code], None)], now=call.now)
    if order <= steps.ORDER.index(steps.Step.SCORING) and session.reject_all is not None:
        session.reject_all = None  # decided again after the review (the votes are in the audit log)
        cleared.append("reject_all")
    if order <= steps.ORDER.index(steps.Step.COMPLIANCE) and session.compliance is not None:
        session.compliance = None
        session.bidders.update(rejected=None)
        cleared.append("compliance")
        if session.price_review:  # opened again when the review is decided again
            session.price_review = {}
            session.save(update_fields=["price_review"])
    if order <= steps.ORDER.index(steps.Step.SCORING) and session.summary is not None:
        session.summary = None
        cleared.append("summary")
    if order <= steps.ORDER.index(steps.Step.SUMMARY) and session.ranking is not None:
        session.ranking = None
        cleared.append("ranking")
    if order <= steps.ORDER.index(steps.Step.RANKING) and session.report_sha256:
        session.report, session.report_sha256, session.signing_deadline = None, "", None
        session.signing_check = None
        session.signatures.all().delete()
        cleared.append("report")
    session.save(update_fields=["compliance", "summary", "ranking", "report", "report_sha256",
                                "signing_deadline", "signing_check", "reject_all"])
    for name in cleared:
        patch.append(([name], None))
    if "compliance" in cleared or "ranking" in cleared:
        patch.append((["bidders"], st.section_bidders(session)))
        # 暗标 hides the review's amounts again before the ranking
        patch.append((["price_review"], st.section_price_review(session)))
    return patch


def in_session(session_id: int, fn, venue_id: int, call: Call) -> dict:
    """Run ``fn(session, venue_id, call)`` in one transaction with the session row locked."""
    with transaction.atomic():
        return fn(lock_session(session_id), venue_id, call)
