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

Not measured here: one hall streaming to 200 watching bidders — 200 headless Chromium pages do not
fit this 2-core machine next to the server, and no headless WebRTC client (e.g. aiortc) is a
dependency. Prints the figures and saves ``bench/results/media.json``.
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
                       ws_port=ws_port, http_port=http_port, rtp_ports=(9340, 9399), recordings=str(recordings))
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
    return [daphne, janus], env, f"http://127.0.0.1:{port}", janus


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


def run() -> dict:
    from playwright.sync_api import sync_playwright

    chromium = need("chromium")
    tmp = Path(tempfile.mkdtemp(prefix="kaibiao-bench-media-"))
    procs, env, base, janus = start(tmp)
    result: dict = {"load_before": loadavg()}
    try:
        ev = shell(env, "from tests.e2e.media_setup import build_media; build_media()")
        session = ev["session"]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
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
            result.update({
                "join_to_first_frame_ms": {"rounds": ROUNDS, "p50": round(percentile(firsts, 50)),
                                           "max": round(max(firsts)), "all": [round(x) for x in firsts],
                                           "goal_ms": 2000,
                                           "what": "supervisor page's token request to the last of 3 remote streams' first frame"},
                "janus_cpu": {"window_s": round(elapsed, 1), "cpu_s": round(cpu, 2),
                              "published_streams": published, "subscriptions": published * (published - 1) + published,
                              "core_percent_total": round(100 * cpu / elapsed, 1),
                              "core_percent_per_published_stream": round(100 * cpu / elapsed / published, 1),
                              "watcher_fps_per_stream": round(frames / elapsed / published, 1)},
                "watchers_200": "not measured (see the module's docstring)",
                "load_after": loadavg(),
            })
            browser.close()
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    save("media", result)
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, ensure_ascii=False))
