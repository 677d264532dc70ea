"""Issue #16 in the browser: audio and video through the real media server (Debian's Janus, started
from the platform's rendered configuration), with Chromium's fake camera and microphone.

A main venue and two sub venues join one evaluation session's media room: each page decodes the
two others' video (frames counted by getStats, and a frame sampled on a canvas is not black) and
receives their audio; the supervisor watches all three and sends nothing; a venue whose media drops
is shown to the others; an outsider gets no token; a bidder watches the hall's host. Afterwards the
recordings are sealed: each segment's SHA-256 is in the audit log, equals the file's, and a
converted segment plays.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import need_tool
from tests.e2e.conftest import CHROMIUM_ARGS, ROOT, _server_env, _watch_csp, demo_platform, ticker_process
from tests.e2e.screen import check_screen

pytestmark = pytest.mark.e2e
WAIT = 30_000
MEDIA_ARGS = CHROMIUM_ARGS + [
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def janus(chromium_path, tmp_path_factory):
    from tests.media_server import start_janus

    server = start_janus(tmp_path_factory.mktemp("janus"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def media_server(janus, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("media-var")
    env = _server_env(var_dir)
    env.update(MEDIA_JANUS_WS=janus.ws_url, MEDIA_JANUS_API=janus.api_url, MEDIA_TOKEN_SECRET=janus.token_secret,
               MEDIA_ADMIN_KEY=janus.admin_key, MEDIA_ROOM_SECRET=janus.room_secret,
               MEDIA_RECORDINGS_DIR=str(janus.recordings), MEDIA_PATROL_SECONDS="2")
    with demo_platform(env, var_dir) as base, ticker_process(env):
        yield base


@pytest.fixture(scope="module")
def media_browser(browser, chromium_path):
    fake = browser.browser_type.launch(executable_path=chromium_path, headless=True, args=MEDIA_ARGS)
    yield fake
    fake.close()


def shell(env, code: str) -> dict | list:
    res = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


class Person:
    """A signed-in browser context on one page, with its media panel's figures."""

    def __init__(self, browser, base: str, cookie: str, path: str):
        self.context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
        _watch_csp(self.context)
        self.context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.set_default_timeout(WAIT)
        self.response = self.page.goto(base + path)

    def stats(self) -> list[dict]:
        return self.page.evaluate("async () => window.kbMedia ? await window.kbMedia.stats() : []")

    def receiving(self, n: int, timeout: float = 40) -> list[dict]:
        """Wait until ``n`` remote feeds decode video frames that are not black and receive audio."""
        end, got = time.monotonic() + timeout, []
        while time.monotonic() < end:
            got = self.stats()
            live = [f for f in got if f["framesDecoded"] > 5 and f["audioSamples"] > 0 and f["brightness"] > 8]
            if len(live) >= n:
                return got
            time.sleep(0.5)
        status = self.page.inner_text("#media")
        raise AssertionError(f"{n} live feeds expected, got {got}; the panel says {status!r}; {self.errors}")

    def close(self) -> None:
        self.context.close()


