"""The notices' PDFs are PDF-signed (PAdES B-B) with the platform's key: pyHanko's validator accepts
the signature with the platform's certificate as the only trust root, and refuses a byte changed
in the file, another key's certificate, and an unsigned PDF."""

from __future__ import annotations

from datetime import timedelta

import pytest

from audit.keys import platform_document_certificate, platform_signing_key
from award.models import Notice
from common import clock
from crypto import pades, signing
from tests.award.test_flow import client_for

pytestmark = pytest.mark.django_db


def test_a_notice_pdf_carries_a_pades_signature_pyhankos_validator_accepts(evaluated):
    from award import actions
    from common.actor import Actor
    from tests.conftest import need_service

    sc, now = evaluated, clock.now()
    actions.publish_candidates(sc.host, Actor.of(sc.host), sc.lot.pk, days=3, now=now)
    actions.make_award(sc.host, Actor.of(sc.host), sc.lot.pk, now=now + timedelta(days=3))
    notice = Notice.objects.get(award__lot=sc.lot, kind="award")
    res = client_for(sc.host).get(f"/api/v1/award/notices/{notice.pk}/notice.pdf")
    if res.status_code == 500:
        need_service("Pango for WeasyPrint", res.content.decode()[:200])
    assert res.status_code == 200
    pdf = res.content
    cert = platform_document_certificate()
    # The certificate is the platform's key's: the one of receipts, checkpoints and the notices' JSON.
    assert pades.certificate_public_key(cert) == signing.public_key_bytes(platform_signing_key())
    status = pades.verify_pdf(pdf, cert)
    assert status["intact"] and status["valid"] and status["trusted"]
    assert status["coverage"] == "ENTIRE_FILE" and status["subfilter"] == "/ETSI.CAdES.detached"

    # A byte changed inside the signed range (the page's content, not the signature's hole).
    tampered = bytearray(pdf)
    at = pdf.index(b"stream", 200) + 20
    tampered[at] ^= 0x01
    with pytest.raises(pades.PdfSignatureError):
        pades.verify_pdf(bytes(tampered), cert)
    # Signed by another key with a certificate of the same name: not trusted.
    forger = signing.generate_signing_key()
    forged_cert = pades.platform_certificate(forger, name="kaibiao document signing")
    unsigned = pdf[:pdf.rindex(b"%%EOF", 0, len(pdf) - 10) + 5] if pdf.count(b"%%EOF") > 1 else pdf
    forged = pades.sign_pdf(unsigned, forger, forged_cert, reason="中标通知书", location="x")
    assert pades.verify_pdf(forged, forged_cert)["valid"]  # valid under the forger's own root…
    with pytest.raises(pades.PdfSignatureError):
        pades.verify_pdf(forged, cert)  # …never under the platform's
    # The PDF before the signature (the incremental update cut off) has no signature at all.
    with pytest.raises(pades.PdfSignatureError, match="no signature"):
        pades.verify_pdf(unsigned, cert)


def test_a_certificate_of_another_key_beside_the_key_file_is_refused(settings, tmp_path):
    from django.core.exceptions import ImproperlyConfigured

    settings.PLATFORM_SIGNING_KEY_FILE = tmp_path / "platform.pem"
    platform_signing_key.cache_clear()
    platform_document_certificate.cache_clear()
    try:
        made = platform_document_certificate()  # made once, beside the key
        assert (tmp_path / "platform.crt.pem").read_bytes() == made
        platform_document_certificate.cache_clear()
        assert platform_document_certificate() == made  # kept, the same bytes for every process
        other = pades.platform_certificate(signing.generate_signing_key(), name="kaibiao document signing")
        (tmp_path / "platform.crt.pem").write_bytes(other)
        platform_document_certificate.cache_clear()
        with pytest.raises(ImproperlyConfigured, match="not this key"):
            platform_document_certificate()
    finally:
        platform_signing_key.cache_clear()
        platform_document_certificate.cache_clear()
