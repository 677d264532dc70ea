"""Replacing a committee member mid-session (Reg 48): requested by venue staff, approved by a
supervisor, one expert drawn afresh and verifiably under the same avoidance rules; the replaced
member's votes and scores stay in the record and leave every decision; the newcomer signs in, is
confirmed, pledges and reviews again; the replaced expert loses the room, bidders never enter it."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest

from accounts.models import User
from audit.models import AuditEntry
from common.errors import NotFound, PlatformError
from evaluation import actions as a
from evaluation import actions_replace as r
from evaluation import actions_scoring as s
from evaluation.models import EvaluationSession, Expert, Member, Replacement
from evaluation.room import VENUE_ROOM
from evaluation.state import room_key
from evaluation.testing import act, drive_to, expert_act, main_staff_act

from .test_session_flow import verified

pytestmark = pytest.mark.django_db


def code_of(fn, *args, **kwargs) -> str:
    with pytest.raises(PlatformError) as info:
        fn(*args, **kwargs)
    return info.value.code


def spares(sc):
    """Two more experts in the main venue's region: one the bidder B01 employs (avoided), one free."""
    region = sc.venues[0].region
    avoided = User.objects.create(username=f"avoided-{sc.session.pk}", role="expert", display_name="回避专家")
    Expert.objects.create(user=avoided, region=region, category="technical", employer=sc.bidders["B01"].bidder_org)
    free = User.objects.create(username=f"spare-{sc.session.pk}", role="expert", display_name="候补专家")
    Expert.objects.create(user=free, region=region, category="technical", title="高级工程师")
    return free


