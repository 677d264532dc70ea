"""The facts of one tender, gathered for the pure signals after its opening.

- The bidders: every decrypted bid of the lot's opening (organisation, name, credit code).
- Their documents: the manifest of each decrypted package and every document it lists, read with
  ``bidding.opening.documents`` (the package must be the one whose hash the decryption audited,
  each document the one the manifest lists), one at a time; only their facts are kept.
- Where things happened: the network address and user agent of each upload, receipt and (the
  bidder's own) decryption, from the audit log's entries of the lot; the certificate and key that
  sealed each bid and the key that opened it; the sealing tool, its version and the salted machine
  hash ``sealbid`` records in the manifest (docs/sealbid.md). Kept per bidder with the run (and so
  in the tender's archive) as ``bidders[key]["sealing"|"decryption"|"events"]``.
- The announced price (the tender's first ``money_fen`` field) and the decryption times.
- The tender's own documents: the ones the host filed for the analysis, the tender's bill, and the
  lot's description.
"""

from __future__ import annotations

import json
from fractions import Fraction

from audit.models import AuditEntry
from bidding.models import BidSubmission, OpeningBid
from bidding.opening.documents import read_document, read_manifest
from collusion.signals.extract import DocFacts, read_document as facts_of
from collusion.signals.identity import BidderIdentity, Observation
from collusion.signals.run import TenderFacts
from common.canonical import format_time
from common.errors import BadRequest

from .models import TenderDocument

STAGES = {"bidding.bid.upload_started": "upload", "bidding.bid.submitted": "receipt",
          "bidding.opening.bid_decrypted": "decryption", "bidding.opening.decryption_failed": "decryption"}


def gather(lot, *, max_document_bytes: int, max_documents: int) -> tuple[TenderFacts, dict, list]:
    """(facts, bidders as recorded with the run, problems)."""
    bids = list(OpeningBid.objects.filter(opening__lot=lot, status=OpeningBid.Status.DECRYPTED)
                .select_related("organisation", "submission__certificate").order_by("id"))
    facts = TenderFacts(bidders=[])
    recorded, problems = {}, []
    price_key = next((f["key"] for f in lot.announced_fields if f.get("type") == "money_fen"), None)
    for ob in bids:
        org = ob.organisation
        key = str(org.pk)
        facts.bidders.append(BidderIdentity(key, org.name, org.credit_code or ""))
        manifest = read_manifest(lot.pk, org.pk)
        docs: list[DocFacts] = []
        if manifest.problem:
            problems.append({"organisation": org.pk, "document": "manifest.json", "problem": manifest.problem})
        names = [d.get("name", "") for d in (manifest.data or {}).get("documents", []) if isinstance(d, dict)]
        for name in names[:max_documents]:
            short = name.removeprefix("documents/")
            doc = read_document(lot.pk, org.pk, short, max_bytes=max_document_bytes)
            if doc.problem:
                problems.append({"organisation": org.pk, "document": short, "problem": doc.problem})
                continue
            f = facts_of(short, doc.data)
            if f.problem and f.problem != "unsupported":
                problems.append({"organisation": org.pk, "document": short, "problem": f.problem})
            docs.append(f)
        facts.documents[key] = docs
        sealer = (manifest.data or {}).get("sealer")
        machine = ""
        if isinstance(sealer, dict) and isinstance(sealer.get("machine"), str) and sealer["machine"]:
            machine = sealer["machine"][:128]
            facts.observations.append(Observation(key, "machine", machine, "sealing"))
        sub = ob.submission
        cert = sub.certificate
        received = format_time(sub.received_at)
        facts.observations.append(Observation(key, "certificate", cert.key_id, "sealing", received))
        decrypted = format_time(ob.decrypted_at) if ob.decrypted_at else None
        opened_with = sub.key_id if ob.decrypted_by == "bidder" else (sub.escrow_key_id or "")
        if price_key and isinstance(ob.values.get(price_key), int):
            facts.prices[key] = ob.values[price_key]
        if ob.decrypted_by == "bidder" and ob.decrypted_at:
            facts.decrypted_at[key] = ob.decrypted_at
            if sub.key_id != cert.key_id:  # the same key is one observation, seen at both stages below
                facts.observations.append(Observation(key, "certificate", sub.key_id, "decryption", decrypted))
        recorded[key] = {
            "organisation": org.pk, "name": org.name, "documents": len(docs),
            "sealer": {k: str(v)[:64] for k, v in sealer.items() if k in ("tool", "version")}
            if isinstance(sealer, dict) else None,
            "sealing": {"machine": machine or None, "certificate": cert.serial, "certificate_key": cert.key_id,
                        "key_id": sub.key_id, "received_at": received},
            "decryption": {"by": ob.decrypted_by, "key_id": opened_with, "at": decrypted},
            "events": []}
    keys = {b.key for b in facts.bidders}
    for action, org_id, ip, created, body in (AuditEntry.objects.filter(tender_id=lot.pk, action__in=list(STAGES))
                                              .order_by("index")
                                              .values_list("action", "organisation_id", "ip", "created_at", "body")):
        # the bidder's own actions only: a host's backup decryption says nothing about the bidder
        if str(org_id) not in keys:
            continue
        agent = _user_agent(body)
        at = format_time(created)
        recorded[str(org_id)]["events"].append({"stage": STAGES[action], "action": action, "at": at,
                                                "ip": ip, "user_agent": agent})
        if ip:
            facts.observations.append(Observation(str(org_id), "ip", ip, STAGES[action], at, user_agent=agent))
        if STAGES[action] == "decryption" and action.endswith("bid_decrypted"):
            recorded[str(org_id)]["decryption"]["ip"] = ip
            recorded[str(org_id)]["decryption"]["user_agent"] = agent
    facts.benchmark_fen, facts.benchmark_kind = benchmark(lot, facts.prices)
    for td in TenderDocument.objects.filter(lot=lot).order_by("name"):
        facts.tender_documents.append(facts_of(td.name, bytes(td.data)))
    bill = _tender_bill(lot)
    if bill is not None:
        facts.tender_documents.append(facts_of("tender-bill.xlsx", bill))
    if lot.description:
        facts.tender_documents.append(DocFacts("description", "text", text=lot.description))
    return facts, recorded, problems


