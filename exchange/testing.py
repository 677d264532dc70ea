"""Generated tenders at every stage, for the OCDS tests and the benchmark: the rows the open data
reads (the lot, its amendments, the opening's announcement, the publicity, the award and its
notices), written directly with their audit entries, without running a whole opening and
evaluation each time."""

from __future__ import annotations

from datetime import timedelta

from accounts.credit_code import check_character
from accounts.models import Organisation, User
from audit.log import log_action
from bidding.models import Amendment, Lot, Opening, Project
from common import clock
from common.actor import Actor

STAGES = ("published", "amended", "opened", "candidates", "awarded", "cancelled", "failed")


def credit(seed: str) -> str:
    base = (seed.upper() + "0" * 17)[:17]
    return base + check_character(base)


def generate(n: int, *, tag: str = "G", bidders: int = 4) -> list[Lot]:
    """``n`` tenders cycling through ``STAGES``."""
    from award.models import Award, Notice, Publicity
    from award.notices import build_document, sign_notice

    now = clock.now()
    actor = Actor.system("exchange.testing")
    tenderee = Organisation.objects.create(name=f"{tag}建设单位", kind="tenderee", credit_code=credit(f"91{tag}T"))
    agency = Organisation.objects.create(name=f"{tag}招标代理", kind="agency", credit_code=credit(f"91{tag}A"))
    host = User.objects.create(username=f"{tag}-host", role="host", organisation=agency)
    orgs = [Organisation.objects.create(name=f"{tag}投标人{b}有限公司", kind="bidder", credit_code=credit(f"91{tag}B{b}"))
            for b in range(bidders)]
    lots = []
    for i in range(n):
        stage = STAGES[i % len(STAGES)]
        published = now - timedelta(days=40)
        project = Project.objects.create(code=f"{tag}-{i}", title=f"生成项目{i}", tenderee=tenderee, agency=agency)
        lot = Lot.objects.create(project=project, code="01", title="施工", description="道路工程",
                                 bid_deadline=published + timedelta(days=20), signin_opens_at=published,
                                 status="published", published_at=published)
        log_action("bidding.lot.published", actor=actor, obj=lot, tender_id=lot.pk, now=published, data={})
        lots.append(lot)
        if stage == "published":
            continue
        if stage != "cancelled":
            Amendment.objects.create(lot=lot, number=1, reason="澄清工期", created_by=host,
                                     created_at=published + timedelta(days=1),
                                     changes={"bid_deadline": ["a", "b"]})
        if stage == "cancelled":
            lot.status = "cancelled"
            lot.save(update_fields=["status"])
            log_action("bidding.lot.cancelled", actor=actor, obj=lot, tender_id=lot.pk, now=published + timedelta(days=2),
                       data={"from": "published", "reason": "项目取消"})
            continue
        if stage == "amended":
            continue
        opened = lot.bid_deadline + timedelta(minutes=40)
        announcement = [{"org": str(o.pk), "name": o.name, "credit_code": o.credit_code,
                         "status": "decrypted" if b else "revoked", "decrypted_by": "bidder" if b else "",
                         "fields": ([{"key": "price", "label": "投标报价", "value": 100_000_000 + 12_345 * b + i,
                                      "shown": "", "unit": "元"}] if b else []), "problems": []}
                        for b, o in enumerate(orgs)]
        Opening.objects.create(lot=lot, phase="closed", announcement=announcement, created_at=lot.bid_deadline,
                               updated_at=opened)
        log_action("bidding.opening.announced", actor=actor, obj=lot, tender_id=lot.pk, now=opened,
                   data={"announcement": announcement})
        lot.status = "failed" if stage == "failed" else "evaluating"
        lot.save(update_fields=["status"])
        if stage in ("opened", "failed"):
            continue
        valid = [(b, o) for b, o in enumerate(orgs) if b]
        content = {"method": "comprehensive", "outcome": "recommended",
                   "candidates": [{"rank": r + 1, "code": f"B{b:02d}", "organisation": o.pk, "name": o.name,
                                   "credit_code": o.credit_code, "price_fen": announcement[b]["fields"][0]["value"],
                                   "score": f"{90 - r}.50", "evaluated_fen": None}
                                  for r, (b, o) in enumerate(valid[:3])],
                   "rejections": []}
        starts = opened + timedelta(days=2)
        publicity = Publicity.objects.create(lot=lot, session_id=0, report_sha256="ab" * 32, content=content,
                                             starts_at=starts, ends_at=starts + timedelta(days=3), published_by=host)
        if stage == "candidates":
            continue
        first = content["candidates"][0]
        decided = publicity.ends_at + timedelta(hours=1)
        award = Award.objects.create(lot=lot, publicity=publicity, winner_code=first["code"],
                                     winner_id=first["organisation"], price_fen=first["price_fen"], decided_by=host,
                                     decided_at=decided)
        for b, o in valid:
            kind = "award" if o.pk == first["organisation"] else "result"
            doc = build_document(kind=kind, lot=lot, to={"name": o.name, "credit_code": o.credit_code},
                                 winner=first, publicity=publicity, decided_at=decided, report_sha256="ab" * 32)
            digest, signature = sign_notice(doc)
            Notice.objects.create(award=award, kind=kind, organisation=o, document=doc, sha256=digest,
                                  signature=signature)
        lot.status = "completed"
        lot.save(update_fields=["status"])
    return lots
