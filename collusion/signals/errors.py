"""Shared rare errors (实施条例 40(四) 异常一致): the same unusual mistakes in two bidders' documents.

People who write independently make their own mistakes; one hand behind two bids, or one bid
copied into another and rewritten, carries the same ones — even when the text around them was
reworded enough that the look-alike text signal no longer sees a copy. Three kinds are read:

- ``wrong_character`` (错别字): a wrong character in a word, from a table of known misspellings of
  a bid's vocabulary (``MISSPELLINGS``: 施工组识 for 施工组织, 混泥土 for 混凝土 …), each spelled out
  long enough that it is never part of a correct word;
- ``punctuation``: odd punctuation — two marks in a row (，， 。， 、；), a half-width comma,
  semicolon, colon or full stop between two Chinese characters, a Chinese full stop as a decimal
  point (3。5) or a Chinese comma as a thousands separator (1，250) — identified with the four
  characters on either side (whitespace skipped), so that only the same slip in the same words is
  shared. A mark a bidder misuses more than ``habit_max`` times is its writer's habit (a
  half-width comma everywhere, common among honest writers too), and none of those count; nor a
  slip between words that many bidders write (a stock phrase: slipping there is chance);
- ``wrong_number``: one of the tender's own figures restated wrongly — after the same label, the
  same unit and two neighbouring digits swapped or the decimal point moved (计划工期356日历天 where
  the tender says 365), or the same number with another unit (25cm where the tender says 25mm).
  Another figure (360 days: a shorter duration offered) is an offer, not an error.

An error counts when it is in no more than ``common_share`` of the bidders (and three) — a
misspelling many bidders make independently is common, not a ring's — and not in the tender's own
text (its typo, copied by those who quote it). A lead for a pair of bidders sharing at least
``min_errors`` different errors weighing ``min_score`` together: a misspelling from the table,
which many writers make, weighs less than a slip specific to a text (the same punctuation slip in
the same words, the same wrong figure); one shared slip is chance. Evidence: every shared error
with its kind, what it should be, and where it stands in each bidder's documents (document, line — a docx
paragraph, an xlsx cell, a PDF text line — and the text around it).

Pure: no Django, no clock; plain ``re`` over the documents' text (every pattern starts with a
literal or a class, so the scan skips ahead: about 0.03 s of CPU for a 300-page bid).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations

from .extract import DocFacts
from .identity import snippet
from .leads import Lead, Signal, Strength, lead
from .text import normalise


@dataclass(frozen=True)
class ErrorSettings:
    common_share: float = 0.25  # an error in more than this share of the bidders (and three) is common
    # A misspelling from the table is an error many writers make: it weighs 1; a punctuation slip
    # in the same words or the same wrong figure is specific to a text: 2.
    weight_wrong_character: int = 1
    weight_punctuation: int = 2
    weight_wrong_number: int = 2
    min_errors: int = 2  # different shared errors before a pair is a lead
    min_score: int = 4  # and their weights' sum (weak)
    moderate_score: int = 5
    strong_score: int = 8
    habit_max: int = 5  # a punctuation mark misused more often than this by one bidder is a habit
    context: int = 12  # characters of text shown on either side of an error
    max_places: int = 5  # places shown per bidder and error
    max_shown: int = 20  # errors shown per lead (all are counted)


# Misspellings (错别字) → the right word. Each is written with enough of its word that it cannot be
# part of a correctly spelt text (按装 alone is in 按装修要求; 合理按排 is never right).
MISSPELLINGS = {
    "施工组识": "施工组织", "组识设计": "组织设计", "组识机构": "组织机构", "混泥土": "混凝土", "钢筯": "钢筋",
    "竣功": "竣工", "峻工验收": "竣工验收", "工期保正": "工期保证", "质量保正": "质量保证", "布署": "部署",
    "措失": "措施", "应急预按": "应急预案", "专项方按": "专项方案", "技术交低": "技术交底", "隐敝": "隐蔽",
    "隐避工程": "隐蔽工程", "养获": "养护", "沙浆": "砂浆", "帮扎": "绑扎", "沥清": "沥青", "材科": "材料",
    "说名书": "说明书", "合格证名": "合格证明", "验收合搁": "验收合格", "文明施功": "文明施工",
    "质量管里": "质量管理", "项目管里": "项目管理", "安全管里": "安全管理", "工程帅": "工程师", "建造帅": "建造师",
    "负则人": "负责人", "项目经里": "项目经理", "进度记划": "进度计划", "工艺流成": "工艺流程",
    "合理按排": "合理安排", "协调配和": "协调配合", "通力合做": "通力合作", "防水卷才": "防水卷材",
    "再接再励": "再接再厉", "按步就班": "按部就班", "迫不急待": "迫不及待", "以身作责": "以身作则",
    "重蹈复辙": "重蹈覆辙", "无微不治": "无微不至", "默守成规": "墨守成规", "高瞻远嘱": "高瞻远瞩",
    "竞竞业业": "兢兢业业", "一丝不拘": "一丝不苟", "全立以赴": "全力以赴", "有条不絮": "有条不紊",
    "精益求经": "精益求精", "一愁莫展": "一筹莫展", "走头无路": "走投无路",
}
# a PDF's text lines break anywhere: a line break (or space) inside a misspelt word still matches
_MISSPELT = re.compile("|".join(r"\s?".join(map(re.escape, word))
                                for word in sorted(MISSPELLINGS, key=len, reverse=True)))
_SPACE = re.compile(r"\s+")

_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
_CN_MARKS = "，。、；：！？"
_PUNCTUATION = re.compile(  # every branch starts with the mark, so the scan skips to marks
    rf"[{_CN_MARKS}][，。、；：]"  # two marks in a row (？！ and ！？ are not among the seconds)
    rf"|[,;:.](?<=[{_HAN}][,;:.])(?=[{_HAN}])"  # a half-width mark between Chinese characters
    r"|。(?<=\d。)(?=\d)"  # a Chinese full stop as a decimal point
    r"|，(?<=\d，)(?=\d{3}(?!\d))")  # a Chinese comma as a thousands separator
_WHAT_IT_SHOULD_BE = {",": "，", ";": "；", ":": "：", ".": "。", "。": ".", "，": ","}

# A figure: a number and its unit (found first: digits are rare in prose), then the label before it
# — up to four Chinese characters, then an optional 为/是/约/不少于/不超过/：. Whitespace (a PDF's
# line breaks) may stand anywhere in it.
_UNITS = ("日历天|个工作日|工作日|个月|天|年|小时|万元|元|毫米|厘米|千米|公里|米|平方米|立方米|吨|千克|公斤|"
          "mm|cm|km|m²|m³|m2|m3|m|kg|kN|MPa|Mpa|t|%|‰|℃|°C")
_NUMBER = re.compile(rf"(\d+(?:\.\d+)?)\s*({_UNITS})(?![A-Za-z])")
_LABEL = re.compile(rf"((?:[{_HAN}]\s?){{2,4}})(?:为|是|约|不少于|不超过|[:：])?\s*$")

@dataclass(frozen=True)
class _Found:
    kind: str
    key: str  # what identifies the error across bidders
    text: str  # the error as written
    correct: str  # what it should be
    document: str
    line: int
    context: str
    words: str = ""  # a punctuation slip's words around it, without the slip


def _around(text: str, start: int, end: int, n: int) -> str:
    """``n`` characters either side, whitespace skipped: a line wrapped elsewhere (a PDF of the
    same text) gives the same words around the same slip."""
    before, i = [], start - 1
    while i >= 0 and len(before) < n:
        if not text[i].isspace():
            before.append(text[i])
        i -= 1
    after, j = [], end
    while j < len(text) and len(after) < n:
        if not text[j].isspace():
            after.append(text[j])
        j += 1
    return "".join(reversed(before)) + text[start:end] + "".join(after)


def _line_of(newlines: list[int], at: int) -> int:
    return bisect_right(newlines, at) + 1


def _figures(text: str) -> list[tuple[str, str, str, int, int]]:
    out = []
    for m in _NUMBER.finditer(text):
        label = _LABEL.search(text, max(0, m.start() - 16), m.start())
        if label:
            out.append((_SPACE.sub("", label[1])[-4:], m[1], m[2], m.start(), m.end()))
    return out


def _slip(written: str, right: str) -> bool:
    """A number mistyped from ``right``: two neighbouring digits swapped (356 for 365) or the
    decimal point moved (36.5 for 365). One digit changed is not counted: 360 for 365 is as likely
    an offer (a shorter duration) as a slip."""
    if written == right:
        return False
    a, b = written.replace(".", ""), right.replace(".", "")
    if a.lstrip("0") == b.lstrip("0"):
        return True
    if "." in written or "." in right or len(a) != len(b):
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


def _labels_agree(x: str, y: str) -> bool:
    """The same label, or one the end of the other (工期 and 计划工期), of two characters or more."""
    return x.endswith(y) or y.endswith(x)


def find_errors(doc: DocFacts, tender_figures: list[tuple[str, str, str]], context: int = 12) -> list[_Found]:
    """The errors in one document, each with where it stands."""
    text = doc.text
    if not text:
        return []
    newlines: list[int] = []  # built at the first error found
    out: list[_Found] = []

    def add(kind, key, written, correct, start, end, words=""):
        if not newlines:
            newlines.extend(m.start() for m in re.finditer("\n", text))
            newlines.append(len(text))
        out.append(_Found(kind, key, written, correct, doc.name, _line_of(newlines, start),
                          snippet(text, start, end, context), words))

    for m in _MISSPELT.finditer(text):
        word = _SPACE.sub("", m[0])
        add("wrong_character", word, word, MISSPELLINGS[word], m.start(), m.end())
    for m in _PUNCTUATION.finditer(text):
        # identified with the words around it: the same slip in the same place, not the same habit
        around = _around(text, m.start(), m.end(), 4)
        correct = m[0][0] if len(m[0]) == 2 else _WHAT_IT_SHOULD_BE.get(m[0], "")
        add("punctuation", around, m[0], correct, m.start(), m.end(),
            _around(text, m.start(), m.start(), 4) + _around(text, m.end(), m.end(), 4)[-4:])
    if tender_figures:
        for label, number, unit, start, end in _figures(text):
            same_label = [(n, u) for lab, n, u in tender_figures if _labels_agree(label, lab)]
            if not same_label or (number, unit) in same_label:
                continue
            slip = next((n + u for n, u in same_label if u == unit and _slip(number, n)), None)
            if slip is None:
                slip = next((n + u for n, u in same_label if n == number and u != unit), None)
            if slip is not None:
                add("wrong_number", f"{label[-2:]}{number}{unit}", f"{number}{unit}", slip, start, end)
    return out


def tender_figures(tender_text: str) -> list[tuple[str, str, str]]:
    return [(label, number, unit) for label, number, unit, _, _ in _figures(tender_text)]


def shared_errors(docs: dict[str, list[DocFacts]], tender_docs: list[DocFacts] = (),
                  settings: ErrorSettings = ErrorSettings()) -> list[Lead]:
    """One lead per pair of bidders whose documents share ``min_errors`` or more rare errors."""
    tender_text = "\n".join(d.text for d in tender_docs)
    figures = tender_figures(tender_text)
    in_tender = {f.key for d in tender_docs for f in find_errors(d, [])}
    found: dict[tuple[str, str], dict[str, list[_Found]]] = defaultdict(lambda: defaultdict(list))
    for bidder, facts in docs.items():
        own = [f for doc in facts for f in find_errors(doc, figures, settings.context)]
        marks: dict[str, int] = defaultdict(int)
        for f in own:
            if f.kind == "punctuation":
                marks[f.text] += 1
        for f in own:
            if f.kind == "punctuation" and marks[f.text] > settings.habit_max:
                continue  # the writer's habit, not a slip
            if f.key not in in_tender and (f.kind != "wrong_character" or f.text not in tender_text):
                found[(f.kind, f.key)][bidder].append(f)
    common_limit = max(3, settings.common_share * len(docs))
    normalised: dict[str, str] = {}  # built only if a punctuation slip is shared
    by_pair: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for error, by_bidder in found.items():
        if not 2 <= len(by_bidder) <= common_limit:
            continue
        if error[0] == "punctuation":
            # a slip between words that many bidders write (the trade's stock phrases) is chance
            if not normalised:
                normalised.update((b, normalise("\n".join(d.text for d in facts)).norm) for b, facts in docs.items())
            words = normalise(next(iter(by_bidder.values()))[0].words).norm
            if sum(words in t for t in normalised.values()) > common_limit:
                continue
        for pair in combinations(sorted(by_bidder), 2):
            by_pair[pair].append(error)
    weight = {"wrong_character": settings.weight_wrong_character, "punctuation": settings.weight_punctuation,
              "wrong_number": settings.weight_wrong_number}
    leads = []
    for pair, errors in sorted(by_pair.items()):
        n, score = len(errors), sum(weight[kind] for kind, _ in errors)
        if n < settings.min_errors or score < settings.min_score:
            continue
        strength = (Strength.STRONG if score >= settings.strong_score
                    else Strength.MODERATE if score >= settings.moderate_score else Strength.WEAK)
        kinds: dict[str, int] = defaultdict(int)
        for kind, _ in errors:
            kinds[kind] += 1
        shown = []
        for error in sorted(errors)[:settings.max_shown]:
            first = found[error][pair[0]][0]
            shown.append({"kind": first.kind, "text": first.text, "correct": first.correct,
                          "where": {b: [{"document": f.document, "line": f.line, "context": f.context}
                                        for f in found[error][b][:settings.max_places]] for b in pair}})
        leads.append(lead(Signal.SHARED_ERRORS, pair, strength, count=n, score=score, kinds=dict(sorted(kinds.items())),
                          errors=shown))
    return leads
