"""OCDS 1.1 output checked with the standard's own tooling (libcoveocds, ocdsmerge): the demo tender
and generated tenders at every stage pass with no errors; the compiled release is the merge of the
releases; nothing sealed or personal is published before it may be."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client

from bidding.models import Lot
from exchange import ocds
from exchange.testing import STAGES, generate

from .ocds_tools import check, merged

pytestmark = pytest.mark.django_db


def fetch(path: str) -> dict:
    res = Client().get(path)
    assert res.status_code == 200, res.content
    return json.loads(res.content)


def assert_valid(package: dict, tmp_path) -> dict:
    result = check(package, tmp_path)
    assert result["validation_errors"] == [], json.dumps(result["validation_errors"], ensure_ascii=False)[:3000]
    # The bids extension was read and applied: "bids" is a field of the schema, not an extra.
    assert result["extensions"]["invalid_extension"] == {} and result["extensions"]["is_extended_schema"]
    extra = {f["field"] for f in result["additional_fields"]}
    assert extra <= {"sha256"}, extra  # the documents' hashes (docs/data-exchange.md), nothing else
    assert not result["additional_closed_codelist_values"], result["additional_closed_codelist_values"]
    return result


def test_the_checker_finds_what_the_standard_forbids(tmp_path):
    """The checker is not a rubber stamp: a release the standard refuses fails here."""
    lot = generate(len(STAGES), tag="X")[STAGES.index("awarded")]
    package = json.loads(ocds.dumps(ocds.release_package(ocds.releases(lot), uri="https://x", published="2026")))
    bad = json.loads(json.dumps(package))
    del bad["releases"][0]["ocid"]
    bad["releases"][2]["bids"]["details"][1]["value"]["amount"] = "一百万"
    bad["releases"][3]["awards"][0]["status"] = "won"
    result = check(bad, tmp_path)
    messages = json.dumps(result["validation_errors"], ensure_ascii=False)
    assert "ocid" in messages and "amount" in messages
    assert result["validation_errors"] and (result["additional_closed_codelist_values"] or "status" in messages)


def test_the_demo_tender_is_valid_ocds(tmp_path):
    call_command("load_demo", stdout=open("/dev/null", "w"))
    lot = Lot.objects.get(project__code="NJSZ-2026-0188")
    package = fetch(f"/api/v1/lots/{lot.pk}/ocds/releases")
    assert [r["tag"] for r in package["releases"]] == [["tender"]]
    assert package["releases"][0]["tender"]["status"] == "active"
    assert_valid(package, tmp_path)
    assert_valid(fetch(f"/api/v1/lots/{lot.pk}/ocds/record"), tmp_path)


def test_generated_tenders_at_every_stage_are_valid_and_compile_as_ocdsmerge_does(tmp_path):
    lots = generate(len(STAGES) * 2)
    for lot in lots:
        package = fetch(f"/api/v1/lots/{lot.pk}/ocds/releases")
        assert_valid(package, tmp_path)
        record = fetch(f"/api/v1/lots/{lot.pk}/ocds/record")
        assert_valid(record, tmp_path)
        compiled = record["records"][0]["compiledRelease"]
        theirs = merged(package["releases"])
        assert {k: v for k, v in compiled.items() if k != "id"} == {k: v for k, v in theirs.items() if k != "id"}
    tags = {lot.pk: [r["tag"][0] for r in ocds.releases(lot)] for lot in lots}
    awarded = lots[STAGES.index("awarded")]
    assert tags[awarded.pk] == ["tender", "tenderAmendment", "tenderUpdate", "award", "awardUpdate"]
    assert tags[lots[STAGES.index("cancelled")].pk] == ["tender", "tenderCancellation"]


def test_amounts_are_exact_decimals_and_nothing_sealed_leaks_before_the_announcement(tmp_path):
    lots = generate(len(STAGES), tag="H")
    awarded = lots[STAGES.index("awarded")]
    text = ocds.dumps(ocds.record(awarded))
    assert '"amount":1000123.49' in text  # (100_000_000 + 12_345 + 4) fen, as a decimal number
    rel = ocds.releases(awarded)[-1]
    price = rel["bids"]["details"][1]["value"]["amount"]
    assert isinstance(price, Decimal) and price == Decimal("1000123.49")
    winner = [a for a in rel["awards"] if a["status"] == "active"]
    assert len(winner) == 1 and len(winner[0]["documents"][0]["sha256"]) == 64
    for stage in ("published", "amended"):
        lot = lots[STAGES.index(stage)]
        for r in ocds.releases(lot):
            assert "bids" not in r and "awards" not in r and "tenderers" not in r["tender"]
    draft = Lot.objects.create(project=awarded.project, code="02", title="未发布", bid_deadline=awarded.bid_deadline,
                               signin_opens_at=awarded.bid_deadline, status="draft")
    assert Client().get(f"/api/v1/lots/{draft.pk}/ocds/releases").status_code == 404
    assert ocds.releases(draft) == []
    text = json.dumps(ocds.record(awarded), default=str, ensure_ascii=False)
    assert "host" not in text and "contact" not in text  # no person: only organisations


def test_the_bulk_file_and_the_paged_api_hold_every_public_tender(tmp_path):
    from exchange.management.commands.export_ocds import export

    lots = generate(len(STAGES), tag="K")
    out = tmp_path / "records.json"
    assert export(str(out)) == len(lots)
    package = json.loads(out.read_text())
    assert {r["ocid"] for r in package["records"]} == {ocds.ocid(lot.pk) for lot in lots}
    assert_valid(package, tmp_path)
    page = fetch("/api/v1/exchange/ocds/records?limit=3")
    assert len(page["records"]) == 3 and "next" in page["links"]
    assert Client().get("/api/v1/exchange/ocds/records?limit=0").status_code == 400
