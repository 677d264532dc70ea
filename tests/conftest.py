"""Shared fixtures: the people of a tender (two bidders, alice and bob, so cross-tenant access is
always tested), a lot, and the services a test may need.

A test that needs Redis or PostgreSQL, or runs an external program (``need_tool``: pdftotext,
Chromium, redis-server, ...), skips on a machine without it, printing why; with ``CI=true`` the same
test fails instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from accounts.credit_code import check_character
from accounts.models import Organisation, User
from common import clock
from common.roles import Role

from tests.realtime_client import connect  # noqa: E402,F401  (the signed-in WebSocket client fixture)

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PASSWORD = "correct horse battery staple"


def need_service(what: str, reason: str) -> None:
    """Skip (a user's machine) or fail (CI) when a service the test needs is missing."""
    if IN_CI:
        pytest.fail(f"{what} is required in CI: {reason}")
    pytest.skip(f"{what} not available: {reason}")


# External programs the tests run, and the Debian package that provides each (for the skip reason).
TOOL_PACKAGES = {
    "pdftotext": "poppler-utils", "pdffonts": "poppler-utils", "chromium": "chromium",
    "redis-server": "redis-server", "nginx": "nginx", "openssl": "openssl", "msgfmt": "gettext",
    "softhsm2-util": "softhsm2", "janus": "janus", "janus-pp-rec": "janus-tools", "turnserver": "coturn",
    "espeak-ng": "espeak-ng", "turnutils_uclient": "coturn", "psql": "postgresql-client",
    "pg_dump": "postgresql-client", "pg_restore": "postgresql-client", "clang-14": "clang",
    "wasm-ld-14": "lld", "apt-get": "apt", "node": "nodejs",
}


def need_tool(name: str) -> str:
    """The path of the external program ``name`` (a name on PATH, or an absolute path). Through
    ``need_service``: on a user's machine without it the test skips and says which package to
    install; in CI (``CI=true``) it fails. Every test that runs an external program gets it here
    (``tests/test_external_tools.py`` checks)."""
    path = shutil.which(name)
    if path is None:
        package = TOOL_PACKAGES.get(os.path.basename(name), os.path.basename(name))
        need_service(name, f"not found on PATH (Debian: apt-get install {package})")
    return path


# The SoftHSM2 tokens of the tests, made before this process first loads the module: SoftHSM reads
# SOFTHSM2_CONF and scans its token directory once, at its C_Initialize, so a token initialised
# later in the same process is not seen. (label: (user PIN, SO PIN))
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
SOFTHSM_TOKENS = {"bidder-lock": ("123456", "12345678"), "platform-hsm": ("654321", "87654321")}


@pytest.fixture(scope="session")
def softhsm_tokens(tmp_path_factory) -> dict:
    """The tokens of ``SOFTHSM_TOKENS``, initialised in a fresh token directory, and the
    configuration pointing at it (``SOFTHSM2_CONF`` set for this process and its children)."""
    util = need_tool("softhsm2-util")
    if not Path(SOFTHSM_MODULE).exists():
        pytest.fail(f"{SOFTHSM_MODULE} is missing though softhsm2-util is installed")
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    for number, (label, (pin, so_pin)) in enumerate(SOFTHSM_TOKENS.items(), start=1):
        # A serial of its own: SoftHSM derives one from the clock, the same for two tokens made in
        # one second, and then confuses them.
        subprocess.run([util, "--init-token", "--free", "--label", label, "--serial", f"kaibiao{number:09d}",
                        "--pin", pin, "--so-pin", so_pin],
                       env=env, check=True, capture_output=True, timeout=30)
    os.environ["SOFTHSM2_CONF"] = str(conf)
    return {"conf": conf, "tokens": base / "tokens", "env": env, "util": util}


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Every test starts with full budgets (common.ratelimit keeps them in memory or Redis)."""
    from common import ratelimit

    ratelimit.clear()
    yield


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """The test database, and at its teardown the connections other threads opened to it closed
    first: asgiref's thread for ``database_sync_to_async`` (the realtime code's ORM calls) and the
    audit sequencer's thread keep theirs, and PostgreSQL refuses to drop a database that is still
    in use ("database ... is being accessed by other users")."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    from audit.sequencer import sequencer

    sequencer.stop()  # its thread closes its connection as it ends
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=30)


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        need_service("Redis", "REDIS_URL is not set")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means the service is not there
        need_service("Redis", f"{url} does not answer ({exc})")
    return url


@pytest.fixture
def tsa():
    """A real local RFC 3161 TSA (``openssl ts``; tests/tsa.py)."""
    need_tool("openssl")
    from tests.tsa import LocalTSA

    authority = LocalTSA()
    yield authority
    authority.close()


@pytest.fixture
def postgres(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        need_service("PostgreSQL", "DATABASE_URL does not point at PostgreSQL")
    return connection


def make_code(seed: str) -> str:
    base = (seed + "0" * 17)[:17].upper()
    return base + check_character(base)


@pytest.fixture
def orgs(db):
    def org(name, kind, seed):
        return Organisation.objects.create(name=name, kind=kind, credit_code=make_code(seed))

    return {
        "tenderee": org("甲建设单位", "tenderee", "91320100TE1"),
        "agency": org("乙招标代理", "agency", "91320100AG1"),
        "other_agency": org("丙招标代理", "agency", "91320100AG2"),
        "alice_co": org("Alice 建设有限公司", "bidder", "91320100AL1"),
        "bob_co": org("Bob 路桥有限公司", "bidder", "91320100B01"),
        "supervisory": Organisation.objects.create(name="监督局", kind="supervisory"),
    }


@pytest.fixture
def people(orgs):
    def user(username, role, org=None, **extra):
        u = User(username=username, role=role, organisation=org, **extra)
        u.set_password(PASSWORD)
        u.save()
        return u

    return {
        "admin": user("admin", Role.ADMIN, is_staff=True, is_superuser=True),
        "host": user("host", Role.HOST, orgs["agency"]),
        "other_host": user("other_host", Role.HOST, orgs["other_agency"]),
        "alice": user("alice", Role.BIDDER, orgs["alice_co"]),
        "bob": user("bob", Role.BIDDER, orgs["bob_co"]),
        "expert": user("expert", Role.EXPERT),
        "venue_staff": user("venue_staff", Role.VENUE_STAFF),
        "supervisor": user("supervisor", Role.SUPERVISOR, orgs["supervisory"]),
    }


@pytest.fixture
def make_lot(orgs):
    from bidding.models import Lot, Project

    counter = {"n": 0}

    def make(status="published", agency="agency", deadline_in=timedelta(days=20), **values):
        counter["n"] += 1
        project = Project.objects.create(code=f"P-{counter['n']}", title=f"项目{counter['n']}",
                                         tenderee=orgs["tenderee"], agency=orgs[agency])
        deadline = clock.now() + deadline_in
        values.setdefault("signin_opens_at", deadline - timedelta(minutes=30))
        lot = Lot.objects.create(project=project, code="01", title="施工", bid_deadline=deadline,
                                 status=status, **values)
        # As bidding.actions.create_lot does: the log states what the lot was created with (an
        # archive's tender.json is checked against it).
        from common.actor import Actor
        from bidding.actions import log_lot_created

        log_lot_created(lot, Actor.system("tests"))
        return lot

    return make
