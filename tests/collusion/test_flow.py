"""The analysis end to end: five sealed bids (three riggers, two honest bidders, files from the
generated corpus) uploaded from their addresses, decrypted at the opening, then analysed by a
supervisor through the API — the leads come from the audited packages, the audit log's addresses
and the sealer's machine hash — and who may see, decide and open a case."""

from __future__ import annotations

import base64
import io
import json
from datetime import timedelta

import pytest
from django.test import Client

from accounts.models import ApiToken
from audit.models import AuditEntry
from bidding.opening.decryption import release_key
from collusion.models import AnalysisRun, Case, Lead
from common.actor import Actor
from crypto import envelope
from tests.bidding.conftest import certify, seal, upload
from tests.bidding.test_opening_actions import to_deadline
from tests.bidding.test_opening_support import five, package  # noqa: F401

from . import corpus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing", "bid_storage")]
CAST = {"alice": "r1", "bob": "r2", "carol": "r3", "dave": "h1", "erin": "h2"}
IPS = {"alice": "198.51.100.7", "bob": "198.51.100.7", "carol": "198.51.100.99", "dave": "203.0.113.10",
       "erin": "203.0.113.11"}
MACHINES = {"alice": "a" * 64, "bob": "a" * 64, "carol": "c" * 64, "dave": "d" * 64, "erin": None}


def _sealer(machine: str | None) -> dict | None:
    return {"tool": "sealbid", "version": "0.1.0", "machine": machine} if machine else None


AGENTS = {name: f"sealbid/0.1.0 ({name}'s computer)" for name in CAST}
AGENTS["bob"] = AGENTS["alice"]  # one computer behind two bidders


def client(user, ip, agent: str = "") -> Client:
    _, secret = ApiToken.issue(user, "test")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}", REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)


@pytest.fixture(scope="module")
def built():
    return corpus.build(honest=2, paragraphs=16)


@pytest.fixture
def opened(five, make_lot, built):  # noqa: F811
    cbidders, tender = built
    by_key = {b.key: b for b in cbidders}
    lot = make_lot(deadline_in=timedelta(hours=1))
    envs = {}
    for name, key in CAST.items():
        user = five[name]
        org = user.organisation
        org.name = by_key[key].name
        org.save(update_fields=["name"])
        bidder_key, _ = certify(user, five["host"])
        env = seal(lot, org, bidder_key, package(lot, org, by_key[key].price_fen, by_key[key].files,
                                                  sealer=_sealer(MACHINES[name])))
        res = upload(client(user, IPS[name], AGENTS[name]), lot.pk, env)
        assert res.status_code == 201, res.content
        envs[name] = (env, bidder_key)
    h = {"lot": lot, "people": five, "tender": tender}
    _, now = to_deadline(h)
    for n, name in enumerate(CAST):
        env, bidder_key = envs[name]
        header = envelope.read_header(io.BytesIO(env))
        file_key = base64.b64encode(envelope.unwrap_file_key(header, bidder_key, role="bidder")).decode()
        user = five[name]
        # the riggers decrypt one after another; the honest bidders minutes apart
        at = now + timedelta(seconds=60 + n) if CAST[name].startswith("r") else now + timedelta(minutes=5 + 3 * n)
        release_key(user, Actor.of(user, IPS[name], AGENTS[name]), lot.pk, file_key=file_key, now=at)
    return h


def api(user, method, path, body=None):
    c = client(user, "192.0.2.1")
    kwargs = {"content_type": "application/json", "data": json.dumps(body)} if body is not None else {}
    return getattr(c, method)(path, **kwargs)


