"""The embedded demo without a media server (docs/media.md, "The pages"): the hall's and the venues'
media panels say 视频不可用 / video unavailable and the rest of the page works — with media not
configured and no ``janus`` on PATH (the embedded defaults), and with Janus configured but not
answering (a closed port)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT, _server_env, _watch_csp, demo_platform
from tests.e2e.screen import check_screen

pytestmark = pytest.mark.e2e
WAIT = 30_000


def _path_without_janus() -> str:
    return os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep)
                           if not (shutil.which("janus", path=d) or shutil.which("janus-pp-rec", path=d)))


@pytest.fixture(scope="module", params=["not_configured", "no_answer"])
def server(request, chromium_path, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp(f"nomedia-{request.param}")
    env = _server_env(var_dir)
    for key in [k for k in env if k.startswith("MEDIA_")]:
        del env[key]
    if request.param == "not_configured":
        env["PATH"] = _path_without_janus()
    else:  # configured, but nothing listens there
        env.update(MEDIA_JANUS_WS="ws://127.0.0.1:9", MEDIA_JANUS_API="http://127.0.0.1:9/janus",
                   MEDIA_TOKEN_SECRET="t" * 32, MEDIA_ADMIN_KEY="a" * 16, MEDIA_ROOM_SECRET="r" * 16)
    with demo_platform(env, var_dir) as base:
        yield base, request.param


def test_the_hall_says_video_unavailable_and_works_on(browser, server, no_csp_violations):
    base, why = server
    res = subprocess.run([sys.executable, "manage.py", "shell", "-c",
                          "from tests.e2e.hall_setup import build_hall; build_hall()"],
                         cwd=ROOT, env=base.env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    hall = json.loads(res.stdout.strip().splitlines()[-1])
    contexts = []
    try:
        pages = {}
        for who, lang in (("host", "zh-CN"), ("bidder4", "zh-CN"), ("bidder5", "en-US")):
            ctx = browser.new_context(locale=lang, timezone_id="Asia/Shanghai")
            contexts.append(ctx)
            _watch_csp(ctx)
            ctx.add_cookies([{"name": "sessionid", "value": hall["cookies"][who], "url": base},
                             {"name": "django_language", "value": "en" if lang == "en-US" else "zh-hans", "url": base}])
            page = ctx.new_page()
            page.set_default_timeout(WAIT)
            errors: list[str] = []
            page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
            page.goto(f"{base}/tenders/{hall['lot']}/hall/")
            pages[who] = (page, errors)
        host = pages["host"][0]
        host.wait_for_selector("#hall[data-ready='1']")
        for who in ("bidder4", "bidder5"):
            page = pages[who][0]
            page.click("#signin")  # the hall itself works: signing in, presence
            page.wait_for_selector("#hall[data-ready='1']")
        host.wait_for_function("document.querySelectorAll('#presence li[data-role=bidder]').length === 2")
        for who, (page, errors) in pages.items():
            page.wait_for_selector("#media[data-media='unavailable']")
            text = page.inner_text("#media .media-status")
            assert text == ("Video unavailable" if who == "bidder5" else "视频不可用"), (why, who, text)
            assert page.locator("#media video").count() == 0
            assert not errors, (why, who, errors)
        check_screen(pages["bidder4"][0], f"the hall without media ({why})")
        check_screen(pages["bidder5"][0], f"the hall without media, in English ({why})")
    finally:
        for ctx in contexts:
            ctx.close()
