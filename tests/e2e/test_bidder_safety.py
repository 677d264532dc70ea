"""What keeps a bidder from losing a bid by mistake, in the browser: an empty document is refused
before sealing; replacing a submitted bid asks first and shows what would be replaced (documents,
size, Beijing time, hash), and "keep" sends nothing; the form closes at the deadline and says why;
another company's key backup is refused on import. In Chinese and in English; each screen passes the
journeys' checks."""

from __future__ import annotations

import time

import pytest

from tests.e2e.screen import check_screen
from tests.e2e.test_journey_opening import LOCALES, PULL_DEADLINE, _generate_key, import_key, manage, person, shot

pytestmark = pytest.mark.e2e

CREATE_LOT = """
from datetime import timedelta
from bidding.models import Lot, Project
from common import clock
now = clock.now()
project = Project.objects.get(code="NJSZ-2026-0188")
lot = Lot.objects.create(project=project, code="SAFE-{lang}", title="投标安全演示标段", bid_deadline=now + timedelta(minutes=20),
    signin_opens_at=now, status="published", published_at=now, min_bids=3)
print(lot.pk)
"""

# What the page says, in each language (the catalogue's words).
SAYS = {
    "zh-CN": {"empty": "0 字节", "current": "有效（当前）", "beijing": ["北京时间", "年"], "closed": "截止",
              "other": "其他单位", "unreadable": "无法读取"},
    "en-US": {"empty": "0 bytes", "current": "Valid (current)", "beijing": ["Beijing time"], "closed": "deadline",
              "other": "another company", "unreadable": "cannot be read"},
}

MY_BID = """async (lot) => {
  const res = await fetch(`/api/v1/lots/${lot}/bid`, { credentials: "same-origin" });
  return res.ok ? (await res.json()).sha256 : res.status;
}"""


def _fill(page, base, lot, price, files):
    page.goto(f"{base}/tenders/{lot}/bid/")
    page.wait_for_selector("#submit-page[data-ready='1']")
    page.wait_for_selector("#seal-btn:not([disabled])")
    page.fill("#f-price", price)
    page.fill("#f-duration_days", "300")
    page.select_option("#f-quality", "合格")
    page.set_input_files("#files", [str(f) for f in files])


@pytest.mark.parametrize("locale", LOCALES)
def test_a_bidder_cannot_lose_a_bid_by_mistake(browser, platform_server, tmp_path, locale):
    base, env = platform_server, platform_server.env
    says = SAYS[locale]
    lot = int(manage(env, "shell", "-c", CREATE_LOT.replace("{lang}", locale[:2].upper())).strip().splitlines()[-1])
    (bctx, bidder), (hctx, host), (octx, other) = (person(browser, base, n, locale=locale)
                                                   for n in ("bidder4", "host", "bidder5"))
    try:
        # A key and its certificate, approved by the host; the backup file is kept for later.
        backup = tmp_path / "bidder4-key.json"
        key_id = _generate_key(bidder, base, save_to=backup)
        bidder.click("#csr-btn")
        bidder.wait_for_selector("#status[data-state='requested']")
        host.goto(base + "/certificates/")
        host.wait_for_selector(f"#certs-page[data-ready='1'] tr:has-text('{key_id}') button[data-approve]")
        check_screen(host, f"{locale} host: certificate requests")
        host.click(f"tr:has-text('{key_id}') button[data-approve]")
        bidder.reload()
        bidder.wait_for_selector("#certs tr[data-status='issued']")

        docs = tmp_path / "docs"
        docs.mkdir()
        (docs / "投标函.pdf").write_bytes(b"%PDF-1.4 first bid " * 500)
        (docs / "空白.pdf").write_bytes(b"")
        (docs / "投标函-修正.pdf").write_bytes(b"%PDF-1.4 second bid " * 700)

        # An empty document is refused before anything is sealed or sent.
        _fill(bidder, base, lot, "1000000", [docs / "投标函.pdf", docs / "空白.pdf"])
        bidder.click("#seal-btn")
        bidder.wait_for_selector("#status[data-state='error']")
        assert "空白.pdf" in bidder.inner_text("#f-files-err") and says["empty"] in bidder.inner_text("#f-files-err")
        assert bidder.evaluate(MY_BID, lot) == 404
        check_screen(bidder, f"{locale} bidder: empty document refused")

        # So is one that cannot be read any more: changed on disk after it was chosen (the browser
        # then refuses to read it, as when a network drive goes away).
        gone = docs / "丢失.pdf"
        gone.write_bytes(b"%PDF-1.4 first version " * 100)
        _fill(bidder, base, lot, "1000000", [docs / "投标函.pdf", gone])
        time.sleep(1.1)  # a later modification time than the one the browser took
        gone.write_bytes(b"%PDF-1.4 changed since " * 120)
        bidder.click("#seal-btn")
        bidder.wait_for_selector("#status[data-state='error']")
        refused = bidder.inner_text("#f-files-err")
        assert "丢失.pdf" in refused and says["unreadable"] in refused, refused
        assert bidder.evaluate(MY_BID, lot) == 404

        # The first bid goes in without a question.
        bidder.set_input_files("#files", [str(docs / "投标函.pdf")])
        bidder.click("#seal-btn")
        bidder.wait_for_selector("#status[data-state='done']")
        first = bidder.evaluate(MY_BID, lot)

        # Again, with a new price: the dialog shows what would be replaced; "keep" sends nothing.
        _fill(bidder, base, lot, "990000", [docs / "投标函-修正.pdf"])
        current = bidder.inner_text("#current")
        assert says["current"] in current and first in current and "投标函.pdf" in current, current
        bidder.click("#seal-btn")
        bidder.wait_for_selector("#replace-dialog[open]")
        facts = bidder.inner_text("#replace-facts")
        assert "投标函.pdf" in facts and first in facts and all(w in facts for w in says["beijing"]), facts
        shot(bidder, "bidder-02-replace-confirm")
        bidder.click("#replace-no")
        bidder.wait_for_selector("#status[data-state='kept']")
        assert bidder.evaluate(MY_BID, lot) == first
        bidder.click("#seal-btn")
        bidder.wait_for_selector("#replace-dialog[open]")
        bidder.click("#replace-yes")
        bidder.wait_for_selector("#status[data-state='done']")
        second = bidder.evaluate(MY_BID, lot)
        assert second != first and second in bidder.inner_text("#current")

        # The deadline comes while the page is open: the form closes and says why.
        manage(env, "shell", "-c", PULL_DEADLINE.format(lot=lot, seconds=3))
        bidder.reload()
        bidder.wait_for_selector("#submit-page[data-ready='1']")
        bidder.wait_for_selector("#closed-reason:not([hidden])", timeout=15_000)
        assert bidder.is_disabled("#seal-btn") and bidder.is_disabled("#files")
        assert says["closed"] in bidder.inner_text("#closed-reason")
        shot(bidder, "bidder-03-closed-at-deadline")
        bidder.reload()  # and the server says so too, after a reload
        bidder.wait_for_selector("#closed-reason:not([hidden])")
        assert bidder.is_disabled("#seal-btn")

        # Another company's key backup is refused on import, with the reason.
        import_key(other, base, backup, "error")
        assert other.get_attribute("#keys-page", "data-refused") == key_id
        assert says["other"] in other.inner_text("#status")
        assert other.locator(f"#csr-key option[value='{key_id}']").count() == 0
        check_screen(other, f"{locale} bidder: another company's key refused")
        for page in (bidder, host, other):
            assert not page.js_errors, page.js_errors
    finally:
        for context in (bctx, hctx, octx):
            context.close()
