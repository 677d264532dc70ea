"""One catalogue of the labels people read for the platform's codes.

Codes (error codes, statuses, audit action codes, roles, ranking bases, receipt fields) are stable and
machine-readable; pages, PDFs and the console show these labels instead, in the active language
(English msgids, Chinese in ``locale/zh_Hans``). A code may still be printed small, for support.
``label(kind, code)`` never fails: an unknown code comes back as itself, and the browser journeys fail
when one reaches the screen (tests/e2e), as ``tests/frontend/test_labels.py`` does for every code the
source defines.
"""

from __future__ import annotations

import re

from django.utils.translation import get_language
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .action_labels import ACTION

ERROR = {
    "bad_request": _("The request is not valid"),
    "unauthenticated": _("Please sign in"),
    "forbidden": _("Not allowed for your role"),
    "not_found": _("Not found, or not yours"),
    "conflict": _("Conflicts with the current state"),
    "rate_limited": _("Too many requests: try again shortly"),
    "unknown_command": _("Unknown operation"),
    "invalid_state": _("Not possible at this stage"),
    "deadline_passed": _("The deadline has passed"),
    "amendment_required": _("This change needs an amendment with its reason"),
    "amendment_too_late": _("Too late for this amendment"),
    "invalid_credit_code": _("The unified social credit code is not valid"),
    "locked_out": _("Too many failed sign-ins: locked for a while"),
    "unavailable": _("Temporarily unavailable: try again shortly"),
    "internal_error": _("Server error; it has been logged"),
    "unsupported_version": _("This client speaks another protocol version: update it"),
    "media_unavailable": _("Video unavailable"),
    "body_too_large": _("The request is too large"),
    "invalid_envelope": _("The sealed bid file is not valid"),
    "envelope_binding_mismatch": _("The sealed bid belongs to another tender or bidder"),
    "key_not_current": _("The key is not your current certificate's"),
    "no_current_certificate": _("You have no approved certificate"),
    "envelope_suite_mismatch": _("The sealed bid is not in this tender's cipher suite"),
    "certificate_suite_mismatch": _("Your certificate is not of this tender's cipher suite"),
    "invalid_suite": _("Unknown cipher suite: it is intl or gm"),
    "escrow_recipient_mismatch": _("The backup-decryption key does not match the tender's"),
    "escrow_not_ready": _("Backup decryption is not set up yet"),
    "bid_too_large": _("The bid is larger than the tender allows"),
    "chunk_too_large": _("An upload part is too large"),
    "upload_offset_mismatch": _("The upload is out of step: resume it"),
    "upload_incomplete": _("The upload is not complete"),
    "upload_busy": _("The upload is busy in another window"),
    "upload_lost": _("The upload's bytes are gone: start it again"),
    "sha256_mismatch": _("The file's hash does not match: upload it again"),
    "invalid_csr": _("The certificate request is not valid"),
    "deadline_not_reached": _("The deadline has not come yet"),
    "escrow_threshold_not_met": _("Not enough custodians' shares yet"),
    "escrow_share_invalid": _("A custodian's share is not valid"),
    "escrow_window_closed": _("Shares are released only in the backup window"),
    "invalid_file_key": _("The file key does not open this bid"),
    "decryption_failed": _("Decryption failed on the platform"),
    "invalid_signature": _("The signature does not verify"),
    "signing_unavailable": _("The platform cannot sign right now: nothing was recorded, try again shortly"),
    "completion_pending": _("A bid's completion waits for the platform's signature: the opening waits for it"),
    "network": _("The connection failed"),
}

LOT_STATUS = {
    "draft": pgettext_lazy("tender status", "Draft"),
    "published": pgettext_lazy("tender status", "Open for bids"),
    "opening": pgettext_lazy("tender status", "Opening"),
    "evaluating": pgettext_lazy("tender status", "Under evaluation"),
    "completed": pgettext_lazy("tender status", "Completed"),
    "failed": pgettext_lazy("tender status", "Failed (too few bids)"),
    "cancelled": pgettext_lazy("tender status", "Cancelled"),
}

SUBMISSION_STATUS = {
    "current": pgettext_lazy("bid status", "Valid (current)"),
    "superseded": pgettext_lazy("bid status", "Replaced"),
    "withdrawn": pgettext_lazy("bid status", "Withdrawn"),
}

CERT_STATUS = {
    "pending": pgettext_lazy("certificate status", "Pending approval"),
    "issued": pgettext_lazy("certificate status", "Approved"),
    "rejected": pgettext_lazy("certificate status", "Rejected"),
    "revoked": pgettext_lazy("certificate status", "Revoked"),
    "superseded": pgettext_lazy("certificate status", "Superseded"),
    "expired": pgettext_lazy("certificate status", "Expired"),
}

ROLE = {
    "admin": _("Platform administrator"),
    "host": _("Host (tenderer or agency)"),
    "bidder": _("Bidder representative"),
    "expert": _("Expert"),
    "venue_staff": _("Venue staff"),
    "supervisor": _("Supervisor"),
    "system": _("Platform"),
    # Roles in an evaluation venue room.
    "main_staff": _("Main venue staff"),
    "staff": _("Sub venue staff"),
}

