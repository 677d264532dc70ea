"""The committee's decisions as a body: rejecting all bids (R12 27; Law 42) and extending the time
(Reg 48). Same contract as ``actions``: called with the session row locked, inside the transaction
that writes the audit entries and the room events.

Rejecting all bids: when the compliance review leaves fewer than 3 valid bids, scoring waits
(``check_reject_all_decided``) until the committee decides. The chair proposes
(``eval.propose_reject_all``, with reasons), every member votes (``eval.vote_reject_all``), and the
majority (``rules.motions.tally_reject_all``) decides either way: ``reject_all`` ends the
evaluation with the outcome "all bids rejected" — the report is generated at once and the members
sign it (``rules.steps.RejectAll``) — or ``continue`` opens scoring of the remaining valid bids.
Both are recorded (audit, the report).

Time: a member states that the current step's time is insufficient (``eval.time_insufficient``);
when more than a third have, the step's deadline moves by ``EVAL_EXTENSION_MINUTES`` (30), recorded
in ``EvaluationSession.timing`` and pushed to every venue. The main venue (or the chair) may still set
any clock with ``eval.set_clock``.
"""

from __future__ import annotations

from audit.checkpoints import issue_checkpoint
from common.errors import BadRequest

from . import state as st
from .rules import motions, steps
from .workflow import (Call, audit, check_step, check_unlocked, conf, forbidden, invalid,
                       save_state, seated_member)


def extension_minutes() -> int:
    return conf("EVAL_EXTENSION_MINUTES", 30)


def members_codes(session) -> list[str]:
    return list(session.members.order_by("code").values_list("code", flat=True))


# --- rejecting all bids ---------------------------------------------------------------------------

def check_reject_all_decided(session) -> None:
    """Fewer than 3 valid bids: nothing is scored and scoring is not left until the committee has
    decided whether to reject all bids."""
    decision = session.compliance or {}
    if not decision.get("may_reject_all"):
        return
    if session.reject_all is None or session.reject_all.get("decision") is None:
        raise invalid("fewer than 3 valid bids remain: the committee first decides whether to reject "
                      "all bids (R12 27)", valid=len(decision.get("passed", [])))


def do_propose_reject_all(session, venue_id: int, call: Call) -> dict:
    state = check_step(session, steps.Step.SCORING)
    chair = seated_member(session, call.user)
    if state.chair != chair.code:
        raise forbidden("the chair proposes rejecting all bids")
    valid = len((session.compliance or {}).get("passed", []))
    options = motions.reject_all_options(valid)
    if not options:
        raise invalid("3 or more valid bids remain: all bids cannot be rejected for lack of competition",
                      valid=valid)
    if session.reject_all is not None:
        raise invalid("the committee is voting or has decided")
    reason = call.payload.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 2000:
        raise BadRequest("the proposal states its reasons (1 to 2000 characters)")
    session.reject_all = {"options": sorted(options), "valid": valid, "round": 1, "proposed_by": chair.code,
                          "reason": reason.strip(), "proposed_at": st._t(call.now), "votes": {},
                          "decision": None, "decided_at": None, "tally": None, "earlier_rounds": []}
    session.save(update_fields=["reject_all"])
    audit(session, "evaluation.reject_all.proposed", call, by=chair.code, reason=reason.strip(), valid=valid,
          options=sorted(options))
    st.broadcast(session, "eval.reject_all", [(["reject_all"], st.section_reject_all(session))], now=call.now)
    return {"proposed": True, "options": sorted(options)}


