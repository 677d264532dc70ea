"""What each venue room shows, and the events that keep it current.

A venue room's state (the snapshot) is a dict of sections. Every event carries ``patch``: a list of
``[path, value]`` pairs that set ``value`` at ``path`` (a list of keys) — the client's reducer
(``VenueRoom.apply``) is that one generic operation, and the values are built by the same functions
as the snapshot, so *snapshot before + events = snapshot after* holds by construction and is
checked by ``realtime.testing.verify_action`` in the tests.

Sections (stream in brackets):

- ``session`` [all]: step, its clock, chair, election round, lock, pending going-back, the document
  shown; ``venues`` [all]: each venue's name, role (main/sub) and whether it is down;
- ``members`` [all]: per member code, sign-in/confirmation/pledge flags and venue; **names, seats and
  titles only for the members seated at this room's venue** (other venues' private data stays
  there);
- ``bidders`` [all]: per bidder code, status, and (unless 暗标 until the ranking) name and price;
- ``progress`` [all]: per member code, how many bidders they have scored (never the scores);
- ``compliance``, ``summary``, ``ranking``, ``report`` [all]: the decided results, once decided;
  ``corrections``, ``returned``, ``clarifications``, ``election`` [all];
- ``reject_all`` [all]: the committee's vote on rejecting all bids (who voted; the votes once
  decided); ``replacements`` [all]: replacement requests and their result, by member code;
  ``adjustments`` [all]: the committee's price adjustments (lowest evaluated price);
  ``session.time`` [all]: claims that the time is insufficient, and the extensions;
- ``sheets``, ``votes``, ``chair_vote``, ``reject_vote`` [user:<expert>]: an expert's own scores and votes; a
  supervisor (sees every stream) gets them for every member of the venue;
- ``names`` [role:supervisor]: bidder names for supervisors, also in 暗标 mode.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from common.canonical import format_time
from realtime.audience import Viewer, to_role, to_user
from realtime.log import append_event

from .questions import question_code
from .rules import steps

# --- steps.State <-> JSON -------------------------------------------------------------------------


def _t(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def _pt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def dump_state(state: steps.State) -> dict[str, Any]:
    back = state.pending_back
    return {
        "step": state.step.value, "step_started_at": _t(state.step_started_at), "chair": state.chair,
        "election_round": state.election_round, "missing_venues": sorted(state.missing_venues),
        "pending_back": None if back is None else {"to": back.to.value, "reason": back.reason,
                                                   "requested_at": _t(back.requested_at)},
        "locks": [{"started_at": _t(lk.started_at), "ended_at": _t(lk.ended_at),
                   "venues": sorted(lk.venues)} for lk in state.locks],
        "outcome": state.outcome,
    }


def load_state(raw: dict[str, Any]) -> steps.State:
    back = raw.get("pending_back")
    return steps.State(
        step=steps.Step(raw["step"]), step_started_at=_pt(raw.get("step_started_at")),
        chair=raw.get("chair"), election_round=raw.get("election_round", 1),
        missing_venues=frozenset(raw.get("missing_venues", ())),
        pending_back=None if back is None else steps.BackRequest(
            steps.Step(back["to"]), back["reason"], _pt(back["requested_at"])),
        locks=tuple(steps.Lock(started_at=_pt(lk["started_at"]), venues=frozenset(lk["venues"]),
                               ended_at=_pt(lk["ended_at"])) for lk in raw.get("locks", ())),
        outcome=raw.get("outcome"))


def room_key(session_id: int, venue_id: int) -> str:
    return f"venue:{session_id}:{venue_id}"


def parse_room_key(key: str) -> tuple[int, int]:
    _, session_id, venue_id = key.split(":")
    return int(session_id), int(venue_id)


# --- sections -------------------------------------------------------------------------------------

def names_visible(session) -> bool:
    """暗标: bidder names and prices stay hidden from the room until the technical review is over."""
    if not session.blind:
        return True
    step = steps.Step(session.state["step"])
    return steps.ORDER.index(step) >= steps.ORDER.index(steps.Step.RANKING)


def section_session(session) -> dict[str, Any]:
    state = session.state
    return {"id": session.pk, "lot": {"id": session.lot_id, "code": session.lot.code,
                                      "title": session.lot.title},
            "blind": session.blind, "main_venue": session.main_venue_id,
            "step": state["step"], "step_started_at": state["step_started_at"],
            "deadline": _t(session.step_deadline), "chair": state["chair"],
            "election_round": state["election_round"], "locked": bool(state["missing_venues"]),
            "missing_venues": state["missing_venues"], "pending_back": state["pending_back"],
            "locks": state["locks"], "document": session.document or None,
            "outcome": state.get("outcome"), "time": section_time(session)}


def section_time(session) -> dict[str, Any]:
    """Who stated that the current step's time is insufficient (Reg 48), and every extension."""
    timing = session.timing or {}
    claims = timing.get("claims", []) if timing.get("step") == session.state["step"] else []
    return {"claims": sorted(claims), "extensions": timing.get("extensions", [])}


