"""The pages under their Content-Security-Policy in a real browser: the shared behaviour still works
without inline handlers (the language switch), and the suite's violation check catches what the
policy blocks (every other browser test then fails on any violation, tests/e2e/conftest.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_a_blocked_inline_script_and_handler_are_caught_by_the_suites_check(page, platform_server,
                                                                           no_csp_violations):
    reported = no_csp_violations
    response = page.goto(platform_server + "/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.evaluate("""() => {
      const s = document.createElement("script");
      s.textContent = "window.injected = 1";
      document.body.append(s);
      const b = document.createElement("button");
      b.setAttribute("onclick", "window.clicked = 1");
      document.body.append(b);
      b.click();
    }""")
    assert page.evaluate("() => [window.injected, window.clicked]") == [None, None]
    for _ in range(50):  # the browser's reports arrive as events, shortly after
        if len(reported) >= 2:
            break
        page.wait_for_timeout(100)
    caught = list(reported)
    reported.clear()  # expected here; any other test fails on them
    assert len(caught) >= 2, caught
    assert any("inline" in text for text in caught), caught


def test_the_language_switch_works_without_an_inline_handler(page, platform_server):
    page.goto(platform_server + "/login/")
    assert page.evaluate("document.documentElement.lang") == "zh-hans"
    with page.expect_navigation():
        page.select_option("#lang", "en")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.js_errors == []


ADMIN_PAGES = ["/admin/", "/admin/bidding/lot/", "/admin/bidding/lot/1/change/", "/admin/bidding/project/1/change/",
               "/admin/evaluation/venue/1/change/", "/admin/accounts/user/", "/admin/accounts/user/1/change/"]


def test_the_admins_pages_and_widgets_run_under_the_policy(page, platform_server):
    from tests.e2e.test_journey_opening import PASSWORD

    page.goto(platform_server + "/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")
    for path in ADMIN_PAGES:
        response = page.goto(platform_server + path)
        assert response.status == 200, path
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
        page.wait_for_load_state("networkidle")
    # The venue's staff picker (filter_horizontal) is built by the admin's scripts: they ran.
    page.goto(platform_server + "/admin/evaluation/venue/1/change/")
    page.wait_for_selector("#id_staff_from", state="attached")
    assert page.js_errors == []


# The smallest WebAssembly module: the magic number and version 1, no sections.
EMPTY_WASM = [0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00]


def test_a_page_cannot_compile_webassembly_but_the_kdf_and_sm4_workers_can(page, platform_server, no_csp_violations):
    """The pages' policy has no 'wasm-unsafe-eval': the self-test page (which imports sm.js and so
    starts kdf_worker.js) is refused WebAssembly, the refusal is reported, and on the same page
    PBKDF2-HMAC-SM3 still runs in the KDF Worker and SM4-GCM in OpenSSL's module in an SM4 worker,
    whose own scripts' policy allows it."""
    from tests.e2e.conftest import CRYPTO_PAGE, ready_crypto_page

    reported = no_csp_violations
    response = page.goto(platform_server + CRYPTO_PAGE)
    assert "script-src 'self';" in response.headers["content-security-policy"]
    assert "wasm" not in response.headers["content-security-policy"]
    ready_crypto_page(page)
    got = page.evaluate("""async (bytes) => {
      const out = {};
      try { await WebAssembly.compile(new Uint8Array(bytes)); out.compile = "compiled"; }
      catch (e) { out.compile = e.name; }
      try { new WebAssembly.Module(new Uint8Array(bytes)); out.module = "compiled"; }
      catch (e) { out.module = e.name; }
      const engines = [];
      const key = await kb.sm.pbkdf2Sm3(new Uint8Array(8), new Uint8Array(16), 2000, 16,
                                        {engine: "worker", onEngine: (e) => engines.push(e)});
      out.worker = [key.length, engines];
      const sm4 = new Worker(new URL("/static/frontend/crypto/sm4_worker.js", location.href), {type: "module"});
      const r = await new Promise((resolve) => {
        sm4.onmessage = ({data}) => resolve(data);
        sm4.postMessage({id: 1, op: "seal", engine: "wasm", key: new Uint8Array(16), nonce: new Uint8Array(12), data: new Uint8Array(5)});
      });
      sm4.terminate();
      out.sm4 = [r.engine, r.out && r.out.length];
      return out;
    }""", EMPTY_WASM)
    assert got == {"compile": "CompileError", "module": "CompileError", "worker": [16, ["worker"]],
                   "sm4": ["openssl-3.0.20-wasm", 21]}
    for _ in range(50):  # the browser's reports arrive as events, shortly after
        if reported:
            break
        page.wait_for_timeout(100)
    caught = list(reported)
    reported.clear()  # expected here; any other test fails on them
    assert caught and all("script-src" in text for text in caught), caught
