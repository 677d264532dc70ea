"""The browser's side of a pending completion (uploader.js ``completeUpload``; docs/envelope.md,
"A completion that could not be signed"): a 503 ``signing_unavailable`` is said to the bidder and
``complete`` asked again until receipted; any other error stops at once; Pause stops the waiting.
Run in Node on the module the page loads (it touches no DOM here), and the message's Chinese."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import need_tool

UPLOADER = Path(__file__).resolve().parents[2] / "frontend/static/frontend/uploader.js"

SCRIPT = """
import { completeUpload, Cancelled } from %(url)s;
const out = {};
const unavailable = Object.assign(new Error("HSM away"), { status: 503, code: "signing_unavailable" });
let calls = 0, pending = 0, retries = 0;
out.receipted = await completeUpload(async () => { calls += 1; if (calls < 3) throw unavailable; return { id: "s1" }; },
  { onPending: () => { pending += 1; }, onRetry: () => { retries += 1; }, retry: { firstMs: 1, maxMs: 4 } });
Object.assign(out, { calls, pending, retries });
try {
  await completeUpload(async () => { throw Object.assign(new Error("late"), { status: 409, code: "deadline_passed" }); },
    { retry: { firstMs: 1, maxMs: 1 } });
} catch (err) { out.other = err.code; }
let busy = 0;
out.afterBusy = await completeUpload(async () => { busy += 1; if (busy < 2) throw Object.assign(new Error("busy"), { code: "upload_busy" }); return { id: "s2" }; },
  { onPending: () => { out.busyPending = true; }, retry: { firstMs: 1, maxMs: 1 } });
const controller = new AbortController();
let asked = 0;
try {
  await completeUpload(async () => { asked += 1; throw unavailable; },
    { signal: controller.signal, onPending: () => setTimeout(() => controller.abort(), 5), retry: { firstMs: 60000, maxMs: 60000 } });
} catch (err) { out.paused = err instanceof Cancelled; }
out.asked = asked;
console.log(JSON.stringify(out));
"""


def test_a_completion_the_platform_cannot_sign_is_asked_again_until_receipted():
    node = need_tool("node")
    script = SCRIPT % {"url": json.dumps(UPLOADER.as_uri())}
    done = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["receipted"] == {"id": "s1"} and out["calls"] == 3 and out["pending"] == 2 and out["retries"] == 2
    assert out["other"] == "deadline_passed"  # not retried: only signing_unavailable is pending
    assert out["paused"] is True and out["asked"] == 1  # Pause ends the wait at once
    # The ticker completing the same upload holds its lock: asked again, not said to be pending.
    assert out["afterBusy"] == {"id": "s2"} and "busyPending" not in out


def test_the_pending_message_is_in_chinese_and_english():
    import re

    from django.utils import translation

    source = (UPLOADER.parents[2] / "views_bids.py").read_text()
    call = re.search(r'"signing_pending": _\((.*?)\),\n', source, re.S).group(1)
    msgid = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', call))
    assert msgid.startswith("The platform cannot sign receipts right now")
    with translation.override("zh-hans"):
        zh = translation.gettext(msgid)
    assert zh != msgid and "截止" in zh and "自动" in zh and "请求" in zh
