"""What the signals read from a bid document: its text, its metadata, the hashes of its embedded
images and attachments. Office files (docx, xlsx) are zips of XML; PDFs are read with ``pypdf``
(document info, XMP, page text, image streams, embedded files).

XML without a DTD, or not at all: a document type declaration can only stand in the prolog, before
the root element, so expat reads each part up to its root's start tag first (in the encoding the
part declares, as the parser after it will) and any DTD makes the document unreadable. With no DTD
nothing can declare an entity — no entity expansion (billion laughs), no external entity, no DTD
retrieval — and the part is then parsed by ElementTree's C parser. (defusedxml did the same
refusing, but only on the pure-Python ElementTree, eight times slower on a 300-page bid.)

Bounded: a zip whose parts would inflate beyond ``max_inflated`` is read only up to it, and a part
is never read whole into memory beyond that budget; a document that cannot be read is reported
with a problem code, never an exception.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field

from xml.etree import ElementTree as ET
from xml.parsers import expat

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
CORE = {"{http://purl.org/dc/elements/1.1/}creator": "author",
        "{http://schemas.openxmlformats.org/package/2006/metadata/core-properties}lastModifiedBy":
            "last_modified_by",
        "{http://purl.org/dc/terms/}created": "created",
        "{http://purl.org/dc/terms/}modified": "modified"}
APP = {"Company": "company", "Template": "template", "Application": "application",
       "AppVersion": "app_version", "Manager": "manager"}
_WORD_PARTS = re.compile(r"word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml")
_SHEET_PARTS = re.compile(r"xl/(sharedStrings|worksheets/sheet\d+)\.xml")
_MEDIA = re.compile(r"(word|xl|ppt)/media/[^/]+")
_EMBEDDED = re.compile(r"(word|xl|ppt)/embeddings/[^/]+")


@dataclass
class DocFacts:
    name: str
    kind: str  # docx, xlsx, pdf, text, other
    text: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    media: list[tuple[str, str, int]] = field(default_factory=list)  # (where, sha256, size)
    attachments: list[tuple[str, str, int]] = field(default_factory=list)
    problem: str = ""  # "" or unreadable, too_large, unsupported


def read_document(name: str, data: bytes, *, max_inflated: int = 256 << 20) -> DocFacts:
    lower = name.lower()
    try:
        if lower.endswith((".docx", ".docm", ".xlsx", ".xlsm")):
            return _office(name, data, max_inflated)
        if lower.endswith(".pdf"):
            return _pdf(name, data)
        if lower.endswith((".txt", ".md", ".csv")):
            return DocFacts(name, "text", text=data.decode("utf-8", errors="replace"))
    except _TooLarge:
        return DocFacts(name, "other", problem="too_large")
    except Exception:  # noqa: BLE001 - a hostile or broken file is a problem code, not a crash
        return DocFacts(name, "other", problem="unreadable")
    return DocFacts(name, "other", problem="unsupported")


class _TooLarge(Exception):
    pass


def _office(name: str, data: bytes, budget: int) -> DocFacts:
    kind = "docx" if name.lower().endswith((".docx", ".docm")) else "xlsx"
    facts = DocFacts(name, kind)
    left = [budget]
    texts: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            part = info.filename
            if part == "docProps/core.xml":
                for el in _parse(_read(zf, info, left)).iter():
                    if el.tag in CORE and (el.text or "").strip():
                        facts.metadata[CORE[el.tag]] = el.text.strip()
            elif part == "docProps/app.xml":
                for el in _parse(_read(zf, info, left)).iter():
                    local = el.tag.rsplit("}", 1)[-1]
                    if local in APP and (el.text or "").strip():
                        facts.metadata[APP[local]] = el.text.strip()
            elif (kind == "docx" and _WORD_PARTS.fullmatch(part)) or (kind == "xlsx" and _SHEET_PARTS.fullmatch(part)):
                texts.append(_xml_text(_read(zf, info, left), kind))
            elif _MEDIA.fullmatch(part) or _EMBEDDED.fullmatch(part):
                blob = _read(zf, info, left)
                target = facts.media if _MEDIA.fullmatch(part) else facts.attachments
                target.append((part, hashlib.sha256(blob).hexdigest(), len(blob)))
    facts.text = "\n".join(t for t in texts if t)
    return facts


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, left: list[int]) -> bytes:
    # Counted as actually inflated, not as the header claims: a lying header cannot pass the budget.
    with zf.open(info) as f:
        blob = f.read(left[0] + 1)
    left[0] -= len(blob)
    if left[0] < 0:
        raise _TooLarge
    return blob


class _UnsafeXml(Exception):
    pass


class _RootReached(Exception):
    pass


def _refuse_dtd(blob: bytes) -> None:
    """Raise ``_UnsafeXml`` if the XML has a document type declaration (so, any entity
    declaration); return at the root element's start tag, having read only the prolog."""
    parser = expat.ParserCreate()

    def unsafe(*_args):
        raise _UnsafeXml

    def root(*_args):
        raise _RootReached

    parser.StartDoctypeDeclHandler = unsafe
    parser.EntityDeclHandler = unsafe  # only inside a DTD: never reached, but never silent either
    parser.StartElementHandler = root
    try:
        parser.Parse(blob, True)
    except _RootReached:
        return
    except expat.ExpatError:
        raise _UnsafeXml from None
    raise _UnsafeXml  # no root element at all