def section_reject_all(session) -> dict[str, Any] | None:
    """The committee's vote on rejecting all bids (R12 27): who voted while it is open; how each
    member voted once decided (the committee's record, member codes only)."""
    motion = session.reject_all
    if motion is None:
        return None
    out = {k: motion.get(k) for k in ("options", "valid", "round", "proposed_by", "reason", "proposed_at",
                                      "decision", "decided_at", "tally")}
    out["voted"] = sorted(motion.get("votes", {}))
    out["votes"] = motion.get("votes", {}) if motion.get("decision") else None
    return out


def replacement_view(r) -> dict[str, Any]:
    return {"member": r.member.code, "reason": r.reason, "note": r.note, "requested_at": format_time(r.requested_at),
            "approved": r.approved, "decided_at": _t(r.decided_at),
            "new_member": r.new_member.code if r.new_member_id else None}


def section_replacements(session) -> dict[str, Any]:
    rows = session.replacements.select_related("member", "new_member").order_by("id")
    return {str(r.pk): replacement_view(r) for r in rows}


def section_adjustments(session) -> dict[str, Any]:
    """The committee's price adjustments per bidder (lowest evaluated price method)."""
    return dict(sorted((session.adjustments or {}).items()))


def section_bills(session) -> dict[str, Any]:
    """清标 per bidder: the bill's hash, the counts of findings, the proposed correction."""
    return {r.bidder.code: {"bill_sha256": r.bill_sha256, "counts": r.report["counts"], "lines": r.report["lines"],
                            "proposed": r.report["proposed"], "checked_at": _t(r.checked_at)}
            for r in session.bill_reports.select_related("bidder").order_by("bidder__code")}


def section_price_review(session) -> dict[str, Any]:
    """The price review (``actions_price_review``) as every venue sees it. With 暗标 no price is
    shown before the ranking: the ceiling's rejections by code, the flags without amounts."""
    review = session.price_review or {}
    if not session.blind or session.ranking is not None:
        return review
    flags = {b: {k: v for k, v in f.items() if k in ("bidder", "clarification", "decision")}
             for b, f in review.get("low_price", {}).get("flags", {}).items()}
    corrections = {b: {k: v for k, v in c.items() if k in ("basis", "clarification", "status")}
                   for b, c in review.get("corrections", {}).items()}
    return {**review, "above_ceiling": sorted(review.get("above_ceiling", {})), "corrections": corrections,
            "low_price": {**review.get("low_price", {}), "flags": flags}}


def section_venues(session) -> dict[str, Any]:
    out = {}
    for sv in session.venues.select_related("venue").order_by("-is_main", "venue_id"):
        out[str(sv.venue_id)] = {"name": sv.venue.name, "main": sv.is_main, "down": sv.down,
                                 "members": [m.code for m in session.members.filter(venue_id=sv.venue_id)
                                             .order_by("seat")]}
    return out