def test_the_supervisor_runs_the_analysis_and_sees_the_planted_signals(opened):
    lot, people = opened["lot"], opened["people"]
    host = people["host"]
    doc = next(iter(opened["tender"].items()))
    res = client(host, "192.0.2.9").put(f"/api/v1/lots/{lot.pk}/collusion/tender-documents/{doc[0]}", data=doc[1],
                                        content_type="application/octet-stream")
    assert res.status_code == 201, res.content
    res = api(people["supervisor"], "post", f"/api/v1/lots/{lot.pk}/collusion/analyses")
    assert res.status_code == 201, res.content
    assert res.json()["run"]["problems"] == []
    leads = api(people["supervisor"], "get", f"/api/v1/lots/{lot.pk}/collusion/leads").json()["leads"]
    org = {n: people[n].organisation_id for n in CAST}

    def found(signal, **ev):
        return sorted(sorted(o["organisation"] for o in x["bidders"]) for x in leads
                      if x["signal"] == signal and all(x["evidence"].get(k) == v for k, v in ev.items()))

    riggers = sorted(org[n] for n in ("alice", "bob", "carol"))
    assert found("same_machine", value="a" * 64) == [sorted([org["alice"], org["bob"]])]
    assert found("same_network", value="198.51.100.7") == [sorted([org["alice"], org["bob"]])]
    net = next(x for x in leads if x["signal"] == "same_network")
    assert net["evidence"]["stages"] == ["decryption", "receipt", "upload"]
    assert found("shared_metadata", field="last_modified_by", value=corpus.RIGGER_AUTHOR) == [riggers]
    assert found("shared_media") == [sorted([org["alice"], org["carol"]])]
    assert found("similar_text") == [sorted([org["alice"], org["bob"]])]
    assert found("misplaced_name") == [sorted([org["alice"], org["carol"]])]
    assert found("shared_person", kind="id_number") == [sorted([org["alice"], org["carol"]])]
    # the lent safety certificate in bob's and carol's staff lists; the tender form's example number,
    # left in every bidder's copy of the form (the form was not filed here), is everybody's: no lead
    assert found("shared_person", kind="certificate") == [sorted([org["bob"], org["carol"]])]
    assert found("price_pattern", pattern="equal_differences") == [riggers]
    assert found("close_decryption") == [riggers]
    # the same misspellings, doubled comma and wrong duration: alice's text, bob's paraphrase of it
    # (a PDF) and carol's own text (docs/collusion.md, "Shared rare errors")
    assert found("shared_errors") == sorted(sorted([org[x], org[y]]) for x, y in
                                            (("alice", "bob"), ("alice", "carol"), ("bob", "carol")))
    alice_bob = next(x for x in leads if x["signal"] == "shared_errors"
                     and {o["organisation"] for o in x["bidders"]} == {org["alice"], org["bob"]})
    assert alice_bob["strength"] == "strong" and alice_bob["articles"] == ["reg40.4"]
    honest = {org["dave"], org["erin"]}
    assert not [x for x in leads if honest & {o["organisation"] for o in x["bidders"]}]
    # the run and every lead are in the audit log, with the leads' hash
    entry = AuditEntry.objects.get(action="collusion.analysis.completed", tender_id=lot.pk)
    data = json.loads(entry.body)["data"]
    run = AnalysisRun.objects.get(lot=lot)
    assert data["leads_sha256"] == run.leads_sha256 and len(data["leads"]) == len(leads)
    assert data["settings"]["enabled"] and entry.actor_name == "supervisor"


def test_where_each_bid_was_sealed_sent_and_opened_from_is_kept_with_the_run(opened):
    """The issue's evidence, captured as it happened: the address and user agent of every upload,
    receipt and decryption (from the audit entries' data), the sealing tool, its version and the
    machine hash, the certificate and key that sealed each bid and the key that opened it — kept
    per bidder with the run, and so in the tender's archive."""
    lot, people = opened["lot"], opened["people"]
    res = api(people["supervisor"], "post", f"/api/v1/lots/{lot.pk}/collusion/analyses")
    assert res.status_code == 201, res.content
    run = AnalysisRun.objects.get(lot=lot)
    from bidding.models import BidSubmission

    for name in CAST:
        org = people[name].organisation
        rec = run.bidders[str(org.pk)]
        sub = BidSubmission.objects.get(lot=lot, organisation=org, status="current")
        stages = {(e["stage"], e["ip"], e["user_agent"]) for e in rec["events"]}
        assert stages == {(s, IPS[name], AGENTS[name]) for s in ("upload", "receipt", "decryption")}, rec["events"]
        assert rec["sealer"] == ({"tool": "sealbid", "version": "0.1.0"} if MACHINES[name] else None)
        assert rec["sealing"]["machine"] == MACHINES[name]
        assert rec["sealing"]["certificate"] == sub.certificate.serial and rec["sealing"]["certificate"]
        assert rec["sealing"]["key_id"] == sub.key_id == rec["decryption"]["key_id"]
        assert rec["decryption"]["by"] == "bidder"
        assert (rec["decryption"]["ip"], rec["decryption"]["user_agent"]) == (IPS[name], AGENTS[name])
    # the audit entries themselves carry the user agent in their (hashed) data
    for action in ("bidding.bid.upload_started", "bidding.bid.submitted", "bidding.opening.bid_decrypted"):
        entry = AuditEntry.objects.filter(action=action, tender_id=lot.pk,
                                          organisation_id=people["carol"].organisation_id).get()
        assert json.loads(entry.body)["data"]["user_agent"] == AGENTS["carol"]
    decrypted = AuditEntry.objects.get(action="bidding.opening.bid_decrypted", tender_id=lot.pk,
                                       organisation_id=people["carol"].organisation_id)
    assert json.loads(decrypted.body)["data"]["key_id"] == BidSubmission.objects.get(
        lot=lot, organisation_id=people["carol"].organisation_id, status="current").key_id
    # the same network's lead shows the user agent beside each sighting
    net = Lead.objects.get(run=run, signal="same_network")
    assert {s.get("user_agent") for seen in net.evidence["seen"].values() for s in seen} == {AGENTS["alice"]}


