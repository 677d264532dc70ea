"""Bidder certificates: request (CSR), approve/reject, revoke, renew; the platform CA's key.

A bidder's key pair is made on its own machine; the platform only ever sees the public key. The
CA key is a PEM file (``settings.PLATFORM_CA_KEY_FILE``): created on first use in embedded mode,
provisioned by the operator in production, like the platform signing key in ``audit.keys``.

Two suites (docs/envelope.md): a P-256 request is certified by the P-256 CA (``crypto.ca``), an SM2
request by the SM2 CA (``crypto.sm2_x509``, sm2-with-sm3, ``settings.PLATFORM_SM2_CA_KEY_FILE``). A
certificate's ``suite`` says which; a tender accepts only certificates of its own cipher suite.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from accounts.models import Organisation
from audit.log import log_action
from bidding.access import access_certificate
from common.access import require_cap
from common.actor import Actor
from common.errors import ErrorCode, PlatformError
from common.files import create_secret_file, provisioned_key_pem
from common.roles import Cap
from crypto import ca, gm, keys, sm2_x509

from .models import BidderCertificate, BidSubmission

Status = BidderCertificate.Status


@lru_cache(maxsize=4)
def _load_ca(path: str):
    pem, password = provisioned_key_pem(Path(path), lambda: ca.ca_key_to_pem(ca.generate_ca_key()),
                                        what="the platform CA key", password_env="PLATFORM_CA_KEY_PASSWORD")
    key = ca.load_ca_key_pem(pem, password)
    return key, ca.ca_certificate(key, name=f"{settings.AUDIT_ORIGIN} bidder CA")


def platform_ca():
    """(CA private key, CA certificate PEM)."""
    return _load_ca(str(settings.PLATFORM_CA_KEY_FILE))


def ca_certificate_pem() -> str:
    return platform_ca()[1].decode("ascii")


@lru_cache(maxsize=4)
def _load_sm2_ca(path: str):
    pem, password = provisioned_key_pem(
        Path(path), lambda: sm2_x509.private_key_to_pem(gm.generate_sm2_key()),
        what="the platform SM2 CA key", password_env="PLATFORM_SM2_CA_KEY_PASSWORD")
    if password is not None:
        raise ImproperlyConfigured("the SM2 CA key file is not password-protected (SEC 1 PEM): protect it "
                                   "with the file's permissions, or keep the key in an HSM")
    try:
        key = sm2_x509.load_private_key_pem(pem)
    except ca.CertificateError as exc:
        raise ImproperlyConfigured(f"the platform SM2 CA key {path}: {exc}") from None
    # SM2 signatures are randomised: the root is made once and kept beside the key, so that every
    # process publishes the same bytes (the first writer wins).
    cert_path = Path(path).with_suffix(".crt.pem")
    if not cert_path.exists():
        create_secret_file(cert_path, sm2_x509.ca_certificate(key, name=f"{settings.AUDIT_ORIGIN} bidder SM2 CA"))
    cert_pem = cert_path.read_bytes()
    try:
        if sm2_x509.certificate_public_key(cert_pem) != key.public:
            raise ca.CertificateError("it is not this key's")
    except ca.CertificateError as exc:
        raise ImproperlyConfigured(f"the SM2 CA certificate {cert_path}: {exc}") from None
    return key, cert_pem


def sm2_ca_available() -> bool:
    """Embedded mode makes the SM2 CA on first use; production only has it if the operator
    provisioned it (a trading centre without gm tenders need not)."""
    return not settings.PRODUCTION or Path(settings.PLATFORM_SM2_CA_KEY_FILE).exists()


def platform_sm2_ca():
    """(SM2 CA private key, SM2 CA certificate PEM); ``unavailable`` if it was not provisioned."""
    if not sm2_ca_available():
        raise PlatformError(ErrorCode.UNAVAILABLE, "this platform issues no SM2 certificates: its SM2 CA "
                            "is not provisioned")
    return _load_sm2_ca(str(settings.PLATFORM_SM2_CA_KEY_FILE))


def sm2_ca_certificate_pem() -> str | None:
    return platform_sm2_ca()[1].decode("ascii") if sm2_ca_available() else None


SUITES = ("intl", "gm")  # a certificate's suite is a tender's cipher suite (docs/envelope.md)


def check_suite(suite) -> str:
    """``suite`` if it is one of :data:`SUITES`; otherwise ``invalid_suite`` (400)."""
    if suite not in SUITES:
        raise PlatformError(ErrorCode.INVALID_SUITE, f"a suite is one of {', '.join(SUITES)}",
                            details={"suite": str(suite)[:16], "suites": list(SUITES)})
    return suite


def current_certificate(organisation_id: int, now: datetime, suite: str) -> BidderCertificate | None:
    """The organisation's issued certificate of ``suite``, if it is within its validity at ``now``.
    An organisation holds one current certificate per suite (a P-256 one for intl tenders and an
    SM2 one for gm tenders, like a dual-certificate key); there is no suite-less "current"."""
    cert = BidderCertificate.objects.filter(organisation_id=organisation_id, suite=check_suite(suite),
                                            status=Status.ISSUED).first()
    return cert if cert is not None and cert.is_current(now) else None


def current_certificates(organisation_id: int, now: datetime) -> list[BidderCertificate]:
    """Each suite's current certificate the organisation holds (0, 1 or 2), intl first."""
    return [c for c in (current_certificate(organisation_id, now, s) for s in SUITES) if c is not None]