def benchmark(lot, prices: dict[str, int]) -> tuple[int | None, str]:
    """The 评标基准价 the lot's evaluation computes from these prices — its session's price rule and
    drawn K (``evaluation.rules.price.benchmark_of``) — to the fen, when it is a mean or a mix of
    the ceiling and the mean (around the lowest price is ``ring_above_low``'s). Every decrypted
    bid's price counts, before the committee finds any invalid; no session yet, no benchmark."""
    from evaluation.models import EvaluationSession
    from evaluation.rules.price import benchmark_of, check_k
    from evaluation.rules.price_rule import rule_from_settings

    session = EvaluationSession.objects.filter(lot=lot).order_by("-id").first()
    if session is None or len(prices) < 3:
        return None, ""
    try:
        rule = rule_from_settings(session.rules_settings)
        if rule.benchmark == "lowest":
            return None, ""
        value, _, _ = benchmark_of(rule, [Fraction(p) for p in prices.values()],
                                   check_k(rule, session.k_percent or None))
    except (BadRequest, KeyError, TypeError, ValueError):
        return None, ""  # settings the evaluation itself refuses: it says why, not this analysis
    return int((2 * value.numerator + value.denominator) // (2 * value.denominator)), rule.benchmark


def _user_agent(body: str) -> str:
    """The user agent an entry's data recorded (entries written before it was kept have none)."""
    try:
        value = json.loads(body).get("data", {}).get("user_agent", "")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def _tender_bill(lot):
    from evaluation.models import BidBill

    row = BidBill.objects.filter(lot=lot, bidder_org__isnull=True).first()
    return bytes(row.data) if row is not None else None


def tender_outcomes(limit: int):
    """The platform's history for the co-bidding graph: each lot with bids on file, its bidders and
    its winner (the first recommended candidate of its evaluation's ranking, when there is one)."""
    from collusion.signals.graph import TenderOutcome
    from evaluation.models import EvaluationSession, SessionBidder

    bidders: dict[int, set[str]] = {}
    for lot_id, org_id in (BidSubmission.objects.filter(status=BidSubmission.Status.CURRENT)
                           .values_list("lot_id", "organisation_id")):
        bidders.setdefault(lot_id, set()).add(str(org_id))
    codes = {(s, c): o for s, c, o in SessionBidder.objects.values_list("session_id", "code", "bidder_org_id")}
    winners: dict[int, str] = {}
    for session_id, lot_id, ranking in (EvaluationSession.objects.exclude(ranking=None)
                                        .values_list("id", "lot_id", "ranking")):
        candidates = ranking.get("candidates") if isinstance(ranking, dict) else None
        if candidates and (session_id, candidates[0]) in codes:
            winners[lot_id] = str(codes[(session_id, candidates[0])])
    lots = sorted(bidders)[-limit:]
    return [TenderOutcome(str(lot), frozenset(bidders[lot]), winners.get(lot)) for lot in lots]