def test_a_member_is_replaced_by_a_fresh_draw_and_the_new_member_reviews_again(scenario, tmp_path):
    sc = scenario
    spare = spares(sc)
    drive_to(sc, "scoring")
    main, sub = sc.venues[0], sc.venues[1]
    values = {i["id"]: i["max"] for i in sc.items}
    low = {i["id"]: "0" for i in sc.items}
    for c in sorted(sc.members):
        for b in sc.bidders:
            expert_act(sc, c, s.do_score, bidder=b, values=low if c == "E2" else values)
    sub_code = next(c for c, m in sc.members.items() if m.venue_id == sub.pk)
    # Sub venue staff replace their own venue's members only; the reason is one of the list.
    assert code_of(act, sc, sc.staff[sub.pk], "staff", r.do_request_replacement, sub.pk, member="E2",
                   reason="illness") == "forbidden"
    assert code_of(main_staff_act, sc, r.do_request_replacement, member="E2", reason="bored") == "bad_request"
    assert code_of(main_staff_act, sc, r.do_request_replacement, member="E2", reason="other") == "bad_request"
    verified(sc, lambda: main_staff_act(sc, r.do_request_replacement, member="E2", reason="illness",
                                        note="突发疾病，无法继续评标"))
    assert code_of(main_staff_act, sc, r.do_request_replacement, member=sub_code,
                   reason="recusal") == "invalid_state"  # one request at a time
    assert code_of(expert_act, sc, "E1", r.do_decide_replacement, approve=True) == "forbidden"
    assert code_of(expert_act, sc, "E1", r.do_request_replacement, member="E3", reason="illness") == "forbidden"
    # The supervisor approves: the draw runs; the viewers after it are E2's successor, not E2.
    gone = sc.members.pop("E2")
    sc.experts["E6"] = spare
    sc.members["E6"] = SimpleNamespace(venue_id=main.pk)
    result, pushes = verified(sc, lambda: act(sc, sc.supervisor, "supervisor", r.do_decide_replacement,
                                              approve=True))
    assert result == {"replacement": result["replacement"], "approved": True, "new_member": "E6",
                      "step": "compliance"}
    assert all(any(f["event"] == "eval.replacement" for f in frames) for frames in pushes.values())
    session = EvaluationSession.objects.get(pk=sc.session.pk)
    new = session.members.get(code="E6")
    assert new.expert.user == spare and new.venue_id == main.pk and new.seat == gone.seat
    assert new.replaces_id == gone.pk and Member.all_members.get(pk=gone.pk).replaced_at is not None
    assert session.state["step"] == "compliance" and session.compliance is None  # reviewed again
    row = Replacement.objects.get()
    assert row.drawn == str(new.expert_id)
    r.verify(row)  # anyone with the record recomputes the same expert
    actions = list(AuditEntry.objects.filter(action__startswith="evaluation.replacement.")
                   .order_by("index").values_list("action", flat=True))
    assert actions == ["evaluation.replacement.requested", "evaluation.replacement.committed",
                       "evaluation.replacement.drawn"]
    # The replaced expert has lost the room; the newcomer has it; bidders never get in.
    with pytest.raises(NotFound):
        VENUE_ROOM.authorise(gone.expert.user, room_key(sc.session.pk, main.pk))
    assert VENUE_ROOM.authorise(spare, room_key(sc.session.pk, main.pk)) == "expert"
    with pytest.raises(NotFound):
        VENUE_ROOM.authorise(sc.bidder_users["B01"], room_key(sc.session.pk, main.pk))
    # Other venues see the change by code; the name stays at the member's own venue.
    sub_view = VENUE_ROOM.snapshot(room_key(sc.session.pk, sub.pk), SimpleNamespace(
        user_id=sc.staff[sub.pk].pk, org_id=None, role="staff", sees_all=False))
    assert sub_view["members"]["E2"]["replaced"] and sub_view["members"]["E6"]["replaces"] == "E2"
    assert "name" not in sub_view["members"]["E6"] and str(spare) not in repr(sub_view)
    # Nothing moves until the newcomer has taken its seat, and it cannot vote before.
    for c in sorted(sc.members):
        if c != "E6":
            for b in sc.bidders:
                for crit in sc.criteria:
                    expert_act(sc, c, s.do_vote_compliance, bidder=b, criterion=crit, passed=True)
    assert code_of(main_staff_act, sc, a.do_next) == "invalid_state"
    assert code_of(expert_act, sc, "E6", s.do_vote_compliance, bidder="B01", criterion=sc.criteria[0],
                   passed=True) == "invalid_state"
    verified(sc, lambda: expert_act(sc, "E6", a.do_sign_in))
    assert code_of(expert_act, sc, "E6", a.do_pledge) == "invalid_state"  # identity first
    act(sc, sc.staff[main.pk], "main_staff", a.do_confirm, member="E6")
    expert_act(sc, "E6", a.do_pledge)
    for b in sc.bidders:
        for crit in sc.criteria:
            expert_act(sc, "E6", s.do_vote_compliance, bidder=b, criterion=crit, passed=True)
    main_staff_act(sc, a.do_next)
    for b in sc.bidders:
        expert_act(sc, "E6", s.do_score, bidder=b, values=values)
    main_staff_act(sc, a.do_next)
    session = EvaluationSession.objects.get(pk=sc.session.pk)
    # E2's zeros are void: every counted expert gave the maxima, so each total is 70 + the price score.
    assert session.summary["experts"] == ["E1", "E3", "E4", "E5", "E6"]
    assert all(v["per_expert"].keys() == {"E1", "E3", "E4", "E5", "E6"} for v in session.summary["bidders"].values())
    low_bidder = min(sc.bidders, key=lambda b: sc.bidders[b].price_fen)
    assert session.summary["bidders"][low_bidder]["total"] == "100.00"
    drive_to(sc, "signing")
    report = EvaluationSession.objects.get(pk=sc.session.pk).report
    assert set(report["void_scores"]) == {"E2"} and "E2" not in report["scores"]
    assert report["replacements"][0]["seed"] == row.seed_hex and report["replacements"][0]["new_member"] == "E6"
    e2_votes = [v for per in report["compliance"]["votes"].values() for by in per.values()
                for m, v in by.items() if m == "E2"]
    assert e2_votes and all(v["void"] for v in e2_votes)


def test_a_replaced_chair_is_elected_again_and_a_rejected_request_changes_nothing(scenario):
    sc = scenario
    spares(sc)
    drive_to(sc, "compliance")
    chair = EvaluationSession.objects.get(pk=sc.session.pk).state["chair"]
    main_staff_act(sc, r.do_request_replacement, member="E3", reason="recusal")
    act(sc, sc.supervisor, "supervisor", r.do_decide_replacement, approve=False)
    assert Replacement.objects.get().approved is False and Member.objects.filter(session=sc.session).count() == 5
    main_staff_act(sc, r.do_request_replacement, member=chair, reason="recusal", note="与投标人存在利害关系")
    act(sc, sc.supervisor, "supervisor", r.do_decide_replacement, approve=True)
    state = EvaluationSession.objects.get(pk=sc.session.pk).state
    assert state["step"] == "chair_election" and state["chair"] is None