def current_certificate_for(lot, organisation_id: int, now: datetime) -> BidderCertificate | None:
    """The organisation's current certificate of the lot's cipher suite (the one its bids on
    ``lot`` are sealed to and its record confirmation verifies against), or None."""
    return current_certificate(organisation_id, now, lot.cipher_suite)


def certificate_to_seal_for(lot, organisation_id: int, now: datetime) -> BidderCertificate:
    """The certificate a bid (or a key check's test envelope) for ``lot`` is sealed to: the
    organisation's current one of the tender's cipher suite. Raises ``no_current_certificate`` (with
    ``certificate_suite_mismatch`` if it holds one of the other suite only, to say which to request)."""
    cert = current_certificate_for(lot, organisation_id, now)
    if cert is not None:
        return cert
    other = current_certificate(organisation_id, now, "intl" if lot.cipher_suite == "gm" else "gm")
    if other is not None:
        raise PlatformError(ErrorCode.CERTIFICATE_SUITE_MISMATCH,
                            "this tender's cipher suite needs a certificate of that suite: request one",
                            details={"expected": lot.cipher_suite, "certificate": other.suite})
    raise PlatformError(ErrorCode.NO_CURRENT_CERTIFICATE,
                        "your organisation has no valid certificate of this tender's cipher suite: "
                        "request one, or renew it", details={"expected": lot.cipher_suite})


def key_holder(user, key_id: str) -> str:
    """Whose certificate requests name the key ``key_id``: "yours" (the user's organisation's, at any
    status), "another" (only another organisation's), or "none". A bidder's page asks before it
    imports a key backup, so that another company's key is refused with a clear message."""
    require_cap(user, Cap.BID_SUBMIT)
    orgs = set(BidderCertificate.objects.filter(key_id=key_id).values_list("organisation_id", flat=True))
    if not orgs:
        return "none"
    return "yours" if user.organisation_id in orgs else "another"


def request_certificate(user, actor: Actor, *, csr_pem: str, now: datetime) -> BidderCertificate:
    """A bidder submits a CSR for its organisation. Renewal is the same: a new CSR (same key or a
    new one); its approval supersedes the current certificate of the same suite."""
    require_cap(user, Cap.BID_SUBMIT)
    org = user.organisation
    if org is None or not org.credit_code:
        raise PlatformError(ErrorCode.FORBIDDEN, "a bidder certificate needs a bidder organisation")
    sm2 = sm2_x509.is_sm2_request(csr_pem)
    if sm2:
        platform_sm2_ca()  # refuse now, not at approval, if no SM2 CA was provisioned
    try:
        info = sm2_x509.load_csr(csr_pem) if sm2 else ca.load_csr(csr_pem)
    except ca.CertificateError as exc:
        raise PlatformError(ErrorCode.INVALID_CSR, str(exc)) from None
    if info.credit_code != org.credit_code:
        raise PlatformError(ErrorCode.INVALID_CSR, "the CSR names another organisation's credit code",
                            details={"expected": org.credit_code, "got": info.credit_code})
    if key_holder(user, info.key_id) == "another":
        # One key, one company: a key another organisation has had certified cannot become ours.
        raise PlatformError(ErrorCode.INVALID_CSR, "this key belongs to another organisation's certificate")
    with transaction.atomic():
        cert = BidderCertificate.objects.create(
            organisation=org, requested_by=user, csr_pem=csr_pem, key_id=info.key_id,
            public_key=info.public_key.point if sm2 else keys.public_key_to_bytes(info.public_key),
            suite="gm" if sm2 else "intl", created_at=now)
        log_action("bidding.certificate.requested", actor=actor, obj=cert, now=now,
                   data={"organisation": org.pk, "key_id": info.key_id, "suite": cert.suite})
    return cert


