"""Export the archive (电子归档) of a tender, or of the whole log, in ``kaibiao-archive/v2``.

The format and its offline verifier live in ``crypto/archive.py`` (docs/archive.md). Other apps add
their sections (envelopes, receipts, released keys, records, reports) through ``SECTION_WRITERS``.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from typing import BinaryIO, Callable

from django.conf import settings

from common import clock
from common.canonical import canonical_json, format_time
from crypto import archive as fmt

from . import timestamps, witnesses
from .checkpoints import issue_checkpoint
from .keys import note_signer, platform_sm2_vkey, platform_vkey
from .models import AuditCheckpoint, AuditEntry, AuditTimestamp
from .tree import DbTree
from crypto import merkle


class _Writer:
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.hashes: dict[str, str] = {}

    def write(self, name: str, data: bytes | str) -> None:
        data = data.encode() if isinstance(data, str) else data
        self.zf.writestr(name, data)
        self.hashes[name] = hashlib.sha256(data).hexdigest()

    def write_lines(self, name: str, items) -> int:
        digest, count = hashlib.sha256(), 0
        with self.zf.open(name, "w", force_zip64=True) as out:
            for item in items:
                line = (canonical_json(item) + "\n").encode()
                out.write(line)
                digest.update(line)
                count += 1
        self.hashes[name] = digest.hexdigest()
        return count

    def write_stream(self, name: str, source: BinaryIO) -> None:
        digest = hashlib.sha256()
        with self.zf.open(name, "w", force_zip64=True) as out:
            for block in iter(lambda: source.read(1 << 20), b""):
                out.write(block)
                digest.update(block)
        self.hashes[name] = digest.hexdigest()


# name → function(writer, lot) adding a section for a tender; registered by other apps.
SECTION_WRITERS: dict[str, Callable[[_Writer, object], None]] = {}


def _tender_section(writer: _Writer, lot) -> None:
    project = lot.project
    writer.write("tender.json", canonical_json({
        "project": {"id": project.pk, "code": project.code, "title": project.title,
                    "tenderee": project.tenderee.name,
                    "agency": project.agency.name if project.agency else None},
        "lot": {"id": lot.pk, "code": lot.code, "title": lot.title, "status": lot.status,
                "bid_deadline": format_time(lot.bid_deadline), "min_bids": lot.min_bids,
                "announced_fields": lot.announced_fields,
                "evaluation_settings": lot.evaluation_settings},
        "amendments": [{"number": a.number, "reason": a.reason, "changes": a.changes,
                        "created_at": format_time(a.created_at)} for a in lot.amendments.all()],
    }) + "\n")


def _checkpoint_lines(checkpoints):
    for c in checkpoints:
        line = {"number": c.number, "note": c.note,
                "cosignatures": [x.line for x in c.cosignatures.order_by("witness")]}
        stamp = AuditTimestamp.objects.filter(checkpoint=c).values_list("token", flat=True).first()
        if stamp is not None:
            line["timestamp"] = base64.b64encode(bytes(stamp)).decode()
        yield line


def export_archive(out: BinaryIO, *, lot=None) -> dict:
    """Write the archive of ``lot`` (or of the whole log) to ``out``; returns its manifest.

    The export's own checkpoint closes it: its record states the tender's entry count. With
    witnesses configured it is pushed to them first (the export waits for them, an append never
    does), so the archive carries their cosignatures on it."""
    now = clock.now()
    final = issue_checkpoint("archive export", now=now, tenders=[lot.pk] if lot is not None else [])
    if witnesses.witnesses():
        witnesses.push_latest(now)
    timestamps.stamp_pending(now)
    tree = DbTree(final.size)
    numbered = AuditCheckpoint.objects.filter(number__isnull=False, size__lte=final.size)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1,
                         allowZip64=True) as zf:
        writer = _Writer(zf)
        if lot is None:
            checkpoints = list(numbered.order_by("size"))
            entries = AuditEntry.objects.filter(index__lt=final.size).order_by("index")
        else:
            entries = AuditEntry.objects.filter(tender_id=lot.pk, index__lt=final.size).order_by("index")
            first = entries.values_list("index", flat=True).first()
            checkpoints = list(numbered.filter(size__gt=first if first is not None else final.size - 1)
                               .order_by("size"))
        writer.write_lines(fmt.CHECKPOINTS, _checkpoint_lines(checkpoints))
        writer.write_lines(fmt.CONSISTENCY, (
            {"from": a.size, "to": b.size,
             "proof": [h.hex() for h in merkle.consistency_proof(a.size, b.size, tree)]}
            for a, b in zip(checkpoints, checkpoints[1:])))
        pairs = entries.values_list("index", "body").iterator(chunk_size=5000)
        count = writer.write_lines(fmt.ENTRIES, ({"index": i, "body": body} for i, body in pairs))
        if lot is not None:
            record_indices = [c.size - 1 for c in checkpoints]
            records = AuditEntry.objects.filter(index__in=record_indices).order_by("index")
            writer.write_lines(fmt.RECORDS, ({"index": i, "body": body}
                                             for i, body in records.values_list("index", "body")))
            indices = sorted(set(entries.values_list("index", flat=True)) | set(record_indices))
            ranges = [merkle.inclusion_ranges(i, final.size) for i in indices]
            tree.prefetch(r for rs in ranges for r in rs)
            writer.write_lines(fmt.INCLUSION, (
                {"index": i, "size": final.size, "proof": [tree.subtree_hash(a, b).hex() for a, b in rs]}
                for i, rs in zip(indices, ranges)))
            _tender_section(writer, lot)
            for name, section in sorted(SECTION_WRITERS.items()):
                section(writer, lot)
        manifest = {
            "format": fmt.FORMAT, "origin": settings.AUDIT_ORIGIN, "vkey": platform_vkey(),
            "sm2_vkey": platform_sm2_vkey(), "created_at": format_time(now),
            "scope": {"kind": "log"} if lot is None else
                     {"kind": "tender", "lot_id": lot.pk, "project": lot.project.code, "lot": lot.code},
            "entries": count, "tree_size": final.size, "files": writer.hashes,
            "witnesses": [w.verifier.vkey for w in witnesses.witnesses()],
        }
        raw = (canonical_json(manifest) + "\n").encode()
        zf.writestr(fmt.MANIFEST, raw)
        zf.writestr(fmt.SIGNATURE, note_signer().sign(fmt.manifest_signature_body(raw)))
    return manifest
