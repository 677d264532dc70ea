"""Browser tests: the platform as a real server (Daphne in a subprocess) and Debian's Chromium
driven by Playwright's sync API.

Run them on their own: ``pytest -m e2e tests/e2e`` (the Makefile does). Playwright's sync API
cannot run inside an asyncio loop, so these tests never share a process with pytest-asyncio ones;
the default ``pytest`` run deselects them (``-m 'not e2e'`` in pyproject's addopts).

Chromium is Debian's (``apt-get install chromium``), never one that ``playwright install``
downloads. Without it the tests skip on a user's machine and fail with ``CI=true``.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import need_service, need_tool

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "chromium")  # Debian's, found on PATH (/usr/bin/chromium)
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # window.gc() for the memory test: measurements after a collection show what is alive.
    "--js-flags=--expose-gc",
]
SERVER_START_SECONDS = 60


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_env(var_dir: Path) -> dict[str, str]:
    # The embedded configuration on a private SQLite file, whatever the caller's environment
    # (CI exports DATABASE_URL and REDIS_URL for the other suites).
    drop = {"DATABASE_URL", "REDIS_URL", "KAIBIAO_ENV", "DJANGO_SETTINGS_MODULE", "DEBUG"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(KAIBIAO_VAR_DIR=str(var_dir), E2E_TEST_PAGES="1", PYTHONUNBUFFERED="1")
    return env


@contextlib.contextmanager
def ticker_process(env: dict[str, str]):
    """``manage.py ticker`` against the test server's database, for as long as the block runs:
    the halls' deadlines and windows and the venues' presence checks are timers it applies."""
    proc = subprocess.Popen([sys.executable, "manage.py", "ticker", "--interval", "0.3"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Terminate, and kill what does not stop within 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}"


class ServerUrl(str):
    """The server's base URL; ``.env`` is the environment to run ``manage.py`` against the same
    database (tests set data up through HTTP or subprocesses: the ORM does not work under
    Playwright's sync API)."""

    env: dict[str, str]


@contextlib.contextmanager
def serve(env: dict[str, str], var_dir: Path):
    """Daphne on a free port with ``env``'s configuration, for as long as the block runs: yields
    the base URL (a ``ServerUrl`` carrying ``env``)."""
    port = _free_port()
    log_path = var_dir / "daphne.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = ServerUrl(f"http://127.0.0.1:{port}")
    base.env = env
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5) as res:
                    if res.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("daphne did not start:\n" + log_path.read_text(errors="replace")[-4000:])
            time.sleep(0.2)
        yield base
    finally:
        _stop(server)


@pytest.fixture(scope="session")
def platform_server(chromium_path, tmp_path_factory):
    """Base URL of the platform served by Daphne with the demo data and the test pages.

    Asks for ``chromium_path`` first so that a machine without Chromium skips at once, before
    spending seconds on migrations.
    """
    var_dir = tmp_path_factory.mktemp("e2e-var")
    with demo_platform(_server_env(var_dir), var_dir) as base:
        yield base


@contextlib.contextmanager
def demo_platform(env: dict[str, str], var_dir: Path):
    """A fresh database migrated with the demo data, served (``serve``): the session's server, and
    the servers of the tests that need one of their own (other settings, entries that must not reach
    the other tests)."""
    _manage(env, "migrate", "--noinput", "-v", "0")
    _manage(env, "load_demo")
    with serve(env, var_dir) as base:
        yield base


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = need_tool(CHROMIUM)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        need_service("Playwright", "the playwright package is not installed (pip install -e '.[test]')")
    return path


# Chromium reports each thing the Content-Security-Policy blocked as a console error ("Refused to
# execute inline script because it violates the following Content Security Policy directive ...").
CSP_VIOLATION = re.compile(r"Content[- ]Security[- ]Policy", re.IGNORECASE)
CSP_VIOLATIONS: list[str] = []


