"""Every page carries the strict Content-Security-Policy, and none holds markup that the policy would
block (an inline script, an inline event handler, a style attribute or element, a javascript: URL):
each page of the frontend URLconf, served to each role and to the anonymous visitor, error pages
included."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from config.csp import POLICY
from frontend import urls as frontend_urls

pytestmark = pytest.mark.django_db


class Blocked(HTMLParser):
    """What the policy would refuse to run or apply, as (tag, what) pairs."""

    def __init__(self):
        super().__init__()
        self.problems: list[tuple[str, str]] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append((tag, f"inline handler {name}={value!r}"))
            if name == "style":
                self.problems.append((tag, f"style attribute {value!r}"))
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith("javascript:"):
                self.problems.append((tag, f"javascript: URL in {name}"))
        if tag == "script":
            self.scripts += 1
            if not a.get("src") and a.get("type") != "application/json":
                self.problems.append((tag, "inline script"))
        if tag == "style":
            self.problems.append((tag, "inline style element"))


def blocked(html: str) -> Blocked:
    parser = Blocked()
    parser.feed(html)
    return parser


def test_the_checker_finds_what_the_policy_blocks():
    html = ('<script>alert(1)</script><script type="module">x</script><a onclick="x()" href="javascript:y()">'
            '<p style="color:red"></p><style>p{}</style><script type="application/json">{}</script>'
            '<script src="/static/a.js"></script>')
    found = [what.split(" ")[0] for _, what in blocked(html).problems]
    assert found == ["inline", "inline", "inline", "javascript:", "style", "inline"]


def test_the_policy_allows_no_inline_script_nor_style():
    directives = dict(d.strip().split(" ", 1) for d in POLICY.split(";"))
    for name in ("script-src", "style-src", "default-src"):
        assert "'unsafe-inline'" not in directives[name] and "'unsafe-eval'" not in directives[name]
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"


@pytest.fixture
def site(db):
    from accounts.models import User
    from evaluation.testing import build

    scenario = build()
    admin = User.objects.create(username="csp_admin", role="admin", is_staff=True, is_superuser=True)
    people = {"anonymous": None, "admin": admin, "host": scenario.host, "supervisor": scenario.supervisor,
              "bidder": next(iter(scenario.bidder_users.values())), "expert": next(iter(scenario.experts.values())),
              "venue_staff": scenario.staff[scenario.venues[0].pk]}
    args = {"lot_id": scenario.lot.pk, "session_id": scenario.session.pk, "venue_id": scenario.venues[0].pk}
    return people, args


def frontend_pages(args) -> list[str]:
    pages = []
    for pattern in frontend_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        names = list(pattern.pattern.regex.groupindex)
        unknown = [n for n in names if n not in args]
        assert not unknown, f"{pattern.name}: no value for {unknown}; add one to the fixture"
        pages.append(reverse(f"frontend:{pattern.name}", kwargs={n: args[n] for n in names}))
    return pages + ["/no-such-page/", "/admin/", "/admin/login/"]


@pytest.mark.parametrize("who", ["anonymous", "admin", "host", "supervisor", "bidder", "expert", "venue_staff"])
def test_every_page_has_the_policy_and_nothing_it_would_block(site, who):
    people, args = site
    client = Client()
    if people[who] is not None:
        client.force_login(people[who])
    pages = frontend_pages(args)
    assert len(pages) >= len(frontend_urls.urlpatterns)
    rendered = 0
    for path in pages:
        res = client.get(path)
        assert res.status_code < 500, (who, path, res.status_code)
        assert res["Content-Security-Policy"] == POLICY, (who, path)
        if res.status_code == 200 and "html" in res.get("Content-Type", ""):
            found = blocked(res.content.decode())
            assert not found.problems, (who, path, found.problems)
            rendered += 1
    assert rendered >= 2, f"{who}: too few pages rendered to mean anything"


def test_the_api_and_the_error_pages_carry_the_policy_too(client):
    for path in ("/api/v1/time", "/no-such-page/", "/healthz"):
        assert client.get(path)["Content-Security-Policy"] == POLICY


def test_no_template_holds_what_the_policy_blocks_even_on_pages_not_walked_above():
    # The test-only crypto page too (served with E2E_TEST_PAGES), and branches a walk may not reach.
    from pathlib import Path

    root = Path(frontend_urls.__file__).parent / "templates"
    templates = sorted(root.rglob("*.html"))
    assert templates
    for path in templates:
        found = blocked(path.read_text())
        assert not found.problems, (path.name, found.problems)


@pytest.mark.parametrize("url, origin", [
    ("ws://127.0.0.1:8188", "ws://127.0.0.1:8188"),
    ("wss://media.kb.example.cn/janus", "wss://media.kb.example.cn"),
    ("wss://media.kb.example.cn:8989/x?y=1", "wss://media.kb.example.cn:8989"),
    ("", ""), ("https://media.example.cn", ""), ("ws://a b/", ""), ("ws://x'; script-src *", ""),
    ("javascript:alert(1)", ""), ("ws://:80", ""),
])
def test_only_the_media_servers_websocket_origin_enters_connect_src(url, origin):
    from config.csp import media_origin, policy

    assert media_origin(url) == origin
    directives = dict(d.strip().split(" ", 1) for d in policy(url).split(";"))
    base = dict(d.strip().split(" ", 1) for d in POLICY.split(";"))
    assert directives["connect-src"] == ("'self' " + origin if origin else "'self'")
    assert {k: v for k, v in directives.items() if k != "connect-src"} == \
        {k: v for k, v in base.items() if k != "connect-src"}


def test_pages_allow_the_configured_media_server(client, settings):
    settings.MEDIA_JANUS_WS = "ws://127.0.0.1:9301"
    header = client.get("/")["Content-Security-Policy"]
    assert "connect-src 'self' ws://127.0.0.1:9301;" in header


@pytest.mark.parametrize("path, wasm", [
    ("/static/frontend/seal_worker.js", True),
    ("/static/frontend/seal_worker.0123456789ab.js", True),
    ("/static/frontend/sealing.js", False), ("/static/frontend/submit_page.js", False),
    ("/static/frontend/seal_worker.jsx", False), ("/static/frontend/xseal_worker.js", False),
    ("/static/vendor/hash-wasm-4.13.0/dist/sha256.umd.min.js", False),
    ("/static/frontend/crypto/seal_worker.js", False), ("/evil/static/frontend/seal_worker.js", False),
    ("/frontend/seal_worker.js", False), ("/", False),
    ("/static/frontend/crypto/kdf_worker.js", True), ("/static/frontend/crypto/kdf_worker.0123456789ab.js", True),
    ("/static/frontend/kdf_worker.js", False), ("/static/frontend/crypto/sm.js", False),
    ("/static/frontend/crypto/kdf_worker.js.map", False), ("/static/frontend/crypto/xkdf_worker.js", False),
    ("/static/vendor/hash-wasm-4.13.0/dist/sm3.umd.min.js", False),
    ("/static/vendor/hash-wasm-4.13.0/dist/hmac.umd.min.js", False),
    ("/static/frontend/crypto/sm4_worker.js", True), ("/static/frontend/crypto/sm4_worker.0123456789ab.js", True),
    ("/static/frontend/crypto/sm4_wasm.js", False), ("/static/frontend/sm4_worker.js", False),
    ("/static/frontend/crypto/sm4_worker.js.map", False), ("/static/frontend/crypto/xsm4_worker.js", False),
    ("/static/frontend/crypto/sm4_worker.0123456789AB.js", False), ("/static/frontend/crypto/gm_sealer.js", False),
    ("/static/vendor/openssl-sm4-gcm-3.0.20/sm4gcm.wasm", False),
])
def test_only_the_three_workers_scripts_may_compile_webassembly(path, wasm):
    from config.csp import compiles_wasm, policy

    assert compiles_wasm(path) is wasm
    directives = dict(d.strip().split(" ", 1) for d in policy(wasm=compiles_wasm(path)).split(";"))
    base = dict(d.strip().split(" ", 1) for d in POLICY.split(";"))
    assert directives["script-src"] == ("'self' 'wasm-unsafe-eval'" if wasm else "'self'")
    assert "'unsafe-eval'" not in directives["script-src"] and "'unsafe-inline'" not in directives["script-src"]
    assert {k: v for k, v in directives.items() if k != "script-src"} == \
        {k: v for k, v in base.items() if k != "script-src"}


def test_the_workers_are_served_with_wasm_and_their_pages_and_modules_without(client):
    for path in ("/static/frontend/seal_worker.js", "/static/frontend/crypto/kdf_worker.js",
                 "/static/frontend/crypto/sm4_worker.js"):
        worker = client.get(path)
        assert worker.status_code == 200, path
        assert "script-src 'self' 'wasm-unsafe-eval';" in worker["Content-Security-Policy"], path
    for path in ("/static/frontend/sealing.js", "/static/vendor/hash-wasm-4.13.0/dist/sha256.umd.min.js",
                 "/static/frontend/crypto/sm.js", "/static/vendor/hash-wasm-4.13.0/dist/sm3.umd.min.js",
                 "/static/frontend/crypto/sm4_wasm.js", "/static/frontend/crypto/gm_sealer.js",
                 "/static/vendor/openssl-sm4-gcm-3.0.20/sm4gcm.wasm", "/"):
        assert client.get(path)["Content-Security-Policy"] == POLICY, path
