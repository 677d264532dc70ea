"""``make prod-check``: the production stack of ``deploy/`` started here, smoke-tested through nginx
and stopped (``tools/prod_check.py``). Skips on a machine without nginx, Redis, OpenSSL or a
PostgreSQL server, saying which; fails on any of them missing under ``CI=true``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import need_service, need_tool

ROOT = Path(__file__).resolve().parent.parent


def postgres_answers() -> bool:
    import psycopg

    url = os.environ.get("PROD_CHECK_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/"
    try:
        psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.mark.needs_postgres
@pytest.mark.needs_redis
def test_make_prod_check_starts_checks_and_stops_the_stack():
    nginx = need_tool("nginx")
    need_tool("redis-server")
    need_tool("openssl")
    if not postgres_answers():
        need_service("PostgreSQL", "no server at PROD_CHECK_DATABASE_URL (default 127.0.0.1:5432)")
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(nginx).parent), os.environ.get("PATH", "")]))
    done = subprocess.run([sys.executable, "-m", "tools.prod_check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-8000:]
    for line in ("health and both workers: ok", "a page over HTTPS: ok", "WebSocket join over wss: ok",
                 "a bid uploaded with the API: ok", "body limits at the proxy: ok",
                 "/media/ not public: ok", "metrics over both workers: ok", "the outbox's signed pushes: ok",
                 "check --deploy with the production settings: ok", "prod-check: passed"):
        assert line in out, out[-4000:]
    # Everything it started is stopped and removed: no process, no file left behind.
    workdir = re.search(r"prod-check: working in (\S+)", out).group(1)
    assert not Path(workdir).exists(), workdir
    leftovers = [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and p.name != str(os.getpid())
                 and workdir in _cmdline(p)]
    assert not leftovers, f"processes of the stack still running: {leftovers}"


def _cmdline(proc: Path) -> str:
    """A process's command line and environment (the ticker names the directory only there)."""
    try:
        return b"\0".join((proc / name).read_bytes() for name in ("cmdline", "environ")).decode(errors="replace")
    except OSError:  # ended meanwhile, or not ours to read
        return ""


def test_the_check_fails_when_a_tool_is_missing(tmp_path):
    """A machine without nginx: the command says which package to install and exits non-zero."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(sys.executable, bin_dir / "python3")
    env = dict(os.environ, PATH=str(bin_dir))
    done = subprocess.run([sys.executable, "-c", "import shutil, tools.prod_check as p; "
                           "shutil.which = lambda name, path=None: None; raise SystemExit(p.main())"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "nginx not found (Debian: apt-get install nginx)" in done.stderr