# The page's own report of each violation, said on the console at once (the browser's message above
# may reach the test only when the page closes). Injected through the DevTools protocol, so the
# policy does not apply to it.
CSP_REPORTER = """document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`Content-Security-Policy violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
                + ` at ${e.sourceFile || e.documentURI}:${e.lineNumber} ${e.sample || ""}`);
});"""


def _watch_csp(context) -> None:
    def on_console(message):
        if message.type in ("error", "warning") and CSP_VIOLATION.search(message.text):
            CSP_VIOLATIONS.append(f"{message.page.url if message.page else '?'}: {message.text}")
    context.add_init_script(CSP_REPORTER)
    context.on("console", on_console)


_JS_FUNCTION = re.compile(r"\s*(async\s+)?(function\b|\([^)]*\)\s*=>|[A-Za-z_$][\w$]*\s*=>)")


def _as_function(expression):
    """Playwright polls a ``wait_for_function`` *expression* by evaluating the string inside the page,
    which the pages' CSP (no 'unsafe-eval') refuses; a function it calls instead."""
    if isinstance(expression, str) and not _JS_FUNCTION.match(expression):
        return f"() => ({expression})"
    return expression


@pytest.fixture(scope="session", autouse=True)
def _wait_for_function_under_csp():
    try:
        from playwright.sync_api import Frame, Page
    except ImportError:  # chromium_path skips or fails those tests with the reason
        yield
        return

    originals = {cls: cls.wait_for_function for cls in (Page, Frame)}
    for cls, original in originals.items():
        def wait_for_function(self, expression, *args, _original=original, **kwargs):
            return _original(self, _as_function(expression), *args, **kwargs)
        cls.wait_for_function = wait_for_function
    yield
    for cls, original in originals.items():
        cls.wait_for_function = original


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        # Every context any test opens (the fixtures' and the journeys' own) reports CSP violations.
        new_context = browser.new_context

        def watched_context(*args, **kwargs):
            context = new_context(*args, **kwargs)
            _watch_csp(context)
            return context

        browser.new_context = watched_context
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(autouse=True)
def no_csp_violations():
    """A test fails on any Content-Security-Policy violation a page reported while it ran (a test that
    provokes one on purpose takes the list from this fixture and empties it)."""
    CSP_VIOLATIONS.clear()
    yield CSP_VIOLATIONS
    violations, CSP_VIOLATIONS[:] = list(CSP_VIOLATIONS), []
    assert not violations, "the Content-Security-Policy blocked something:\n" + "\n".join(violations)


@pytest.fixture
def context(browser):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors  # uncaught exceptions in the page, for tests to assert on
    return page


# --- the crypto self-test page --------------------------------------------------------------------

CRYPTO_PAGE = "/_test/crypto/"
# Helpers the tests call through page.evaluate. Bytes cross between Python and the page as the
# format's own unpadded base64 (crypto.keys.b64encode / kb.b64.encode).
CRYPTO_HELPERS = """() => {
  window.t = {
    bytes: (text) => kb.b64.decode(text),
    b64: (bytes) => kb.b64.encode(bytes),
    key: (pkcs8) => kb.keyfile.importPkcs8(kb.b64.decode(pkcs8)),
    async error(fn) {
      try { await fn(); return null; } catch (e) { return e.name; }
    },
  };
}"""


def open_crypto_page(page, base_url: str):
    """Load the self-test page and wait until its modules are ready."""
    page.goto(base_url + CRYPTO_PAGE)
    return ready_crypto_page(page)


def ready_crypto_page(page):
    """Wait for the self-test page's modules (after a load or a reload) and install the helpers."""
    page.wait_for_function("window.kb && window.kb.ready")
    page.evaluate(CRYPTO_HELPERS)
    return page


@pytest.fixture(scope="module")
def crypto_page(browser, platform_server):
    """One self-test page shared by a module's tests (pure functions: no state carries over)."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    try:
        yield open_crypto_page(page, platform_server)
    finally:
        context.close()
