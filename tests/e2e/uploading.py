"""The bidder's submit page driven as a person does, with the page's own measurements: what the
upload tests (``test_browser_upload.py``) and the upload benchmark (``bench/bench_upload.py``)
share. The page's long tasks (PerformanceObserver), the moments its progress text changed and
the moment the seal button was pressed are recorded from before the page's own scripts run."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

from tests.e2e.upload_setup import KEY_PASSWORD

ROOT = Path(__file__).resolve().parents[2]

WAIT = 60_000

OBSERVE = """(() => {
  const kb = window.__kb = { longtasks: [], bar: [], clicked: null, phases: [], finished: null };
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) kb.longtasks.push([e.startTime, e.duration]);
    }).observe({ type: "longtask", buffered: true });
  } catch (e) { kb.longtasks = null; }
  document.addEventListener("click", (e) => {
    if (e.target.id === "seal-btn" || e.target.id === "resume-btn") kb.clicked = performance.now();
  }, true);
  document.addEventListener("DOMContentLoaded", () => {
    const text = document.getElementById("bar-text");
    if (text) new MutationObserver(() => kb.bar.push(performance.now()))
      .observe(text, { childList: true, characterData: true, subtree: true });
    // The moment the page shows the outcome (the receipt, or an error), as the person sees it.
    const status = document.getElementById("status");
    if (status) new MutationObserver(() => {
      if (["done", "error"].includes(status.dataset.state)) kb.finished ??= performance.now();
    }).observe(status, { attributes: true, attributeFilter: ["data-state"] });
    const root = document.getElementById("submit-page");
    let phase = null;
    if (root) new MutationObserver(() => {
      if (root.dataset.phase !== phase) kb.phases.push([phase = root.dataset.phase, performance.now()]);
    }).observe(root, { attributes: true, attributeFilter: ["data-phase"] });
  });
})();"""

IMPORT_KEY = """async ({keyFile, password}) => {
  const { importBidderKey } = await import("/static/frontend/signkeys.js");
  const { decode } = await import("/static/frontend/crypto/b64.js");
  await importBidderKey(decode(keyFile), password);
}"""


def setup_bidder(env: dict[str, str], tag: str) -> dict:
    """A bidder of its own with a certificate, and a published lot (``upload_setup.py``)."""
    res = subprocess.run([sys.executable, "manage.py", "shell", "-c",
                          f"from tests.e2e.upload_setup import build_upload; build_upload({tag!r})"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def bidder_page(browser, base: str, who: dict, tuning: dict | None = None):
    """A signed-in context on the lot's submit page, its key imported into the browser; ``tuning``
    overrides the upload pipeline's sizes (uploader.js ``tuning()``)."""
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    context.add_cookies([{"name": "sessionid", "value": who["cookie"], "url": base}])
    context.add_init_script(OBSERVE)
    tuning = tuning or json.loads(os.environ.get("E2E_UPLOAD_TUNING", "null") or "null")
    if tuning:
        context.add_init_script(f"sessionStorage.setItem('kb-upload-tuning', {json.dumps(json.dumps(tuning))})")
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    page.set_default_timeout(WAIT)
    page.goto(f"{base}/tenders/{who['lot']}/bid/")
    page.wait_for_selector("#submit-page[data-ready='1']")
    page.evaluate(IMPORT_KEY, {"keyFile": who["key_file"], "password": KEY_PASSWORD})
    page.reload()
    page.wait_for_selector("#seal-btn:not([disabled])")
    return context, page


def fill_bid(page, files: list[Path], price: str = "1234567.89") -> None:
    page.fill("#f-price", price)
    page.fill("#f-duration_days", "365")
    page.select_option("#f-quality", "合格")
    page.set_input_files("#files", [str(f) for f in files])


def write_document(path: Path, size: int) -> str:
    """A document of ``size`` bytes made on the fly (each MiB a different rotation of one random
    MiB); returns its SHA-256."""
    block, digest = os.urandom(2**20), hashlib.sha256()
    with open(path, "wb") as f:
        for i in range(0, size, 2**20):
            n = i // 2**20 % 2**20
            piece = (block[n:] + block[:n])[: size - i]
            digest.update(piece)
            f.write(piece)
    return digest.hexdigest()


def page_figures(page) -> dict:
    """What the page recorded: long tasks, progress text changes, the press of the button (seal
    or resume); ``job_tasks`` are the long tasks from that press on (the job's, not the page load's)."""
    kb = page.evaluate("() => window.__kb")
    kb["job_tasks"] = [d for t, d in (kb["longtasks"] or []) if kb["clicked"] is not None and t >= kb["clicked"]]
    return kb


def gaps_ms(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:])]


def stored_envelope(env: dict[str, str], lot: int) -> Path:
    found = sorted((Path(env["KAIBIAO_VAR_DIR"]) / "storage").glob(f"bids/{lot}/*/*.tenv"))
    assert len(found) == 1, found
    return found[0]


def open_package(envelope_path: Path, private_key) -> dict:
    """Open a stored envelope with the bidder's key, streaming its package through ``tarfile``:
    the manifest, and each member's size and SHA-256 (nothing is held whole in memory)."""
    from crypto.envelope import open_envelope, read_header, unwrap_file_key

    with open(envelope_path, "rb") as f:
        file_key = unwrap_file_key(read_header(f), private_key)
    r, w = os.pipe()
    failure: list[BaseException] = []

    def decrypt():
        try:
            with open(envelope_path, "rb") as f, os.fdopen(w, "wb") as out:
                open_envelope(f, out, file_key=file_key)
        except BaseException as exc:  # noqa: BLE001 - reported by the reader below
            failure.append(exc)

    thread = threading.Thread(target=decrypt)
    thread.start()
    members = {}
    with os.fdopen(r, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            data, digest = tar.extractfile(member), hashlib.sha256()
            manifest = b""
            while chunk := data.read(2**20):
                digest.update(chunk)
                if member.name == "manifest.json":
                    manifest += chunk
            members[member.name] = {"size": member.size, "sha256": digest.hexdigest()}
            if manifest:
                members["manifest"] = json.loads(manifest)
    thread.join()
    assert not failure, failure
    return members
