"""Open data: every published tender as OCDS 1.1 releases and a compiled record
(docs/data-exchange.md, "OCDS").

One release per step the public may know, each the tender's whole public state at that step (so
merging them gives the last one): published (``tender``), each amendment (``tenderAmendment``),
the announced bids (``tenderUpdate``, bids extension), the candidates' publicity (``award``, one
``pending`` award per candidate), the award (``awardUpdate``), a cancellation
(``tenderCancellation``) or a failed tender (``tenderUpdate``, ``unsuccessful``). What is sealed is
never read here: the bids come from the opening's announcement (唱标), which exists only once every
bid was decrypted or the window closed; drafts have no releases at all. Organisations are
identified by their 统一社会信用代码; no person is named.

Amounts are yuan with two decimals, written as JSON numbers from integer fen (never a float).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, Iterable

from django.conf import settings

from common.canonical import format_time

VERSION = "1.1"
BID_EXTENSION = "https://raw.githubusercontent.com/open-contracting-extensions/ocds_bid_extension/v1.1.5/extension.json"
SCHEME = "CN-USCC"  # 统一社会信用代码 (GB 32100-2015)
PUBLIC_STATUSES = ("published", "opening", "evaluating", "completed", "failed", "cancelled")
ANNOUNCED = ("announced", "confirming", "closed")
BID_STATUS = {"decrypted": "valid", "revoked": "withdrawn", "withdrawn": "withdrawn"}


def ocid(lot_id: int) -> str:
    return f"{settings.OCDS_PREFIX}-{lot_id}"


def yuan(fen: int) -> Decimal:
    return (Decimal(int(fen)) / 100).quantize(Decimal("0.01"))


def money(fen: int) -> dict:
    return {"amount": yuan(fen), "currency": "CNY"}


def _party_id(name: str, credit_code: str) -> str:
    return f"{SCHEME}-{credit_code}" if credit_code else f"name-{name}"


class _Parties:
    def __init__(self):
        self.rows: dict[str, dict] = {}

    def add(self, name: str, credit_code: str, role: str) -> dict:
        pid = _party_id(name, credit_code)
        row = self.rows.setdefault(pid, {"id": pid, "name": name, "roles": []})
        if credit_code:
            row["identifier"] = {"scheme": SCHEME, "id": credit_code, "legalName": name}
        if role not in row["roles"]:
            row["roles"].append(role)
        return {"id": pid, "name": name}

    def list(self) -> list[dict]:
        return [dict(r, roles=list(r["roles"])) for r in self.rows.values()]


def _announced_at(lot) -> Any:
    from audit.models import AuditEntry

    return (AuditEntry.objects.filter(tender_id=lot.pk, action="bidding.opening.announced")
            .values_list("created_at", flat=True).first())


def _price_of(entry: dict) -> int | None:
    for f in entry.get("fields", []):
        if f.get("key") == "price" and isinstance(f.get("value"), int):
            return f["value"]
    return None


def releases(lot) -> list[dict]:
    """The tender's releases, oldest first; [] for a lot the public may not see (a draft)."""
    from award.models import Award, Publicity
    from bidding.models import Opening

    if lot.status not in PUBLIC_STATUSES or lot.published_at is None:
        return []
    project = lot.project
    oc = ocid(lot.pk)
    parties = _Parties()
    buyer = parties.add(project.tenderee.name, project.tenderee.credit_code, "buyer")
    procuring = (parties.add(project.agency.name, project.agency.credit_code, "procuringEntity")
                 if project.agency else parties.add(project.tenderee.name, project.tenderee.credit_code,
                                                    "procuringEntity"))
    tender: dict[str, Any] = {
        "id": f"{project.code}-{lot.code}", "title": f"{project.title} {lot.title}",
        "description": lot.description or lot.title, "status": "active", "procuringEntity": procuring,
        "procurementMethod": "open", "procurementMethodDetails": "公开招标",
        "submissionMethod": ["electronicSubmission"],
        "tenderPeriod": {"startDate": format_time(lot.published_at), "endDate": format_time(lot.bid_deadline)},
        "documents": [], "amendments": [],
    }
    out: list[dict] = []

    def release(tag: str, date) -> None:
        out.append({"ocid": oc, "id": f"{oc}-{len(out) + 1:02d}-{tag}", "date": format_time(date), "tag": [tag],
                    "initiationType": "tender", "language": "zh", "buyer": buyer, "parties": parties.list(),
                    "tender": {k: v for k, v in _copy(tender).items() if v != []},
                    **({"bids": _copy(bids)} if bids else {}), **({"awards": _copy(awards)} if awards else {})})

    bids: dict | None = None
    awards: list[dict] = []
    release("tender", lot.published_at)
    for a in lot.amendments.order_by("number"):
        tender["amendments"].append({"id": str(a.number), "date": format_time(a.created_at), "rationale": a.reason,
                                     "description": ", ".join(sorted(a.changes)),
                                     "amendsReleaseID": out[-1]["id"]})
        release("tenderAmendment", a.created_at)
        tender["amendments"][-1]["releaseID"] = out[-1]["id"]
        out[-1]["tender"]["amendments"][-1]["releaseID"] = out[-1]["id"]
    opening = Opening.objects.filter(lot=lot).first()
    announced_at = _announced_at(lot) if opening is not None and opening.announcement else None
    if announced_at is not None:
        details, tenderers = [], []
        for i, entry in enumerate(opening.announcement, 1):
            who = parties.add(entry["name"], entry.get("credit_code", ""), "tenderer")
            tenderers.append(who)
            detail = {"id": f"{oc}-bid-{i}", "date": format_time(announced_at),
                      "status": BID_STATUS.get(entry.get("status"), "pending"), "tenderers": [who]}
            price = _price_of(entry)
            if price is not None:
                detail["value"] = money(price)
            details.append(detail)
        tender["tenderers"], tender["numberOfTenderers"] = tenderers, len(tenderers)
        bids = {"details": details}
        release("tenderUpdate", announced_at)
    publicity = Publicity.objects.filter(lot=lot).first()
    if publicity is not None:
        tender["awardPeriod"] = {"startDate": format_time(publicity.starts_at),
                                 "endDate": format_time(publicity.ends_at)}
        tender["documents"].append({"id": "evaluation-report", "documentType": "evaluationReports",
                                    "title": "评标报告", "language": "zh",
                                    "datePublished": format_time(publicity.starts_at),
                                    "sha256": publicity.report_sha256})
        for c in sorted(publicity.content["candidates"], key=lambda c: c["rank"]):
            who = parties.add(c["name"], c["credit_code"], "supplier")
            awards.append({"id": f"{oc}-candidate-{c['rank']}", "title": f"中标候选人 第{c['rank']}名",
                           "status": "pending", "date": format_time(publicity.starts_at),
                           "value": money(c["price_fen"]), "suppliers": [who]})
        release("award", publicity.starts_at)
        award = Award.objects.filter(lot=lot).first()
        if award is not None:
            for a, c in zip(awards, sorted(publicity.content["candidates"], key=lambda c: c["rank"])):
                a["status"] = "active" if c["code"] == award.winner_code else "unsuccessful"
                a["date"] = format_time(award.decided_at)
                if c["code"] == award.winner_code:
                    notice = award.notices.filter(kind="award").first()
                    a["documents"] = [{"id": f"notice-{notice.pk}", "documentType": "awardNotice",
                                       "title": "中标通知书", "language": "zh",
                                       "datePublished": format_time(award.decided_at), "sha256": notice.sha256}]
            tender["status"] = "complete"
            release("awardUpdate", award.decided_at)
    if lot.status == "cancelled":
        tender["status"] = "cancelled"
        release("tenderCancellation", _status_time(lot, "bidding.lot.cancelled") or lot.published_at)
    elif lot.status == "failed":
        tender["status"] = "unsuccessful"
        release("tenderUpdate", _status_time(lot, "bidding.opening.") or lot.bid_deadline)
    return out