def test_the_settings_choose_which_signals_run_and_their_thresholds(opened, settings):
    """``settings.COLLUSION`` through a real run: only the enabled signals, a threshold that
    changes a finding (the riggers' decryptions 1 s apart, with 0.5 s allowed, are not close),
    an ignored network; the run and its audit entry record the settings used."""
    lot, people = opened["lot"], opened["people"]
    settings.COLLUSION = {"enabled": ["same_network", "close_decryption", "same_machine"],
                          "decryption_within_seconds": 0.5, "ignored_networks": ["198.51.100.0/24"]}
    res = api(people["supervisor"], "post", f"/api/v1/lots/{lot.pk}/collusion/analyses")
    assert res.status_code == 201, res.content
    run = AnalysisRun.objects.get(lot=lot)
    assert sorted(run.leads.values_list("signal", flat=True)) == ["same_machine"]
    assert run.settings["enabled"] == ["close_decryption", "same_machine", "same_network"]
    assert run.settings["ignored_networks"] == ["198.51.100.0/24"] and run.settings["decryption_within_seconds"] == 0.5
    entry = AuditEntry.objects.get(action="collusion.analysis.completed", tender_id=lot.pk)
    assert json.loads(entry.body)["data"]["settings"] == run.settings


def test_the_host_runs_it_but_sees_no_lead_and_bidders_nothing(opened):
    lot, people = opened["lot"], opened["people"]
    res = api(people["host"], "post", f"/api/v1/lots/{lot.pk}/collusion/analyses")
    assert res.status_code == 201 and set(res.json()) == {"run", "leads"} and res.json()["leads"] > 0
    assert api(people["host"], "get", f"/api/v1/lots/{lot.pk}/collusion/leads").status_code == 404
    for who in ("alice", "dave"):
        assert api(people[who], "get", f"/api/v1/lots/{lot.pk}/collusion/leads").status_code == 404
        assert api(people[who], "post", f"/api/v1/lots/{lot.pk}/collusion/analyses").status_code == 404
    assert api(people["other_host"], "post", f"/api/v1/lots/{lot.pk}/collusion/analyses").status_code in (403, 404)
    assert api(people["host"], "get", "/api/v1/collusion/leads").status_code == 403


def test_a_swapped_package_on_disk_is_reported_not_read(opened, settings):
    from pathlib import Path

    from bidding.models import OpeningBid

    lot, people = opened["lot"], opened["people"]
    ob = OpeningBid.objects.get(opening__lot=lot, organisation=people["carol"].organisation)
    path = Path(settings.STORAGE_DIR) / ob.plaintext_path
    path.write_bytes(path.read_bytes() + b"\0" * 512)
    res = api(people["supervisor"], "post", f"/api/v1/lots/{lot.pk}/collusion/analyses")
    assert res.status_code == 201
    problems = res.json()["run"]["problems"]
    assert {"organisation": people["carol"].organisation_id, "document": "manifest.json",
            "problem": "package_changed"} in problems
    leads = Lead.objects.filter(run_id=res.json()["run"]["id"])
    assert not [x for x in leads if x.signal == "misplaced_name"]  # carol's files were not read


def test_before_the_announcement_there_is_no_analysis(five, make_lot):  # noqa: F811
    lot = make_lot(deadline_in=timedelta(hours=1))
    res = api(five["supervisor"], "post", f"/api/v1/lots/{lot.pk}/collusion/analyses")
    assert res.status_code == 409 and res.json()["error"]["code"] == "invalid_state"