def member_view(member, venue_id: int) -> dict[str, Any]:
    """A member as a room of ``venue_id`` shows it: names only at the member's own venue."""
    out = {"venue": member.venue_id, "signed_in": member.signed_in_at is not None,
           "confirmed": member.confirmed_at is not None, "pledged": member.pledged_at is not None,
           "recused": bool(member.recusal), "replaced": member.replaced_at is not None,
           "replaces": member.replaces.code if member.replaces_id else None}
    if member.venue_id == venue_id:
        user = member.expert.user
        out.update(name=str(user), seat=member.seat, title=member.expert.title)
    return out


def section_members(session, venue_id: int) -> dict[str, Any]:
    from .models import Member

    # Replaced members stay listed (flagged): the committee's record shows who left and who came.
    members = (Member.all_members.filter(session=session)
               .select_related("expert", "expert__user", "replaces").order_by("code"))
    return {m.code: member_view(m, venue_id) for m in members}


def bidder_view(session, bidder) -> dict[str, Any]:
    out: dict[str, Any] = {"status": "pending" if session.compliance is None else
                           ("rejected" if bidder.rejected else "valid")}
    if names_visible(session):
        out.update(name=bidder.name, price_fen=bidder.price_fen)
    return out


def section_bidders(session) -> dict[str, Any]:
    return {b.code: bidder_view(session, b) for b in session.bidders.order_by("code")}


def section_progress(session) -> dict[str, int]:
    from django.db.models import Count

    counts = dict(session.sheets.values_list("member__code").annotate(n=Count("id")))
    return {m: counts.get(m, 0) for m in session.members.order_by("code").values_list("code", flat=True)}


def section_election(session) -> dict[str, Any]:
    rnd = session.state["election_round"]
    voted = sorted(session.chair_votes.filter(round=rnd, voter__replaced_at__isnull=True)
                   .values_list("voter__code", flat=True))
    tallies = {}
    for r, cand in session.chair_votes.filter(round__lt=rnd).values_list("round", "candidate__code"):
        tallies.setdefault(str(r), {}).setdefault(cand, 0)
        tallies[str(r)][cand] += 1
    return {"round": rnd, "voted": voted, "tallies": tallies}


def correction_view(c) -> dict[str, Any]:
    return {"member": c.member.code, "bidder": c.bidder.code, "item": c.item, "reason": c.reason,
            "old": c.old, "new": c.new, "requested_by": c.requested_by, "at": format_time(c.at)}


def section_corrections(session) -> list[dict[str, Any]]:
    return [correction_view(c) for c in session.corrections.select_related("member", "bidder").order_by("id")]


def section_returned(session) -> dict[str, Any]:
    rows = session.sheets.filter(returned__isnull=False, member__replaced_at__isnull=True).select_related(
        "member", "bidder")
    return {f"{s.member.code}:{s.bidder.code}": s.returned for s in rows}


def clarification_view(c) -> dict[str, Any]:
    # Who asked is in the record (audit, report) but not here: the bidder never learns it, and the
    # committee asks as one body.
    code, params = question_code(c)  # a question the platform wrote is shown in the page's language
    return {"bidder": c.bidder.code, "question": c.question, "question_code": code, "question_params": params,
            "asked_at": format_time(c.asked_at),
            "deadline": format_time(c.deadline), "answer": c.answer or None,
            "answered_at": _t(c.answered_at)}


def section_clarifications(session) -> dict[str, Any]:
    return {str(c.pk): clarification_view(c) for c in session.clarifications.select_related("bidder")}


def section_report(session) -> dict[str, Any] | None:
    if not session.report_sha256:
        return None
    signatures = dict(session.signatures.values_list("member__code", "kind"))
    return {"sha256": session.report_sha256, "signing_deadline": _t(session.signing_deadline),
            "signatures": signatures}


def sheet_view(sheet) -> dict[str, Any]:
    return {"values": sheet.values, "total": sheet.submitted_total or None}


