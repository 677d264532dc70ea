"""Replacing a committee member mid-session (Reg 48; R12 12 and Reg 46 for a member who must
withdraw): venue staff request it with the reason (``eval.request_replacement``: staff of the
member's venue, or the main venue's), a supervisor approves or rejects it
(``eval.decide_replacement``). On approval one expert is drawn afresh under the same rules
(``rules.draw.draw_replacement``: the seat's region, the same avoidance, the same composition
rules): the input's canonical JSON and SHA-256 and the commitment to a fresh 32-byte seed are
recorded and audited before the draw, the seed is in the report, and ``verify`` recomputes the
draw. The replaced member keeps its row (``replaced_at``): its votes and scores stay in the record
and leave every decision (void, Reg 48); it loses access to the rooms, and its open sockets leave them
(``realtime.notify.revoke_room_access``, after commit). The newcomer gets the next
code and the same seat, signs in, is confirmed by the venue staff and pledges, then reviews again:
``rules.steps.Replace`` sends the session back to the compliance review (or the chair election
for a replaced chair), clearing what was decided from there (``actions._reopen``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from audit.checkpoints import issue_checkpoint
from common.errors import BadRequest, ErrorCode, PlatformError
from realtime.audience import to_role
from realtime.log import append_event
from realtime.notify import revoke_room_access

from . import state as st
from .actions import _reopen
from .models import Expert, Member, Replacement
from .rules import draw as rules_draw
from .rules import steps
from .workflow import (MAIN_STAFF, STAFF, SUPERVISOR, Call, audit, check_unlocked, current_state,
                       forbidden, invalid, member_by_code, save_state)


def do_request_replacement(session, venue_id: int, call: Call) -> dict:
    if call.role not in (STAFF, MAIN_STAFF):
        raise forbidden("venue staff ask to replace a member")
    state = check_unlocked(session)
    if steps.ORDER.index(state.step) >= steps.ORDER.index(steps.Step.SIGNING):
        raise invalid("the report exists: go back before replacing a member", step=state.step.value)
    member = member_by_code(session, call.payload.get("member"))
    if call.role == STAFF and member.venue_id != venue_id:
        raise forbidden("sub venue staff ask to replace the members of their own venue")
    reason, note = call.payload.get("reason"), call.payload.get("note") or ""
    if reason not in Replacement.Reason.values:
        raise BadRequest("'reason' is one of the replacement reasons",
                         details={"allowed": list(Replacement.Reason.values)})
    if not isinstance(note, str) or len(note) > 2000 or (reason == Replacement.Reason.OTHER and not note.strip()):
        raise BadRequest("'note' is a text of at most 2000 characters (required for 'other')")
    if session.replacements.filter(approved__isnull=True).exists():
        raise invalid("a replacement request is waiting for the supervisor")
    row = Replacement.objects.create(session=session, member=member, reason=reason, note=note.strip(),
                                     requested_by=call.user, requested_at=call.now)
    audit(session, "evaluation.replacement.requested", call, replacement=row.pk, member=member.code,
          reason=reason, note=row.note)
    st.broadcast(session, "eval.replacement", [(["replacements", str(row.pk)], st.replacement_view(row))],
                 now=call.now)
    return {"replacement": row.pk, "member": member.code}


def replacement_input(session, old: Member, *, today) -> rules_draw.ReplacementInput:
    """The current pool of every region the committee sits in (the staying members' records are
    needed for the composition rules), everyone who ever sat or declined, the original requirements."""
    from .actions_draw import parse_snapshot, pool_snapshot

    original = parse_snapshot(session.draw.snapshot)
    staying = list(session.members.exclude(pk=old.pk).select_related("expert__region"))
    region = Expert.objects.select_related("region").get(pk=old.expert_id).region.code
    regions = {region} | {m.expert.region.code for m in staying}
    snapshot = pool_snapshot(session.lot, {r: 1 for r in sorted(regions)},
                             required=dict(original.required_specialties), min_size=original.min_size,
                             today=today)
    out = {str(e) for e in Member.all_members.filter(session=session).values_list("expert_id", flat=True)}
    out |= set(session.draw.declined)
    return rules_draw.ReplacementInput(snapshot=snapshot, region=region,
                                       staying=tuple(sorted(str(m.expert_id) for m in staying)),
                                       out=tuple(sorted(out - {str(m.expert_id) for m in staying})),
                                       size=len(staying) + 1)


def do_decide_replacement(session, venue_id: int, call: Call) -> dict:
    if call.role != SUPERVISOR:
        raise forbidden("a supervisor approves or rejects a replacement")
    row = session.replacements.select_for_update().select_related("member").filter(approved__isnull=True).first()
    if row is None:
        raise invalid("no replacement request is waiting")
    approve = call.payload.get("approve")
    if not isinstance(approve, bool):
        raise BadRequest("'approve' is true or false")
    if not approve:
        row.approved, row.decided_by, row.decided_at = False, call.user, call.now
        row.save(update_fields=["approved", "decided_by", "decided_at"])
        audit(session, "evaluation.replacement.rejected", call, replacement=row.pk, member=row.member.code)
        st.broadcast(session, "eval.replacement", [(["replacements", str(row.pk)], st.replacement_view(row))],
                     now=call.now)
        return {"replacement": row.pk, "approved": False}
    state = current_state(session)
    new_state = steps.advance(state, steps.Replace(member=row.member.code), now=call.now)
    old = row.member
    inp = replacement_input(session, old, today=call.now.date())
    text = rules_draw.canonical_replacement(inp).decode("utf-8")
    seed = secrets.token_bytes(32)
    row.snapshot, row.snapshot_sha256 = text, hashlib.sha256(text.encode()).hexdigest()
    row.seed_commitment, row.seed_hex = rules_draw.commit(seed), seed.hex()
    row.approved, row.decided_by, row.decided_at = True, call.user, call.now
    # Recorded before the draw: the input and the commitment bind it.
    audit(session, "evaluation.replacement.committed", call, replacement=row.pk, member=old.code,
          region=inp.region, snapshot_sha256=row.snapshot_sha256, seed_commitment=row.seed_commitment,
          pool=len(inp.snapshot.experts))
    result = rules_draw.draw_replacement(inp, seed)
    expert = Expert.objects.get(pk=int(result.expert))
    old.replaced_at = call.now
    old.save(update_fields=["replaced_at"])
    code = f"E{Member.all_members.filter(session=session).count() + 1}"
    new = Member.objects.create(session=session, expert=expert, venue_id=old.venue_id, code=code, seat=old.seat,
                                replaces=old)
    row.drawn, row.new_member = result.expert, new
    row.save()
    audit(session, "evaluation.replacement.drawn", call, replacement=row.pk, member=old.code, new_member=code,
          eligible=len(result.order), excluded=len(result.excluded))
    went_back = new_state.step != state.step
    save_state(session, new_state, **({"step_deadline": None} if went_back else {}))
    patch: st.Patch = _reopen(session, new_state.step, call) if went_back else []
    issue_checkpoint(f"evaluation {session.pk} member {old.code} replaced by {code}", now=call.now)
    _notify(session, old, new, row, patch, call,
            new_round=not went_back and new_state.election_round != state.election_round)
    _revoke_rooms(session, old)
    return {"replacement": row.pk, "approved": True, "new_member": code, "step": new_state.step.value}


def _revoke_rooms(session, old: Member) -> None:
    """The replaced expert's open sockets leave the session's venue rooms, on every worker, once this
    transaction commits (after the events above, so it sees its replacement first): no more events,
    no commands, no presence keeping its venue up, and a re-join is refused (``VenueRoom.authorise``).
    Only these rooms (``revoke_room_access``): closing the sockets (``disconnect_user``, 4401) would
    tell a user who is still signed in to sign in again, and end its other pages."""
    user_id = Expert.objects.values_list("user_id", flat=True).get(pk=old.expert_id)
    for venue_id in session.venues.values_list("venue_id", flat=True).order_by("venue_id"):
        revoke_room_access(st.room_key(session.pk, venue_id), user_id)


def _notify(session, old: Member, new: Member, row: Replacement, patch: st.Patch, call: Call, *,
            new_round: bool) -> None:
    """Every venue: the session, venues, committee, progress, election, returns and what the step
    change cleared; the newcomer (and supervisors) its empty own sections; the supervisors of the
    seat's venue the private sections without the replaced member."""
    if new_round:  # the votes of the open election round are void: everyone votes again
        for m in session.members.select_related("expert__user"):
            st.to_member(session, m, "eval.my_vote", [(["chair_vote", m.code], None)], now=call.now)
    common: st.Patch = st.session_patch(session) + [
        (["venues"], st.section_venues(session)), (["progress"], st.section_progress(session)),
        (["election"], st.section_election(session)), (["returned"], st.section_returned(session)),
        (["replacements", str(row.pk)], st.replacement_view(row))] + list(patch)
    st.broadcast(session, "eval.replacement",
                 lambda vid: common + [(["members"], st.section_members(session, vid))], now=call.now,
                 member=old.code, new_member=new.code)
    new = Member.objects.select_related("expert__user").get(pk=new.pk)
    st.to_member(session, new, "eval.my_seat", [(["sheets", new.code], {}), (["votes", new.code], {}),
                                                 (["chair_vote", new.code], None),
                                                 (["reject_vote", new.code], None)], now=call.now)
    codes = list(session.members.filter(venue_id=new.venue_id).values_list("code", flat=True))
    private = st.private_sections(session, codes)
    append_event(st.room_key(session.pk, new.venue_id), "eval.replacement",
                 {"patch": [[[name], value] for name, value in private.items()]},
                 audience=to_role("supervisor"), now=call.now)


