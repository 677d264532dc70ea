"""Fewer than 3 bidders: no opening (实施条例 44). ``min_bids`` below 3 is refused everywhere a lot
is written — the API, the host's pages, the admin — and by the database itself; and the opening's
rule counts 3 even for a row that says less."""

import json
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client

from bidding.models import Lot, Project
from bidding.phases import Event, OpeningState, Phase, advance
from common import clock

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def project(orgs):
    return Project.objects.create(code="P-MIN", title="道路工程", tenderee=orgs["tenderee"], agency=orgs["agency"])


def lot_body(**over):
    return {"code": "01", "title": "施工", "bid_deadline": (clock.now() + timedelta(days=20)).isoformat(), **over}


@pytest.mark.parametrize("value", [0, 1, 2])
def test_the_api_refuses_a_lot_with_fewer_than_three(people, project, value):
    host = client_for(people["host"])
    res = post(host, f"/api/v1/projects/{project.pk}/lots", lot_body(min_bids=value))
    assert res.status_code == 400, res.content
    assert res.json()["error"]["code"] == "bad_request"
    assert "min_bids" in res.json()["error"]["details"]
    assert not Lot.objects.filter(project=project).exists()


def test_the_api_accepts_three_or_more_and_refuses_editing_below(people, project):
    host = client_for(people["host"])
    res = post(host, f"/api/v1/projects/{project.pk}/lots", lot_body(min_bids=5))
    assert res.status_code == 201 and res.json()["min_bids"] == 5
    lot_id = res.json()["id"]
    res = host.patch(f"/api/v1/lots/{lot_id}", data=json.dumps({"min_bids": 2}), content_type="application/json")
    assert res.status_code == 400 and "min_bids" in res.json()["error"]["details"]
    assert Lot.objects.get(pk=lot_id).min_bids == 5
    assert post(host, f"/api/v1/lots/{lot_id}/publish", {}).status_code == 200
    res = post(host, f"/api/v1/lots/{lot_id}/amendments", {"min_bids": 2, "reason": "澄清第1号"})
    assert res.status_code == 400 and "min_bids" in res.json()["error"]["details"]
    assert Lot.objects.get(pk=lot_id).min_bids == 5


def test_the_host_page_refuses_fewer_than_three(people, orgs):
    host = client_for(people["host"])
    deadline = (clock.now() + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M")
    form = {"project_code": "P-PAGE", "project_title": "道路", "tenderee": orgs["tenderee"].pk, "lot_code": "01",
            "lot_title": "施工", "bid_deadline": deadline, "decryption_window_minutes": 30,
            "confirmation_window_minutes": 30, "min_bids": 2, "announced_fields": json.dumps(
                [{"key": "price", "type": "money_fen", "label": "投标报价", "required": True}])}
    res = host.post("/tenders/new/", form, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert res.status_code == 200  # the form again, with the error, nothing created
    assert "3" in res.content.decode() and 'name="min_bids"' in res.content.decode()
    assert 'min="3"' in res.content.decode()  # the browser refuses it too
    assert not Project.objects.filter(code="P-PAGE").exists()
    form["min_bids"] = 3
    res = host.post("/tenders/new/", form)
    assert res.status_code == 302 and Lot.objects.get(project__code="P-PAGE").min_bids == 3


def test_the_admin_refuses_fewer_than_three(people, project):
    admin = client_for(people["admin"])
    now = clock.now()
    lot = Lot.objects.create(project=project, code="01", title="施工", bid_deadline=now + timedelta(days=20),
                             signin_opens_at=now + timedelta(days=20))
    url = f"/admin/bidding/lot/{lot.pk}/change/"
    page = admin.get(url)
    assert page.status_code == 200
    form = {k: v for k, v in page.context["adminform"].form.initial.items() if v is not None}
    form.update(min_bids=2, bid_deadline_0=lot.bid_deadline.strftime("%Y-%m-%d"),
                bid_deadline_1=lot.bid_deadline.strftime("%H:%M:%S"),
                signin_opens_at_0=lot.signin_opens_at.strftime("%Y-%m-%d"),
                signin_opens_at_1=lot.signin_opens_at.strftime("%H:%M:%S"),
                announced_fields=json.dumps(lot.announced_fields),
                evaluation_settings=json.dumps(lot.evaluation_settings), project=project.pk)
    res = admin.post(url, form)
    assert res.status_code == 200 and "min_bids" in res.context["adminform"].form.errors
    assert Lot.objects.get(pk=lot.pk).min_bids == 3
    form["min_bids"] = 4
    res = admin.post(url, form)
    assert res.status_code == 302, res.context["adminform"].form.errors
    assert Lot.objects.get(pk=lot.pk).min_bids == 4


def test_the_database_refuses_a_raw_write_below_three(project):
    now = clock.now()
    lot = Lot.objects.create(project=project, code="01", title="施工", bid_deadline=now, signin_opens_at=now)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE bidding_lot SET min_bids = 2 WHERE id = %s", [lot.pk])
    assert Lot.objects.get(pk=lot.pk).min_bids == 3


def test_the_opening_fails_with_two_bids_whatever_the_row_says():
    state = OpeningState(phase=Phase.SIGNIN_OPEN)
    assert advance(state, Event.DEADLINE, now=clock.now(), bids_on_file=2, min_bids=2).phase == Phase.FAILED
    assert advance(state, Event.DEADLINE, now=clock.now(), bids_on_file=3, min_bids=1).phase == Phase.DEADLINE_PASSED
