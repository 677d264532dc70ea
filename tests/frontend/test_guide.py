"""The user guide's screenshots are the browser tests' own: each one the guide shows is taken by a
journey (so it is re-shot whenever the pages change) and is in the repository."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_screenshot_of_the_guide_is_taken_by_a_browser_test_and_committed():
    guide = (ROOT / "docs" / "guide.md").read_text()
    shown = set(re.findall(r"\(screenshots/([\w-]+)\.png\)", guide))
    tests = "\n".join(p.read_text() for p in (ROOT / "tests" / "e2e").glob("test_*.py"))
    taken = set(re.findall(r'shot\([^,]+, "([\w-]+)"', tests))
    assert shown and shown <= taken, f"not taken by any browser test: {sorted(shown - taken)}"
    missing = [name for name in shown if not (ROOT / "docs" / "screenshots" / f"{name}.png").exists()]
    assert not missing, missing
    for role in ("投标人", "主持人", "评标专家", "场地工作人员", "监督人员"):
        assert re.search(rf"^## .*{role}", guide, re.M), f"no section for {role}"