def do_vote_reject_all(session, venue_id: int, call: Call) -> dict:
    """``{reject: true}`` rejects all bids, ``{reject: false}`` continues with the valid bids."""
    from . import actions_report

    state = check_step(session, steps.Step.SCORING)
    member = seated_member(session, call.user)
    motion = session.reject_all
    if motion is None or motion.get("decision") is not None:
        raise invalid("no proposal to reject all bids is open")
    reject = call.payload.get("reject")
    if not isinstance(reject, bool):
        raise BadRequest("'reject' is true (reject all bids) or false (continue)")
    if member.code in motion["votes"]:
        raise invalid("you have voted in this round", round=motion["round"])
    members = members_codes(session)
    votes = {**motion["votes"], member.code: reject}
    result = motions.tally_reject_all(votes, members=members, valid=motion["valid"])
    motion = {**motion, "votes": votes}
    audit(session, "evaluation.reject_all.voted", call, member=member.code, reject=reject, round=motion["round"])
    st.to_member(session, member, "eval.my_reject_vote", [(["reject_vote", member.code], reject)], now=call.now)
    if result.new_round:
        # No majority with every vote in (an even committee): the members vote again.
        motion.update(earlier_rounds=motion["earlier_rounds"] + [{"round": motion["round"], "votes": votes}],
                      round=motion["round"] + 1, votes={})
        for m in session.members.select_related("expert__user"):
            st.to_member(session, m, "eval.my_reject_vote", [(["reject_vote", m.code], None)], now=call.now)
    if result.decision is None:
        session.reject_all = motion
        session.save(update_fields=["reject_all"])
        st.broadcast(session, "eval.reject_all", [(["reject_all"], st.section_reject_all(session))], now=call.now)
        return {"voted": True, "decision": None}
    motion.update(decision=result.decision, decided_at=st._t(call.now),
                  tally={"reject": result.reject, "continue": result.keep, "members": len(members)})
    session.reject_all = motion
    session.save(update_fields=["reject_all"])
    audit(session, "evaluation.reject_all.decided", call, decision=result.decision, tally=motion["tally"],
          votes=votes, valid=motion["valid"])
    patch: st.Patch = [(["reject_all"], st.section_reject_all(session))]
    if result.decision == motions.CONTINUE:
        st.broadcast(session, "eval.reject_all", patch, now=call.now)
        return {"voted": True, "decision": result.decision}
    new = steps.advance(state, steps.RejectAll(by="committee"), now=call.now)
    save_state(session, new, step_deadline=None)
    patch += actions_report.prepare_report(session, call)
    audit(session, "evaluation.step.advanced", call, step_from=state.step.value, step=new.step.value,
          by="committee", outcome=new.outcome)
    issue_checkpoint(f"evaluation {session.pk} all bids rejected", now=call.now)
    st.broadcast(session, "eval.step", st.session_patch(session) + patch
                 + [(["bidders"], st.section_bidders(session))], now=call.now)
    return {"voted": True, "decision": result.decision}


# --- the time (Reg 48) ----------------------------------------------------------------------------

def do_time_insufficient(session, venue_id: int, call: Call) -> dict:
    state = check_unlocked(session)
    if state.step == steps.Step.DONE:
        raise invalid("the evaluation is done")
    member = seated_member(session, call.user)
    if session.step_deadline is None:
        raise invalid("no step clock is running: there is no time to extend")
    timing = dict(session.timing or {})
    step = state.step.value
    claims = list(timing.get("claims", [])) if timing.get("step") == step else []
    if member.code in claims:
        raise invalid("you have already said so in this step")
    members = members_codes(session)
    claims = sorted(c for c in claims + [member.code] if c in members)
    audit(session, "evaluation.time.insufficient", call, member=member.code, step=step, claims=claims,
          members=len(members))
    extended = motions.extension_due(claims, members=members)
    extensions = list(timing.get("extensions", []))
    if extended:
        old = session.step_deadline
        session.step_deadline = motions.extended_deadline(old, now=call.now, minutes=extension_minutes())
        record = {"step": step, "at": st._t(call.now), "from": st._t(old), "to": st._t(session.step_deadline),
                  "minutes": extension_minutes(), "claims": claims, "members": len(members)}
        extensions.append(record)
        claims = []  # a further extension needs a new third
        audit(session, "evaluation.time.extended", call, **record)
    session.timing = {"step": step, "claims": claims, "extensions": extensions}
    session.save(update_fields=["timing", "step_deadline"])
    st.broadcast(session, "eval.time", st.session_patch(session), now=call.now, extended=extended)
    return {"claims": len(claims), "extended": extended, "deadline": st._t(session.step_deadline)}
