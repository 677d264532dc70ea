"""The report's signing: each member signs its hash with their Ed25519 key or records a dissent
with written reasons; when the signing time ends, a member who did neither is deemed to agree
(Reg 53), by the signing timer (``realtime.timers``, field ``signing_check``)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta

from common.actor import Actor
from common.errors import BadRequest

from . import state as st
from .models import ReportSignature
from .report import build_report, report_hash, signing_message
from .rules import steps
from .workflow import Call, audit, check_step, invalid, member_of, signing_minutes


def prepare_report(session, call: Call) -> st.Patch:
    """Leaving the ranking: freeze the report, its hash and the signing deadline."""
    report = build_report(session)
    session.report = report
    session.report_sha256 = report_hash(report)
    session.signing_deadline = session.signing_check = call.now + timedelta(minutes=signing_minutes())
    session.save(update_fields=["report", "report_sha256", "signing_deadline", "signing_check"])
    audit(session, "evaluation.report.generated", call, sha256=session.report_sha256,
          signing_deadline=session.signing_deadline)
    return [(["report"], st.section_report(session))]


def check_all_signed(session) -> st.Patch:
    signed = set(session.signatures.values_list("member_id", flat=True))
    missing = [m.code for m in session.members.all() if m.pk not in signed]
    if missing:
        raise invalid("every member signs or dissents, or the signing time ends", missing=missing)
    return []


def _record(session, member, kind: str, call: Call, **fields) -> None:
    if ReportSignature.objects.filter(session=session, member=member).exists():
        raise invalid("you have signed or dissented already")
    ReportSignature.objects.create(session=session, member=member, report_sha256=session.report_sha256,
                                   kind=kind, at=call.now, **fields)
    audit(session, f"evaluation.report.{kind}", call, member=member.code, sha256=session.report_sha256,
          **{k: v for k, v in fields.items() if k != "public_key"})
    st.broadcast(session, "eval.signature", [(["report"], st.section_report(session))], now=call.now)


# The algorithm members sign a report with, by the lot's cipher suite (docs/cryptography.md).
REPORT_ALGORITHMS = {"intl": "ed25519", "gm": "sm2-sm3"}


def verify_report_signature(algorithm: str, public_key: bytes, signature: bytes, message: bytes) -> bool:
    from crypto import gm, signing

    if algorithm == "sm2-sm3":
        return len(signature) == gm.SIGNATURE_SIZE and gm.verify_signature_of_suite("gm", public_key, signature,
                                                                                    message)
    try:
        signing.verify(public_key, signature, message)
        return True
    except signing.SignatureError:
        return False


def do_sign(session, venue_id: int, call: Call) -> dict:
    check_step(session, steps.Step.SIGNING)
    member = member_of(session, call.user)
    algorithm = REPORT_ALGORITHMS[session.lot.cipher_suite]
    key = member.expert.sm2_signing_key if algorithm == "sm2-sm3" else member.expert.signing_key
    if not key:
        raise invalid(f"register your {algorithm} signing key first", algorithm=algorithm)
    try:
        signature = base64.b64decode(str(call.payload.get("signature", "")), validate=True)
        ok = verify_report_signature(algorithm, base64.b64decode(key), signature,
                                     signing_message(session.report_sha256))
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        raise BadRequest(f"the signature does not verify ({algorithm}) against your key and the report's hash")
    _record(session, member, ReportSignature.Kind.SIGNED, call,
            signature=base64.b64encode(signature).decode(), public_key=key, algorithm=algorithm)
    return {"member": member.code, "signed": session.report_sha256}


def do_dissent(session, venue_id: int, call: Call) -> dict:
    check_step(session, steps.Step.SIGNING)
    member = member_of(session, call.user)
    reason = call.payload.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 5000:
        raise BadRequest("a dissent states its reasons in writing (Reg 53)")
    _record(session, member, ReportSignature.Kind.DISSENT, call, reason=reason.strip())
    return {"member": member.code, "dissent": True}


def signing_time_over(session, now: datetime) -> None:
    """The signing timer: members who neither signed nor dissented are deemed to agree."""
    session.signing_check = None
    session.save(update_fields=["signing_check"])
    if st.load_state(session.state).step != steps.Step.SIGNING or not session.report_sha256:
        return
    call = Call(user=None, role="system", actor=Actor.system("evaluation.signing"), now=now)
    signed = set(session.signatures.values_list("member_id", flat=True))
    for member in session.members.exclude(pk__in=signed).order_by("code"):
        ReportSignature.objects.create(session=session, member=member, report_sha256=session.report_sha256,
                                       kind=ReportSignature.Kind.DEEMED, at=now)
        audit(session, "evaluation.report.deemed", call, member=member.code, sha256=session.report_sha256)
    st.broadcast(session, "eval.signature", [(["report"], st.section_report(session))], now=now)
