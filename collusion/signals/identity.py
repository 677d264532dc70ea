"""Signals of one hand behind several bidders: the same machine, network address or certificate;
the same document metadata; the same embedded images or attachments; one bidder's documents naming
another (混装); the same person declared by two bidders."""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from .extract import DocFacts
from .leads import Lead, Signal, Strength, lead


@dataclass(frozen=True)
class Observation:
    """A fact captured as it happened: ``kind`` machine, ip or certificate; ``stage`` sealing,
    upload, receipt or decryption; ``value`` the salted machine hash, the address, the key id."""

    bidder: str
    kind: str
    value: str
    stage: str
    at: str = ""  # ISO time, for the evidence
    user_agent: str = ""  # the client's User-Agent at that step, for the evidence (never matched on its own)


_KIND_SIGNAL = {"machine": Signal.SAME_MACHINE, "ip": Signal.SAME_NETWORK, "certificate": Signal.SAME_CERTIFICATE}
_KIND_STRENGTH = {"machine": Strength.STRONG, "ip": Strength.MODERATE, "certificate": Strength.STRONG}


def shared_observations(observations: Iterable[Observation], *, ignored_networks: Iterable[str] = ()) -> list[Lead]:
    """One lead per value seen behind two or more bidders. Addresses in ``ignored_networks`` (a
    trading centre's public terminals, a known shared proxy) are not counted."""
    nets = [ipaddress.ip_network(n, strict=False) for n in ignored_networks]
    seen: dict[tuple[str, str], dict[str, list[Observation]]] = defaultdict(lambda: defaultdict(list))
    for ob in observations:
        if not ob.value or ob.kind not in _KIND_SIGNAL:
            continue
        if ob.kind == "ip" and _ignored(ob.value, nets):
            continue
        seen[(ob.kind, ob.value)][ob.bidder].append(ob)
    leads = []
    for (kind, value), by_bidder in sorted(seen.items()):
        if len(by_bidder) < 2:
            continue
        stages = sorted({o.stage for obs in by_bidder.values() for o in obs})
        leads.append(lead(_KIND_SIGNAL[kind], by_bidder, _KIND_STRENGTH[kind], kind=kind, value=value,
                          stages=stages, seen={b: [_seen(o) for o in obs[:10]] for b, obs in sorted(by_bidder.items())}))
    return leads


def _seen(o: Observation) -> dict:
    out = {"stage": o.stage, "at": o.at}
    if o.user_agent:
        out["user_agent"] = o.user_agent
    return out


def _ignored(value: str, nets) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return any(address in net for net in nets)


# Values that many honest authors share: an installation's default user, a default template.
GENERIC_METADATA = frozenset({
    "", "administrator", "admin", "user", "users", "微软用户", "微软中国", "china", "lenovo", "dell", "hp",
    "normal.dotm", "normal.dot", "normal", "unknown", "未知", "作者", "author", "owner", "pc", "windows 用户",
    "windows user", "wps", "microsoft", "microsoft corporation",
})
# Fields that identify a person or an installation when shared; application and producer alone
# are weak (most bidders use the same office suite).
IDENTIFYING = ("author", "last_modified_by", "company", "manager", "template", "document_id", "created")
SUPPORTING = ("application", "app_version", "producer", "creator_tool")