DECIDED_BY = {
    "score": _("higher score"),
    "price": _("lower price"),
    "evaluated_price": _("lower evaluated price"),
    "technical": _("higher technical score"),
    "business": _("higher business score"),
    "draw": _("random draw"),
    "last": _("last place"),
}

RECEIPT_FIELD = {
    "format": _("Format"),
    "platform": _("Platform"),
    "tender": _("Tender"),
    "submission": _("Submission number"),
    "bidder": _("Bidder"),
    "received_at": _("Received at"),
    "key_id": _("Key ID"),
    "envelope_sha256": _("Envelope SHA-256"),
    "size": _("Size (bytes)"),
    "commitment": _("Commitment"),
    "audit_index": _("Audit log entry number"),
    "checkpoint": _("Signed checkpoint"),
    "signature": _("Platform signature"),
}

COLLUSION_SIGNAL = {
    "same_machine": _("Same sealing machine"),
    "same_network": _("Same network address"),
    "same_certificate": _("Same certificate key"),
    "shared_metadata": _("Same document metadata"),
    "shared_media": _("Same embedded image or attachment"),
    "similar_text": _("Look-alike text"),
    "shared_errors": _("Same rare errors"),
    "misplaced_name": _("Another bidder named in the file"),
    "shared_person": _("Same person declared"),
    "price_pattern": _("Prices in a regular pattern"),
    "close_decryption": _("Decryptions one after another"),
    "co_bidding": _("Bidding together repeatedly"),
}

COLLUSION_STRENGTH = {"weak": _("Weak"), "moderate": _("Moderate"), "strong": _("Strong")}

COLLUSION_ARTICLE = {
    "reg40.1": _("Reg. 40(1): bid files prepared by the same company or person"),
    "reg40.2": _("Reg. 40(2): the same company or person handling several bidders' affairs"),
    "reg40.3": _("Reg. 40(3): the same project manager named in several bids"),
    "reg40.4": _("Reg. 40(4): bid files abnormally alike or prices in a regular pattern"),
    "reg40.5": _("Reg. 40(5): bid files mixed up between bidders"),
    "reg39.2": _("Reg. 39(2): bidders agreeing who wins"),
}

CASE_STATUS = {"open": _("Open"), "investigating": _("Under investigation"),
               "referred": _("Referred to the authority"), "closed": _("Case closed")}

LEAD_DECISION = {"noted": _("Taken into account"), "dismissed": _("Explained, not pursued"),
                 "referred": _("Referred to the supervisors")}

ALERT = {  # the console's alerts (audit/alerts.py), by their code
    "bid_refused": _("Bid refused"),
    "receipt_unsigned": _("Receipt could not be signed: bid not recorded"),
    "decryption_failed": _("Decryption failed"),
    "bid_revoked": _("Bid deemed revoked"),
    "bid_withdrawn": _("Bid deemed withdrawn"),
    "objection": _("Objection at the opening"),
    "objection_overdue": _("Objection not answered in time: award suspended"),
    "opening_paused": _("Opening paused"),
    "tender_failed": _("Tender failed (too few bids)"),
    "backup_decryption": _("Backup decryption"),
    "session_locked": _("Evaluation locked (a venue dropped)"),
    "venue_dropped": _("Venue dropped"),
    "score_alert": _("Score alert"),
    "score_returned": _("Score returned for correction"),
    "step_back": _("Evaluation went back a step"),
    "audit_integrity": _("Audit log check found signs of tampering"),
    "witness_quorum": _("Checkpoint lacks the witnesses' cosignatures"),
    "clock_unsynchronised": _("Server clock unsynchronised: deadlines held"),
    "signing_unavailable": _("The platform's signing key (HSM) is unavailable: nothing is signed"),
    "completion_pending": _("A bid's completion waits for the platform's signature"),
    "completion_pending_opening": _("The opening waits for a bid's completion (the platform could not sign)"),
    "pending_lost": _("A bid whose completion was pending lost its bytes on the platform"),
    "access_denied": _("Access denied"),
    "sign_in_failed": _("Sign-in failed"),
}

STEP = {
    "sign_in": _("Sign-in"), "pledge": _("Integrity pledge"), "chair_election": _("Chair election"),
    "compliance": _("Compliance review"), "scoring": _("Scoring"), "summary": _("Summary check"),
    "ranking": _("Ranking"), "signing": _("Report signing"), "done": _("Done"),
}

RETURN_REASON = {  # why the chair returns a score for correction (evaluation/rules/alerts.py)
    "arithmetic_error": _("Arithmetic error"), "out_of_range": _("Out of range"),
    "objective_inconsistent": _("Objective item inconsistent"), "abnormal_score": _("Abnormal score (F87 art. 64)"),
}

REPLACEMENT_REASON = {
    "recusal": _("Must withdraw (recusal)"), "illness": _("Illness"), "absent": _("Absent"),
    "misconduct": _("Misconduct"), "other": _("Other"),
}