def _parse(blob: bytes):
    _refuse_dtd(blob)
    return ET.fromstring(blob)


def _xml_text(blob: bytes, kind: str) -> str:
    """Paragraphs (docx ``w:p``) or cells/strings (xlsx ``si``/``is``), one per line."""
    unit = {W + "p"} if kind == "docx" else {S + "si", S + "is"}
    text_tag = W + "t" if kind == "docx" else S + "t"
    lines: list[str] = []
    current: list[str] = []
    _refuse_dtd(blob)
    for event, el in ET.iterparse(io.BytesIO(blob), events=("end",)):
        if el.tag == text_tag and el.text:
            current.append(el.text)
        elif el.tag in unit:
            if current:
                lines.append("".join(current))
            current = []
            el.clear()
    if current:
        lines.append("".join(current))
    return "\n".join(lines)


def _pdf(name: str, data: bytes) -> DocFacts:
    from pypdf import PdfReader  # imported here: only PDFs pay for it

    facts = DocFacts(name, "pdf")
    reader = PdfReader(io.BytesIO(data))
    info = reader.metadata or {}
    for key, label in (("/Author", "author"), ("/Creator", "application"), ("/Producer", "producer"),
                       ("/CreationDate", "created"), ("/ModDate", "modified")):
        value = info.get(key)
        if value and str(value).strip():
            facts.metadata[label] = str(value).strip()
    try:
        xmp = reader.xmp_metadata
    except Exception:  # noqa: BLE001 - broken XMP is no metadata
        xmp = None
    if xmp is not None:
        for attr, label in (("xmp_creator_tool", "creator_tool"), ("xmpmm_document_id", "document_id"),
                            ("pdf_producer", "producer")):
            value = getattr(xmp, attr, None)
            if value and str(value).strip():
                facts.metadata.setdefault(label, str(value).strip())
        creators = getattr(xmp, "dc_creator", None) or []
        if creators and "author" not in facts.metadata:
            facts.metadata["author"] = ", ".join(str(c) for c in creators)
    texts, seen = [], set()
    for number, page in enumerate(reader.pages, start=1):
        texts.append(page.extract_text() or "")
        xobjects = (page.get("/Resources") or {}).get("/XObject") or {}
        for key in xobjects:
            ref = xobjects.raw_get(key)
            ident = getattr(ref, "idnum", None)
            if ident is not None and ident in seen:
                continue
            seen.add(ident)
            obj = xobjects[key].get_object()
            if obj.get("/Subtype") == "/Image":
                raw = obj._data  # the stream as stored: identical bytes mean an identical image
                facts.media.append((f"page {number} {key}", hashlib.sha256(raw).hexdigest(), len(raw)))
    for att_name, blobs in (reader.attachments or {}).items():
        for blob in blobs:
            facts.attachments.append((att_name, hashlib.sha256(blob).hexdigest(), len(blob)))
    facts.text = "\n".join(texts)
    return facts
