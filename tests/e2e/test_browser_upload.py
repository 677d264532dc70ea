"""The bidder's browser seals and uploads a large bid in bounded memory (docs/browser-crypto.md,
"Uploading"): a large document generated for the test (256 MiB, or 1 GiB) seals and uploads from the submit page,
resumes after a reload mid-way, its envelope opens to exactly the chosen document, the receipt
verifies in the page; meanwhile the renderer's memory, the page's long tasks and the progress text's
updates are measured, printed, and held to bounds that a shared, loaded machine keeps but a page
holding the bid or hashing on its own thread does not (the goals are compared in the docs). Also:
pause stops at once and resume finishes; a receipt for other bytes is refused; the SHA-256 Worker
agrees with Python's on every size around its boundaries.

``E2E_UPLOAD_MIB`` sets the large document's size: 256 in the suite, 1024 for the full journey
(``E2E_UPLOAD_MIB=1024 pytest -m e2e tests/e2e/test_browser_upload.py``, about 2.5 minutes here).
The 1 GiB run used to stall in the documents' hashing at about 960 MiB (a BYOB read of the File);
the Worker now reads in segments and gives a stalled read up (docs/browser-crypto.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import time

import pytest

from crypto import keys
from tests.e2e.memory import PeakSampler
from tests.e2e.uploading import (
    bidder_page, fill_bid, gaps_ms, open_package, page_figures, setup_bidder, stored_envelope, write_document,
)

pytestmark = pytest.mark.e2e
MiB = 2**20
LARGE = int(os.environ.get("E2E_UPLOAD_MIB", "256")) * MiB
LONG_WAIT = 900_000  # a 1 GiB job on a shared machine under heavy load


def _state(page) -> dict:
    return page.evaluate("() => ({...document.getElementById('submit-page').dataset,"
                         " status: document.getElementById('status').textContent})")


def _until(page, condition: str, wait=LONG_WAIT):
    """Wait until ``condition`` (on the submit page's dataset ``d``) holds; fail at once, with the
    page's state, when the status line shows an error, or after ``wait`` ms."""
    try:
        page.wait_for_function("() => { const d = document.getElementById('submit-page').dataset;"
                               " const s = document.getElementById('status').dataset.state;"
                               f" return s === 'error' || ({condition}); }}", timeout=wait, polling=100)
    except Exception:
        pytest.fail(f"timed out waiting for {condition}: {_state(page)}")
    assert page.get_attribute("#status", "data-state") != "error", _state(page)


def _done(page, wait=LONG_WAIT):
    _until(page, "document.getElementById('status').dataset.state === 'done'", wait)


def test_a_large_bid_seals_uploads_resumes_after_a_reload_and_its_receipt_verifies(browser, platform_server, tmp_path):
    who = setup_bidder(platform_server.env, "big")
    document = tmp_path / "施工图纸.bin"
    digest = write_document(document, LARGE)
    context, page = bidder_page(browser, platform_server, who)
    try:
        fill_bid(page, [document])
        page.evaluate("() => window.gc && window.gc()")
        with PeakSampler() as sampler:
            marks = {"start": time.monotonic()}
            page.click("#seal-btn")
            _until(page, "d.phase === 'uploading'")
            marks["uploading"] = time.monotonic()
            # Half-way through the upload, the page reloads (the tab closed, the laptop slept).
            _until(page, "d.phase === 'uploading' && 2 * Number(d.offset) > Number(d.size)")
            before = page_figures(page)
            cut = int(page.get_attribute("#submit-page", "data-offset"))
            marks["reload"] = time.monotonic()
            page.reload()
            page.wait_for_selector("#resume-panel:not([hidden])")
            record = page.evaluate(RECORD)
            marks["resume"] = time.monotonic()
            resumable_at = int(page.get_attribute("#submit-page", "data-offset"))
            page.click("#resume-btn")
            _done(page)
            marks["done"] = time.monotonic()
            after = page_figures(page)
        size = int(page.get_attribute("#submit-page", "data-size"))
        sha256 = page.get_attribute("#submit-page", "data-sha256")
        page.goto(f"{platform_server}/tenders/{who['lot']}/receipt/")
        page.wait_for_selector("#receipt-page[data-verified='true']")
        assert page.locator(".checks li.ok").count() == 5
        assert page.js_errors == []
    finally:
        context.close()
    growth = sampler.growth
    longest = max(before["job_tasks"] + after["job_tasks"], default=0)
    load_tasks = max((d for _, d in (before["longtasks"] or []) + (after["longtasks"] or [])), default=0)
    first = before["bar"][0] - before["clicked"] if before["bar"] else None
    gaps = gaps_ms(before["bar"]) + gaps_ms(after["bar"])
    print(f"\n{LARGE // MiB} MiB bid: cut at {cut:,} / {size:,} (server held {resumable_at:,}); renderer RSS "
          f"+{growth / MiB:.1f} MiB ({sampler.samples} samples); longest task {longest:.0f} ms (with page loads {load_tasks:.0f} ms); first progress "
          f"{first:.0f} ms after the press; progress gaps p50 {statistics.median(gaps):.0f} ms, "
          f"p95 {statistics.quantiles(gaps, n=20)[-1]:.0f} ms, max {max(gaps):.0f} ms")
    # Each page's own growth: the reloaded page starts from whatever the old one left behind in
    # the same renderer (freed by the collector later), so it is measured from the resume press.
    at_resume = sampler.growth_between(marks["resume"] - 0.1, marks["resume"] + 0.1)
    first_page = sampler.growth_between(marks["start"], marks["reload"])
    second_page = sampler.growth_between(marks["resume"], marks["done"]) - at_resume
    print(f"renderer growth of the first page {first_page / MiB:.0f} MiB, of the reloaded page over its start "
          f"{second_page / MiB:.0f} MiB, overall {growth / MiB:.0f} MiB")
    steps = list(marks.items())
    print("renderer growth by step: " + ", ".join(
        f"{a}→{b} +{sampler.growth_between(ta, tb) / MiB:.0f} MiB ({tb - ta:.1f} s)"
        for (a, ta), (b, tb) in zip(steps, steps[1:])))
    # The page counts bytes on the wire; up to two 8 MiB bodies are in flight (uploader.js), so the
    # server may hold up to 16 MiB less than the page showed when the tab went away — never more.
    assert 0 < resumable_at < size and resumable_at >= cut - 2 * 8 * MiB
    # IndexedDB holds one record, once: the sealer's state, the manifest, the File handle — no bytes
    # of the package or of the envelope (nothing else that is a Blob, nothing large).
    assert record["count"] == 1
    assert set(record["keys"]) == {"lotId", "state", "manifest", "files", "uploadId", "names", "envelopeSize", "createdAt"}
    assert record["blobs"] == [["files.0", LARGE]], record["blobs"]
    assert record["bytes"] < 8192, record["bytes"]
    # What the platform stored opens with the bidder's key to exactly the chosen document.
    envelope = stored_envelope(platform_server.env, who["lot"])
    assert envelope.stat().st_size == size
    with open(envelope, "rb") as f:
        whole = hashlib.file_digest(f, "sha256").hexdigest()
    assert whole == sha256, "the page's SHA-256 of the envelope is the stored envelope's"
    members = open_package(envelope, keys.private_key_from_scalar(bytes.fromhex(who["scalar"])))
    assert members[f"documents/{document.name}"] == {"size": LARGE, "sha256": digest}
    assert members["manifest"]["documents"] == [{"name": f"documents/{document.name}", "size": LARGE, "sha256": digest}]
    assert members["manifest"]["fields"]["price"] == 123456789
    # the sealing tool names itself in the manifest (docs/sealbid.md); a browser hashes no machine
    assert members["manifest"]["sealer"]["tool"] == "kaibiao-web" and "machine" not in members["manifest"]["sealer"]
    envelope.unlink()  # a gigabyte less in the suite's temporary folders
    document.unlink()
    # Bounds that hold on a loaded shared machine and still catch the design failing: a page that
    # holds the file (or its envelope) grows by a gigabyte, and one that hashes on its own thread
    # blocks it for seconds. The goals (64 MiB, 200 ms, every 250 ms) are what the figures printed
    # above are compared with in docs/browser-crypto.md and bench/results/upload.json.
    assert first_page <= 128 * MiB and second_page <= 128 * MiB, "a page's memory grew with the bid"
    assert growth <= 192 * MiB, f"the renderer grew by {growth / MiB:.0f} MiB"
    assert longest < 200, f"a long task of {longest:.0f} ms"
    assert first is not None and first <= 500
    assert statistics.quantiles(gaps, n=20)[-1] <= 500 and max(gaps) < 2000


RECORD = """() => new Promise((ok, no) => {
  const r = indexedDB.open("kaibiao-uploads", 1);
  r.onerror = () => no(r.error);
  r.onsuccess = () => {
    const req = r.result.transaction("uploads").objectStore("uploads").getAll();
    req.onerror = () => no(req.error);
    req.onsuccess = () => {
      const all = req.result, blobs = [];
      let bytes = 0;
      const walk = (v, path) => {
        if (v instanceof Blob) blobs.push([path, v.size]);
        else if (v instanceof CryptoKey) bytes += 0;
        else if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) bytes += v.byteLength;
        else if (v && typeof v === "object") for (const k of Object.keys(v)) walk(v[k], path ? `${path}.${k}` : k);
        else bytes += String(v).length;
      };
      for (const rec of all) walk(rec, "");
      r.result.close();
      ok({ count: all.length, keys: all.length ? Object.keys(all[0]) : [], blobs, bytes,
           sha256: all.length ? all[0].sha256 || null : null });
    };
  };
})"""


def _slow_link(page):
    """A route handler that holds each upload request 150 ms (a slow link), so that a pause lands
    while PATCHes are in flight; a request the page aborted meanwhile is left alone."""
    def handle(route):
        page.wait_for_timeout(150)
        try:
            route.continue_()
        except Exception as exc:  # noqa: BLE001 - only "already handled" (aborted) is expected
            if "already handled" not in str(exc):
                raise
    return handle


def test_pause_stops_the_upload_at_once_and_resume_finishes_it(browser, platform_server, tmp_path):
    who = setup_bidder(platform_server.env, "pause")
    document = tmp_path / "bid.pdf"
    write_document(document, 96 * MiB)
    context, page = bidder_page(browser, platform_server, who)
    try:
        fill_bid(page, [document])
        # A slow link: each PATCH waits, so the pause lands while one is in flight.
        page.route("**/api/v1/uploads/*", _slow_link(page))
        page.click("#seal-btn")
        page.wait_for_function("() => Number(document.getElementById('submit-page').dataset.offset) > 0", polling=20)
        page.click("#pause-btn")
        page.wait_for_selector("#status[data-state='paused']")
        held = int(page.get_attribute("#submit-page", "data-offset"))
        page.wait_for_timeout(500)
        assert int(page.get_attribute("#submit-page", "data-offset")) == held
        assert page.is_visible("#continue-btn") and page.is_hidden("#pause-btn")
        page.unroute("**/api/v1/uploads/*")
        page.click("#continue-btn")
        _done(page)
        assert page.js_errors == []
    finally:
        context.close()


def test_discarding_a_paused_upload_deletes_it_on_the_server_and_in_the_browser(browser, platform_server, tmp_path):
    who = setup_bidder(platform_server.env, "discard")
    document = tmp_path / "bid.pdf"
    write_document(document, 40 * MiB)
    context, page = bidder_page(browser, platform_server, who)
    try:
        fill_bid(page, [document])
        page.route("**/api/v1/uploads/*", _slow_link(page))
        page.click("#seal-btn")
        page.wait_for_function("() => Number(document.getElementById('submit-page').dataset.offset) > 0", polling=20)
        page.click("#pause-btn")
        page.wait_for_selector("#status[data-state='paused']")
        page.unroute("**/api/v1/uploads/*")
        assert page.evaluate(RECORD)["count"] == 1
        bid = page.evaluate("""async () => (await fetch(`/api/v1/lots/${JSON.parse(
            document.getElementById('page-ctx').textContent).lot.id}/bid`)).status""")
        assert bid == 404  # nothing submitted
        page.click("#cancel-btn")
        page.wait_for_selector("#status[data-state='discarded']")
        assert page.evaluate(RECORD)["count"] == 0
        assert page.is_visible("#bid-form")
        page.reload()
        page.wait_for_selector("#submit-page[data-ready='1']")
        assert page.is_hidden("#resume-panel")
        assert page.js_errors == []
    finally:
        context.close()
    assert _uploads(platform_server.env, who["lot"]) == [("aborted", False)]


def _uploads(env, lot: int) -> list[tuple[str, bool]]:
    """The lot's uploads on the server: (status, whether its partial file is still there)."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import json; from bidding.models import BidUpload; from bidding import storage; "
            f"print(json.dumps([(u.status, storage.partial_path(u.pk).exists()) for u in BidUpload.objects.filter(lot_id={lot})]))")
    res = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=Path(__file__).resolve().parents[2],
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return [tuple(x) for x in json.loads(res.stdout.strip().splitlines()[-1])]


def test_a_page_that_lost_the_answer_to_complete_asks_again_after_a_reload(browser, platform_server, tmp_path):
    """Every byte is on the server and `complete` went through, but its answer never reached the page
    (the connection dropped): after a reload the page finds the upload complete, asks `complete`
    again (the platform answers with the same submission) and checks the receipt against the
    envelope's SHA-256 it kept — one submission, shown as done."""
    who = setup_bidder(platform_server.env, "lost")
    document = tmp_path / "bid.pdf"
    write_document(document, 12 * MiB)
    context, page = bidder_page(browser, platform_server, who)
    completed = []

    def lose_answer(route):
        res = route.fetch()  # the platform completes the upload ...
        completed.append(res.status)
        route.abort("connectionreset")  # ... and the answer is lost on the way back

    try:
        fill_bid(page, [document])
        page.route("**/api/v1/uploads/*/complete", lose_answer)
        page.click("#seal-btn")
        page.wait_for_selector("#status[data-state='error']", timeout=LONG_WAIT)
        assert completed == [201]
        record = page.evaluate(RECORD)
        assert record["count"] == 1 and len(record["sha256"] or "") == 64
        page.unroute("**/api/v1/uploads/*/complete")
        page.reload()
        _done(page, 120_000)
        assert page.get_attribute("#submit-page", "data-sha256") == record["sha256"]
        assert page.evaluate(RECORD)["count"] == 0
        assert page.js_errors == []
    finally:
        context.close()
    envelope = stored_envelope(platform_server.env, who["lot"])
    with open(envelope, "rb") as f:
        assert hashlib.file_digest(f, "sha256").hexdigest() == record["sha256"]
    assert _uploads(platform_server.env, who["lot"]) == [("complete", False)]


def test_a_receipt_for_other_bytes_than_the_browser_sealed_is_refused(browser, platform_server, tmp_path):
    """A platform (or anything between) that receipts other bytes than were sent: the page's own
    SHA-256 of the envelope does not match, and the page says so instead of "submitted"."""
    who = setup_bidder(platform_server.env, "lie")
    document = tmp_path / "bid.pdf"
    write_document(document, 3 * MiB)
    context, page = bidder_page(browser, platform_server, who)

    def lie(route):
        res = route.fetch()
        body = res.json()
        body["sha256"] = hashlib.sha256(b"other bytes").hexdigest()
        route.fulfill(response=res, body=json.dumps(body))

    try:
        fill_bid(page, [document])
        page.route("**/api/v1/uploads/*/complete", lie)
        page.click("#seal-btn")
        page.wait_for_selector("#status[data-state='error']", timeout=LONG_WAIT)
        assert "SHA-256" in page.inner_text("#status")
        assert page.is_hidden("#done")
    finally:
        context.close()


HASHES = """async (sizes) => {
  const { SealingWorker } = await import("/static/frontend/sealing.js");
  const worker = new SealingWorker();
  const make = (n) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 12)) & 255; return b; };
  const files = sizes.map((n, i) => new File([make(n)], `f${i}`));
  const fromFiles = await worker.files(files);
  worker.close();
  return fromFiles;
}"""


def test_the_sealing_worker_hashes_documents_as_python_does(crypto_page):
    sizes = [0, 1, 55, 56, 63, 64, 65, 4 * MiB - 1, 4 * MiB, 4 * MiB + 1, 9 * MiB + 7]
    got = crypto_page.evaluate(HASHES, sizes)
    want = [hashlib.sha256(bytes((i * 31 + (i >> 12)) & 255 for i in range(n))).hexdigest() for n in sizes]
    assert got == want


ENVELOPE = """async (cases) => {
  const { SealingWorker } = await import("/static/frontend/sealing.js");
  const { seal } = await import("/static/frontend/crypto/envelope.js");
  const worker = new SealingWorker();
  const key = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
  const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
  // Count the Workers the jobs start and end (sealing.js looks Worker up when it starts one).
  const Real = globalThis.Worker, counts = { started: 0, ended: 0 };
  globalThis.Worker = class extends Real {
    constructor(...a) { super(...a); counts.started++; }
    terminate() { counts.ended++; super.terminate(); }
  };
  const out = [];
  for (const { size, chunkSize, at, window, abortFirst, leg, hashAside = false } of cases) {
    const plain = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
    const parts = []; for (let n = 0; n < size; n += plain.length) parts.push(plain.subarray(0, Math.min(plain.length, size - n)));
    const sealer = await seal(new Blob(parts), { tenderId: "ZB-1", lotId: "1", bidderId: "B1",
      recipients: [{ role: "bidder", publicKey: key.publicKey }], chunkSize });
    const whole = new Uint8Array(await (await sealer.toBlob()).arrayBuffer());
    const from = at === "header" ? sealer.headerSize : Math.floor(whole.length * at);
    if (abortFirst) {  // a job stopped half-way leaves nothing behind for the next one
      const first = worker.envelope(sealer, { from: 0, window });
      for await (const p of first.pieces()) { first.abort(); }
    }
    const before = { ...counts };
    const env = worker.envelope(sealer, { from, window, hashAside, ...(leg ? { leg } : {}) });
    const got = []; let expect = from, inOrder = true;
    for await (const { offset, blob } of env.pieces()) {
      inOrder = inOrder && offset === expect;
      got.push(blob); expect += blob.size;
      env.ack(expect);
    }
    const sent = new Uint8Array(await new Blob(got).arrayBuffer());
    const same = sent.length === whole.length - from && sent.every((b, i) => b === whole[from + i]);
    out.push({ inOrder, same, digest: await env.digest(), hashed: env.hashed, size: whole.length,
               want: hex(await crypto.subtle.digest("SHA-256", whole)),
               started: counts.started - before.started, ended: counts.ended - before.ended,
               envelope: whole.length <= 4096 ? hex(whole) : null });
  }
  worker.close();
  globalThis.Worker = Real;
  return out;
}"""


def test_the_sealing_worker_makes_the_sealers_envelope_from_any_offset_and_its_sha256(crypto_page):
    """What the Worker hands over from an offset is byte for byte the Sealer's envelope from there;
    its SHA-256 covers the whole envelope (also the part not handed over), as WebCrypto's and
    Python's; pieces come in order whatever the window; an aborted job does not disturb the next;
    the same whether the SHA-256 runs between its chunks (the default) or in a Worker beside the
    sealing one (``hashAside: true``)."""
    cases = [
        {"size": 0, "chunkSize": 64, "at": 0, "window": 1 << 20},
        {"size": 1000, "chunkSize": 64, "at": 0, "window": 0},
        {"size": 1000, "chunkSize": 64, "at": "header", "window": 100},
        {"size": 1000, "chunkSize": 64, "at": 0.5, "window": 1 << 20, "abortFirst": True},
        {"size": 1000, "chunkSize": 64, "at": 1, "window": 0},
        {"size": 3 * MiB + 5, "chunkSize": MiB, "at": 0.4, "window": 2 * MiB},
        {"size": 3 * MiB + 5, "chunkSize": MiB, "at": 0.4, "window": 2 * MiB, "hashAside": True},
        {"size": 3 * MiB + 5, "chunkSize": MiB, "at": 0.4, "window": MiB + 100, "leg": MiB, "hashAside": True},
        {"size": 1000, "chunkSize": 64, "at": 0.3, "window": 100, "leg": 200, "hashAside": True},
        # In legs, each in a Worker of its own, the SHA-256 state passed on: a leg per piece
        # (window waits across legs), legs of several pieces, and legs that only hash.
        {"size": 3 * MiB + 5, "chunkSize": MiB, "at": 0.4, "window": MiB + 100, "leg": 1, "legs": 5},
        {"size": 1000, "chunkSize": 64, "at": 0.3, "window": 100, "leg": 200, "legs": 6},
        {"size": 1000, "chunkSize": 64, "at": 1, "window": 0, "leg": 64, "legs": 11},
    ]
    for case, got in zip(cases, crypto_page.evaluate(ENVELOPE, cases)):
        assert got["inOrder"] and got["same"], case
        assert got["digest"] == got["want"] and got["hashed"] == got["size"], case
        # Every Worker a job started is ended once it is done (its garbage goes with it).
        assert got["ended"] == got["started"], (case, got["started"], got["ended"])
        if "legs" in case:
            assert got["started"] >= case["legs"], (case, got["started"])
        if got["envelope"]:
            assert hashlib.sha256(bytes.fromhex(got["envelope"])).hexdigest() == got["digest"]


LEG_WITHOUT_STATE = """async () => {
  const { seal } = await import("/static/frontend/crypto/envelope.js");
  const key = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
  const sealer = await seal(new Blob([new Uint8Array(1000)]), { tenderId: "ZB-1", lotId: "1", bidderId: "B1",
    recipients: [{ role: "bidder", publicKey: key.publicKey }], chunkSize: 64 });
  const w = new Worker("/static/frontend/seal_worker.js", { type: "module" });
  const run = (extra) => new Promise((resolve) => {
    const got = [];
    w.onmessage = ({ data }) => { got.push(data); if (data.error || data.digest || data.leg) resolve(got); };
    w.postMessage({ id: 7, op: "envelope", state: sealer.state(), source: sealer.source, from: 0,
                    window: 1 << 20, ...extra });
  });
  const out = { noState: await run({ start: sealer.headerSize }),
                badState: await run({ start: sealer.headerSize, hashState: new Uint8Array(8) }) };
  w.terminate();
  return out.noState.concat(out.badState).filter((m) => m.error || m.digest || m.piece).map((m) => m.error || "made");
}"""


def test_a_leg_without_the_sha256_state_of_the_legs_before_is_refused(crypto_page):
    """A leg that starts past byte 0 hashes on from the state it is given, or from none at all: the
    Worker refuses it rather than give a digest of part of the envelope (and a state that is not
    hash-wasm's is refused by it), before anything is handed over."""
    errors = crypto_page.evaluate(LEG_WITHOUT_STATE)
    assert len(errors) == 2 and errors[0].startswith("a leg after the first needs the SHA-256 state"), errors
    assert "made" not in errors, errors