def test_a_region_without_a_spare_expert_cannot_replace(scenario):
    sc = scenario
    drive_to(sc, "pledge")
    main_staff_act(sc, r.do_request_replacement, member="E2", reason="illness")
    assert code_of(act, sc, sc.supervisor, "supervisor", r.do_decide_replacement, approve=True) == "conflict"
    assert Member.all_members.filter(session=sc.session, replaced_at__isnull=False).count() == 0  # rolled back


def _replacement_requested():
    """A session in the compliance review with a spare expert and a request to replace E2 waiting."""
    from evaluation.testing import build

    sc = build()
    spares(sc)
    drive_to(sc, "compliance")
    main_staff_act(sc, r.do_request_replacement, member="E2", reason="illness", note="突发疾病")
    return sc


@pytest.mark.django_db(transaction=True)
async def test_the_replaced_experts_open_sockets_leave_the_venue_rooms(connect, settings):
    """Over real WebSockets: once the supervisor's approval commits, the replaced expert's socket gets
    the replacement, then a ``resync`` (``access_revoked``) for its venue room; it receives nothing
    more there, its commands and its re-join are refused, and it no longer counts as present. The
    socket itself stays open (the user is still signed in), and nobody else is affected."""
    from channels.db import database_sync_to_async

    settings.RT_PRESENCE_DEBOUNCE_SECONDS = 0.05
    sc = await database_sync_to_async(_replacement_requested)()
    main = room_key(sc.session.pk, sc.venues[0].pk)
    gone_user = sc.experts["E2"]
    gone, stays = await connect(gone_user), await connect(sc.experts["E1"])
    staff, supervisor = await connect(sc.staff[sc.venues[0].pk]), await connect(sc.supervisor)
    for client in (gone, stays, staff, supervisor):
        assert (await client.join(main))["ok"]

    async def present_users() -> set[int]:
        reply = await staff.command("presence.get", main)
        return {u["id"] for u in reply["payload"]["users"]}

    for _ in range(100):  # presence rows are written in batches, shortly after the join
        if gone_user.pk in await present_users():
            break
        await asyncio.sleep(0.05)
    assert gone_user.pk in await present_users()

    reply = await supervisor.command("eval.decide_replacement", main, approve=True)
    assert reply["ok"] and reply["payload"]["new_member"] == "E6"
    notice = await gone.until(lambda f: "resync" in f)
    assert notice["room"] == main and notice["resync"]["reason"] == "access_revoked"
    # It saw its replacement before it was taken out of the room.
    assert any(p["event"] == "eval.replacement" and p["payload"].get("member") == "E2" for p in gone.pushes)
    refused = await gone.command("eval.vote_compliance", main, bidder="B01", criterion=sc.criteria[0],
                                 passed=True)
    assert refused["error"]["code"] == "invalid_state"  # not in the room any more
    assert (await gone.join(main))["error"]["code"] == "not_found"
    assert (await gone.command("ping"))["ok"]  # the socket is still open, the user still signed in
    for _ in range(100):
        if gone_user.pk not in await present_users():
            break
        await asyncio.sleep(0.05)
    assert gone_user.pk not in await present_users()
    assert {sc.experts["E1"].pk, sc.staff[sc.venues[0].pk].pk} <= await present_users()
    # The others stay in the room and keep receiving its events; the replaced socket gets none.
    before = len(gone.pushes)
    await stays.until(lambda f: f.get("event") == "eval.replacement")
    assert not [f for f in stays.notices if "resync" in f]
    voted = await stays.command("eval.vote_compliance", main, bidder="B01", criterion=sc.criteria[0], passed=True)
    assert voted["ok"]
    await stays.until(lambda f: f.get("event") == "eval.my_compliance")
    await supervisor.until(lambda f: f.get("event") == "eval.my_compliance")  # sees every stream
    assert await gone.drain() == [] and len(gone.pushes) == before


