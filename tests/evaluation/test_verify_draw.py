"""An outsider verifies a draw from the published record alone (docs/draw.md, tools/verify_draw.py):
the independent verifier agrees with the platform on every draw, and any edited byte of the record
fails it. The committee is a function of the published material only."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from common.errors import PlatformError
from evaluation.models import Expert
from evaluation.rules import draw as rules_draw
from evaluation.rules import draw_seed
from evaluation.rules.committee import Bidder, PoolExpert
from evaluation.testing import build, run_draw, sibling_lot
from tools import verify_draw

ROOT = Path(__file__).resolve().parents[2]
VERIFIER = ROOT / "tools" / "verify_draw.py"


def run_verifier(tmp_path, record) -> subprocess.CompletedProcess:
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    # -I: isolated, so the script cannot lean on the platform's code on sys.path.
    return subprocess.run([sys.executable, "-I", str(VERIFIER), str(path)], capture_output=True, text=True,
                          timeout=60)


def published_record(withhold=(), decline=False):
    sc = build()
    lot = sibling_lot(sc)
    region = sc.venues[0].region
    for n in range(3):  # spare experts, so a decline has a replacement
        Expert.objects.create(user=sc.host.__class__.objects.create(username=f"spare-{n}-{lot.pk}", role="expert"),
                              region=region, category="technical")
    quotas = {v.region.code: 1 if i else 3 for i, v in enumerate(sc.venues)}
    draw = run_draw(lot, quotas=quotas, host=sc.host, supervisor=sc.supervisor, withhold=withhold)
    host = Client()
    host.force_login(sc.host)
    if decline:
        res = host.post(f"/api/v1/evaluation/draws/{draw.pk}/decline", data=json.dumps(
            {"expert_id": draw.committee[0]}), content_type="application/json")
        assert res.status_code == 200, res.content
    res = host.get(f"/api/v1/evaluation/draws/{draw.pk}/published")
    assert res.status_code == 200
    return res.json()


@pytest.mark.django_db
@pytest.mark.parametrize("withhold, decline", [((), False), (("host",), True), (("supervisor",), False)])
def test_the_independent_verifier_recomputes_the_committee_from_the_api(tmp_path, withhold, decline):
    record = published_record(withhold, decline)
    res = run_verifier(tmp_path, record)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["committee"] == record["committee"]
    assert len(record["declined"]) == int(decline)
    assert "专家" not in json.dumps(record, ensure_ascii=False)  # ids only: no expert's name is published


def _mutations(record):
    def snapshot_byte(r):
        r["snapshot"] = r["snapshot"].replace('"available":true', '"available":false', 1)

    def reveal(r):
        r["reveals"][1]["value"] = "00" * 32

    def seed(r):
        r["seed"] = "0" + r["seed"][1:] if r["seed"][0] != "0" else "1" + r["seed"][1:]

    def member(r):
        r["committee"] = r["committee"][::-1]

    def quotas(r):
        first = sorted(r["quotas"])[0]
        r["quotas"][first] += 2

    def commitment(r):
        r["commitments"][2]["commitment"] = hashlib.sha256(b"other").hexdigest()

    def declined(r):
        r["declined"] = [r["committee"][0]]

    def hidden_withhold(r):
        r["reveals"][2]["value"] = None

    return [snapshot_byte, reveal, seed, member, quotas, commitment, declined, hidden_withhold]


@pytest.mark.django_db
def test_every_edit_of_the_published_record_fails_the_verifier(tmp_path):
    record = published_record()
    for mutate in _mutations(record):
        edited = copy.deepcopy(record)
        mutate(edited)
        res = run_verifier(tmp_path, edited)
        assert res.returncode == 1 and "NOT VERIFIED" in res.stderr, mutate.__name__


# --- the property: the committee is a function of the published material only ----------------------

REGIONS = ("r1", "r2", "r3")
NAMES = ("张三", "张 三", "李四", "王五")
ORGS = ("o1", "o2", "o3")

expert = st.fixed_dictionaries({
    "category": st.sampled_from(("technical", "technical", "economic", "other")),
    "specialties": st.lists(st.sampled_from(("civil", "electrical")), unique=True, max_size=2),
    "employer": st.sampled_from((None, None, None, *ORGS)),
    "related_orgs": st.lists(st.sampled_from(ORGS), unique=True, max_size=1) | st.just([]),
    "related_people": st.lists(st.sampled_from(NAMES), unique=True, max_size=1) | st.just([]),
    "authority_staff": st.sampled_from((False,) * 9 + (True,)),
    "penalised": st.sampled_from((False,) * 9 + (True,)),
    "available": st.sampled_from((True,) * 9 + (False,)),
})
experts = st.tuples(*(st.lists(expert.map(lambda e, r=r: {**e, "region": r}), min_size=2 + 4 * (r == "r1"),
                               max_size=12) for r in REGIONS)).map(lambda per_region: [e for rs in per_region for e in rs])
values = st.sampled_from((True, True, True, False)).flatmap(
    lambda revealed: st.binary(min_size=32, max_size=32) if revealed else st.none())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pool=experts, quotas=st.sampled_from(({"r1": 3, "r2": 1, "r3": 1}, {"r1": 3, "r2": 2, "r3": 2},
                                             {"r1": 5})),
       required=st.sampled_from(({}, {"civil": 1}, {"civil": 2, "electrical": 1})),
       platform=st.binary(min_size=32, max_size=32), supervisor=values, host=values,
       draw_id=st.integers(min_value=1, max_value=10**9), declines=st.integers(min_value=0, max_value=2))
def test_the_committee_is_a_function_of_the_published_material_only(pool, quotas, required, platform, supervisor,
                                                                      host, draw_id, declines):
    pool_experts = tuple(PoolExpert(id=f"e{n}", **{k: tuple(v) if isinstance(v, list) else v for k, v in e.items()})
                         for n, e in enumerate(pool))
    snapshot = rules_draw.PoolSnapshot(experts=pool_experts, bidders=(Bidder("o1", ("张三",)), Bidder("o2")),
                                       required_specialties=required, min_size=5)
    text = rules_draw.canonical_snapshot(snapshot).decode("utf-8")
    reveals = {"platform": platform, "supervisor": supervisor, "host": host}
    record = {"format": "kaibiao/draw-record/v1", "draw_id": draw_id, "quotas": quotas, "beacon": None,
              "snapshot": text, "snapshot_sha256": hashlib.sha256(text.encode()).hexdigest(),
              "commitments": [{"party": p, "commitment": draw_seed.commitment(draw_id, p, v or b"\0" * 32)}
                              for p, v in reveals.items()],
              "reveals": [{"party": p, "value": None if v is None else v.hex()} for p, v in reveals.items()]}
    # The platform's side.
    declined: list[str] = []
    try:
        seed = draw_seed.derive_seed(draw_id, record["snapshot_sha256"], reveals)
        result = rules_draw.draw(snapshot, quotas, seed)
    except PlatformError:
        platform_side = None
    else:
        for _ in range(declines):
            try:
                result = rules_draw.replace_declined(snapshot, quotas, result, result.committee[0])
            except PlatformError:
                break
            declined.append(result.replacements[-1][0])
        platform_side = list(result.committee)
    # The outsider's side, from the record alone.
    try:
        seed_out = verify_draw.seed_of(record)
        outsider = verify_draw.committee_of(json.loads(text), quotas, seed_out, declined)
    except verify_draw.Mismatch:
        outsider = None
    event("drawn" if platform_side else "refused")
    assert outsider == platform_side
    if platform_side is not None:
        assert seed_out == seed
        record.update(seed=seed.hex(), committee=platform_side, declined=declined)
        assert verify_draw.verify(record) == platform_side


def test_the_worked_example_of_the_spec():
    """docs/draw.md's worked example, computed by the platform and by the verifier."""
    from evaluation.rules.committee import PoolExpert as E

    doc = (ROOT / "docs" / "draw.md").read_text(encoding="utf-8")
    pool = (E("11", "320100", "technical", specialties=("civil",)), E("12", "320100", "economic"),
            E("13", "320100", "technical", employer="501"), E("14", "320100", "technical"),
            E("15", "320100", "other"), E("21", "320500", "technical"),
            E("22", "320500", "technical", related_people=("李 四",)), E("23", "320500", "economic"))
    snapshot = rules_draw.PoolSnapshot(experts=pool, bidders=(Bidder("501", ("张三",)), Bidder("502", ("李四",)),
                                                              Bidder("503")), required_specialties={"civil": 1})
    text = rules_draw.canonical_snapshot(snapshot).decode("utf-8")
    sha = hashlib.sha256(text.encode()).hexdigest()
    assert text in doc and sha == "4bfef90fedfc0f3060bae4938653b61a45aef1361741efe920e504bd86271686"
    quotas = {"320100": 3, "320500": 2}
    values = {p: hashlib.sha256(f"example {p}".encode()).digest() for p in draw_seed.PARTIES}
    for p, v in values.items():
        assert f"| {p} | `{v.hex()}` | `{draw_seed.commitment(7, p, v)}` |" in doc
        assert verify_draw.commitment(7, p, v) == draw_seed.commitment(7, p, v)
    for withheld, seed_hex, committee in (
            (None, "c4f1e46d1eaf683e617fe906bd017cc9fc77b5d45af049613c1db2ef23b3d1f5", ["11", "14", "12", "21", "23"]),
            ("host", "bfcef691f5a305e3ec23396dc33eaa03c142552cc6d7c70a166f71d295972777", ["15", "14", "11", "23", "21"])):
        reveals = {p: None if p == withheld else v for p, v in values.items()}
        seed = draw_seed.derive_seed(7, sha, reveals)
        assert seed.hex() == seed_hex and seed_hex in doc
        assert list(rules_draw.draw(snapshot, quotas, seed).committee) == committee
        record = {"format": "kaibiao/draw-record/v1", "draw_id": 7, "quotas": quotas, "beacon": None, "snapshot": text,
                  "snapshot_sha256": sha, "seed": seed_hex, "declined": [], "committee": committee,
                  "commitments": [{"party": p, "commitment": draw_seed.commitment(7, p, v)} for p, v in values.items()],
                  "reveals": [{"party": p, "value": None if v is None else v.hex()} for p, v in reveals.items()]}
        assert verify_draw.verify(record) == committee
    assert draw_seed.seed_message(7, sha, values).decode() in doc
    first = rules_draw.draw(snapshot, quotas, draw_seed.derive_seed(7, sha, values))
    assert list(rules_draw.replace_declined(snapshot, quotas, first, "14").committee) == ["11", "12", "15", "21", "23"]
