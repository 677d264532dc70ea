"""The keys page makes an SM2 key for tenders of the 国密 suite (keys_sm2.js): generated in the
browser with sm.js, downloaded as a ``tender-key/sm2-v1`` file that crypto/gm_keys.py loads (with
sealbid's 600,000 iterations), the certificate request built and signed in the browser accepted by
the platform and, once approved, the SM2 CA's certificate is for that very key. Nothing of the key
is kept in the browser; the request waits until the bidder says the file is saved; the screens
pass check_screen in Chinese and in English."""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from crypto import gm_keys, keys
from tests.e2e.conftest import ROOT
from tests.e2e.screen import check_screen

pytestmark = pytest.mark.e2e
PASSWORD_TYPED = unicodedata.normalize("NFD", "国密密钥 café-2026")
PASSWORD = unicodedata.normalize("NFC", PASSWORD_TYPED).encode("utf-8")


def _shell(env, code: str) -> dict:
    res = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def _keys_page(browser, base: str, cookie: str, locale: str):
    context = browser.new_context(locale=locale, timezone_id="Asia/Shanghai", accept_downloads=True)
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    # PBKDF2 falling back to JavaScript (sm.js says so on the console) counts as an error here: the
    # key file is opened in the WebAssembly KDF Worker.
    page.on("console", lambda msg: page.js_errors.append(msg.text) if "Worker failed" in msg.text else None)
    page.set_default_timeout(30_000)
    page.goto(f"{base}/keys/")
    page.wait_for_selector("#keys-page[data-ready='1']")
    return context, page


def test_a_bidder_makes_an_sm2_key_and_requests_its_certificate_on_the_keys_page(browser, platform_server,
                                                                                    tmp_path: Path):
    env = platform_server.env
    who = _shell(env, "from tests.e2e.hall_gm_setup import build_sm2_keys_bidder; build_sm2_keys_bidder('page')")
    context, page = _keys_page(browser, platform_server, who["cookie"], "zh-CN")
    en_context, en = _keys_page(browser, platform_server, who["cookie"], "en-US")
    try:
        check_screen(en, "en bidder: the keys page with its SM2 panel")
        page.fill("#sm2-pw", PASSWORD_TYPED)
        page.fill("#sm2-pw2", PASSWORD_TYPED + "x")
        page.click("#sm2-gen-btn")
        assert page.get_attribute("#status", "data-state") == "error"  # the two passwords differ
        page.fill("#sm2-pw2", PASSWORD_TYPED)
        with page.expect_download(timeout=240_000) as download:
            page.click("#sm2-gen-btn")
        path = tmp_path / download.value.suggested_filename
        download.value.save_as(path)
        page.wait_for_selector("#status[data-state='generated']")
        key_id = page.get_attribute("#keys-page", "data-sm2-generated")
        assert download.value.suggested_filename == f"tender-key-sm2-{key_id}.json"
        data = path.read_bytes()
        assert json.loads(data)["iterations"] == keys.DEFAULT_ITERATIONS
        key = gm_keys.load_private_key_file(data, PASSWORD)  # Python loads what the browser wrote
        assert key.key_id == key_id
        with pytest.raises(keys.WrongPassword):
            gm_keys.load_private_key_file(data, PASSWORD + b"x")

        # The request waits for "I have saved the key file".
        assert page.is_visible("#sm2-step") and page.is_disabled("#sm2-csr-btn")
        check_screen(page, "zh bidder: an SM2 key generated, its file to save")
        page.check("#sm2-saved")
        page.click("#sm2-csr-btn")
        page.wait_for_selector("#status[data-state='requested']")
        assert key_id in page.text_content("#status") and page.is_hidden("#sm2-step")
        row = page.locator("#certs tr", has_text=key_id)
        assert "SM2" in row.inner_text()
        # Nothing of the SM2 key is in this browser's key store.
        assert page.evaluate("""async (id) => (await (await import("/static/frontend/crypto/keystore.js"))
          .listKeys()).some((k) => k.keyId === id)""", key_id) is False
        check_screen(page, "zh bidder: the SM2 certificate requested")

        issued = _shell(env, f"from tests.e2e.hall_gm_setup import approve_sm2_request; approve_sm2_request({who['org']})")
        assert issued == {"suite": "gm", "key_id": key_id, "status": "issued",
                          "point": key.public.point.hex(), "credit_code": who["credit_code"]}
        en.reload()
        en.wait_for_selector("#keys-page[data-certs='issued']")
        # Each suite's current certificate: the SM2 one, and none of the P-256 suite yet.
        assert en.get_attribute("#current-certs dd[data-suite='gm']", "data-key") == key_id
        assert en.get_attribute("#current-certs dd[data-suite='intl']", "data-key") == ""
        assert "none" in en.text_content("#current-certs dd[data-suite='intl']")
        page.reload()
        page.wait_for_selector("#keys-page[data-certs='issued']")
        assert key_id in page.text_content("#current-certs dd[data-suite='gm']")
        assert "国密算法（SM2）" in page.text_content("#current-certs")
        check_screen(en, "en bidder: the SM2 certificate issued")
        assert not page.js_errors and not en.js_errors, page.js_errors + en.js_errors
    finally:
        context.close()
        en_context.close()
