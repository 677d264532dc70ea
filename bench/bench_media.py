"""``python -m bench.bench_media``: the media figures (docs/media.md, "Measured").

Janus (Debian's, from the platform's rendered configuration) and the platform (Daphne, the demo
data) on free ports; Debian's Chromium with its fake camera and microphone (Playwright).

- **Join-to-first-frame**: three venues of one session publish; a fourth page (the supervisor)
  opens the venue page, and the time from its media panel asking for a token to the first decoded
  frame of each remote stream is read from the page (``requestVideoFrameCallback``). Goal ≤ 2 s.
  Repeated ``ROUNDS`` times (a fresh page each time).
- **Server CPU per published stream**: Janus's CPU time (``/proc``) over a steady window with the
  three venues publishing (each receiving the two others) and one watcher, divided by the window
  and the streams published: the share of one core each published stream (audio + video, relayed
  to its subscribers) costs.

- **One hall, 200 watchers** (``BENCH_MEDIA_WATCHERS``): the host's hall page in Chromium (fake
  camera and microphone) sends; 200 headless subscribers (aiortc, a WebRTC stack in Python, in
  ``BENCH_MEDIA_WATCHER_PROCS`` processes of ``bench/media_watchers.py``, each with its own Janus
  session and peer connection, counting frames without decoding them) watch it. Over a steady
  window: Janus's CPU, the watchers' CPU, the frames, payload bytes (the media's bitrate, without
  RTP/SRTP/UDP headers) and RTP packets the watchers receive. The
  watchers' tokens are signed by the bench with the token secret, as the platform signs a bidder's
  (the platform's own part, one ``media.token`` each, is not what this measures).

``BENCH_MEDIA_PARTS=watchers`` runs only the last (and keeps the other figures already in
``bench/results/media.json``). Prints the figures and saves ``bench/results/media.json``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import PY, ROOT, cpu_seconds, free_port, loadavg, percentile, save, wait_port

ROUNDS = int(os.environ.get("BENCH_MEDIA_ROUNDS", "5"))
WATCHERS = int(os.environ.get("BENCH_MEDIA_WATCHERS", "200"))
WATCHER_PROCS = int(os.environ.get("BENCH_MEDIA_WATCHER_PROCS", "4"))
PARTS = set(os.environ.get("BENCH_MEDIA_PARTS", "venues,watchers").split(","))
WINDOW_S = float(os.environ.get("BENCH_MEDIA_WINDOW", "20"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 "--autoplay-policy=no-user-gesture-required"]


def need(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"bench_media: {name} not found (Debian: apt-get install "
                         f"{ {'janus': 'janus', 'chromium': 'chromium'}.get(name, name) })")
    return path


def start(tmp: Path) -> tuple[list[subprocess.Popen], dict, str, subprocess.Popen]:
    sys.path.insert(0, str(ROOT))
    from realtime.media_config import JanusSetup, render

    janus_bin = need("janus")
    folder, recordings = tmp / "janus", tmp / "recordings"
    folder.mkdir()
    recordings.mkdir()
    ws_port, http_port = free_port(), free_port()
    setup = JanusSetup(folder=str(folder), token_secret=secrets.token_urlsafe(32), admin_key=secrets.token_hex(16),
                       ws_port=ws_port, http_port=http_port, rtp_ports=(9340, 9340 + WATCHERS + 100), recordings=str(recordings))
    for name, text in render(setup).items():
        (folder / name).write_text(text)
    janus = subprocess.Popen([janus_bin, "-C", str(folder / "janus.jcfg"), "-F", str(folder)],
                             stdout=open(tmp / "janus.log", "wb"), stderr=subprocess.STDOUT)
    wait_port(http_port)
    drop = {"DATABASE_URL", "REDIS_URL", "KAIBIAO_ENV", "DJANGO_SETTINGS_MODULE", "DEBUG"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(KAIBIAO_VAR_DIR=str(tmp / "var"), PYTHONPATH=str(ROOT), MEDIA_JANUS_WS=f"ws://127.0.0.1:{ws_port}",
               MEDIA_JANUS_API=f"http://127.0.0.1:{http_port}/janus", MEDIA_TOKEN_SECRET=setup.token_secret,
               MEDIA_ADMIN_KEY=setup.admin_key, MEDIA_ROOM_SECRET=secrets.token_hex(16),
               MEDIA_RECORDINGS_DIR=str(recordings), LOG_LEVEL="WARNING")
    for args in (["migrate", "--noinput", "-v", "0"], ["load_demo"]):
        subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    daphne = subprocess.Popen([PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp / "daphne.log", "wb"))
    wait_port(port)
    return [daphne, janus], env, f"http://127.0.0.1:{port}", janus, setup, ws_port


def hall_watchers(browser, env: dict, base: str, janus, setup, ws_port: int) -> dict:
    """One hall, ``WATCHERS`` headless watchers (the module's docstring)."""
    from crypto.media_tokens import room_token, session_token
    from realtime.janus import JanusApi

    hall = shell(env, "from tests.e2e.hall_setup import build_hall; build_hall()")
    room = f"hall-{hall['lot']}"
    ctx, page = open_page(browser, base, hall["cookies"]["host"], f"/tenders/{hall['lot']}/hall/")
    page.wait_for_selector("#media[data-media='live']", timeout=60_000)
    api = JanusApi(url=env["MEDIA_JANUS_API"], token_secret=setup.token_secret, admin_key=setup.admin_key,
                   room_secret=env["MEDIA_ROOM_SECRET"])
    feed, end = None, time.monotonic() + 30
    while feed is None and time.monotonic() < end:
        feed = next((p["id"] for p in api.participants(room) if p.get("publisher")), None)
        time.sleep(0.5)
    if feed is None:
        raise RuntimeError("the host does not publish")
    expires = int(time.time()) + 3600
    plugin = "janus.plugin.videoroom"
    tokens = (session_token(setup.token_secret, expires=expires, plugin=plugin),
              room_token(setup.token_secret, expires=expires, plugin=plugin, room=room))
    share = [WATCHERS // WATCHER_PROCS + (1 if i < WATCHERS % WATCHER_PROCS else 0) for i in range(WATCHER_PROCS)]
    t_join = time.monotonic()
    workers = [subprocess.Popen([PY, "-m", "bench.media_watchers", f"ws://127.0.0.1:{ws_port}", *tokens, room,
                                 str(feed), str(n)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
               for n in share if n]
    try:
        ready = [json.loads(w.stdout.readline()) for w in workers]
        joined_s = time.monotonic() - t_join
        time.sleep(5)  # past the watchers' first key frames
        cpu0 = {w.pid: cpu_seconds(w.pid) for w in workers}
        sent0 = page.evaluate("() => window.kbMedia.sent()")
        janus0, t0, load0 = cpu_seconds(janus.pid), time.monotonic(), loadavg()
        for w in workers:
            w.stdin.write("start\n")
            w.stdin.flush()
        time.sleep(WINDOW_S)
        janus_cpu, elapsed = cpu_seconds(janus.pid) - janus0, time.monotonic() - t0
        watchers_cpu = sum(cpu_seconds(w.pid) - cpu0[w.pid] for w in workers)
        sent1 = page.evaluate("() => window.kbMedia.sent()")
        for w in workers:
            w.stdin.write("stop\n")
            w.stdin.flush()
        counts = [json.loads(w.stdout.readline()) for w in workers]
        for w in workers:
            w.wait(60)
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
        ctx.close()
    connected = sum(r["ready"] for r in ready)
    video = sum(c["video_frames"] for c in counts)
    payload = sum(c["bytes"] for c in counts)
    return {
        "watchers": WATCHERS, "processes": len(workers), "connected": connected,
        "tracks_receiving_in_window": sum(c["tracks_receiving"] for c in counts),
        "all_joined_s": round(joined_s, 1), "window_s": round(elapsed, 1),
        "host_sends": {"video_fps": round((sent1["framesSent"] - sent0["framesSent"]) / elapsed, 1),
                       "kbit_s": round(8 * (sent1["videoBytes"] + sent1["audioBytes"] - sent0["videoBytes"]
                                            - sent0["audioBytes"]) / elapsed / 1000, 1),
                       "key_frames": sent1["keyFrames"] - sent0["keyFrames"], "pli_received": sent1["pli"] - sent0["pli"],
                       "limitation": sent1["limitation"], "width": sent1["width"]},
        "janus_core_percent": round(100 * janus_cpu / elapsed, 1),
        "watchers_core_percent": round(100 * watchers_cpu / elapsed, 1),
        "video_fps_per_watcher": round(video / elapsed / max(1, connected), 1),
        "payload_kbit_s_per_watcher": round(8 * payload / elapsed / max(1, connected) / 1000, 1),
        "payload_mbit_s_total": round(8 * payload / elapsed / 1e6, 2),
        "rtp_packets_per_s_total": round(sum(c["rtp_packets"] for c in counts) / elapsed),
        "load_before_window": load0, "load_after_window": loadavg(),
        "what": "one hall's host (Chromium, fake devices) watched by aiortc subscribers; frames counted, not decoded",
    }


def shell(env: dict, code: str):
    out = subprocess.run([PY, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def open_page(browser, base: str, cookie: str, path: str):
    context = browser.new_context(locale="zh-CN")
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
    page = context.new_page()
    page.goto(base + path)
    return context, page


def stats(page) -> list[dict]:
    return page.evaluate("async () => window.kbMedia ? await window.kbMedia.stats() : []")


def wait_live(page, n: int, timeout: float = 40) -> list[dict]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = stats(page)
        if len([f for f in got if f["framesDecoded"] > 0 and f["firstFrameMs"] is not None]) >= n:
            return got
        time.sleep(0.1)
    raise RuntimeError(f"{n} live feeds expected, got {stats(page)}")


def venues(browser, ev: dict, base: str, janus) -> dict:
    """Join-to-first-frame and Janus's CPU per published stream (the module's docstring)."""
    session = ev["session"]
    contexts = []
    for v in ev["venues"]:
        contexts.append(open_page(browser, base, v["staff"], f"/evaluation/{session}/venues/{v['id']}/"))
    for _, page in contexts:
        wait_live(page, 2)
    firsts = []
    for _ in range(ROUNDS):
        ctx, page = open_page(browser, base, ev["supervisor"],
                              f"/evaluation/{session}/venues/{ev['venues'][0]['id']}/")
        got = wait_live(page, 3)
        firsts.append(max(f["firstFrameMs"] for f in got))
        ctx.close()
        time.sleep(1)
    # The steady window: three senders, each received by the two others and one watcher.
    watcher = open_page(browser, base, ev["supervisor"], f"/evaluation/{session}/venues/{ev['venues'][0]['id']}/")
    wait_live(watcher[1], 3)
    time.sleep(3)
    before_cpu, t0 = cpu_seconds(janus.pid), time.monotonic()
    frames0 = sum(f["framesDecoded"] for f in stats(watcher[1]))
    time.sleep(WINDOW_S)
    cpu, elapsed = cpu_seconds(janus.pid) - before_cpu, time.monotonic() - t0
    frames = sum(f["framesDecoded"] for f in stats(watcher[1])) - frames0
    published = len(ev["venues"])
    for ctx, _ in contexts + [watcher]:
        ctx.close()
    return {
        "join_to_first_frame_ms": {"rounds": ROUNDS, "p50": round(percentile(firsts, 50)),
                                   "max": round(max(firsts)), "all": [round(x) for x in firsts],
                                   "goal_ms": 2000,
                                   "what": "supervisor page's token request to the last of 3 remote streams' first frame"},
        "janus_cpu": {"window_s": round(elapsed, 1), "cpu_s": round(cpu, 2),
                      "published_streams": published, "subscriptions": published * (published - 1) + published,
                      "core_percent_total": round(100 * cpu / elapsed, 1),
                      "core_percent_per_published_stream": round(100 * cpu / elapsed / published, 1),
                      "watcher_fps_per_stream": round(frames / elapsed / published, 1)},
    }


def run() -> dict:
    from playwright.sync_api import sync_playwright

    chromium = need("chromium")
    tmp = Path(tempfile.mkdtemp(prefix="kaibiao-bench-media-"))
    procs, env, base, janus, setup, ws_port = start(tmp)
    result: dict = {"load_before": loadavg()}
    try:
        ev = shell(env, "from tests.e2e.media_setup import build_media; build_media()")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            if "venues" in PARTS:
                result.update(venues(browser, ev, base, janus))
            if "watchers" in PARTS:
                result["watchers_200"] = hall_watchers(browser, env, base, janus, setup, ws_port)
            result["load_after"] = loadavg()
            browser.close()
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    if "venues" not in PARTS:  # keep the other figures of the last full run
        previous = ROOT / "bench" / "results" / "media.json"
        if previous.exists():
            result = {**json.loads(previous.read_text()), **result}
    save("media", result)
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, ensure_ascii=False))
