"""A tender's archive proves it holds every entry of the tender — none missing, none foreign, none
twice, in order — and that tender.json states what the signed log set; an insider holding the
platform's own key still cannot cut, pad or rewrite it unnoticed, and a witness catches a history
rewritten before the export."""

import io
import json

import pytest
from django.db import transaction

from audit.archive import export_archive
from audit.checkpoints import issue_checkpoint
from audit.keys import platform_vkey
from audit.log import log_action
from common.actor import Actor
from crypto.archive import ArchiveError, verify_archive

from .test_archive import lines_of, repack
from .test_tamper import insider, recompute_everything, resign_with_the_platform_key

ACTOR = Actor(username="t", role="host")


def append(n, tender_id=None, tag="x"):
    for i in range(n):
        with transaction.atomic():
            log_action("tests.thing.happened", actor=ACTOR, tender_id=tender_id, data={"i": i, "tag": tag})


@pytest.fixture
def tender(db, make_lot):
    lot, other = make_lot(), make_lot()
    append(3)
    append(2, tender_id=lot.pk)
    issue_checkpoint("one")
    append(2, tender_id=other.pk)
    issue_checkpoint("two")  # mentions only the other tender
    append(3, tender_id=lot.pk)
    append(1, tender_id=other.pk)
    issue_checkpoint("three")
    append(1, tender_id=lot.pk)
    buffer = io.BytesIO()
    manifest = export_archive(buffer, lot=lot)
    assert manifest["entries"] == 7
    return lot, other, buffer.getvalue()


def verify(data, **kw):
    kw.setdefault("vkey", platform_vkey())
    return verify_archive(io.BytesIO(data), **kw)


def test_a_tender_archive_verifies_and_says_it_is_complete(tender):
    lot, _, data = tender
    text = "\n".join(verify(data).lines)
    assert f"7 entries of tender {lot.pk}, each proven in the signed tree" in text
    assert "none missing, none foreign, none twice, in order" in text
    assert "tender.json's" in text and "evaluation_settings" in text


def _drop_line(n):
    return lambda c: b"".join(lines_of(c)[:n] + lines_of(c)[n + 1:])


def _duplicate_line(n):
    return lambda c: b"".join(lines_of(c)[:n + 1] + lines_of(c)[n:])


def _settings_edited(content):
    tender = json.loads(content)
    tender["lot"]["evaluation_settings"] = {"method": "lowest_price", "weights": {"price": 100}}
    return (json.dumps(tender, ensure_ascii=False) + "\n").encode()


def _min_bids_edited(content):
    tender = json.loads(content)
    tender["lot"]["min_bids"] = 2
    return (json.dumps(tender) + "\n").encode()


CASES = [
    ("tender.json's evaluation settings edited, hash fixed, not re-signed",
     {"tender.json": _settings_edited}, None, "the signature is over another manifest"),
    ("tender.json's evaluation settings edited and re-signed with the platform key",
     {"tender.json": _settings_edited}, "platform",
     "tender.json: the lot's evaluation_settings is .*, but the signed log sets"),
    ("tender.json's minimum bids edited and re-signed", {"tender.json": _min_bids_edited}, "platform",
     "tender.json: the lot's min_bids is 2, but the signed log sets 3"),
    ("the last entry line deleted", {"log/entries.jsonl": lambda c: b"".join(lines_of(c)[:-1])},
     "platform", r"checkpoint #4's record counts 7 entries .* the archive holds 6, .*: entries are missing"),
    ("a middle entry line deleted", {"log/entries.jsonl": _drop_line(3)}, "platform",
     r"checkpoint #3's record counts 6 entries .* the archive holds 5, .*: entries are missing"),
    ("an entry line duplicated", {"log/entries.jsonl": _duplicate_line(2)}, "platform",
     r"out of order or twice"),
    ("two entry lines swapped",
     {"log/entries.jsonl": lambda c: b"".join([lines_of(c)[1], lines_of(c)[0]] + lines_of(c)[2:])},
     "platform", "out of order or twice"),
    ("a checkpoint's record dropped", {"log/records.jsonl": _drop_line(1)}, "platform",
     r"entry \d+ is not its record"),
    ("an inclusion proof dropped", {"log/inclusion.jsonl": _drop_line(0)}, "platform",
     "no inclusion proof in the checkpoint"),
]


@pytest.mark.parametrize("name, changes, signer, message", CASES, ids=[c[0] for c in CASES])
def test_a_forged_tender_archive_is_named(tender, name, changes, signer, message):
    _, _, data = tender
    with pytest.raises(ArchiveError, match=message):
        verify(repack(data, changes, signer=signer))


def test_an_entry_of_another_tender_slipped_in_is_foreign(tender):
    lot, other, data = tender
    from audit.models import AuditEntry

    foreign = AuditEntry.objects.filter(tender_id=other.pk).order_by("index").last()

    def add(content):
        lines = lines_of(content)
        position = sum(json.loads(li)["index"] < foreign.index for li in lines)
        extra = (json.dumps({"index": foreign.index, "body": foreign.body}) + "\n").encode()
        return b"".join(lines[:position] + [extra] + lines[position:])

    with pytest.raises(ArchiveError, match=f"belongs to tender {other.pk}, not {lot.pk}"):
        verify(repack(data, {"log/entries.jsonl": add}))


def test_an_early_stretch_cut_with_its_checkpoints_is_caught_by_the_counts(tender):
    _, _, data = tender
    # Drop the first checkpoint, its record and consistency proof, and the entries before it:
    # the next record still counts them.
    def first_entries(content):
        return b"".join(lines_of(content)[3:])

    changes = {"log/checkpoints.jsonl": _drop_line(0), "log/records.jsonl": _drop_line(0),
               "log/consistency.jsonl": _drop_line(0), "log/entries.jsonl": first_entries}
    with pytest.raises(ArchiveError, match=r"record counts \d+ entries .* the archive holds"):
        verify(repack(data, changes))


def test_a_history_rewritten_before_the_export_verifies_only_without_a_witness(db, make_lot, tmp_path,
                                                                               settings):
    """The insider holds the platform key: they rewrite an entry, recompute every hash and re-sign
    every checkpoint. With the platform key alone the archive verifies — that is exactly what
    witnesses are for: the one that cosigned the real history refuses the rewritten one."""
    from audit.models import AuditEntry

    from .test_witnesses import start_witness, tick

    process, vkey, url = start_witness(tmp_path)
    try:
        settings.AUDIT_WITNESSES, settings.AUDIT_WITNESS_QUORUM = [f"{vkey} {url}"], 1
        lot = make_lot()
        append(4, tender_id=lot.pk)
        cosigned = issue_checkpoint("seen by the witness")
        tick(cosigned.created_at)
        honest = io.BytesIO()
        export_archive(honest, lot=lot)
        verify(honest.getvalue(), witnesses=[vkey])

        entry = AuditEntry.objects.filter(tender_id=lot.pk, body__contains='"i":1').get()
        insider('UPDATE audit_auditentry SET body = %s WHERE "index" = %s',
                [entry.body.replace('"i":1', '"i":100'), entry.index])
        recompute_everything()
        resign_with_the_platform_key()
        insider("DELETE FROM audit_auditcosignature")
        forged = io.BytesIO()
        export_archive(forged, lot=lot)
        verify(forged.getvalue())  # the platform key alone cannot tell
        with pytest.raises(ArchiveError, match=r"has 0 of the 1 cosignatures required"):
            verify(forged.getvalue(), witnesses=[vkey])
    finally:
        process.terminate()
        process.wait(10)
