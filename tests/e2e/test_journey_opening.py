"""The bidder's and the host's journey in the browser, end to end, in separate browser contexts, once
in Chinese and once in English (each person's browser asks for the language): the host creates the
tender from its form (the 唱标 fields in the table editor) and publishes it; three bidders set up
keys (two generate, one imports a sealbid key file), the host approves their certificates, they seal
and upload in the browser (one loses the connection mid-upload, reloads and resumes), verify the
receipt, the hall opens, they decrypt from the browser, every bidder sees the same announcement, one
objects and the host answers, they all confirm with their signatures, and the opening record PDF says
so (``pdftotext``); the host then sets up the evaluation. Every screen on the way passes the
journeys' checks (tests/e2e/screen.py: no raw code, no UTC time, no untranslated label, no serious
accessibility violation). The Chinese run takes the guide's screenshots (docs/screenshots/).

The tender's deadline is about ten minutes ahead and, once the bids are in, is pulled to a few seconds
ahead with ``manage.py shell`` (to keep the suite short); ``manage.py ticker`` runs next to the server
for the hall's timers.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import need_tool
from tests.e2e.conftest import ticker_process, ROOT
from tests.e2e.screen import check_screen, text_problems

pytestmark = pytest.mark.e2e

SHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "demo-kaibiao-2026"
KEY_PASSWORD = "correct horse battery staple"
PRICES = {"bidder1": "1234567.89", "bidder2": "1,198,000", "bidder3": "1250000.5"}
PRICES_SHOWN = {"bidder1": "1,234,567.89", "bidder2": "1,198,000.00", "bidder3": "1,250,000.50"}
WAIT = 30_000
LOCALES = ["zh-CN", "en-US"]
# What the journeys read on the screen, in each language (the catalogue's words).
WORDS = {
    "zh-CN": {"yes": "是", "step_sign_in": "签到", "step_done": "结束", "status_draft": "草稿",
              "status_published": "投标中", "venue": "{name}（{region}，{seats} 个座位）"},
    "en-US": {"yes": "yes", "step_sign_in": "Sign-in", "step_done": "Done", "status_draft": "Draft",
              "status_published": "Open for bids", "venue": "{name} ({region}, {seats} seats)"},
}
VENUES = {"main": ("南京市公共资源交易中心评标室", "南京市", 9), "sub": ("苏州市公共资源交易中心评标室", "苏州市", 9)}


def manage(env, *args, timeout=120) -> str:
    res = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def shot(page, name: str, *, check: bool = True) -> None:
    """A screenshot for the guide, of a screen that passes the journeys' checks. The guide is
    Chinese: an English page is checked the same way and not photographed."""
    if check:
        check_screen(page, name)
    if not page.evaluate("() => document.documentElement.lang").lower().startswith("zh"):
        if os.environ.get("KB_SHOTS_EN"):  # to look at the English pages: a directory outside docs/
            page.screenshot(path=str(Path(os.environ["KB_SHOTS_EN"]) / f"{name}.png"), full_page=True)
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


# What sticks out past the screen's right edge: elements, and text overflowing its element.
WIDER = """(width) => {
  const out = [];
  const say = (e, right) => out.push(`${e.tagName.toLowerCase()}#${e.id}.${e.className} (${Math.round(right)} px): `
                                     + e.textContent.trim().slice(0, 60));
  for (const e of document.querySelectorAll("body *")) {
    if (e.parentElement.closest(".scroll") || !e.checkVisibility()) continue;
    const right = e.getBoundingClientRect().right;
    if (right > width) say(e, right);
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const e = n.parentElement;
    if (!e || e.closest(".scroll") || !n.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    const right = range.getBoundingClientRect().right;
    if (right > width) say(e, right);
  }
  return out.slice(-8);
}"""


def fits(page) -> None:
    """Nothing on the page is wider than the screen (no sideways scrolling)."""
    width = page.viewport_size["width"]
    if page.evaluate("document.documentElement.scrollWidth") > width:
        raise AssertionError(f"{page.url} is wider than {width} px:\n" + "\n".join(page.evaluate(WIDER, width)))


def venue_label(locale: str, venue: str) -> str:
    name, region, seats = VENUES[venue]
    return WORDS[locale]["venue"].format(name=name, region=region, seats=seats)


PULL_DEADLINE = """
from datetime import timedelta
from bidding.models import Lot
from common import clock
Lot.objects.filter(pk={lot}).update(bid_deadline=clock.now() + timedelta(seconds={seconds}))
"""


@pytest.fixture(scope="module")
def ticker(platform_server):
    with ticker_process(platform_server.env) as proc:
        yield proc


def person(browser, base: str, username: str, *, width: int = 1280, height: int = 900, locale: str = "zh-CN"):
    context = browser.new_context(locale=locale, timezone_id="Asia/Shanghai", accept_downloads=True,
                                  viewport={"width": width, "height": height})
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    page.set_default_timeout(WAIT)
    page.goto(base + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    return context, page


# --- pure module checks ---------------------------------------------------------------------------

def test_the_tar_writer_writes_what_python_tarfile_writes(crypto_page):
    names = ["manifest.json", "documents/投标函.pdf", "documents/" + "a" * 120 + ".txt", "documents/b.bin"]
    sizes = [37, 1000, 512, 0]
    out = crypto_page.evaluate("""async ([names, sizes]) => {
      const { tarBlob } = await import("/static/frontend/tar.js");
      const entries = names.map((name, i) => ({ name, data: new Uint8Array(sizes[i]).map((_, j) => (j * 7 + i) & 255) }));
      return kb.b64.encode(new Uint8Array(await tarBlob(entries).arrayBuffer()));
    }""", [names, sizes])
    from crypto.keys import b64decode
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for i, (name, size) in enumerate(zip(names, sizes)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = size, 0o644
            tar.addfile(info, io.BytesIO(bytes((j * 7 + i) & 255 for j in range(size))))
    assert b64decode(out) == buf.getvalue()


def test_money_is_converted_exactly_both_ways(crypto_page):
    got = crypto_page.evaluate("""async () => {
      const u = await import("/static/frontend/util.js");
      return [["1234567.89", "0.1", ".5", "1,000", "12.345", "-1", "1e5", "", "0.07", "99999999999999.99"].map(u.yuanToFen),
              ["123456789", "5", "0", "100", "999999999999999999"].map((f) => u.fenToYuan(f))];
    }""")
    assert got[0] == ["123456789", "10", "50", "100000", None, None, None, None, "7", "9999999999999999"]
    assert got[1] == ["1,234,567.89", "0.05", "0.00", "1.00", "9,999,999,999,999,999.99"]


# --- the journey ----------------------------------------------------------------------------------

def _generate_key(page, base: str, save_to: Path | None = None) -> str:
    page.goto(base + "/keys/")
    page.wait_for_selector("#keys-page[data-ready='1']")
    page.fill("#gen-pw", KEY_PASSWORD)
    page.fill("#gen-pw2", KEY_PASSWORD)
    with page.expect_download() as dl:
        page.click("#gen-btn")
    if save_to is not None:
        dl.value.save_as(save_to)
    backup = json.loads(Path(dl.value.path()).read_text())
    assert backup["format"] == "tender-key/v1"
    assert page.is_disabled("#csr-btn"), "no certificate request before the backup is confirmed saved"
    page.check("#backup-saved")
    return backup["key_id"]


def import_key(page, base: str, key_file, outcome: str) -> None:
    """Import a key backup on the key page; ``outcome`` is the status state it ends in."""
    page.goto(base + "/keys/")
    page.wait_for_selector("#keys-page[data-ready='1']")
    page.set_input_files("#imp-file", str(key_file))
    page.fill("#imp-pw", KEY_PASSWORD)
    page.click("#imp button[type=submit]")
    page.wait_for_selector(f"#status[data-state='{outcome}']")


@contextlib.contextmanager
def hall_at_width(browser, base: str, lot_id: int, username: str, width: int, height: int, locale: str = "zh-CN"):
    """The announced hall as ``username`` sees it at ``width`` px: nothing wider than the screen."""
    context, page = person(browser, base, username, width=width, height=height, locale=locale)
    try:
        page.goto(f"{base}/tenders/{lot_id}/hall/")
        page.click("#signin")
        page.wait_for_selector("#hall[data-announced='1']")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        yield page
        assert not page.js_errors
    finally:
        context.close()


def _request_certificate(page) -> None:
    page.click("#csr-btn")
    page.wait_for_selector("#status[data-state='requested']")
    page.wait_for_selector("#certs tr[data-status='pending']")


def _fill_bid(page, base, lot, username, files):
    page.goto(f"{base}/tenders/{lot}/bid/")
    page.wait_for_selector("#submit-page[data-ready='1']")
    page.wait_for_selector("#seal-btn:not([disabled])")
    page.fill("#f-price", PRICES[username])
    page.fill("#f-duration_days", "365")
    page.select_option("#f-quality", "合格")
    page.set_input_files("#files", [str(f) for f in files])


def _create_tender(host, base: str, locale: str) -> int:
    """The host creates the tender from the form (the 唱标 fields kept as the editor offers them) and
    publishes it: bids close about ten minutes from now, the hall's sign-in is open already."""
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    code = f"E2E-{locale[:2].upper()}"
    host.goto(base + "/tenders/new/")
    host.wait_for_selector("#announced-table tbody tr >> nth=2")  # the editor over the JSON field
    assert host.is_hidden("#id_announced_fields")  # no raw JSON box to type into
    host.fill("#id_project_code", code)
    host.fill("#id_project_title", "浏览器全流程项目")
    host.select_option("#id_tenderee", index=1)
    host.fill("#id_lot_code", "01")
    host.fill("#id_lot_title", "浏览器全流程标段")
    host.fill("#id_bid_deadline", (now + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M"))
    host.fill("#id_signin_opens_at", now.strftime("%Y-%m-%dT%H:%M"))
    host.fill("#id_decryption_window_minutes", "10")
    host.fill("#id_confirmation_window_minutes", "10")
    check_screen(host, f"{locale} host: the tender form filled in")
    host.click("main form button[type=submit]")
    host.wait_for_url(lambda url: "/tenders/new/" not in url)
    lot = int(host.url.rstrip("/").rsplit("/", 1)[1])
    words = WORDS[locale]
    assert host.inner_text("dd .badge") == words["status_draft"]
    check_screen(host, f"{locale} host: the draft tender")
    host.click(f"form[action='/tenders/{lot}/publish/'] button")
    host.wait_for_selector(f"dd .badge >> text={words['status_published']}")
    check_screen(host, f"{locale} host: the published tender")
    return lot


@pytest.mark.parametrize("locale", LOCALES)
def test_the_whole_opening_journey(browser, platform_server, ticker, tmp_path, locale):
    base, env = platform_server, platform_server.env
    other = "en-US" if locale == "zh-CN" else "zh-CN"
    # bidder3 does the whole job on a phone (390 px); the supervisor's browser asks for the other
    # language and the supervisor switches with the page's own language menu.
    people = {name: person(browser, base, name, locale=other if name == "supervisor" else locale,
                           **({"width": 390, "height": 844} if name == "bidder3" else {}))
              for name in ("bidder1", "bidder2", "bidder3", "host", "supervisor")}
    pages = {name: p for name, (_, p) in people.items()}
    bidders = ["bidder1", "bidder2", "bidder3"]
    host, sup = pages["host"], pages["supervisor"]
    lang = "zh-hans" if locale == "zh-CN" else "en"
    try:
        assert sup.evaluate("document.documentElement.lang") != lang
        with sup.expect_navigation():
            sup.select_option("#lang", lang)
        for name, page in pages.items():
            assert page.evaluate("document.documentElement.lang") == lang, name
        # 0. The host creates and publishes the tender.
        lot_id = _create_tender(host, base, locale)

        # 1. Keys: bidder1 and bidder2 generate theirs; bidder3 imports a key file made by sealbid.
        for name in ("bidder1", "bidder2"):
            _generate_key(pages[name], base)
            if name == "bidder1":
                shot(pages[name], "01-bidder-keys")
            _request_certificate(pages[name])
        check_screen(pages["bidder2"], f"{locale} bidder: certificate requested", axe=False)
        from crypto import keys
        key3 = keys.generate_bidder_key()
        key_file = tmp_path / "sealbid-key.json"
        key_file.write_bytes(keys.private_key_to_file(key3, KEY_PASSWORD.encode(), iterations=100_000))
        p3 = pages["bidder3"]
        import_key(p3, base, key_file, "imported")
        assert p3.get_attribute("#keys-page", "data-imported") == keys.key_id(key3.public_key())
        check_screen(p3, f"{locale} bidder: key imported (phone)")
        fits(p3)
        _request_certificate(p3)

        # 2. The host approves the three requests.
        host.goto(base + "/certificates/")
        host.wait_for_selector("#certs-page[data-ready='1']")
        host.wait_for_function("document.querySelectorAll('button[data-approve]').length >= 3")
        check_screen(host, f"{locale} host: certificate requests")
        # What the host checks before approving: the organisation and its unified social credit code.
        for row in host.locator("#certs tr:has(button[data-approve])").all():
            assert re.search(r"\b[0-9A-HJ-NPQRTUWXY]{18}\b", row.inner_text()), row.inner_text()
        for _ in range(3):
            n = host.locator("button[data-approve]").count()
            host.click("button[data-approve] >> nth=0")
            host.wait_for_function("n => document.querySelectorAll('button[data-approve]').length === n", arg=n - 1)
        for name in bidders:
            pages[name].reload()
            pages[name].wait_for_selector("#certs tr[data-status='issued']")
        check_screen(pages["bidder1"], f"{locale} bidder: certificate approved", axe=False)

        # 3. Seal and upload. bidder2's connection drops mid-upload; it reloads and resumes.
        docs = {}
        for name in bidders:
            d = tmp_path / name
            d.mkdir()
            big = 20 * 2**20 if name == "bidder2" else 200_000  # bidder2's: three PATCH bodies
            (d / "投标函.pdf").write_bytes(b"%PDF-1.4 " + name.encode() * (big // 8))
            (d / "technical.txt").write_text(f"{name} 技术标", encoding="utf-8")
            docs[name] = sorted(d.iterdir())
        for name in ("bidder1", "bidder3"):
            page = pages[name]
            _fill_bid(page, base, lot_id, name, docs[name])
            if name == "bidder1":
                check_screen(page, f"{locale} bidder: the bid form filled in")
            page.click("#seal-btn")
            page.wait_for_selector("#status[data-state='done']")
        check_screen(pages["bidder3"], f"{locale} bidder: bid submitted (phone)")
        fits(pages["bidder3"])
        page = pages["bidder2"]
        _fill_bid(page, base, lot_id, "bidder2", docs["bidder2"])
        patches = {"n": 0}

        def drop_after_one(route):
            if route.request.method == "PATCH":
                patches["n"] += 1
                if patches["n"] > 1:
                    return route.abort("internetdisconnected")
            return route.continue_()

        page.route("**/api/v1/uploads/**", drop_after_one)
        page.click("#seal-btn")
        page.wait_for_selector("#status[data-state='error']")
        offset = int(page.get_attribute("#submit-page", "data-offset"))
        size = int(page.get_attribute("#submit-page", "data-size"))
        assert 0 < offset < size
        shot(page, "02-upload-in-progress")
        page.unroute("**/api/v1/uploads/**")
        page.reload()
        page.wait_for_selector("#resume-panel:not([hidden])")
        check_screen(page, f"{locale} bidder: an upload to resume", axe=False)
        page.click("#resume-btn")
        page.wait_for_selector("#status[data-state='done']")

        # 4. Receipts verify in the browser.
        for name in bidders:
            page = pages[name]
            page.goto(f"{base}/tenders/{lot_id}/receipt/")
            page.wait_for_selector("#receipt-page[data-verified='true']")
            assert page.locator(".checks li.ok").count() == 5
        shot(pages["bidder2"], "03-receipt-verified")
        check_screen(pages["bidder3"], f"{locale} bidder: the receipt (phone)")
        fits(pages["bidder3"])

        # 5. The hall before the deadline: bidders sign in; host and supervisor watch.
        for name in bidders:
            page = pages[name]
            page.goto(f"{base}/tenders/{lot_id}/hall/")
            page.click("#signin")
            page.wait_for_selector("#hall[data-ready='1'][data-conn]")
        for name in ("host", "supervisor"):
            pages[name].goto(f"{base}/tenders/{lot_id}/hall/")
            pages[name].wait_for_selector("#hall[data-ready='1']")
        pages["bidder1"].fill("#chat-text", "请问开标时需要准备什么？")
        pages["bidder1"].click("#chat-form button")
        host.wait_for_selector("#chat li.from-bidder")
        host.fill("#chat-text", "请在解密开始后点击“解密”按钮。")
        # The host's chat picker names the bidder by its company, before the deadline as after it.
        picked = host.evaluate("() => document.getElementById('chat-org').selectedOptions[0].textContent")
        assert "公司" in picked and "#" not in picked, picked
        host.click("#chat-form button")
        pages["bidder1"].wait_for_selector("#chat li.from-host")
        host.wait_for_function("document.querySelectorAll('#presence li[data-role=bidder]').length === 3")
        pages["bidder1"].wait_for_function("document.getElementById('countdown').textContent.includes(':')")
        shot(pages["bidder1"], "04-hall-before-deadline")
        check_screen(host, f"{locale} host: the hall before the deadline")
        check_screen(sup, f"{locale} supervisor: the hall before the deadline", axe=False)
        check_screen(pages["bidder3"], f"{locale} bidder: the hall before the deadline (phone)", axe=False)
        fits(pages["bidder3"])

        # 6. The deadline: decryption starts by itself; each bidder decrypts from the browser.
        manage(env, "shell", "-c", PULL_DEADLINE.format(lot=lot_id, seconds=2))
        for name in bidders:
            pages[name].wait_for_selector("#hall[data-phase='decrypting']")
            pages[name].wait_for_selector("#decrypt:not([disabled])")
        host.wait_for_selector("#hall[data-phase='decrypting']")
        host.wait_for_selector("#progress-bar:not([hidden])")
        check_screen(host, f"{locale} host: decryption under way", axe=False)
        for name in bidders:
            pages[name].click("#decrypt")
        for name in bidders:
            pages[name].wait_for_selector("#hall[data-announced='1']")
        # The same table for everyone (bidder3's phone shows it as cards: each bid's facts, the same).
        tables = {name: pages[name].inner_text("#announcement") for name in bidders}
        assert tables["bidder1"] == tables["bidder2"]
        for name in bidders:
            assert PRICES_SHOWN[name] in tables["bidder1"] and PRICES_SHOWN[name] in tables["bidder3"]
        cards = " ".join(tables["bidder3"].split())
        for line in tables["bidder1"].splitlines()[1:]:  # each bid's cells, without its row number
            assert " ".join(line.split("\t")[1:]) in cards, line
        # The progress bar says the whole, the list each bid's state: every bid decrypted.
        host.wait_for_function("() => document.querySelectorAll('#bidders li[data-status=decrypted]').length === 3")
        assert host.get_attribute("#progress-bar", "value") == host.get_attribute("#progress-bar", "max")
        shot(pages["bidder2"], "05-hall-announcement")

        # 7. An objection, answered; the record; everyone confirms with a signature.
        b1 = pages["bidder1"]
        b1.fill("#object-text", "我公司报价的大写金额请主持人复核。")
        b1.click("#object-form button")
        host.wait_for_selector("#objections li[data-objection] .answer-text")
        host.fill("#objections .answer-text", "已复核，大写金额与小写一致。")
        host.click("#objections form button")
        for name in bidders:
            pages[name].wait_for_selector("#objections .answer")
        check_screen(b1, f"{locale} bidder: the objection answered", axe=False)
        # bidder1's company now holds an SM2 certificate too (issued after its P-256 one, for gm
        # tenders): this intl tender's record is still signed with the P-256 key.
        manage(platform_server.env, "shell", "-c",
               "from tests.e2e.hall_gm_setup import give_sm2_certificate; give_sm2_certificate('bidder1')")
        host.click("#start-confirmation")
        for name in bidders:
            pages[name].wait_for_selector("#hall[data-phase='confirming']")
        check_screen(pages["bidder3"], f"{locale} bidder: the record to confirm")
        for name in bidders:
            pages[name].click("#confirm")
        host.wait_for_selector("#hall[data-phase='closed']")
        assert host.locator("#confirmations li[data-state='confirmed']").count() == 3
        shot(host, "06-host-hall")
        sup.wait_for_selector("#hall[data-phase='closed']")
        assert sup.locator("#host-panel").count() == 0 and sup.locator("#chat-form").count() == 0
        check_screen(sup, f"{locale} supervisor: the closed hall")
        check_screen(b1, f"{locale} bidder: the closed hall", axe=False)

        # 8. The record as a PDF: a legal document in Chinese, Beijing times, labels and no codes. It
        # is the same whatever the page's language, so the Chinese run reads it (WeasyPrint is slow).
        if locale == "zh-CN":
            with host.expect_download(timeout=120_000) as dl:  # WeasyPrint: slow on a busy machine
                host.click("#record-pdf")
            pdf = tmp_path / "record.pdf"
            dl.value.save_as(pdf)
            text = subprocess.run([need_tool("pdftotext"), "-layout", str(pdf), "-"], capture_output=True,
                                  text=True, check=True).stdout
            for name in ("江苏宁建建设集团有限公司", "苏州金鸡湖路桥工程有限公司", "徐州淮海市政建设有限公司"):
                assert name in text
            assert "1234567.89" in text.replace(",", "")
            assert "大写金额" in text and "北京时间" in text
            problems = text_problems(text, chinese=True)
            assert not problems, "the opening record PDF:\n" + "\n".join(problems)
        # 9. The host sets up the evaluation of the opened lot: the draw, the venues and seats, the
        # session; then follows it. The bids are the three the opening decrypted.
        _set_up_evaluation(host, sup, base, lot_id, locale)
        # 10. The supervisors' console, and the hall at a tablet's width.
        sup.goto(base + "/console/")
        sup.wait_for_selector("#conn[data-state='connected']")
        sup.wait_for_selector("#entries tr >> nth=0")  # the snapshot has come
        shot(sup, "07-console")
        if locale == "zh-CN":  # the guide's tablet view; the English run goes straight to the phone's
            with hall_at_width(browser, base, lot_id, "bidder1", 768, 1024, locale) as tablet:
                shot(tablet, "08-hall-tablet")
        # And at a phone's 390 px: the 唱标 table as cards, every price whole and on screen.
        with hall_at_width(browser, base, lot_id, "bidder2", 390, 844, locale) as phone:
            boxes = phone.eval_on_selector_all("#announcement td.price", "(cells) => cells.map((c) => {"
                                               " const r = c.getBoundingClientRect(); return [r.left, r.right,"
                                               " c.scrollWidth <= c.clientWidth, c.textContent]; })")
            assert len(boxes) == 3 and all(0 <= left and right <= 390 and whole for left, right, whole, _ in boxes), boxes
            assert sorted(text for *_, text in boxes) == sorted(PRICES_SHOWN.values())
            shot(phone, "09-hall-phone")
        for name, page in pages.items():
            assert not page.js_errors, (name, page.js_errors)
    finally:
        for context, _ in people.values():
            context.close()


def _commit_from_the_page(page, form: str) -> None:
    """The page's script made a value and filled in its commitment; send it."""
    page.wait_for_function(f"() => (document.querySelector('{form} input[name=commitment]')?.value || '').length === 64")
    value = page.inner_text(f"{form} .draw-value")
    assert len(value) == 64 and value not in page.input_value(f"{form} input[name=commitment]")
    page.click(f"{form} button[type=submit]")


def _set_up_evaluation(host, sup, base, lot_id, locale) -> None:
    host.goto(f"{base}/tenders/{lot_id}/")
    host.click("#setup-link")
    host.wait_for_selector("#draw-form")
    host.fill("#id_quota_320100", "3")
    host.fill("#id_quota_320500", "1")
    host.click("#draw-form button[type=submit]")
    host.wait_for_selector("#draw-form .error[role=alert]")  # 4 < 5: said above the form, kept
    assert host.input_value("#id_quota_320100") == "3"
    shot(host, "host-03-draw-refused")
    host.fill("#id_quota_320500", "2")
    host.click("#draw-form button[type=submit]")
    # The draw in its steps (docs/draw.md): both commit, the host publishes the snapshot, both reveal.
    host.wait_for_selector("form.draw-commit")
    draw_id = host.get_attribute("#setup-page", "data-draw")
    shot(host, "host-04-draw-commit")
    _commit_from_the_page(host, "form.draw-commit")
    host.wait_for_selector("#snapshot-form")
    sup.goto(base + "/evaluation/draws/")
    _commit_from_the_page(sup, f"#draw-{draw_id} form.draw-commit")
    sup.wait_for_selector(f"#draw-{draw_id} tr[data-party='supervisor'] .mono")
    host.reload()
    host.click("#snapshot-form button[type=submit]")
    host.wait_for_selector("form.draw-reveal")
    assert len(host.input_value("form.draw-reveal input[name=value]")) == 64  # kept by the browser
    host.click("form.draw-reveal button[type=submit]")
    host.wait_for_selector(f"tr[data-party='host'] >> text={WORDS[locale]['yes']}")
    sup.goto(base + "/evaluation/draws/")
    sup.wait_for_selector(f"#draw-{draw_id} form.draw-reveal")
    shot(sup, "supervisor-01-draw-reveal")
    sup.click(f"#draw-{draw_id} form.draw-reveal button[type=submit]")
    sup.wait_for_selector("#no-open-draws")
    host.reload()
    host.wait_for_selector("#committee tbody tr >> nth=4")
    shot(host, "host-04-committee-drawn")
    host.select_option("#id_main_venue", label=venue_label(locale, "main"))
    host.get_by_label(venue_label(locale, "sub")).check()
    host.fill("#id_criteria", "资格审查：营业执照、资质证书\n符合性审查：投标报价不超过最高限价")
    host.fill("#id_items-0-id", "T1")
    host.select_option("#id_items-0-category", "technical")
    host.fill("#id_items-0-max", "60")
    host.fill("#id_items-1-id", "B1")
    host.select_option("#id_items-1-category", "business")
    host.select_option("#id_items-1-kind", "subjective")
    host.fill("#id_items-1-max", "10")
    host.click("#session-form button[type=submit]")
    host.wait_for_selector("#follow-panel")
    assert host.inner_text("#session-step") == WORDS[locale]["step_sign_in"]
    assert host.locator("table.seating tbody tr").count() == 5
    shot(host, "host-05-evaluation-follow")

