"""The submit page while the platform cannot sign a receipt (docs/envelope.md, "A completion that
could not be signed"): `complete` answered 503 `signing_unavailable` is not an error for the bidder
— the page says, in Chinese, that every byte is in and the bid is kept even past the deadline, asks
again by itself (uploader.js ``completeUpload``), and shows the receipt once one is signed. The
platform's answers are replaced on the way (Playwright's routing); the server side of a pending
completion is tests/bidding/test_pending_completion.py."""

from __future__ import annotations

import json

import pytest

from tests.e2e.uploading import bidder_page, fill_bid, setup_bidder, write_document

pytestmark = pytest.mark.e2e
MiB = 2**20
UNAVAILABLE = {"error": {"code": "signing_unavailable", "temporary": True,
                         "message": "The platform cannot sign right now: nothing was recorded, try again shortly"}}


def test_the_page_says_the_bid_is_kept_and_asks_again_until_receipted(browser, platform_server, tmp_path):
    who = setup_bidder(platform_server.env, "pending")
    document = tmp_path / "bid.pdf"
    write_document(document, 2 * MiB)
    context, page = bidder_page(browser, platform_server, who)
    answers, seen = [], []

    def hsm_away_twice(route):
        if len(answers) < 2:
            answers.append(503)
            route.fulfill(status=503, content_type="application/json", body=json.dumps(UNAVAILABLE))
        else:
            answers.append("through")
            route.continue_()

    try:
        fill_bid(page, [document])
        page.route("**/api/v1/uploads/*/complete", hsm_away_twice)
        page.click("#seal-btn")
        page.wait_for_selector("#status[data-state='pending']", timeout=120_000)
        seen.append(page.text_content("#status"))
        page.wait_for_selector("#status[data-state='done']", timeout=60_000)
        assert answers == [503, 503, "through"]
        text = seen[0]
        assert "截止时间已过" in text and "自动" in text and "signing_unavailable" not in text, text
        assert page.get_attribute("#status", "data-state") == "done"
        assert page.js_errors == []
    finally:
        context.close()