def decide_certificate(user, actor: Actor, cert_id: int, *, approve: bool, now: datetime,
                       reason: str = "") -> BidderCertificate:
    """A host or an administrator issues (or rejects) a pending certificate."""
    with transaction.atomic():
        cert = access_certificate(user, cert_id, approve=True, for_update=True)
        if cert.status != Status.PENDING:
            raise PlatformError(ErrorCode.INVALID_STATE, f"the request is {cert.status}",
                                details={"status": cert.status})
        cert.decided_by, cert.decided_at, cert.reason = user, now, reason[:500]
        if not approve:
            cert.status = Status.REJECTED
            cert.save()
            log_action("bidding.certificate.rejected", actor=actor, obj=cert, now=now,
                       data={"organisation": cert.organisation_id, "reason": cert.reason})
            return cert
        org = cert.organisation
        not_before = now - timedelta(minutes=5)  # tolerate small clock skew on the bidder's side
        not_after = now + timedelta(days=settings.BIDDER_CERT_VALIDITY_DAYS)
        x509_of = sm2_x509 if cert.suite == "gm" else ca
        ca_key, ca_pem = platform_sm2_ca() if cert.suite == "gm" else platform_ca()
        pem = x509_of.issue_certificate(ca_key, ca_pem, x509_of.load_csr(cert.csr_pem), not_before=not_before,
                                        not_after=not_after, organisation=org.name,
                                        credit_code=org.credit_code)
        # One current certificate per suite: an SM2 certificate supersedes the SM2 one only, and
        # the bids counted stale are those of the same suite's lots (the others' certificate stays).
        # The organisation's row serialises two approvals at once (each then sees the other's).
        Organisation.objects.select_for_update().filter(pk=org.pk).first()
        previous = list(BidderCertificate.objects.select_for_update()
                        .filter(organisation=org, suite=cert.suite, status=Status.ISSUED))
        for old in previous:
            old.status = Status.SUPERSEDED
            old.save(update_fields=["status"])
        stale = [{"submission": str(s.pk), "lot": s.lot_id, "key_id": s.key_id} for s in
                 BidSubmission.objects.filter(organisation=org, status=BidSubmission.Status.CURRENT,
                                              lot__cipher_suite=cert.suite).exclude(key_id=cert.key_id)]
        info = x509_of.load_certificate(pem, ca_pem)
        cert.status, cert.certificate_pem, cert.serial = Status.ISSUED, pem.decode("ascii"), info.serial
        cert.not_before, cert.not_after = info.not_before, info.not_after
        cert.save()
        log_action("bidding.certificate.issued", actor=actor, obj=cert, now=now,
                   data={"organisation": org.pk, "key_id": cert.key_id, "suite": cert.suite, "serial": cert.serial,
                         "not_after": cert.not_after, "supersedes": [c.pk for c in previous],
                         "bids_sealed_to_other_keys": stale})
    return cert


def revoke_certificate(user, actor: Actor, cert_id: int, *, reason: str, now: datetime) -> BidderCertificate:
    """Revoke an issued certificate: a host or an administrator, or the bidder itself (a lost or
    compromised key). Envelopes addressed to it are refused from then on."""
    if not reason or not reason.strip():
        raise PlatformError(ErrorCode.BAD_REQUEST, "a revocation states its reason")
    with transaction.atomic():
        cert = access_certificate(user, cert_id, for_update=True)
        own = cert.organisation_id == user.organisation_id and user.role == "bidder"
        if not own:
            access_certificate(user, cert_id, approve=True)
        if cert.status not in (Status.ISSUED, Status.SUPERSEDED):
            raise PlatformError(ErrorCode.INVALID_STATE, f"the certificate is {cert.status}",
                                details={"status": cert.status})
        cert.status, cert.revoked_at, cert.reason = Status.REVOKED, now, reason.strip()[:500]
        cert.save()
        log_action("bidding.certificate.revoked", actor=actor, obj=cert, now=now,
                   data={"organisation": cert.organisation_id, "serial": cert.serial,
                         "reason": cert.reason})
    return cert
