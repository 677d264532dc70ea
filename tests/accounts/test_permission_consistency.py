"""Each role's answers agree across endpoints: who issues checkpoints, who reads which certificate
(the list and the single certificate by one rule), and who sees the tender form's tenderee list."""

import pytest
from django.test import Client

from audit.models import AuditCheckpoint
from tests.bidding.conftest import bid_storage, certify, fast_hashing  # noqa: F401 - fixtures

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing", "bid_storage")]
ROLES = ["admin", "host", "other_host", "alice", "bob", "expert", "venue_staff", "supervisor"]


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("who", ROLES)
def test_only_the_platform_administrator_issues_a_checkpoint_on_request(people, who):
    before = AuditCheckpoint.objects.count()
    res = client_of(people[who]).post("/api/v1/audit/checkpoints")
    if who == "admin":
        assert res.status_code == 201 and AuditCheckpoint.objects.count() == before + 1
    else:
        assert res.status_code == 403, res.content
        assert res.json()["error"]["code"] == "forbidden"
        assert AuditCheckpoint.objects.count() == before


def test_a_supervisor_reads_the_log_but_does_not_write_a_checkpoint_into_it(people):
    supervisor = client_of(people["supervisor"])
    assert supervisor.get("/api/v1/audit/entries").status_code == 200
    assert supervisor.post("/api/v1/audit/checkpoints").status_code == 403


@pytest.mark.parametrize("who", ROLES)
def test_the_certificate_list_and_each_certificate_answer_by_the_same_rule(people, who):
    _, alices = certify(people["alice"], people["host"])
    _, bobs = certify(people["bob"], people["host"])
    client = client_of(people[who])
    listed = {row["id"] for row in client.get("/api/v1/certificates").json()}
    readable = {cert.pk for cert in (alices, bobs)
                if client.get(f"/api/v1/certificates/{cert.pk}").status_code == 200}
    assert listed == readable
    expected = {"admin": {alices.pk, bobs.pk}, "host": {alices.pk, bobs.pk},
                "other_host": {alices.pk, bobs.pk}, "supervisor": {alices.pk, bobs.pk},
                "alice": {alices.pk}, "bob": {bobs.pk}, "expert": set(), "venue_staff": set()}
    assert readable == expected[who]
    for cert in (alices, bobs):
        if cert.pk not in readable:
            assert client.get(f"/api/v1/certificates/{cert.pk}").status_code == 404


@pytest.mark.parametrize("who", ["alice", "bob", "expert", "venue_staff", "supervisor"])
def test_the_tender_form_and_its_tenderee_list_are_only_for_hosts_and_admins(people, orgs, who):
    client = client_of(people[who])
    for res in (client.get("/tenders/new/"), client.post("/tenders/new/", {"project_code": "X"})):
        assert res.status_code == 403
        assert orgs["tenderee"].name not in res.content.decode()


def test_a_host_and_an_admin_see_the_tenderees_they_may_create_for(people, orgs):
    from accounts.models import Organisation, User

    other = Organisation.objects.create(name="丁建设单位", kind="tenderee", credit_code="")
    for who in ("admin", "host"):
        html = client_of(people[who]).get("/tenders/new/").content.decode()
        assert orgs["tenderee"].name in html and other.name in html
    own = User.objects.create(username="own_host", role="host", organisation=orgs["tenderee"])
    html = client_of(own).get("/tenders/new/").content.decode()
    assert orgs["tenderee"].name in html and other.name not in html
