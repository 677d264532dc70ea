"""Pages of the browser crypto: bidder keys and certificates, sealing and submitting a bid, the
receipt, and the opening hall. Thin: authorise with ``access_*``, render the context and labels."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from bidding.access import access_lot
from bidding.lifecycle import Status
from common import clock
from common.labels import label
from common.labels import labels as catalogue
from common.errors import ErrorCode, PlatformError
from common.roles import Cap, has_cap

from .labels import conn_labels, media_labels


# --- Bidder keys, sealed bids, receipts and the opening hall (browser crypto pages) -------------
# Each page renders its context and labels as json_script blocks; the ES modules do the rest
# through the API and the hall room. No key, file key or plaintext bid ever reaches these views.


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise PlatformError(ErrorCode.FORBIDDEN, message)


def _org_ctx(user) -> dict:
    org = user.organisation
    return {"organisation": org.name if org else "", "credit_code": (org.credit_code if org else "") or "",
            "org_id": str(org.pk) if org else None, "username": user.get_username()}


def _cert_labels() -> dict:
    return catalogue("cert_status")


@login_required
def bidder_keys(request):
    _require(has_cap(request.user.role, Cap.BID_SUBMIT), _("Only bidders set up bid keys."))
    labels = {
        "cert": _cert_labels(),
        "generating": _("Generating the key pair and its backup (a few seconds)…"),
        "saved_backup": _("I have saved the backup file"),
        "backup_name": "tender-key.json",
        "password_short": _("The backup password needs at least 10 characters."),
        "password_mismatch": _("The two passwords differ."),
        "imported": _("The key was imported into this browser."),
        "wrong_password": _("Wrong password, or the file is damaged."),
        "not_key_file": _("This is not a tender-key/v1 key file."),
        "requested": _("Certificate requested: waiting for the host's approval."),
        "no_key": _("No key in this browser yet."),
        "generated": _("Key generated and saved in this browser"), "stored": _("Keys in this browser"),
        "no_sign": _("This key cannot sign here: import its backup file again."),
        "failed": _("Failed"),
        "in_browser": _("in this browser"),
        "not_in_browser": _("not in this browser: import its backup"),
        "request_for": _("Request a certificate for this key"),
        # the SM2 key, kept in its tender-key/sm2-v1 file (frontend/keys_sm2.js)
        "sm2_writing": _("Generating the SM2 key and writing its key file… {percent}%"),
        "sm2_generated": _("SM2 key {key} generated: its key file is downloaded. Save it, then request the certificate."),
        "sm2_in_file": _("SM2: in its key file, not in this browser"),
        # one current certificate per suite (docs/sealbid.md, "Certificates and keys")
        "suite": {"intl": _("International (P-256)"), "gm": _("Chinese commercial cryptography (SM2)")},
        "current_of": _("Current certificate: {suite}"),
        "current_cert": _("key {key}, valid until {until}"),
        "current_none": _("none: request one to bid in tenders of this suite"),
        "other_company": _("Refused: key {key} is certified to another company, not to {org}. "
                           "Import your own company's key backup."),
    }
    return TemplateResponse(request, "frontend/bidder_keys.html",
                            {"ctx": _org_ctx(request.user), "labels": labels})


@login_required
def certificate_requests(request):
    from bidding.access import can_approve_certificates

    _require(can_approve_certificates(request.user), _("Only hosts and administrators approve certificates."))
    labels = {"cert": _cert_labels(), "approve": _("Approve"), "reject": _("Reject"),
              "reason": _("Reason for rejecting"), "none": _("No certificate requests."),
              "failed": _("Failed")}
    return TemplateResponse(request, "frontend/certificates.html", {"labels": labels})


def _lot_ctx(lot) -> dict:
    return {"id": lot.pk, "tender": lot.project.code, "code": lot.code, "title": f"{lot.project.title} · {lot.title}",
            "bid_deadline": lot.bid_deadline.isoformat(), "announced_fields": lot.announced_fields,
            "escrow_required": lot.escrow_required, "max_bid_bytes": lot.max_bid_bytes, "status": lot.status,
            "cipher_suite": lot.cipher_suite}


@login_required
def bid_submit(request, lot_id: int):
    lot = access_lot(request.user, lot_id)
    _require(has_cap(request.user.role, Cap.BID_SUBMIT), _("Only bidders submit bids."))
    labels = {
        "field_errors": {"required": _("Required."), "money": _("An amount in yuan with at most two decimals, e.g. 1234567.89"),
                         "integer": _("A whole number."), "decimal": _("A decimal number."),
                         "choice": _("Choose one of the options."), "duplicate": _("Two documents have the same name."),
                         "empty": _("{file} is empty (0 bytes): choose the real document."),
                         "unreadable": _("{file} cannot be read: choose it again, or copy it to this computer first.")},
        "submission_status": catalogue("submission_status"), "beijing": _("Beijing time"),
        "current": {"documents": _("Documents"), "size": _("Sealed size"), "received_at": _("Received at"),
                    "names_unknown": _("sealed in another browser: the platform cannot see the names")},
        "kept": _("Nothing was sent: your current bid stays."),
        "deadline_passed": _("The bid deadline has passed: bids can no longer be submitted or replaced."),
        "no_files": _("Choose at least one document."),
        "no_cert": _("You have no approved certificate yet: set up your key first."),
        "no_key": _("The key of your certificate is not in this browser: import its backup file."),
        "hashing": _("Reading the documents…"), "sealing": _("Sealing in this browser…"),
        "uploading": _("Uploading the sealed bid…"), "paused": _("Paused. You can resume at any time before the deadline."),
        "completing": _("Checking and receipting…"), "done": _("Submitted. Your receipt:"),
        "signing_pending": _("The platform cannot sign receipts right now (its signing key is unavailable). "
                             "Every byte of your bid is on the server and your request to complete it is "
                             "recorded: the bid is kept even if the deadline passes, and is receipted with "
                             "the time of your request. This page tries again by itself; if you close it, "
                             "the platform completes the bid when it can sign again."),
        "resumable": _("An unfinished upload of this bid was found in this browser."),
        "network": _("The connection failed; the upload is paused. Resume when you are back online."),
        "failed": _("Failed"), "bytes": _("bytes"), "fen": _("fen"),
        "price_check": _("Check: {yuan} 元 = {fen} fen"),
        "phases": {"hashing": _("Hashing"), "sealing": _("Sealing"), "checking": _("Checking"),
                   "uploading": _("Sealing and uploading"), "completing": _("Receipting")},
        "time_left": _("about {time} left"),
        "receipt_mismatch": _("The receipt's SHA-256 is not that of the envelope this browser sealed: "
                              "do not rely on this submission, and tell the platform's operator"),
        "discarded": _("The unfinished upload was discarded."),
        "needs_sealbid": _("This tender's backup decryption needs the sealbid tool: seal and submit with it."),
        # the 国密 suite (docs/browser-crypto.md, "The 国密 suite in the browser")
        "gm_cert": _("This tender uses the Chinese commercial cryptography suite (SM2, SM4): it needs a current "
                     "SM2 certificate, and your organisation holds none (a P-256 certificate serves international "
                     "tenders only). Request an SM2 certificate first."),
        "gm_key": _("SM2 key; the bid is sealed in this browser with SM4-GCM. Bring this key (its sealbid key "
                    "file) to the opening: you release the file key with it."),
    }
    now = clock.now()
    closed = "" if lot.status == Status.PUBLISHED and now < lot.bid_deadline else (
        labels["deadline_passed"] if lot.status in (Status.PUBLISHED, Status.OPENING) or now >= lot.bid_deadline
        else _("This tender is not open for bids (%(status)s).") % {"status": label("lot_status", lot.status)})
    if not closed and lot.cipher_suite != "gm" and _custodians_beyond_the_browser(lot):
        # A set-up made before tender-envelope/v3 with 8 to 10 custodians takes v2 (Shamir's
        # scheme), which only sealbid writes (docs/browser-crypto.md, "Backup decryption").
        closed = _("This tender splits each bid's key among more custodians than this browser can "
                   "(at most 7): seal the bid with the sealbid tool (sealbid seal, then sealbid submit).")
    ctx = {"lot": _lot_ctx(lot), **_org_ctx(request.user), "server_now": now.isoformat(), "closed_reason": closed,
           "sealer": {"tool": "kaibiao-web", "version": platform_version()}}
    return TemplateResponse(request, "frontend/bid_submit.html", {"lot": lot, "ctx": ctx, "labels": labels})


def platform_version() -> str:
    """The platform's release: the browser's sealing code is the platform's own, served with it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kaibiao")
    except PackageNotFoundError:
        return "unknown"


