"""Set-up of the collusion browser test (``test_journey_collusion.py``), run inside ``manage.py
shell`` (the ORM does not work under Playwright's sync API).

``build_analysed_session()``: the evaluation browser test's session (``evaluation_setup.build_session``:
a lot with three bids from the demo's bidders, a drawn committee of five, a blind session), and an
analysis of the lot after its opening whose leads are computed by the real signals
(``collusion.signals.run.analyse``) from the generated corpus (``tests/collusion/corpus.py``: three
riggers sharing an author, a template, an image, a project manager, a safety certificate, a
machine and a network, with prices in a row), the three riggers' facts standing for the three
bids, and stored as a run is (``collusion.actions.store_leads``: the run, its leads, the audit
entry). Prints the session's JSON with the lot's lead count and the supervisor's cookie.
"""

from __future__ import annotations

import contextlib
import io
import json


def build_analysed_session() -> None:
    from django.db import transaction

    from accounts.models import User
    from collusion import actions, conf
    from collusion.models import AnalysisRun
    from collusion.signals.extract import read_document
    from collusion.signals.identity import BidderIdentity, Observation
    from collusion.signals.run import TenderFacts, analyse
    from common import clock
    from common.actor import Actor
    from evaluation.models import EvaluationSession
    from tests.collusion import corpus
    from tests.e2e.evaluation_setup import build_session

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        build_session()
    ev = json.loads(out.getvalue().strip().splitlines()[-1])
    session = EvaluationSession.objects.select_related("lot").get(pk=ev["session"])
    orgs = [b.bidder_org for b in session.bidders.select_related("bidder_org").order_by("code")]
    riggers, tender = corpus.build(honest=0, paragraphs=10, with_pdf=False)
    key = {r.key: str(org.pk) for r, org in zip(riggers, orgs)}
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"
    facts = TenderFacts(
        bidders=[BidderIdentity(key[r.key], r.name, r.credit_code) for r in riggers],
        documents={key[r.key]: [read_document(n, d) for n, d in r.files.items()] for r in riggers},
        tender_documents=[read_document(n, d) for n, d in tender.items()],
        observations=[Observation(key[r.key], k, v, s, corpus.T0.isoformat(), user_agent=agent)
                      for r in riggers for k, v, s in r.observations],
        prices={key[r.key]: r.price_fen for r in riggers},
        decrypted_at={key[r.key]: r.decrypted_at for r in riggers})
    leads = analyse(facts, conf.analysis_settings())
    host = User.objects.get(username="host")
    now = clock.now()
    with transaction.atomic():
        run = AnalysisRun(kind=AnalysisRun.Kind.TENDER, lot=session.lot, started_at=now, requested_by=host,
                          settings=conf.snapshot(), bidders={k: {"organisation": int(k)} for k in key.values()},
                          problems=[])
        actions.store_leads(run, leads, lot=session.lot, actor=Actor.of(host), now=now,
                            action="collusion.analysis.completed", extra={"bidders": sorted(key.values())})
    ev.update(leads=len(leads), signals=sorted({x.signal.value for x in leads}),
              supervisor=ev["cookies"]["supervisor"])
    print(json.dumps(ev, ensure_ascii=False))


def audit_counts() -> None:
    """In ``manage.py shell``: how many of each collusion decision and case entry the log holds."""
    from audit.models import AuditEntry

    print(json.dumps({a: AuditEntry.objects.filter(action=a).count()
                      for a in ("collusion.analysis.completed", "collusion.lead.decided", "collusion.case.opened",
                                "collusion.case.updated")}))
