"""The English pages speak English: a source string that carries a Chinese term or a legal citation
as a gloss for the translators ("Price (元)", "Tenderee (招标人)") is shown in English from
locale/en, so no Chinese reaches an English page through the catalogue."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

from django.utils import translation

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
SOURCES = [p for d in ("accounts", "audit", "award", "bidding", "collusion", "common", "config", "documents",
                       "evaluation", "exchange", "frontend", "realtime")
           for p in (ROOT / d).rglob("*") if p.suffix in {".py", ".html", ".js"} and "migrations" not in p.parts]
# Data, not a label: the pool's specialties are Chinese names, and the example shows one as typed.
DATA_EXAMPLES = {"Optional. One a line: specialty, then how many members, e.g. 市政道路 2"}


def _used(msgid: str, text: str) -> bool:
    return msgid.split("\n")[0][:40] in text


def test_every_source_string_with_chinese_in_it_reads_in_english_on_english_pages():
    catalogue = gettext.GNUTranslations(open(ROOT / "locale/zh_Hans/LC_MESSAGES/django.mo", "rb"))._catalog
    text = "\n".join(p.read_text(errors="ignore") for p in SOURCES)
    glossed = [m for m in catalogue if isinstance(m, str) and m and CJK.search(m) and m not in DATA_EXAMPLES
               and _used(m, text)]
    assert glossed, "the test finds the glossed strings (it would pass on nothing otherwise)"
    with translation.override("en"):
        still = [m for m in glossed if CJK.search(translation.gettext(m))]
    assert not still, f"English pages would show Chinese: {still}"


def test_the_chinese_pages_keep_their_own_wording():
    with translation.override("zh-hans"):
        assert translation.gettext("Price (元)") == "价格（元）" or CJK.search(translation.gettext("Price (元)"))
    with translation.override("en"):
        assert translation.gettext("Price (元)") == "Price (yuan)"
        assert translation.gettext("Tenderee (招标人)") == "Tenderee"
