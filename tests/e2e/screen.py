"""What a person sees, checked the way the journeys need it: no raw code (an error, status or audit
action code), no UTC machine time, no English sentence on a Chinese page, and no serious or critical
accessibility violation (axe-core, injected here from tests/e2e/vendor; the platform never serves it).

Text inside ``small.code`` (a code printed small beside its label, for support), ``.mono`` (hashes,
key ids), ``[data-user]`` (an account name as people sign in with it) and form fields' own values is
not what a person reads as the page's words, and is skipped.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"

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
]
UTC_PATTERNS = [
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d", "an ISO 8601 machine time"),
    (r"\d\d:\d\d(?::\d\d)?(?:\.\d+)?Z\b", "a UTC time"),
    (r"\bUTC\b(?!\s*\+\s*8)", "a time said in UTC"),
]


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
    if axe:
        problems += axe_violations(page)
    if os.environ.get("KB_SCREEN_COLLECT"):  # survey mode: write every problem down, fail nowhere
        with open(os.environ["KB_SCREEN_COLLECT"], "a") as out:
            out.write("".join(f"{where or page.url}: {p}\n" for p in problems))
        return
    assert not problems, f"{where or page.url}:\n" + "\n".join(problems)