def shared_metadata(docs: dict[str, list[DocFacts]], *, generic: frozenset[str] = GENERIC_METADATA,
                    own_names: dict[str, set[str]] | None = None, tender_docs: list[DocFacts] = (),
                    common_share: float = 0.5) -> list[Lead]:
    """A value of an identifying field (author, last modified by, company, template, creation time,
    a PDF's document id) that two bidders' documents share. Not counted: generic values (a default
    user or template), values the tender's own documents carry (every bidder filling the tender's
    bill template keeps its author and creation time), and values more than ``common_share`` of the
    bidders (and more than three) share — a common installation, not one hand."""
    own_names = own_names or {}
    from_tender = {(k, v.strip()) for d in tender_docs for k, v in d.metadata.items()}
    common_limit = max(3, common_share * len(docs))
    seen: dict[tuple[str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for bidder, facts in docs.items():
        for f in facts:
            for key in IDENTIFYING:
                value = f.metadata.get(key, "").strip()
                if value.lower() in generic or (key, value) in from_tender:
                    continue
                seen[(key, value)][bidder].append(f.name)
    leads = []
    for (key, value), by_bidder in sorted(seen.items()):
        if len(by_bidder) < 2 or len(by_bidder) > common_limit:
            continue
        if key == "company" and sum(value in own_names.get(b, set()) for b in by_bidder) == 1 and len(by_bidder) == 2:
            # one bidder's own company name in the other's files: the files came from that bidder
            strength = Strength.STRONG
        else:
            strength = Strength.MODERATE if key in ("created", "template") else Strength.STRONG
        leads.append(lead(Signal.SHARED_METADATA, by_bidder, strength, field=key, value=value,
                          documents={b: sorted(set(n))[:10] for b, n in sorted(by_bidder.items())}))
    return leads


def shared_media(docs: dict[str, list[DocFacts]], tender_hashes: set[str], *, min_bytes: int = 2048) -> list[Lead]:
    """The same embedded image or attachment (by SHA-256) in two bidders' documents, unless the
    tender's own documents carry it (a logo or form the tender gave out) or it is tiny (a bullet)."""
    seen: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    sizes: dict[str, int] = {}
    kinds: dict[str, str] = {}
    for bidder, facts in docs.items():
        for f in facts:
            for kind, items in (("image", f.media), ("attachment", f.attachments)):
                for where, digest, size in items:
                    if size < min_bytes or digest in tender_hashes:
                        continue
                    seen[digest][bidder].append(f"{f.name}: {where}")
                    sizes[digest], kinds[digest] = size, kind
    leads = []
    for digest, by_bidder in sorted(seen.items()):
        if len(by_bidder) >= 2:
            leads.append(lead(Signal.SHARED_MEDIA, by_bidder, Strength.MODERATE if kinds[digest] == "image"
                              else Strength.STRONG, kind=kinds[digest], sha256=digest, size=sizes[digest],
                              where={b: sorted(set(w))[:10] for b, w in sorted(by_bidder.items())}))
    return leads


@dataclass(frozen=True)
class BidderIdentity:
    key: str
    name: str
    credit_code: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)  # short names, former names


def misplaced_names(docs: dict[str, list[DocFacts]], bidders: list[BidderIdentity], tender_text: str, *,
                    context: int = 30) -> list[Lead]:
    """One bidder's documents naming another bidder, or carrying its credit code (混装, 40(五)).
    A name the tender's own documents contain (a previous contractor named in the scope) does not
    count; names shorter than four characters are too likely to occur by chance."""
    leads = []
    for owner, facts in sorted(docs.items()):
        for other in bidders:
            if other.key == owner:
                continue
            needles = [("credit_code", other.credit_code)] if other.credit_code else []
            needles += [("name", n) for n in (other.name, *other.aliases) if len(n) >= 4 and n not in tender_text]
            for what, needle in needles:
                for f in facts:
                    at = f.text.find(needle)
                    if at < 0:
                        continue
                    around = snippet(f.text, at, at + len(needle), context)
                    leads.append(lead(Signal.MISPLACED_NAME, (owner, other.key),
                                      Strength.STRONG if what == "credit_code" else Strength.MODERATE,
                                      in_documents_of=owner, names=other.key, matched=what, text=needle,
                                      document=f.name, context=around))
                    break
                else:
                    continue
                break
    return leads


_ID_NUMBER = re.compile(r"(?<!\d)(\d{17}[\dXx])(?!\d)")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_numbers(text: str) -> set[str]:
    """Resident identity numbers (GB 11643-1999) with a valid check digit in the text."""
    out = set()
    for m in _ID_NUMBER.finditer(text):
        number = m.group(1).upper()
        if _ID_CHECK[sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS)) % 11] == number[17]:
            out.add(number)
    return out


def mask_id(number: str) -> str:
    return number[:6] + "*" * 8 + number[-4:]