def private_sections(session, codes: list[str]) -> dict[str, Any]:
    """The user-stream sections for these member codes."""
    sheets: dict[str, dict] = {c: {} for c in codes}
    for s in session.sheets.filter(member__code__in=codes).select_related("member", "bidder"):
        sheets[s.member.code][s.bidder.code] = sheet_view(s)
    votes: dict[str, dict] = {c: {} for c in codes}
    for v in session.compliance_votes.filter(member__code__in=codes).select_related("member", "bidder"):
        votes[v.member.code].setdefault(v.bidder.code, {})[v.criterion] = {"passed": v.passed,
                                                                           "reason": v.reason}
    chair_vote = {c: None for c in codes}
    for voter, cand in session.chair_votes.filter(round=session.state["election_round"],
                                                  voter__code__in=codes).values_list("voter__code",
                                                                                     "candidate__code"):
        chair_vote[voter] = cand
    motion = session.reject_all or {}
    reject_vote = {c: motion.get("votes", {}).get(c) for c in codes}
    return {"sheets": sheets, "votes": votes, "chair_vote": chair_vote, "reject_vote": reject_vote}


def build_snapshot(session, venue_id: int, viewer: Viewer) -> dict[str, Any]:
    snap = {
        "session": section_session(session), "venues": section_venues(session),
        "members": section_members(session, venue_id), "bidders": section_bidders(session),
        "progress": section_progress(session), "election": section_election(session),
        "compliance": session.compliance, "summary": session.summary, "ranking": session.ranking,
        "report": section_report(session), "corrections": section_corrections(session),
        "returned": section_returned(session), "clarifications": section_clarifications(session),
        "reject_all": section_reject_all(session), "replacements": section_replacements(session),
        "adjustments": section_adjustments(session), "price_review": section_price_review(session),
        "bills": section_bills(session),
    }
    if viewer.sees_all:
        codes = list(session.members.filter(venue_id=venue_id).values_list("code", flat=True))
    elif viewer.role == "expert":
        codes = list(session.members.filter(venue_id=venue_id, expert__user_id=viewer.user_id)
                     .values_list("code", flat=True))
    else:
        codes = []
    snap.update(private_sections(session, codes))
    snap["names"] = ({b.code: b.name for b in session.bidders.order_by("code")}
                     if viewer.role == "supervisor" else {})
    return snap


def apply_patch(snapshot: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The client's reducer: set each ``value`` at its ``path``. Copy-on-write along the paths only
    (the input is not modified), so a big state costs nothing per small event."""
    state = dict(snapshot)
    for path, value in event["payload"].get("patch", ()):
        node = state
        for key in path[:-1]:
            child = node.get(key)
            child = dict(child) if isinstance(child, dict) else {}
            node[key] = child
            node = child
        node[path[-1]] = value
    return state


# --- emitting -------------------------------------------------------------------------------------

Patch = list[tuple[list[str], Any]]


def broadcast(session, event: str, patch: Patch | Callable[[int], Patch], *, now: datetime,
              **extra: Any) -> None:
    """Append ``event`` to every venue room of the session, in the caller's transaction.
    ``patch`` may depend on the room's venue (a callable of the venue id)."""
    for venue_id in session.venues.values_list("venue_id", flat=True).order_by("venue_id"):
        body = patch(venue_id) if callable(patch) else patch
        append_event(room_key(session.pk, venue_id), event,
                     {"patch": [list(p) for p in body], **extra}, now=now)


def to_member(session, member, event: str, patch: Patch, *, now: datetime, **extra: Any) -> None:
    """An event only the member (and the supervisors of its venue) receives."""
    append_event(room_key(session.pk, member.venue_id), event, {"patch": [list(p) for p in patch], **extra},
                 audience=to_user(member.expert.user_id), now=now)


def to_supervisors(session, event: str, patch: Patch, *, now: datetime) -> None:
    for venue_id in session.venues.values_list("venue_id", flat=True).order_by("venue_id"):
        append_event(room_key(session.pk, venue_id), event, {"patch": [list(p) for p in patch]},
                     audience=to_role("supervisor"), now=now)


def session_patch(session) -> Patch:
    return [(["session"], section_session(session))]