def _custodians_beyond_the_browser(lot) -> bool:
    from bidding.models import EscrowKey
    from crypto.envelope import MAX_CUSTODIANS_V3

    return lot.escrow_required and EscrowKey.objects.filter(
        lot=lot, scheme=EscrowKey.Scheme.SHARES, count__gt=MAX_CUSTODIANS_V3).exists()


@login_required
def bid_receipt(request, lot_id: int):
    lot = access_lot(request.user, lot_id)
    _require(has_cap(request.user.role, Cap.BID_SUBMIT), _("Only bidders have bid receipts."))
    labels = {
        "checks": {"form": _("Receipt format and platform"), "signature": _("Platform signature (Ed25519)"),
                   "checkpoint": _("Signed checkpoint of the audit log"),
                   "inclusion": _("Inclusion proof: the entry is in the log"),
                   "entry": _("The log entry records this bid"),
                   "envelope": _("The envelope file is the one receipted")},
        **catalogue("receipt_check"),
        "all_ok": _("The receipt verifies."), "not_ok": _("The receipt does NOT verify."),
        "none": _("No bid on this lot yet."), "failed": _("Failed"),
        "fields": catalogue("receipt_field"), "beijing": _("Beijing time"),
    }
    return TemplateResponse(request, "frontend/receipts.html",
                            {"lot": lot, "ctx": {"lot": _lot_ctx(lot)}, "labels": labels})


