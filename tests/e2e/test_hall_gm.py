"""Issue #14: the hall opens a gm-v1 bid in the browser. A bidder of a 国密 tender opens its SM2 key
file (``tender-key/sm2-v1``, written by Python as ``sealbid keygen --suite gm`` writes it) in the
hall with its password, unwraps its bid's file key from the gm-v1 header there, releases it with
``hall.release_key``; the platform accepts it and decrypts, the bidder sees its own 唱标 at once
and, once the other two bidders have released theirs with sealbid's API, the announcement; it then
confirms the record with an SM2 signature by the same key file (another bidder's refused). No
file, no password, a P-256 key file, another bidder's SM2 key file and a wrong password are each
refused with their own message, in Chinese and in English; the screens pass check_screen."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from crypto import keys
from tests.e2e.conftest import ROOT, ticker_process
from tests.e2e.screen import check_screen

pytestmark = pytest.mark.e2e
WAIT = 30_000
FAST = keys.MIN_ITERATIONS  # the format's minimum: a few seconds of HMAC-SM3 per attempt here
PULL_DEADLINE = """
from datetime import timedelta
from bidding.models import Lot
from common import clock
Lot.objects.filter(pk={lot}).update(bid_deadline=clock.now() + timedelta(seconds=2))
"""
MESSAGES = {
    "zh-CN": {"gm_choose_file": "请先选择您的 SM2 密钥文件", "gm_password_needed": "请输入密钥文件的口令",
              "gm_p256_file": "这是 P-256 密钥文件", "gm_other_key": "不是您的投标文件加密所用的证书密钥",
              "gm_wrong_password": "密钥文件口令错误", "released": "文件密钥已提交"},
    "en-US": {"gm_choose_file": "Choose your SM2 key file", "gm_password_needed": "Enter the key file's password",
              "gm_p256_file": "This is a P-256 key file", "gm_other_key": "not the key of your certificate",
              "gm_wrong_password": "Wrong password for this key file", "released": "File key released"},
}


def _manage(env, code: str) -> str:
    res = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


@pytest.fixture(scope="module")
def setup(platform_server) -> dict:
    out = _manage(platform_server.env, f"from tests.e2e.hall_gm_setup import build_gm_hall; build_gm_hall({FAST})")
    return json.loads(out.strip().splitlines()[-1])


def _hall(browser, base: str, cookie: str, lot: int, locale: str):
    context = browser.new_context(locale=locale, timezone_id="Asia/Shanghai")
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    # PBKDF2 falling back to JavaScript (sm.js says so on the console) counts as an error here: the
    # key file is opened in the WebAssembly KDF Worker.
    page.on("console", lambda msg: page.js_errors.append(msg.text) if "Worker failed" in msg.text else None)
    page.set_default_timeout(WAIT)
    page.goto(f"{base}/tenders/{lot}/hall/")
    page.click("#signin")
    page.wait_for_selector("#hall[data-ready='1']")
    return context, page


def _key_file(page, name: str, text: str) -> None:
    page.set_input_files("#gm-key-file", files=[{"name": name, "mimeType": "application/json",
                                                 "buffer": text.encode("utf-8")}])


def _refused(page, code: str, locale: str) -> str:
    page.click("#decrypt")
    page.wait_for_selector(f"#status[data-code='{code}']", timeout=120_000)
    text = page.text_content("#status")
    assert MESSAGES[locale][code] in text, text
    page.wait_for_selector("#decrypt:not([disabled])")  # the bid is still pending: try again
    return text


def _release_with_sealbid_api(base: str, who: dict, lot: int) -> None:
    """What ``sealbid open`` sends: POST /lots/{id}/decryption with the file key and commitment."""
    body = json.dumps({"file_key": who["file_key"], "commitment": who["commitment"]}).encode()
    req = urllib.request.Request(f"{base}/api/v1/lots/{lot}/decryption", data=body, method="POST",
                                 headers={"Authorization": f"Bearer {who['token']}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as res:
        assert res.status == 200, res.read()


def test_a_bidder_opens_its_gm_bid_in_the_hall_with_its_sm2_key_file(browser, platform_server, setup):
    base, lot, bidders = platform_server, setup["lot"], setup["bidders"]
    alice, bob = bidders["alice"], bidders["bob"]
    contexts = []
    with ticker_process(platform_server.env):
        try:
            context, zh = _hall(browser, base, alice["cookie"], lot, "zh-CN")
            contexts.append(context)
            context, en = _hall(browser, base, alice["cookie"], lot, "en-US")
            contexts.append(context)
            for page in (zh, en):  # the key file's inputs are on the page before the opening
                assert page.is_visible("#gm-key-file") and page.is_visible("#gm-key-password")
                assert page.is_disabled("#decrypt")
            check_screen(zh, "zh bidder: the gm hall before the deadline")
            check_screen(en, "en bidder: the gm hall before the deadline")

            _manage(platform_server.env, PULL_DEADLINE.format(lot=lot))
            for page in (zh, en):
                page.wait_for_selector("#hall[data-phase='decrypting']")
                page.wait_for_selector("#decrypt:not([disabled])")

            # Each refusal its own message, in each language; nothing is released.
            for page, locale in ((zh, "zh-CN"), (en, "en-US")):
                _refused(page, "gm_choose_file", locale)
                _key_file(page, "tender-key.json", alice["key_file"])
                _refused(page, "gm_password_needed", locale)
                page.fill("#gm-key-password", setup["password"])
                _key_file(page, "p256-key.json", setup["p256_key_file"])
                _refused(page, "gm_p256_file", locale)
                _key_file(page, "bob-sm2.json", bob["key_file"])
                text = _refused(page, "gm_other_key", locale)
                assert bob["key_id"] in text and alice["key_id"] in text
                _key_file(page, "tender-key.json", alice["key_file"])
                page.fill("#gm-key-password", setup["password"] + "x")
                _refused(page, "gm_wrong_password", locale)
            check_screen(en, "en bidder: a wrong key file password")
            check_screen(zh, "zh bidder: a wrong key file password")
            assert zh.get_attribute("#hall", "data-mine") == "pending"

            # The right file and password: the file key is released and the platform decrypts.
            zh.fill("#gm-key-password", setup["password"])
            zh.click("#decrypt")
            zh.wait_for_selector("#hall[data-mine='decrypted']", timeout=120_000)
            assert MESSAGES["zh-CN"]["released"] in zh.text_content("#status")
            assert zh.get_attribute("#status", "data-code") is None
            assert zh.input_value("#gm-key-password") == ""
            assert zh.is_hidden("#gm-key")  # needed once: gone once the bid is decrypted
            assert "1,234,567.89" in zh.inner_text("#mine-fields")  # its own 唱标 at once
            en.wait_for_selector("#hall[data-mine='decrypted']")
            check_screen(zh, "zh bidder: its gm bid decrypted")

            # The other two release with sealbid's API; the announcement is published to all.
            for name in ("bob", "carol"):
                _release_with_sealbid_api(base, bidders[name], lot)
            for page in (zh, en):
                page.wait_for_selector("#hall[data-announced='1']")
            table = zh.inner_text("#announcement")
            for name, price in (("alice", "1,234,567.89"), ("bob", "1,198,000.00"), ("carol", "1,250,000.50")):
                assert bidders[name]["name"] in table and price in table, table
            check_screen(zh, "zh bidder: the gm announcement")
            check_screen(en, "en bidder: the gm announcement")

            # The record: a gm tender's is confirmed with an SM2 signature by the same key file.
            host_context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
            contexts.append(host_context)
            host_context.add_cookies([{"name": "sessionid", "value": setup["host_cookie"], "url": base}])
            host = host_context.new_page()
            host.set_default_timeout(WAIT)
            host.goto(f"{base}/tenders/{lot}/hall/")
            host.wait_for_selector("#start-confirmation:not([disabled])")
            host.click("#start-confirmation")
            zh.wait_for_selector("#hall[data-phase='confirming']")
            zh.wait_for_selector("#confirm:not([disabled])")
            assert zh.is_visible("#gm-key")  # needed again, to sign
            # alice holds a P-256 certificate too (issued after the SM2 one): the hall signs with
            # the certificate of the tender's suite, not the first issued one.
            held = zh.evaluate("""async () => (await (await fetch("/api/v1/certificates/current")).json())
              .map((c) => [c.suite, c.key_id])""")
            assert sorted(held) == sorted([["gm", alice["key_id"]], ["intl", setup["alice_p256_key_id"]]])
            _key_file(zh, "bob-sm2.json", bob["key_file"])
            zh.fill("#gm-key-password", setup["password"])
            zh.click("#confirm")
            zh.wait_for_selector("#status[data-code='gm_other_key']", timeout=120_000)
            _key_file(zh, "tender-key.json", alice["key_file"])
            zh.click("#confirm")
            zh.wait_for_selector("#status[data-state='confirmed']", timeout=120_000)
            host.wait_for_selector("#confirmations li[data-state='confirmed']")
            assert alice["name"] in host.inner_text("#confirmations li[data-state='confirmed']")
            assert zh.is_hidden("#gm-key")
            check_screen(zh, "zh bidder: the gm record confirmed")
            assert not zh.js_errors and not en.js_errors, zh.js_errors + en.js_errors
        finally:
            for context in contexts:
                context.close()
