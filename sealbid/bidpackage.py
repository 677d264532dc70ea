"""The bid package: ``manifest.json`` with the announced fields plus the documents, as a tar
streamed straight into the sealer (``crypto.envelope.seal``) through a pipe, so memory does not
grow with the documents' size and no plaintext package is ever written to disk.

Announced field values come from the command line as text and are converted exactly: a price is
given in yuan ("1234567.89") and stored as integer fen; never a float.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import tarfile
import threading
import uuid
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from crypto import envelope

from . import errors
from .errors import CliError

MANIFEST_FORMAT = "tender-bid/v1"
MACHINE_LABEL = b"sealbid-machine/v1"
MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")


def machine_identity(files: tuple[str, ...] = MACHINE_ID_FILES) -> bytes | None:
    """What identifies this machine: the systemd/D-Bus machine id (128 random bits set at install),
    else the MAC address of a network interface; None when neither is known. Never leaves the
    machine: only ``machine_hash`` of it goes into the manifest."""
    for name in files:
        try:
            text = Path(name).read_text().strip()
        except OSError:
            continue
        if text:
            return b"machine-id:" + text.encode()
    node = uuid.getnode()
    if node >> 40 & 1:  # the multicast bit: uuid made the number up, there is no MAC to read
        return None
    return b"mac:" + node.to_bytes(6, "big")


def machine_hash(identity: bytes, *, tender: str, lot: str) -> str:
    """HMAC-SHA256 of the machine identity keyed by the label and the tender's lot identity: the
    same machine gives the same value within a lot (so two bids sealed on one computer show it),
    different values in different lots (so a bidder's machines cannot be followed across tenders),
    and the identity itself cannot be read back (docs/sealbid.md, "What the manifest says about the
    sealing")."""
    key = MACHINE_LABEL + b"\0" + tender.encode() + b"\0" + lot.encode()
    return hmac.new(key, identity, hashlib.sha256).hexdigest()


def sealer_info(*, tender: str, lot: str, version: str, identity: bytes | None = None) -> dict[str, str]:
    identity = machine_identity() if identity is None else identity
    info = {"tool": "sealbid", "version": version}
    if identity:
        info["machine"] = machine_hash(identity, tender=tender, lot=lot)
    return info


def yuan_to_fen(text: str) -> int:
    """"1234567.89" → 123456789. Refuses more than two decimals, signs, exponents and non-numbers."""
    text = text.strip().replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CliError(f"not an amount in yuan: {text!r}", errors.USAGE) from None
    if not value.is_finite() or "e" in text.lower() or value < 0:
        raise CliError(f"not an amount in yuan: {text!r}", errors.USAGE)
    if value.as_tuple().exponent < -2:
        raise CliError(f"an amount in yuan has at most two decimals (fen): {text!r}", errors.USAGE)
    return int(value * 100)


def announced_values(definitions: list[dict[str, Any]], given: dict[str, str]) -> dict[str, Any]:
    """Check and convert ``key=value`` pairs against the tender's announced field definitions."""
    known = {d["key"]: d for d in definitions}
    unknown = set(given) - set(known)
    if unknown:
        raise CliError(f"this tender has no field(s) {', '.join(sorted(unknown))}; it defines: "
                       + ", ".join(f"{d['key']} ({d['label']})" for d in definitions), errors.USAGE)
    values: dict[str, Any] = {}
    for key, d in known.items():
        if key not in given:
            if d.get("required", True):
                raise CliError(f"the field {key} ({d['label']}) is required: --field {key}=...",
                               errors.USAGE)
            continue
        text = given[key]
        kind = d["type"]
        if kind == "money_fen":
            values[key] = yuan_to_fen(text)
        elif kind == "integer":
            if not text.strip().lstrip("-").isdigit():
                raise CliError(f"{key} is a whole number: {text!r}", errors.USAGE)
            values[key] = int(text)
        elif kind == "decimal":
            try:
                values[key] = str(Decimal(text.strip()))
            except InvalidOperation:
                raise CliError(f"{key} is a decimal number: {text!r}", errors.USAGE) from None
        elif kind == "choice":
            if text not in d.get("choices", []):
                raise CliError(f"{key} is one of {', '.join(d['choices'])}: {text!r}", errors.USAGE)
            values[key] = text
        else:
            values[key] = text
    return values


def collect_documents(paths: list[str]) -> list[tuple[Path, str]]:
    """(file, name in the package) for each file given or found in a folder given."""
    out: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                out.append((file, "documents/" + file.relative_to(path).as_posix()))
        elif path.is_file():
            out.append((path, "documents/" + path.name))
        else:
            raise CliError(f"no such file or folder: {raw}", errors.USAGE)
    names = [n for _, n in out]
    if len(set(names)) != len(names):
        raise CliError("two documents would have the same name in the package", errors.USAGE)
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def manifest(*, tender: str, lot: str, bidder: str, fields: dict[str, Any],
             documents: list[tuple[Path, str]], sealer: dict[str, str] | None = None) -> bytes:
    doc = {"format": MANIFEST_FORMAT, "tender": tender, "lot": lot, "bidder": bidder, "fields": fields,
           "documents": [{"name": name, "size": path.stat().st_size, "sha256": _sha256(path)}
                         for path, name in documents]}
    if sealer is not None:
        doc["sealer"] = sealer
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


def _write_tar(fd: int, manifest_bytes: bytes, documents: list[tuple[Path, str]], failure: list) -> None:
    try:
        with os.fdopen(fd, "wb") as out, tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mode = len(manifest_bytes), 0o644
            tar.addfile(info, io.BytesIO(manifest_bytes))
            for path, name in documents:
                info = tarfile.TarInfo(name)
                info.size, info.mode = path.stat().st_size, 0o644
                with open(path, "rb") as f:
                    tar.addfile(info, f)
    except BaseException as exc:  # noqa: BLE001 - reported by the sealing thread
        failure.append(exc)


def seal_package(out_path: Path, *, manifest_bytes: bytes, documents: list[tuple[Path, str]],
                 tender: str, lot: str, bidder: str, recipients: list[envelope.Recipient],
                 chunk_size: int = 1 << 20, custodians=(), threshold: int | None = None,
                 suite: str = "intl") -> envelope.SealResult:
    """Stream the tar through a pipe into ``envelope.seal``; write ``out_path`` atomically."""
    read_fd, write_fd = os.pipe()
    failure: list = []
    writer = threading.Thread(target=_write_tar, args=(write_fd, manifest_bytes, documents, failure),
                              daemon=True)
    tmp = out_path.with_name(out_path.name + ".part")
    writer.start()
    try:
        with os.fdopen(read_fd, "rb") as reader, open(tmp, "wb") as sink:
            result = envelope.seal(reader, sink, tender_id=tender, lot_id=lot, bidder_id=bidder,
                                   recipients=recipients, chunk_size=chunk_size,
                                   custodians=custodians, threshold=threshold, suite=suite)
            sink.flush()
            os.fsync(sink.fileno())
        writer.join()
        if failure:
            raise CliError(f"could not read the documents: {failure[0]}")
        os.replace(tmp, out_path)
        return result
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
