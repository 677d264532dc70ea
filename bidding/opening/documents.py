"""One document of a decrypted bid package, for the apps that read bids after the opening (清标
reads the priced bill). The package is the tar the opening kept (``OpeningBid.plaintext_path``).

Two checks tie what an app reads to what the bidder sealed: the kept tar's SHA-256 must be the
``package_sha256`` of the bid's ``bidding.opening.bid_decrypted`` audit entry (taken when the
receipted envelope was decrypted; the entry is in the hash-chained, checkpointed log, so a tar
swapped on disk afterwards is refused), and the document's bytes must have the SHA-256 that the
package's own ``manifest.json`` lists for it (docs/sealbid.md).
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from audit.models import AuditEntry

from ..models import OpeningBid

MAX_MANIFEST_BYTES = 1 << 20


@dataclass(frozen=True)
class Document:
    data: bytes | None
    sha256: str
    # "" or one of: not_decrypted, package_changed, not_in_package, too_large, hash_mismatch, unreadable
    problem: str = ""


def read_document(lot_id: int, organisation_id: int, name: str, *, max_bytes: int) -> Document:
    """``documents/<name>`` of the organisation's decrypted bid in the lot's opening."""
    ob = (OpeningBid.objects.filter(opening__lot_id=lot_id, organisation_id=organisation_id,
                                    status=OpeningBid.Status.DECRYPTED).exclude(plaintext_path="").first())
    if ob is None:
        return Document(None, "", "not_decrypted")
    path = Path(settings.STORAGE_DIR) / ob.plaintext_path
    try:
        if _sha256_of(path) != _audited_package_sha256(ob):
            return Document(None, "", "package_changed")
    except OSError:
        return Document(None, "", "unreadable")
    member_name = "documents/" + name
    try:
        with tarfile.open(path, mode="r:") as tar:
            manifest, member = None, None
            for entry in tar:
                if entry.name == "manifest.json" and entry.isfile() and entry.size <= MAX_MANIFEST_BYTES:
                    manifest = json.loads(tar.extractfile(entry).read().decode("utf-8"))
                elif entry.name == member_name and entry.isfile():
                    member = entry
                    break
            listed = {d.get("name"): d for d in (manifest or {}).get("documents", []) if isinstance(d, dict)}
            if member is None or member_name not in listed:
                return Document(None, "", "not_in_package")
            if member.size > max_bytes:
                return Document(None, "", "too_large")
            data = tar.extractfile(member).read()
    except (OSError, tarfile.TarError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return Document(None, "", "unreadable")
    digest = hashlib.sha256(data).hexdigest()
    if digest != listed[member_name].get("sha256"):
        return Document(None, digest, "hash_mismatch")
    return Document(data, digest)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _audited_package_sha256(ob: OpeningBid) -> str | None:
    """The ``package_sha256`` that the bid's decryption entry recorded (the last, should there be
    more than one), or None."""
    entries = (AuditEntry.objects.filter(action="bidding.opening.bid_decrypted", tender_id=ob.opening.lot_id)
               .order_by("-index").values_list("body", flat=True))
    for body in entries:
        data = json.loads(body).get("data") or {}
        if data.get("submission") == str(ob.submission_id):
            return data.get("package_sha256")
    return None


@dataclass(frozen=True)
class Manifest:
    data: dict | None
    # "" or one of: not_decrypted, package_changed, unreadable, no_manifest
    problem: str = ""


def read_manifest(lot_id: int, organisation_id: int) -> Manifest:
    """The ``manifest.json`` of the organisation's decrypted bid in the lot's opening (its listed
    documents, its announced fields, the ``sealer`` the tool recorded), from the kept tar once its
    SHA-256 matches the audited ``package_sha256``. Read the documents it lists with
    ``read_document``, which checks each against the manifest."""
    ob = (OpeningBid.objects.filter(opening__lot_id=lot_id, organisation_id=organisation_id,
                                    status=OpeningBid.Status.DECRYPTED).exclude(plaintext_path="").first())
    if ob is None:
        return Manifest(None, "not_decrypted")
    path = Path(settings.STORAGE_DIR) / ob.plaintext_path
    try:
        if _sha256_of(path) != _audited_package_sha256(ob):
            return Manifest(None, "package_changed")
        with tarfile.open(path, mode="r:") as tar:
            for entry in tar:
                if entry.name == "manifest.json" and entry.isfile() and entry.size <= MAX_MANIFEST_BYTES:
                    data = json.loads(tar.extractfile(entry).read().decode("utf-8"))
                    return Manifest(data if isinstance(data, dict) else None, "" if isinstance(data, dict) else "unreadable")
    except (OSError, tarfile.TarError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return Manifest(None, "unreadable")
    return Manifest(None, "no_manifest")