_ID_SHAPED = re.compile(r"(?<!\d)(\d{17}[\dXx]|\d{15})(?!\d)")


def snippet(text: str, start: int, end: int, n: int) -> str:
    """``text[start - n:end + n]`` on one line, for a lead's evidence, with every identity-number
    shaped run of digits in it masked (an 18- or 15-digit run, check digit valid or not): the
    text around a finding may stand next to someone's identity number, which a lead never shows."""
    lo, hi = max(0, start - n), min(len(text), end + n)
    wide_lo, wide_hi = max(0, lo - 18), min(len(text), hi + 18)  # a number cut by the edge is masked whole
    wide = _ID_SHAPED.sub(lambda m: m[1][:6] + "*" * (len(m[1]) - 10) + m[1][-4:], text[wide_lo:wide_hi])
    return wide[lo - wide_lo:len(wide) - (wide_hi - hi)].replace("\n", " ")


# Certificate numbers of the declared staff (项目管理机构组成表, 拟派项目负责人): a registered
# constructor's or engineer's registration number (注册编号: the province's one-character name and
# 11–16 digits, e.g. 苏132060801234), a safety certificate (安全生产考核合格证书: 苏建安B（2019）0012345),
# and any value labelled as a certificate's number (证书编号, 注册编号, 证号, 执业印章号 …) with at
# least six digits. Full-width digits, letters and brackets are matched as they stand (``\d`` is
# any decimal digit) and only the match is normalised (NFKC), so they compare alike.
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_ALNUM = "A-Za-z\uFF21-\uFF3A\uFF41-\uFF5A" + r"\d"
_CERT_PATTERNS = (
    re.compile(rf"(?<![\w])([{_PROVINCES}]\d{{11,16}})(?!\d)"),
    re.compile(rf"(?<![\w])([{_PROVINCES}]建安[ABCＡＢＣ][(（]\d{{4}}[)）]\d{{5,8}})(?!\d)"),
    re.compile(r"(?:证书编号|证书号码|证书号|注册编号|注册号|证号|执业印章号|印章编号|合格证编号)[ \t\u3000]*[:：]?[ \t\u3000]*"
               rf"([{_PROVINCES}{_ALNUM}](?:建安)?[{_ALNUM}()（）\-－]{{5,31}})"),
)


def certificate_numbers(text: str) -> set[str]:
    """The staff certificate numbers in the text (NFKC, upper case), each with six digits or more."""
    import unicodedata

    out = set()
    for pattern in _CERT_PATTERNS:
        for m in pattern.finditer(text):
            value = unicodedata.normalize("NFKC", m.group(1)).upper().rstrip("-(")
            if sum(ch.isdigit() for ch in value) >= 6 and not _ID_NUMBER.fullmatch(value):
                out.add(value)
    return out


def shared_persons(docs: dict[str, list[DocFacts]], tender_text: str = "", *, common_share: float = 0.5) -> list[Lead]:
    """The same person declared by two bidders (项目管理成员为同一人, 40(三)): the same identity
    number, or the same staff certificate number, in two bidders' documents and not in the tender's.
    The evidence shows an identity number masked (the committee reads it in full in the documents
    named); a certificate number, public in the registers, in full. A number more than
    ``common_share`` of the bidders (and more than three) carry is a form's example that the tender
    did not file, not one person lent to several."""
    common_limit = max(3, common_share * len(docs))
    found: list[Lead] = []
    for kind, numbers, shown in (("id_number", id_numbers, mask_id), ("certificate", certificate_numbers, str)):
        in_tender = numbers(tender_text)
        seen: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for bidder, facts in docs.items():
            for f in facts:
                for number in numbers(f.text) - in_tender:
                    seen[number][bidder].append(f.name)
        key = "id_number" if kind == "id_number" else "certificate_number"
        found += [lead(Signal.SHARED_PERSON, by_bidder, Strength.STRONG, kind=kind, **{key: shown(number)},
                       documents={b: sorted(set(n))[:10] for b, n in sorted(by_bidder.items())})
                  for number, by_bidder in sorted(seen.items()) if 2 <= len(by_bidder) <= common_limit]
    return found
