"""What a person sees, checked the way the journeys need it: no raw code (an error, status or audit
action code), no UTC machine time, no English sentence on a Chinese page, no Chinese label on an
English page, and no serious or critical accessibility violation (axe-core, injected here from
tests/e2e/vendor; the platform never serves it).

On an English page Chinese is expected only in data (company, project and venue names, what people
typed, the tender's own fields). Chinese is a label left untranslated when the text is one of the
catalogue's Chinese translations (locale/zh_Hans), a translation followed by a colon, or any text in
a label's place: a form label, legend, caption, column header, button, badge, navigation or
definition term. Labels in a form label, legend, caption, column header or definition term, and
statuses (a badge, ``.status``, a list item with ``data-status``, ``data-state`` or ``data-check``),
start with a capital on an English page. Data that sits in such a place says so with a ``lang`` attribute (``lang="zh-hans"``
on a name, as HTML asks for text in another language) or ``translate="no"``; "元" is the currency.

Text inside ``small.code`` (a code printed small beside its label, for support), ``.mono`` (hashes,
key ids), ``[data-user]`` (an account name as people sign in with it) and form fields' own values is
not what a person reads as the page's words, and is skipped.
"""

from __future__ import annotations

import functools
import gettext
import os
import re
from pathlib import Path

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
CATALOGUE = Path(__file__).resolve().parents[2] / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.mo"
CJK = re.compile(r"[\u3400-\u9fff]")

VISIBLE_TEXT = """() => {
  const skip = "small.code, .mono, code, [data-user], script, style, noscript, template, option, [aria-hidden=true]";
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest(skip) || !n.textContent.trim()) continue;
    if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
    out.push(n.textContent.trim());
  }
  for (const s of document.querySelectorAll("select")) {
    if (s.checkVisibility() && s.selectedOptions[0]) out.push(s.selectedOptions[0].textContent.trim());
  }
  return out.join("\\n");
}"""

CODE_PATTERNS = [
    (r"\b(?:accounts|audit|bidding|evaluation|realtime)\.[a-z_]+\.[a-z_]+\b", "an audit action code"),
    (r"\[[a-z]+(?:_[a-z]+)+\]", "a bracketed error code"),
    (r"(?<![\w/.-])[a-z]+(?:_[a-z]+)+(?![\w/.-])", "a snake_case code"),
]
ZH_ONLY = [
    (r"(?<![\w-])(?:draft|published|opening|evaluating|completed|failed|cancelled|superseded|withdrawn|"
     r"pending|issued|rejected|revoked|decrypted|score|last|submission|received_at|key_id|"
     r"bidder|host|supervisor|expert|main_staff|staff)(?![\w-])", "an English status or role code"),
    (r"\b[A-Za-z]{3,}(?: [a-z]{2,}){3,}", "an English sentence"),
    (r"[\u3400-\u9fff）]: ", "an English colon after Chinese"),
]
UTC_PATTERNS = [
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d", "an ISO 8601 machine time"),
    (r"\d\d:\d\d(?::\d\d)?(?:\.\d+)?Z\b", "a UTC time"),
    (r"\bUTC\b(?!\s*\+\s*8)", "a time said in UTC"),
]


# Each visible text node, and the label's place it sits in ("" when none).
PLACED_TEXT = """() => {
  const skip = "small.code, .mono, code, [data-user], script, style, noscript, template, option, [aria-hidden=true], "
             + "[lang]:not([lang^=en]):not(html), [translate=no]";
  const places = "label, legend, caption, thead th, th[scope=col], button, summary, dt, nav, .badge";
  const statuses = ".badge, .status, li[data-status], li[data-check], li[data-state]";
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    const text = n.textContent.trim();
    if (!el || !text || el.closest(skip)) continue;
    if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
    const place = el.closest(places);
    out.push([text, place ? place.tagName.toLowerCase() + (place.id ? "#" + place.id : "") : "", el.matches(statuses)]);
  }
  for (const s of document.querySelectorAll("select")) {
    const o = s.selectedOptions[0];
    if (s.checkVisibility() && o && !o.closest(skip)) {
      out.push([o.textContent.trim(), ""]);
    }
  }
  return out;
}"""


@functools.cache
def chinese_labels() -> frozenset[str]:
    """The catalogue's Chinese translations (from the compiled .mo the server uses)."""
    with open(CATALOGUE, "rb") as fp:
        catalogue = gettext.GNUTranslations(fp)._catalog  # noqa: SLF001 - the parsed entries
    return frozenset(str(v).strip() for v in catalogue.values() if CJK.search(str(v)) and "%" not in str(v)
                     and "{" not in str(v))


# Chinese punctuation (、，：；（）。 and the full-width forms) with no Chinese letter on either side: a
# template's join or label on an English page ("E1、E3", "Bidder：X"), not data typed in Chinese.
CJK_PUNCTUATION = re.compile(r"[\u3001-\u303f\uff01-\uff0f\uff1a-\uff1f]")


def stray_chinese_punctuation(text: str) -> list[str]:
    """The Chinese punctuation marks in ``text`` with no Chinese letter next to them (spaces and
    other punctuation aside)."""
    found = []
    for match in CJK_PUNCTUATION.finditer(text):
        before = text[:match.start()].rstrip()
        after = text[match.end():].lstrip()
        while before and CJK_PUNCTUATION.match(before[-1]):
            before = before[:-1].rstrip()
        while after and CJK_PUNCTUATION.match(after[0]):
            after = after[1:].lstrip()
        if not (before and CJK.match(before[-1])) and not (after and CJK.match(after[0])):
            found.append(match.group(0))
    return found