def _status_time(lot, action: str):
    """When the lot reached its status: its last entry of ``action`` (a prefix when it ends with ".")."""
    from audit.models import AuditEntry

    entries = AuditEntry.objects.filter(tender_id=lot.pk)
    entries = entries.filter(action__startswith=action) if action.endswith(".") else entries.filter(action=action)
    return (entries.order_by("-index")
            .values_list("created_at", flat=True).first())


def _copy(value):
    """A deep copy that keeps Decimals (later steps change the live dicts)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def compiled_release(rels: list[dict]) -> dict:
    """Each release is the whole public state, so the compiled release is the last one re-tagged
    (the tests check it against ocdsmerge's merge of all of them)."""
    last = _copy(rels[-1])
    last["id"] = f"{last['ocid']}-compiled"
    last["tag"] = ["compiled"]
    return last


def package_meta() -> dict:
    return {"version": VERSION, "publisher": {"name": settings.OCDS_PUBLISHER}, "extensions": [BID_EXTENSION]}


def release_package(rels: Iterable[dict], *, uri: str, published: str) -> dict:
    return {"uri": uri, "publishedDate": published, **package_meta(), "releases": list(rels)}


def record(lot) -> dict | None:
    rels = releases(lot)
    if not rels:
        return None
    return {"ocid": rels[0]["ocid"], "releases": rels, "compiledRelease": compiled_release(rels)}


def record_package(records: Iterable[dict], *, uri: str, published: str) -> dict:
    return {"uri": uri, "publishedDate": published, **package_meta(), "records": list(records)}


_MARK = "\u0000dec:"
_MARKED = re.compile(r'"\\u0000dec:(-?\d+\.\d{2})"')


def _mark(value):
    if isinstance(value, Decimal):
        return _MARK + str(value)
    if isinstance(value, dict):
        return {k: _mark(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mark(v) for v in value]
    return value


def dumps(value) -> str:
    """JSON with the amounts as exact decimal numbers (``123.45``), never through a float."""
    text = json.dumps(_mark(value), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return _MARKED.sub(lambda m: m.group(1), text)
