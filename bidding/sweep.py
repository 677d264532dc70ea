"""Finding and repairing what a crash can leave in the bid storage (docs/operations.md, "The upload
sweeper"; run by ``manage.py sweep_uploads``). Every repair is audited as
``bidding.storage.swept`` with what was found (``kind``), the file and its SHA-256.

What a crash can leave, with commit-first-then-move (``bidding.storage``):

- ``placement_finished``: a committed submission whose file is still the upload's partial file
  (killed between the commit and the move): moved into place.
- ``orphan_partial``: a partial file without an upload row (killed inside ``start_upload``'s
  transaction) older than ``GRACE``: removed.
- ``stale_partial``: the partial file of an aborted or refused upload (killed between the status
  change and the removal): removed.
- ``lost_upload``: an open upload whose partial file is gone: closed as aborted, so the client's
  next request says to start again.
- ``orphan_file``: an envelope under its final name with no submission row (only an older version
  that moved before committing could leave one): removed.
- ``missing_file``: a submission with neither its final nor its partial file: reported, never
  repaired (a platform fault the opening classifies; docs/opening.md).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.db import transaction

from audit.log import log_action
from common.actor import Actor

from . import storage
from .models import BidSubmission, BidUpload

log = logging.getLogger(__name__)
GRACE = timedelta(minutes=10)  # a partial file this young may belong to a transaction in flight
ACTOR = "sweeper"


@dataclass
class Finding:
    kind: str
    path: str
    upload: str = ""
    submission: str = ""
    lot: int | None = None
    sha256: str = ""
    size: int = 0
    repaired: bool = False


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    def of(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]


def _audit(finding: Finding, now: datetime) -> None:
    with transaction.atomic():
        log_action("bidding.storage.swept", actor=Actor.system(ACTOR), object_type="bidding.upload",
                   object_id=finding.upload or finding.submission or finding.path[-64:],
                   tender_id=finding.lot, now=now,
                   data={"kind": finding.kind, "path": finding.path, "upload": finding.upload or None,
                         "submission": finding.submission or None, "sha256": finding.sha256 or None,
                         "size": finding.size})


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _hashed(path: Path) -> tuple[str, int]:
    try:
        return storage.sha256_of(path)
    except FileNotFoundError:
        return "", 0


def finish_placements(now: datetime, report: Report | None = None) -> Report:
    """Move every committed submission's file still in its partial place; cheap (it looks only at
    the partial directory), so the deadline runs it before counting the bids."""
    report = report or Report()
    partial_dir = storage.root() / "partial"
    if not partial_dir.exists():
        return report
    for path in sorted(partial_dir.glob("*.part")):
        upload_id = _uuid(path.stem)
        if upload_id is None:
            continue
        sub = BidSubmission.objects.filter(upload_id=upload_id).first()
        if sub is None or storage.absolute(sub.path).exists():
            continue
        finding = Finding("placement_finished", sub.path, upload=str(upload_id), submission=str(sub.pk),
                          lot=sub.lot_id, sha256=sub.sha256, size=sub.size)
        try:
            storage.finish_placement(upload_id, sub.path, sub.sha256)
        except Exception:  # noqa: BLE001 - reported; the next run tries again
            log.exception("could not finish the placement of submission %s", sub.pk)
            report.findings.append(finding)
            continue
        finding.repaired = True
        _audit(finding, now)
        report.findings.append(finding)
    return report


def sweep(now: datetime, *, repair: bool = True) -> Report:
    """Everything above; with ``repair=False`` only the report."""
    report = finish_placements(now) if repair else Report()
    root = storage.root()
    partial_dir = root / "partial"
    for path in sorted(partial_dir.glob("*")) if partial_dir.exists() else []:
        upload_id = _uuid(path.stem) if path.suffix == ".part" else None
        upload = BidUpload.objects.filter(pk=upload_id).first() if upload_id else None
        if upload is None:
            young = datetime.fromtimestamp(path.stat().st_mtime, tz=now.tzinfo) > now - GRACE
            if young:
                continue
            kind, lot = "orphan_partial", None
        elif upload.status in (BidUpload.Status.ABORTED, BidUpload.Status.REFUSED):
            kind, lot = "stale_partial", upload.lot_id
        elif upload.status == BidUpload.Status.COMPLETE and not repair:
            sub = BidSubmission.objects.filter(upload=upload).first()
            if sub is not None and not storage.absolute(sub.path).exists():
                report.findings.append(Finding("placement_finished", sub.path, upload=str(upload.pk),
                                               submission=str(sub.pk), lot=sub.lot_id))
            continue
        else:
            continue
        sha256, size = _hashed(path)
        finding = Finding(kind, str(path.relative_to(root.parent)), upload=str(upload_id or ""),
                          lot=lot, sha256=sha256, size=size)
        if repair:
            storage.remove(path)
            finding.repaired = True
            _audit(finding, now)
        report.findings.append(finding)
    for upload in BidUpload.objects.filter(status=BidUpload.Status.OPEN):
        if storage.partial_path(upload.pk).exists():
            continue
        finding = Finding("lost_upload", str(storage.partial_path(upload.pk).relative_to(root.parent)),
                          upload=str(upload.pk), lot=upload.lot_id)
        if repair and BidUpload.objects.filter(pk=upload.pk, status=BidUpload.Status.OPEN).update(
                status=BidUpload.Status.ABORTED, updated_at=now):
            finding.repaired = True
            _audit(finding, now)
        report.findings.append(finding)
    known = set(BidSubmission.objects.values_list("path", flat=True))
    for path in sorted(root.glob("*/*/*.tenv")) if root.exists() else []:
        relpath = str(path.relative_to(root.parent))
        if relpath in known:
            continue
        sha256, size = _hashed(path)
        finding = Finding("orphan_file", relpath, lot=int(path.parts[-3]) if path.parts[-3].isdigit()
                          else None, sha256=sha256, size=size)
        if repair:
            storage.remove(path)
            finding.repaired = True
            _audit(finding, now)
        report.findings.append(finding)
    for sub in BidSubmission.objects.only("pk", "path", "upload_id", "lot_id", "sha256"):
        if storage.absolute(sub.path).exists() or (
                sub.upload_id and storage.partial_path(sub.upload_id).exists()):
            continue
        report.findings.append(Finding("missing_file", sub.path, upload=str(sub.upload_id or ""),
                                       submission=str(sub.pk), lot=sub.lot_id, sha256=sub.sha256))
    return report