def verify(row: Replacement) -> None:
    """Recompute the replacement draw from its recorded input and seed (``CONFLICT`` if not): the
    input is the one its SHA-256 (audited before the draw) names, the seed the one committed to, the
    draw gives the recorded expert, and that expert is the new member. A record that cannot even be
    read is a conflict too: it is not the caller's input that is wrong."""
    if not row.approved or not row.seed_hex:
        raise invalid("this request was not approved: nothing was drawn")
    if not hmac.compare_digest(hashlib.sha256(row.snapshot.encode("utf-8")).hexdigest(),
                               row.snapshot_sha256.lower()):
        raise PlatformError(ErrorCode.CONFLICT, "the recorded input does not match its SHA-256",
                            details={"snapshot_sha256": row.snapshot_sha256})
    try:
        seed = bytes.fromhex(row.seed_hex)
        rules_draw.verify_replacement(row.snapshot, seed, row.seed_commitment, row.drawn)
    except BadRequest as exc:
        raise PlatformError(ErrorCode.CONFLICT, f"the recorded draw cannot be recomputed: {exc.message}") from None
    except (ValueError, KeyError, TypeError):
        raise PlatformError(ErrorCode.CONFLICT, "the recorded draw cannot be read") from None
    if row.new_member_id is not None and str(row.new_member.expert_id) != row.drawn:
        raise PlatformError(ErrorCode.CONFLICT, "the new member is not the drawn expert",
                            details={"new_member": row.new_member.code})