def test_venues_see_and_hear_each_other_the_hall_streams_and_recordings_are_sealed(
        media_browser, media_server, janus, no_csp_violations):
    base, env = media_server, media_server.env
    ev = shell(env, "from tests.e2e.media_setup import build_media; build_media()")
    session, venues = ev["session"], ev["venues"]
    pages = {}
    try:
        for v in venues:
            pages[v["id"]] = Person(media_browser, base, v["staff"], f"/evaluation/{session}/venues/{v['id']}/")
        for v in venues:
            got = pages[v["id"]].receiving(2)
            assert len(got) == 2, got  # the two other venues, nobody else
            names = {f["display"] for f in got}
            assert all(any(o["name"] in n for n in names) for o in venues if o["id"] != v["id"]), (names, v)
        main = pages[venues[0]["id"]]
        assert main.page.inner_text("#media .media-status") == "音视频已接通"
        assert main.page.locator("#media figure[data-local]").count() == 1  # its own camera, muted
        check_screen(main.page, "the main venue with its media")

        # The supervisor watches all three, muted: no sender of its own, nobody receives it.
        sup = Person(media_browser, base, ev["supervisor"], f"/evaluation/{session}/venues/{venues[1]['id']}/")
        pages["supervisor"] = sup
        assert len(sup.receiving(3)) == 3
        assert sup.page.evaluate("() => window.kbMedia.grant().publish") is False
        assert sup.page.locator("#media figure[data-local]").count() == 0
        assert sup.page.inner_text("#media .media-status") == "仅观看收听（静音）"
        time.sleep(2)
        assert len(main.stats()) == 2

        # An outsider (a bidder of the lot) has no venue page and gets no token over the socket.
        outsider = Person(media_browser, base, ev["outsider"], f"/evaluation/{session}/venues/{venues[0]['id']}/")
        pages["outsider"] = outsider
        assert outsider.response.status == 404
        outsider.page.goto(base + "/")
        answers = outsider.page.evaluate(OUTSIDER_JS, f"venue:{session}:{venues[0]['id']}")
        assert answers == {"join": "not_found", "token": "invalid_state"}, answers

        # The second sub venue's media drop: the others are told which venue.
        pages.pop(venues[2]["id"]).close()
        main.page.wait_for_function(
            "() => document.querySelector('#media .media-alerts').textContent.includes('音视频已中断')")
        assert venues[2]["name"] in main.page.inner_text("#media .media-alerts")

        # The hall: the host sends, a bidder watches and hears it.
        hall = shell(env, "from tests.e2e.hall_setup import build_hall; build_hall()")
        host = Person(media_browser, base, hall["cookies"]["host"], f"/tenders/{hall['lot']}/hall/")
        pages["host"] = host
        host.page.wait_for_selector("#media[data-media='live']")
        bidder = Person(media_browser, base, hall["cookies"]["bidder4"], f"/tenders/{hall['lot']}/hall/")
        pages["bidder"] = bidder
        bidder.page.click("#signin")
        (feed,) = bidder.receiving(1)
        assert feed["display"] == "host"
        assert "主持人" in bidder.page.inner_text("#media figcaption")
        check_screen(bidder.page, "a bidder watching the hall")
        assert bidder.page.locator("#media figure[data-local]").count() == 0
        for p in pages.values():
            assert not p.errors, p.errors
    finally:
        for p in pages.values():
            p.close()

    # Every sender left: the patrol seals the segments (2 s rounds); their hashes are in the log.
    end, sealed = time.monotonic() + 40, []
    while time.monotonic() < end:
        sealed = shell(env, f"from tests.e2e.media_setup import segments; segments({ev['lot']})")
        if len({s["name"].split("-user-")[1].split("-")[0] for s in sealed if s["kind"] == "video"}) >= 3:
            break
        time.sleep(1)
    videos = [s for s in sealed if s["kind"] == "video"]
    assert len(videos) >= 3 and any(s["kind"] == "audio" for s in sealed), sealed
    for s in sealed:
        data = Path(s["location"]).read_bytes()
        assert s["logged"] and s["logged"]["sha256"] == s["sha256"] == hashlib.sha256(data).hexdigest(), s
        assert s["logged"]["location"] == s["location"] and s["size"] == len(data) > 0
        assert Path(s["location"]).is_relative_to(janus.recordings)

    # A sealed video segment converts (janus-pp-rec) and plays.
    tool = need_tool("janus-pp-rec")
    biggest = max(videos, key=lambda s: s["size"])
    webm = Path(biggest["location"]).with_suffix(".webm")
    subprocess.run([tool, biggest["location"], str(webm)], check=True, capture_output=True, timeout=120)
    played = play(media_browser, webm.read_bytes())
    assert played["width"] > 0 and played["height"] > 0, played


OUTSIDER_JS = """async (room) => {
  const ws = new WebSocket(`ws://${location.host}/ws/v1/`);
  const replies = {};
  let n = 0;
  const ask = (cmd) => new Promise((resolve) => {
    const id = `o${++n}`;
    replies[id] = resolve;
    ws.send(JSON.stringify({ v: 1, id, cmd, room, payload: {} }));
  });
  await new Promise((resolve) => { ws.onmessage = (m) => {
    const f = JSON.parse(m.data);
    if (f.hello) resolve();
    if (f.id && replies[f.id]) replies[f.id](f);
  }; });
  const join = await ask("room.join");
  const token = await ask("media.token");
  ws.close();
  return { join: join.ok ? "ok" : join.error.code, token: token.ok ? "ok" : token.error.code };
}"""