def test_the_replacement_draw_is_served_recomputed_and_a_tampered_record_is_caught(scenario):
    """``GET .../replacements/<id>``: the host, venue staff and supervisors get the draw's record,
    recomputed on the server; anyone holding it recomputes the same expert. A record changed after
    the draw — the drawn expert, the input, the seed, the new member — answers ``409 conflict``."""
    import hashlib
    import secrets

    from evaluation.rules import draw as rules_draw

    from .test_api_and_access import client_for

    sc = scenario
    spares(sc)
    drive_to(sc, "compliance")
    main_staff_act(sc, r.do_request_replacement, member="E2", reason="illness")
    row = Replacement.objects.get()
    url = f"/api/v1/evaluation/sessions/{sc.session.pk}/replacements/{row.pk}"
    host = client_for(sc.host)
    waiting = host.get(url)
    assert waiting.status_code == 409 and waiting.json()["error"]["code"] == "invalid_state"  # nothing drawn yet
    act(sc, sc.supervisor, "supervisor", r.do_decide_replacement, approve=True)
    row.refresh_from_db()
    res = host.get(url)
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["verified"] is True and body["member"] == "E2" and body["new_member"] == "E6"
    assert body["drawn"] == str(Member.objects.get(session=sc.session, code="E6").expert_id)
    # What the server says is checkable without it: the hash, the commitment, the draw.
    assert hashlib.sha256(body["snapshot"].encode()).hexdigest() == body["snapshot_sha256"]
    assert rules_draw.commit(bytes.fromhex(body["seed"])) == body["seed_commitment"]
    rules_draw.verify_replacement(body["snapshot"], bytes.fromhex(body["seed"]), body["seed_commitment"],
                                  body["drawn"])
    committed = json.loads(AuditEntry.objects.get(action="evaluation.replacement.committed").body)["data"]
    assert committed["snapshot_sha256"] == body["snapshot_sha256"]
    assert committed["seed_commitment"] == body["seed_commitment"]
    for user in (sc.supervisor, sc.staff[sc.venues[0].pk], sc.staff[sc.venues[1].pk]):
        assert client_for(user).get(url).json()["verified"] is True
    # Each read of the record (it holds the pool's expert data) is an audit entry naming the reader.
    reads = [json.loads(e.body) for e in AuditEntry.objects.filter(action="evaluation.expert.viewed",
                                                                   object_id=str(row.pk))]
    assert [x["actor"]["username"] for x in reads] == [
        u.username for u in (sc.host, sc.supervisor, sc.staff[sc.venues[0].pk], sc.staff[sc.venues[1].pk])]
    assert all(x["data"]["what"] == "replacement draw" and x["data"]["experts"] == [row.drawn] for x in reads)
    # Members read the seed in the report; bidders and strangers see nothing; ids are per session.
    assert client_for(sc.experts["E1"]).get(url).status_code == 403
    assert client_for(sc.bidder_users["B01"]).get(url).status_code == 404
    assert host.get(f"/api/v1/evaluation/sessions/{sc.session.pk}/replacements/{row.pk + 1}").status_code == 404

    other = next(str(e) for e in Expert.objects.filter(region=sc.venues[0].region).values_list("pk", flat=True)
                 if str(e) != row.drawn)
    good = {f: getattr(row, f) for f in ("drawn", "snapshot", "snapshot_sha256", "seed_hex", "new_member_id")}
    edited = json.loads(row.snapshot)
    edited["min_size"] += 1
    text = json.dumps(edited, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    without = json.loads(row.snapshot)
    without["experts"] = [e for e in without["experts"] if e["id"] != row.drawn]
    text_without = json.dumps(without, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    tampers = {
        "drawn": ({"drawn": other}, "not the one the draw gives"),
        "input": ({"snapshot": text}, "SHA-256"),
        # The input and its hash changed together (the drawn expert taken out of the pool): the
        # redraw does not give the recorded expert — here no one, the region's only spare is gone.
        "input and hash": ({"snapshot": text_without,
                            "snapshot_sha256": hashlib.sha256(text_without.encode()).hexdigest()},
                           "pool is too small"),
        "seed": ({"seed_hex": secrets.token_bytes(32).hex()}, "commitment"),
        "new member": ({"new_member_id": Member.objects.get(session=sc.session, code="E1").pk},
                       "not the drawn expert"),
    }
    for name, (change, message) in tampers.items():
        Replacement.objects.filter(pk=row.pk).update(**change)
        res = host.get(url)
        assert res.status_code == 409, (name, res.content)
        assert res.json()["error"]["code"] == "conflict" and message in res.json()["error"]["message"], name
        Replacement.objects.filter(pk=row.pk).update(**good)
    assert host.get(url).json()["verified"] is True