def test_cases_are_opened_moved_and_audited_with_old_and_new(opened):
    lot, people = opened["lot"], opened["people"]
    sup = people["supervisor"]
    api(sup, "post", f"/api/v1/lots/{lot.pk}/collusion/analyses")
    ids = [x["id"] for x in api(sup, "get", "/api/v1/collusion/leads?strength=strong").json()["leads"]][:2]
    assert ids
    res = api(sup, "post", "/api/v1/collusion/cases", {"leads": ids, "title": "宏远等三家疑似围标", "note": "调取保证金流水"})
    assert res.status_code == 201, res.content
    case = res.json()
    assert api(people["host"], "post", "/api/v1/collusion/cases", {"leads": ids, "title": "x"}).status_code == 403
    res = api(sup, "patch", f"/api/v1/collusion/cases/{case['id']}", {"status": "investigating"})
    assert res.status_code == 200 and res.json()["status"] == "investigating"
    res = api(sup, "patch", f"/api/v1/collusion/cases/{case['id']}", {"status": "open"})
    assert res.status_code == 409
    res = api(sup, "patch", f"/api/v1/collusion/cases/{case['id']}", {"status": "nonsense"})
    assert res.status_code == 400 and res.json()["error"]["code"] == "bad_request"
    res = api(sup, "post", "/api/v1/collusion/cases", {"leads": [999999], "title": "x"})
    assert res.status_code == 404
    entry = AuditEntry.objects.filter(action="collusion.case.updated").get()
    data = json.loads(entry.body)["data"]
    assert data["old"]["status"] == "open" and data["new"]["status"] == "investigating"
    assert json.loads(AuditEntry.objects.get(action="collusion.case.opened").body)["data"]["new"]["leads"] == sorted(ids)
    assert Case.objects.get().status == "investigating"


def test_malformed_input_is_a_400_never_a_500(opened):
    lot, people = opened["lot"], opened["people"]
    sup = people["supervisor"]
    c = client(sup, "192.0.2.1")
    assert c.post("/api/v1/collusion/cases", data="{not json", content_type="application/json").status_code == 400
    assert c.post("/api/v1/collusion/cases", data=json.dumps({"leads": "x", "title": 1}),
                  content_type="application/json").status_code == 400
    assert c.get("/api/v1/lots/abc/collusion/leads").status_code in (400, 404)
    host = client(people["host"], "192.0.2.9")
    assert host.put(f"/api/v1/lots/{lot.pk}/collusion/tender-documents/..x", data=b"x",
                    content_type="application/octet-stream").status_code == 400
    assert host.put(f"/api/v1/lots/{lot.pk}/collusion/tender-documents/a.docx", data=b"",
                    content_type="application/octet-stream").status_code == 400


def test_the_tenders_archive_keeps_the_runs_and_still_verifies(opened):
    import zipfile

    from audit.archive import export_archive
    from audit.checkpoints import issue_checkpoint
    from audit.keys import platform_vkey
    from crypto.archive import verify_archive

    lot, people = opened["lot"], opened["people"]
    api(people["supervisor"], "post", f"/api/v1/lots/{lot.pk}/collusion/analyses")
    issue_checkpoint("collusion")
    buffer = io.BytesIO()
    export_archive(buffer, lot=lot)
    run = AnalysisRun.objects.get(lot=lot)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as z:
        (member,) = [n for n in z.namelist() if n.endswith(f"collusion/run-{run.pk}.json")]
        kept = json.loads(z.read(member))
    assert kept["leads_sha256"] == run.leads_sha256 and len(kept["leads"]) == run.leads.count()
    # where each bid was sealed, sent and opened from is kept with the tender
    carol = kept["bidders"][str(people["carol"].organisation_id)]
    assert {e["user_agent"] for e in carol["events"]} == {AGENTS["carol"]} and carol["sealing"]["key_id"]
    verify_archive(io.BytesIO(buffer.getvalue()), vkey=platform_vkey())


@pytest.mark.parametrize("edit", [
    "UPDATE collusion_lead SET strength = 'weak' WHERE id = %s",
    "UPDATE collusion_lead SET evidence = '{}' WHERE id = %s",
    "UPDATE collusion_lead SET organisations = '[1, 2]' WHERE id = %s",
    "DELETE FROM collusion_lead WHERE id = %s",
    # where a bid was sent from, rewritten in the run's record (the audit entry carries its hash)
    "UPDATE collusion_analysisrun SET bidders = '{}' WHERE id = (SELECT run_id FROM collusion_lead WHERE id = %s)",
])
def test_a_lead_edited_in_the_database_is_shown_as_changed(opened, edit):
    from django.db import connection

    lot, people = opened["lot"], opened["people"]
    sup = people["supervisor"]
    api(sup, "post", f"/api/v1/lots/{lot.pk}/collusion/analyses")
    body = api(sup, "get", f"/api/v1/lots/{lot.pk}/collusion/leads").json()
    assert body["run"]["intact"] is True
    target = body["leads"][0]["id"]
    with connection.cursor() as cursor:
        cursor.execute(edit, [target])
    assert api(sup, "get", f"/api/v1/lots/{lot.pk}/collusion/leads").json()["run"]["intact"] is False
