"""The demo configuration as `make demo` runs it: SQLite, the in-memory layer, one Daphne process."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_env(var_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "KAIBIAO_ENV",
                                                             "DJANGO_SETTINGS_MODULE"}}
    env["KAIBIAO_VAR_DIR"] = str(var_dir)
    return env


def manage(env, *args) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def get(url: str):
    with urllib.request.urlopen(url, timeout=10) as res:
        return res.status, res.read().decode()


def test_the_demo_starts_serves_chinese_and_is_healthy(tmp_path):
    env = demo_env(tmp_path)
    manage(env, "migrate", "--noinput", "-v", "0")
    first = manage(env, "load_demo").stdout
    second = manage(env, "load_demo").stdout  # twice: no failure, no duplicates
    assert "bidder5" in first and "expert09" in first and first == second
    counts = manage(env, "shell", "-v", "0", "-c", (
        "from accounts.models import User, Organisation; from bidding.models import Lot;"
        "from evaluation.models import Expert, Venue;"
        "print(User.objects.count(), Organisation.objects.count(), Lot.objects.count(),"
        " Expert.objects.values('region').distinct().count(), Venue.objects.count())")).stdout.split()
    users, orgs, lots, regions, venues = map(int, counts)
    assert (lots, regions, venues) == (1, 3, 3) and users >= 5 + 9 + 3 and orgs >= 5

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                               "config.asgi:application"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = get(base + "/healthz")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError("daphne did not start: " + server.stdout.read1().decode())
                time.sleep(0.3)
        health = json.loads(body)
        assert status == 200 and health["status"] == "ok"
        assert health["database"]["vendor"] == "sqlite"
        assert health["channel_layer"]["backend"] == "InMemoryChannelLayer"
        status, body = get(base + "/")
        assert status == 200 and "不见面开标" in body and 'lang="zh-hans"' in body
        status, css = get(base + "/static/frontend/site.css")
        assert status == 200 and "--accent" in css
    finally:
        server.terminate()
        server.wait(timeout=10)
