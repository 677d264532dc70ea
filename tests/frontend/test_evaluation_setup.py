"""The host's evaluation set-up page: the draw, the venues and seats, the session — each through the
API's action, refused with the reason next to the form and nothing half-made; then following it."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import Organisation, User
from audit.models import AuditEntry
from bidding.models import Lot, Project
from common import clock
from evaluation.models import Draw, EvaluationBid, EvaluationSession, Expert, Region, Venue
from evaluation.testing import contribution

pytestmark = pytest.mark.django_db
ITEMS = {"items-TOTAL_FORMS": "2", "items-INITIAL_FORMS": "0", "items-MIN_NUM_FORMS": "1",
         "items-MAX_NUM_FORMS": "1000",
         "items-0-id": "T1", "items-0-category": "technical", "items-0-kind": "objective", "items-0-max": "40",
         "items-0-step": "0.5",
         "items-1-id": "B1", "items-1-category": "business", "items-1-kind": "subjective", "items-1-max": "30",
         "items-1-step": "0.5"}


@pytest.fixture
def world(people, orgs):
    centre = Organisation.objects.create(name="交易中心", kind="trading_centre")
    venues = {}
    for code, name, count in (("320100", "南京", 3), ("320500", "苏州", 2), ("320300", "徐州", 0)):
        region = Region.objects.create(code=code, name=name)
        venues[code] = Venue.objects.create(name=f"{name}评标室", region=region, centre=centre, seats=3)
        for n in range(count + 1):  # one more than the quota: the draw has a choice
            user = User.objects.create(username=f"e{code}{n}", role="expert", display_name=f"{name}专家{n}")
            Expert.objects.create(user=user, region=region, category="technical", title="高级工程师")
    project = Project.objects.create(code="P-EV", title="评标项目", tenderee=orgs["tenderee"], agency=orgs["agency"])
    now = clock.now()
    lot = Lot.objects.create(project=project, code="01", title="施工", bid_deadline=now, signin_opens_at=now,
                             status="evaluating",
                             evaluation_settings={"weights": {"price": "30", "technical": "40", "business": "30"}})
    for n, org in enumerate((orgs["alice_co"], orgs["bob_co"])):
        EvaluationBid.objects.create(lot=lot, bidder_org=org, bidder_name=org.name, credit_code=org.credit_code,
                                     price_fen=100_000_000 + n, announced={})
    client = Client()
    client.force_login(people["host"])
    return {"lot": lot, "venues": venues, "host": client, "people": people}


def url(lot) -> str:
    return f"/tenders/{lot.pk}/evaluation/"


def open_draw(world, **quotas):
    data = {"action": "draw", "min_size": "5", "required_specialties": "", "reveal_minutes": "30"}
    data.update({f"quota_{code}": str(n) for code, n in quotas.items()})
    return world["host"].post(url(world["lot"]), data)


def supervisor(world) -> Client:
    client = Client()
    client.force_login(world["people"]["supervisor"])
    return client


def draw(world, **quotas):
    """Every step of the draw through the pages: the host opens it, the supervisor (on the
    supervisor's draws page) and the host commit, the host publishes the snapshot, both reveal."""
    res = open_draw(world, **quotas)
    if res.status_code != 302:
        return res
    row = Draw.objects.get(lot=world["lot"], state="committing")
    sup = supervisor(world)
    values = {}
    for party, client, path in (("supervisor", sup, "/evaluation/draws/"), ("host", world["host"], url(world["lot"]))):
        values[party], commitment = contribution(row.pk, party)
        assert client.post(path, {"action": "commit", "target": row.pk, "commitment": commitment}).status_code == 302
    assert world["host"].post(url(world["lot"]), {"action": "snapshot"}).status_code == 302
    sup.post("/evaluation/draws/", {"action": "reveal", "target": row.pk, "value": values["supervisor"]})
    return world["host"].post(url(world["lot"]), {"action": "reveal", "value": values["host"]})


def session(world, main, *subs, **extra):
    data = {"action": "session", "main_venue": world["venues"][main].pk,
            "sub_venues": [world["venues"][s].pk for s in subs], "criteria": "资格审查\n符合性审查", **ITEMS}
    data.update(extra)
    return world["host"].post(url(world["lot"]), data)


def test_the_host_draws_seats_and_creates_the_session_then_follows_it(world):
    lot = world["lot"]
    page = world["host"].get(url(lot)).content.decode()
    assert "南京" in page and 'name="quota_320100"' in page
    res = draw(world, **{"320100": 3, "320500": 2})
    assert res.status_code == 302, res.content.decode()[:2000]
    row = Draw.objects.get(lot=lot)
    assert len(row.committee) == 5 and row.state == "drawn"
    assert all(c.revealed_at for c in row.contributions.all())
    page = world["host"].get(url(lot)).content.decode()
    assert page.count("<th scope=\"row\">") >= 5 and "南京专家" in page
    assert AuditEntry.objects.filter(action="evaluation.expert.viewed").exists()  # the names were read

    # Venues chosen without Suzhou: its two drawn experts have no venue; nothing is created.
    res = session(world, "320100", "320300")
    html = res.content.decode()
    assert res.status_code == 200 and not EvaluationSession.objects.exists()
    assert "苏州" in html and "资格审查" in html  # the plan names the unserved region; input kept
    assert "[bad_request]" not in html and re.search(r'role="alert"', html)

    res = session(world, "320100", "320500", blind="on")
    assert res.status_code == 302, res.content.decode()[:3000]
    created = EvaluationSession.objects.get(lot=lot)
    assert created.blind and created.main_venue_id == world["venues"]["320100"].pk
    assert [i["id"] for i in created.scoring["items"]] == ["T1", "B1"]
    assert sorted(created.members.values_list("venue__region__code", flat=True)) == \
        ["320100"] * 3 + ["320500"] * 2
    page = world["host"].get(url(lot)).content.decode()
    assert re.search(r"id=\"session-step\" data-step=\"sign_in\">签到<", page) and "苏州评标室" in page
    assert AuditEntry.objects.filter(action="evaluation.session.created").count() == 1


def test_more_members_than_seats_is_refused_with_the_venue_named(world):
    world["venues"]["320100"].seats = 2
    world["venues"]["320100"].save()
    draw(world, **{"320100": 3, "320500": 2})
    html = session(world, "320100", "320500").content.decode()
    assert "南京评标室" in html and "座位" in html and not EvaluationSession.objects.exists()


def test_each_step_of_the_draw_shows_on_the_pages_in_order(world):
    lot = world["lot"]
    assert open_draw(world, **{"320100": 3, "320500": 2}).status_code == 302
    row = Draw.objects.get(lot=lot)
    page = world["host"].get(url(lot)).content.decode()
    assert 'class="stack draw-commit"' in page and "承诺中" in page and 'id="draw-form"' not in page
    assert f'data-storage-key="kaibiao:draw:{row.pk}:host:' in page and "draw_contribution.js" in page
    # Publishing before the supervisor committed is refused, said on the page; nothing changes.
    world["host"].post(url(lot), {"action": "commit", "commitment": contribution(row.pk, "host")[1]})
    res = world["host"].post(url(lot), {"action": "snapshot"}, follow=True)
    assert '<li class="error">当前阶段不能进行此操作' in res.content.decode()
    assert Draw.objects.get(pk=row.pk).state == "committing"
    sup = supervisor(world)
    listing = sup.get("/evaluation/draws/").content.decode()
    assert f'id="draw-{row.pk}"' in listing and 'class="stack draw-commit"' in listing
    sup_value, sup_commitment = contribution(row.pk, "supervisor")
    sup.post("/evaluation/draws/", {"action": "commit", "target": row.pk, "commitment": sup_commitment})
    assert world["host"].post(url(lot), {"action": "snapshot"}).status_code == 302
    page = world["host"].get(url(lot)).content.decode()
    assert "公开中" in page and 'class="stack draw-reveal"' in page and "/snapshot" in page
    # A changed value is refused with the reason; the right one goes through.
    res = sup.post("/evaluation/draws/", {"action": "reveal", "target": row.pk, "value": "ab" * 32}, follow=True)
    assert '<li class="error">与当前状态冲突' in res.content.decode()
    assert not row.contributions.get(party="supervisor").revealed_at
    sup.post("/evaluation/draws/", {"action": "reveal", "target": row.pk, "value": sup_value})
    assert row.contributions.get(party="supervisor").revealed_at
    # The host withholds; a bidder cannot reach the supervisor's page.
    bidder = Client()
    bidder.force_login(world["people"]["alice"])
    assert bidder.get("/evaluation/draws/").status_code in (403, 404)


def test_a_redraw_is_asked_on_the_host_page_and_decided_on_the_supervisor_page(world):
    lot = world["lot"]
    draw(world, **{"320100": 3, "320500": 2})
    first = Draw.objects.get(lot=lot)
    res = world["host"].post(url(lot), {"action": "redraw", "reason": "legal_recusal", "note": "南京专家0须回避"})
    assert res.status_code == 302
    sup = supervisor(world)
    listing = sup.get("/evaluation/draws/").content.decode()
    assert "南京专家0须回避" in listing and 'class="stack decide-form"' in listing
    console = sup.get("/console/").content.decode()
    assert 'id="console-redraws"' in console and "依法须回避" in console
    redraw = first.redraws.get()
    sup.post("/evaluation/draws/", {"action": "decide", "target": redraw.pk, "approve": "yes", "note": "同意"})
    page = world["host"].get(url(lot)).content.decode()
    assert 'id="draw-form"' in page and 'id="redraws"' in page and "已批准" in page
    assert draw(world, **{"320100": 3, "320500": 2}).status_code == 302
    assert Draw.objects.get(pk=first.pk).state == "superseded"
    assert Draw.objects.get(lot=lot, redraw_of=first).state == "drawn"


def test_a_draw_short_of_the_minimum_is_refused_in_chinese(world):
    html = draw(world, **{"320100": 2, "320500": 1}).content.decode()
    assert "少于" in html and not Draw.objects.exists()


def test_before_the_opening_closes_there_is_nothing_to_set_up(world):
    Lot.objects.filter(pk=world["lot"].pk).update(status="published")
    html = world["host"].get(url(world["lot"])).content.decode()
    assert 'id="not-ready"' in html and 'id="draw-form"' not in html
    assert draw(world, **{"320100": 3, "320500": 2}).status_code == 200 and not Draw.objects.exists()


def test_another_host_and_a_bidder_cannot_see_it(world):
    for who in ("other_host", "alice"):
        client = Client()
        client.force_login(world["people"][who])
        assert client.get(url(world["lot"])).status_code in (403, 404)
        assert client.get(url(world["lot"]) + "follow/").status_code in (403, 404)


def test_the_follow_panel_alone_shows_the_session_as_it_moves_on(world):
    """The set-up page polls ``follow/`` (evaluation_follow.js): the same panel, with each member's
    arrival, the bidders they scored and, once there is a report, their signatures."""
    from common.actor import Actor
    from evaluation import actions
    from evaluation.workflow import Call

    lot = world["lot"]
    follow = url(lot) + "follow/"
    assert world["host"].get(follow).status_code == 404  # no session yet
    assert draw(world, **{"320100": 3, "320500": 2}).status_code == 302
    assert session(world, "320100", "320500").status_code == 302
    created = EvaluationSession.objects.get(lot=lot)
    res = world["host"].get(follow)
    html = res.content.decode()
    assert res.status_code == 200 and 'id="follow-h"' in html and "<html" not in html
    assert 'data-step="sign_in"' in html and html.count("data-scored>0<") == 5
    member = created.members.select_related("expert__user").order_by("code").first()
    user = member.expert.user
    actions.in_session(created.pk, actions.do_sign_in, member.venue_id,
                       Call(user=user, role="expert", actor=Actor.of(user), now=clock.now(), payload={}))
    html = world["host"].get(follow, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = re.search(rf"<th scope=\"row\">{member.code} .*?</tr>", html, re.S).group(0)
    assert "(Beijing time" not in row and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", row), row  # signed in, Beijing time
    assert "Report signature" not in html  # no report yet
    page = world["host"].get(url(lot)).content.decode()
    assert 'data-follow="/tenders/%d/evaluation/follow/"' % lot.pk in page and "evaluation_follow.js" in page


def test_the_draw_pages_speak_english_too(world):
    assert open_draw(world, **{"320100": 3, "320500": 2}).status_code == 302
    for client, path, words in ((world["host"], url(world["lot"]), ("Commit my contribution", "Supervisor on duty")),
                                (supervisor(world), "/evaluation/draws/", ("Expert draws and redraws", "Draws in progress"))):
        html = client.get(path, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        missing = [w for w in words if w not in html]
        assert not missing, (path, missing)
        html = client.get(path, HTTP_ACCEPT_LANGUAGE="en").content.decode()  # the flash message read
        assert "提交我的承诺" not in html and "值班监督人" not in html, html[html.find("值班"):][:200]