def play(browser, webm: bytes) -> dict:
    """Load ``webm`` in a video element (a blank page: no platform policy involved) until a frame
    is decoded."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto("about:blank")
        return page.evaluate("""async (b64) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const video = document.createElement("video");
          video.muted = true;
          video.src = URL.createObjectURL(new Blob([bytes], { type: "video/webm" }));
          document.body.append(video);
          await new Promise((resolve, reject) => { video.onloadeddata = resolve; video.onerror = () => reject(new Error(String(video.error?.message))); });
          return { width: video.videoWidth, height: video.videoHeight };
        }""", base64.b64encode(webm).decode())
    finally:
        context.close()


def silent_wav(path: Path, seconds: int = 30) -> Path:
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(b"\0\0" * 48000 * seconds)
    return path


def test_the_announcement_is_in_the_recording_and_supervisors_play_it_next_to_the_audit(
        media_browser, media_server, janus, chromium_path, browser, tmp_path, no_csp_violations):
    """The host's microphone is silent (a file of zeros as Chromium's fake microphone), so sound in
    the host's recorded audio can only be the 唱标's speech mixed into what the page publishes."""
    need_tool("espeak-ng")
    tool = need_tool("janus-pp-rec")
    base, env = media_server, media_server.env
    hall = shell(env, "from tests.e2e.hall_setup import build_hall; build_hall()")
    lot = hall["lot"]
    quiet = browser.browser_type.launch(executable_path=chromium_path, headless=True, args=MEDIA_ARGS + [
        f"--use-file-for-fake-audio-capture={silent_wav(tmp_path / 'silence.wav')}"])
    try:
        host = Person(quiet, base, hall["cookies"]["host"], f"/tenders/{lot}/hall/")
        host.page.wait_for_selector("#media[data-media='live']")
        time.sleep(3)  # silence first: the recording starts quiet
        sup = shell(env, f"from tests.e2e.media_setup import announce; announce({lot})")
        host.page.reload()  # the snapshot now has the announcement: the host's page plays and mixes it
        host.page.wait_for_selector("#media[data-media='live']")
        host.page.wait_for_function("() => document.getElementById('tts-audio')?.dataset.mixed === '1'")
        host.page.wait_for_function("() => { const a = document.getElementById('tts-audio'); return a.ended || a.currentTime > 4; }",
                                    timeout=60_000)
        time.sleep(1)
        assert not host.errors, host.errors
        host.close()
    finally:
        quiet.close()

    end, audio = time.monotonic() + 40, []
    while time.monotonic() < end and not audio:
        audio = [s for s in shell(env, f"from tests.e2e.media_setup import segments; segments({lot})")
                 if s["kind"] == "audio"]
        time.sleep(1)
    assert audio, "the host's audio segment was not sealed"
    end = time.monotonic() + 40
    while time.monotonic() < end and len(audio) < 2:  # the page before the reload and after it
        audio = [s for s in shell(env, f"from tests.e2e.media_setup import segments; segments({lot})")
                 if s["kind"] == "audio"]
        time.sleep(1)
    heard = []
    for s in sorted(audio, key=lambda s: s["name"]):
        opus = Path(s["location"]).with_suffix(".opus")
        subprocess.run([tool, s["location"], str(opus)], check=True, capture_output=True, timeout=120)
        heard.append(energy(media_browser, opus.read_bytes()))
    assert len(heard) == 2, heard
    before, during = heard
    assert before["peak_rms"] < 0.002, heard  # the silent microphone alone, before the announcement
    assert during["peak_rms"] > 0.02 and during["seconds"] > 2, heard  # the speech, mixed in

    # A supervisor plays it back on the recordings page, in Chinese and in English.
    for lang, word in (("zh-CN", "北京时间"), ("en-US", "Beijing time")):
        ctx = media_browser.new_context(locale=lang, timezone_id="Asia/Shanghai")
        _watch_csp(ctx)
        ctx.add_cookies([{"name": "sessionid", "value": sup["supervisor"], "url": base},
                         {"name": "django_language", "value": "zh-hans" if lang == "zh-CN" else "en", "url": base}])
        page = ctx.new_page()
        try:
            page.set_default_timeout(WAIT)
            page.goto(base + "/console/recordings/")
            page.select_option("select[name=tender]", str(lot))
            page.click("#recordings form button[type=submit]")
            page.wait_for_selector("button[data-play][data-kind=audio]")
            page.click("button[data-play][data-kind=audio]")
            page.wait_for_function("() => document.getElementById('position').textContent.length > 0")
            page.wait_for_function("() => { const a = document.getElementById('player-audio'); return a.readyState >= 2; }")
            page.evaluate("() => { const a = document.getElementById('player-audio'); a.pause(); a.currentTime = Math.min(3, a.duration || 3); }")
            page.wait_for_function("() => document.getElementById('player-audio').currentTime >= 2")
            assert word in page.inner_text("#position")
            moment = int(page.get_attribute("#player", "data-moment"))
            near = page.eval_on_selector_all("#moment-entries tr.near", "rows => rows.map(r => Number(r.dataset.at))")
            assert near and all(abs(at - moment) <= 60_000 for at in near), (moment, near)
            far = page.eval_on_selector_all("#moment-entries tr:not(.near)[data-at]", "rows => rows.map(r => Number(r.dataset.at))")
            assert all(abs(at - moment) > 60_000 for at in far), (moment, far)
            assert page.locator("#moment-entries tr[aria-current]").count() == 1
            assert page.locator("#player-error").is_hidden()
            check_screen(page, f"the recordings page ({lang})")
        finally:
            ctx.close()


def energy(browser, opus: bytes) -> dict:
    """Decode an Ogg/Opus file in Chromium (WebAudio) and measure its loudness: the RMS of the
    loudest 100 ms window and of the first second."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto("about:blank")
        return page.evaluate("""async (b64) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const ctx = new OfflineAudioContext(1, 48000, 48000);
          const buffer = await ctx.decodeAudioData(bytes.buffer);
          const data = buffer.getChannelData(0);
          const rms = (from, to) => { let s = 0; for (let i = from; i < to; i++) s += data[i] * data[i]; return Math.sqrt(s / Math.max(1, to - from)); };
          const w = Math.round(buffer.sampleRate / 10);
          let peak = 0;
          for (let i = 0; i + w <= data.length; i += w) peak = Math.max(peak, rms(i, i + w));
          return { seconds: buffer.duration, peak_rms: peak, first_second_rms: rms(0, Math.min(data.length, buffer.sampleRate)) };
        }""", base64.b64encode(opus).decode())
    finally:
        context.close()