# A status (the text of a badge, a ``.status`` or a list item carrying its ``data-status``,
# ``data-state`` or ``data-check``; not that of an element inside it) may follow a name and a colon ("Bidder 1: Confirmed", ": Verified"): each part of
# it starts with a capital on an English page.
STATUS_PARTS = re.compile(r"^[\s:：·—-]+|\s*[:：·—]\s*")


def chinese_on_english(found: list[list[str]]) -> list[str]:
    """The untranslated labels among an English page's text nodes (``PLACED_TEXT``), and Chinese
    punctuation between words that are not Chinese."""
    known = chinese_labels()
    problems = []
    for text, place, *status in found:
        if place and place.split("#")[0] in ("th", "dt", "label", "legend", "caption") and re.match(r"[a-z]", text):
            problems.append(f"a label in lower case in a {place} on an English page: {text[:80]!r}")
        elif status and status[0] and any(re.match(r"[a-z]", part) for part in STATUS_PARTS.split(text)):
            problems.append(f"a status in lower case on an English page: {text[:80]!r}")
        for mark in stray_chinese_punctuation(text):
            problems.append(f"Chinese punctuation {mark!r} on an English page: {text[:80]!r}")
        if not CJK.search(text.replace("元", "")):
            continue
        if place:
            problems.append(f"Chinese in a {place} on an English page: {text[:80]!r}")
            continue
        # A label may share a text node with data ("Project: 市政道路 · 状态：草稿"): each part, and
        # what comes before its colon, is looked up.
        for part in re.split(r"\s*[·|；;\n]\s*", text):
            head = re.split(r"[:：]", part, maxsplit=1)[0].strip()
            if part.strip() in known or head in known:
                problems.append(f"an untranslated label on an English page: {part.strip()[:60]!r} in {text[:80]!r}")
                break
    return problems


# Words a Chinese page may show in Latin letters: formats, algorithms, standards, tools.
LATIN_TERMS = {"PDF", "JSON", "SHA", "UTC", "RFC", "CSV", "XLSX", "URL", "API", "Ed25519", "WebSocket",
               "IndexedDB", "sealbid", "keygen", "tender", "key", "envelope", "English", "Chrome", "Edge", "Chromium"}
LATIN_WORD = re.compile(r"(?<![\w.-])[A-Za-z][a-z]{2,}(?![\w-])")


def english_on_chinese(found: list[list[str]]) -> list[str]:
    """English words in a label's place on a Chinese page (``PLACED_TEXT``): a label left in English
    ("投标人 / Bidder")."""
    problems = []
    for text, place, *_ in found:
        words = [w for w in LATIN_WORD.findall(text) if w not in LATIN_TERMS]
        if place and words:
            problems.append(f"English in a {place} on a Chinese page: {text[:80]!r}")
    return problems


def visible_text(page) -> str:
    return page.evaluate(VISIBLE_TEXT)


def text_problems(text: str, *, chinese: bool) -> list[str]:
    problems = []
    patterns = CODE_PATTERNS + UTC_PATTERNS + (ZH_ONLY if chinese else [])
    for pattern, what in patterns:
        for match in re.finditer(pattern, text):
            line = text[max(0, match.start() - 40):match.end() + 40].replace("\n", " / ")
            problems.append(f"{what}: {match.group(0)!r} in …{line}…")
    return problems


def axe_violations(page, *, impacts=("serious", "critical")) -> list[str]:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol, not as a <script> tag: the pages' CSP allows no
        # inline script, and the check must not need one.
        page.evaluate(AXE.read_text() + "\n;void 0")
    result = page.evaluate("""async () => {
      const r = await axe.run(document, { resultTypes: ["violations"] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                                        nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
    }""")
    return [f"{v['impact']} {v['id']} ({v['help']}): {v['nodes']}" for v in result if v["impact"] in impacts]


def check_screen(page, where: str = "", *, axe: bool = True) -> None:
    """Fail with every problem found on the page as it is now."""
    chinese = page.evaluate("() => document.documentElement.lang").lower().startswith("zh")
    problems = text_problems(visible_text(page), chinese=chinese)
    placed = page.evaluate(PLACED_TEXT)
    problems += english_on_chinese(placed) if chinese else chinese_on_english(placed)
    if axe:
        problems += axe_violations(page)
    if os.environ.get("KB_SCREEN_COLLECT"):  # survey mode: write every problem down, fail nowhere
        with open(os.environ["KB_SCREEN_COLLECT"], "a") as out:
            out.write("".join(f"{where or page.url}: {p}\n" for p in problems))
        return
    assert not problems, f"{where or page.url}:\n" + "\n".join(problems)


# The header cells (matching a selector) whose text takes more than one line: a column too narrow
# for its name ("座/位", "承/诺" one character a line).
WRAPPED_HEADERS = """(selector) => {
  const out = [];
  for (const th of document.querySelectorAll(selector)) {
    if (!th.checkVisibility() || !th.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(th);
    const apart = parseFloat(getComputedStyle(th).fontSize) * 0.8;
    const lines = [];
    for (const b of [...range.getClientRects()].filter((r) => r.width > 0).map((r) => r.bottom).sort((x, y) => x - y)) {
      if (!lines.length || b - lines[lines.length - 1] > apart) lines.push(b);
    }
    if (lines.length > 1) out.push(`${th.textContent.trim()} (${lines.length} lines, ${Math.round(th.getBoundingClientRect().width)} px)`);
  }
  return out;
}"""


def wrapped_headers(page, selector: str = "table thead th") -> list[str]:
    return page.evaluate(WRAPPED_HEADERS, selector)