@login_required
def hall(request, lot_id: int):
    from bidding.access import access_hall

    lot, role = access_hall(request.user, lot_id)
    labels = {
        "state": conn_labels(),
        "media": media_labels(),
        "phase": {"scheduled": _("Scheduled"), "signin_open": _("Sign-in open"),
                  "deadline_passed": _("Deadline passed"), "decrypting": _("Decrypting"),
                  "announced": _("Announced"), "confirming": _("Confirming the record"),
                  "closed": _("Closed"), "failed": _("Failed (too few bids)")},
        "bid_status": catalogue("bid_status"), "confirm_state": catalogue("record_state"),
        "paused": _("Paused"), "until_opening": _("Until the opening"), "window_left": _("Time left"),
        "opened": _("The opening time has come."), "decrypt_done": _("Your bid is decrypted."),
        "no_key": _("The key for this bid is not in this browser: import its backup on the key page."),
        "released": _("File key released; the platform is decrypting…"),
        "signed": _("Record confirmed with your signature."), "sent": _("Sent."), "failed": _("Failed"),
        "host": _("Host"), "you": _("You"), "no_chat": _("No messages yet."),
        "answered": _("Answer"), "awaiting_answer": _("Awaiting the host's answer"),
        "bidders_hidden": _("Hidden until the deadline (Tendering Law art. 22)."),
        "answer": _("Answer"), "reason_needed": _("State the reason."),
        "progress": _("{decrypted} of {total} decrypted, {pending} waiting"),
        "signed_in": _("Signed in"), "users": _("online"),
        "host_online": _("Host online"), "host_offline": _("Host offline"),
        "col_bidder": _("Bidder"), "col_credit_code": _("Unified social credit code"), "col_status": _("Status"),
        "unknown_bidder": _("A bidder"), "decrypt_error": _("The last attempt failed; try again"),
        "roles": {**catalogue("role"), "other": _("other")},
        # a gm-v1 bid is opened with the bidder's SM2 key file (frontend/hall_gm.js)
        "gm_choose_file": _("Choose your SM2 key file (tender-key/sm2-v1) first."),
        "gm_password_needed": _("Enter the key file's password."),
        "gm_p256_file": _("This is a P-256 key file (tender-key/v1): this tender needs your SM2 key file "
                          "(tender-key/sm2-v1, made with sealbid keygen --suite gm)."),
        "gm_not_key_file": _("This is not an SM2 key file (tender-key/sm2-v1), or it is damaged."),
        "gm_other_key": _("This key file holds key {key}, not the key of your certificate that your bid was "
                          "sealed to ({expected}): choose your own company's SM2 key file."),
        "gm_wrong_password": _("Wrong password for this key file (or the file is damaged)."),
        "gm_opening": _("Opening the key file… {percent}%"),
        "coef_seed": _("seed"), "coef_step": _("step"), "coef_commitment": _("seed commitment SHA-256"),
    }
    ctx = {"lot": _lot_ctx(lot), "role": role, "room": f"hall:{lot.pk}", **_org_ctx(request.user)}
    return TemplateResponse(request, "frontend/hall.html", {"lot": lot, "role": role, "ctx": ctx, "labels": labels})