DRAW_STATE = {
    "committing": _("Committing (before the pool snapshot)"), "revealing": _("Revealing (the snapshot is published)"),
    "drawn": _("Drawn"), "lapsed": _("Lapsed (nobody revealed in time)"), "superseded": _("Superseded by a redraw"),
}

SYSTEM_ACTOR = {  # the platform's own processes, as the audit log names them (common.actor.Actor.system)
    "system": _("Platform"), "ticker": _("Scheduler"), "audit.checkpoint": _("Log checkpoints"),
    "audit.integrity": _("Log integrity check"), "audit.witness": _("Witness cosignatures"),
    "evaluation.draw": _("Expert draw"), "evaluation.presence": _("Venue presence check"),
    "evaluation.signing": _("Report signing deadline"), "exchange.delivery": _("Data exchange"),
    "media": _("Audio and video"), "load_demo": _("Demo data"), "issue_token": _("Token issuing"),
    "sweeper": _("Upload clean-up"),
}

# Statuses shown as badges or beside a name; English starts them with a capital like every label
# (tests/e2e/screen.py fails a journey on a lower-case one).
BID_STATUS = {  # a bid at the opening (hall room, bidding/opening)
    "pending": _("Waiting for decryption"), "decrypted": _("Decrypted"),
    "revoked": _("Revoked (not decrypted)"), "withdrawn": _("Withdrawn (platform fault)"),
}

RECORD_STATE = {  # a bidder's answer to the opening record (bidding.models_opening.RecordConfirmation)
    "confirmed": _("Confirmed"), "objected": _("Objected"), "deemed": _("Deemed to accept"),
}

RECEIPT_CHECK = {"ok": _("Verified"), "bad": _("FAILED"), "skipped": _("Not checked")}  # receipt_verify.js

REPORT_SIGNATURE = {  # a member's signature of the evaluation report (evaluation.models.ReportSignature)
    "signed": _("Signed"), "dissent": _("Dissented"), "deemed": _("Deemed to agree"), "none": _("Not yet"),
}

QUESTION = {  # the questions the platform writes (evaluation/questions.py); the Chinese is the text as issued
    "low_price": _("Your price is obviously lower than the other bids that passed the compliance review, which may "
                   "affect the quality of the goods or your performance in good faith. Please explain in writing within "
                   "the time set, with supporting evidence where necessary, that your price is reasonable."),
    "correction": _("Under article 19 of the Interim Provisions on Bid Evaluation Committees and Methods, the "
                    "committee corrects your bid price to {price} yuan; please confirm. Once confirmed the correction "
                    "binds you; if you do not confirm it, your bid is rejected."),
}

DRAW_PARTY = {"platform": _("Platform"), "supervisor": _("Supervisor on duty"), "host": _("Host")}

REDRAW_REASON = {
    "too_few_accepted": _("Too few drawn experts accepted"), "legal_recusal": _("A member must withdraw by law"),
    "reveals_missing": _("The draw lapsed: nobody revealed in time"),
}

KINDS = {"error": ERROR, "lot_status": LOT_STATUS, "submission_status": SUBMISSION_STATUS,
         "cert_status": CERT_STATUS, "role": ROLE, "decided_by": DECIDED_BY,
         "receipt_field": RECEIPT_FIELD, "action": ACTION, "alert": ALERT, "step": STEP,
         "replacement_reason": REPLACEMENT_REASON, "return_reason": RETURN_REASON, "draw_state": DRAW_STATE, "draw_party": DRAW_PARTY,
         "system_actor": SYSTEM_ACTOR, "bid_status": BID_STATUS, "record_state": RECORD_STATE,
         "receipt_check": RECEIPT_CHECK, "report_signature": REPORT_SIGNATURE, "question": QUESTION,
         "redraw_reason": REDRAW_REASON, "collusion_signal": COLLUSION_SIGNAL,
         "collusion_strength": COLLUSION_STRENGTH, "collusion_article": COLLUSION_ARTICLE,
         "case_status": CASE_STATUS, "lead_decision": LEAD_DECISION}


def label(kind: str, code: str | None) -> str:
    """The label of ``code`` in the active language; the code itself when the catalogue lacks it."""
    if code is None or code == "":
        return ""
    value = KINDS[kind].get(str(code))
    return str(value) if value is not None else str(code)


def labels(kind: str) -> dict[str, str]:
    """A kind's labels in the active language, for a page's json_script block."""
    return {code: str(text) for code, text in KINDS[kind].items()}


_CJK = re.compile(r"[\u4e00-\u9fff]")


def error_message(error) -> str:
    """A ``PlatformError``'s message when it speaks the active language (a translated message), else
    "": an English message on a Chinese page says nothing the label does not."""
    message = str(error.message or "")
    if not message or message == error.code.value:
        return ""
    chinese = (get_language() or "zh-hans").lower().startswith("zh")
    return message if bool(_CJK.search(message)) == chinese else ""


def error_text(error) -> str:
    """What a person reads for an error: the catalogue's label, then the message when it says more."""
    title, message = label("error", error.code.value), error_message(error)
    return gettext_now("%(label)s: %(message)s") % {"label": title, "message": message} if message else title
