"""``make prod-check``: the production stack started on this machine in a temporary directory,
checked through its proxy, and stopped (docs/operations.md, "Checking the stack: make prod-check").

It starts a private Redis on a free port and a fresh PostgreSQL database on the machine's server
(``PROD_CHECK_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/``; dropped at the end),
makes a self-signed certificate, renders nginx's configuration with ``manage.py nginx_config`` and
runs ``deploy/Procfile`` with honcho: two Daphne workers on unix sockets, the ticker and nginx as
the current user on a free high port with its own prefix (no configuration of the machine's own
nginx is read or touched). Then ``tools/prod_smoke.py`` checks it through the proxy and
``manage.py check --deploy --fail-level WARNING`` runs with the same production settings. Exits
non-zero on any failure; everything started here is stopped here, also on failure.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BIN = Path(sys.executable).parent
TOOLS = {"nginx": "nginx", "redis-server": "redis-server", "openssl": "openssl"}


class CheckFailed(Exception):
    pass


def find(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        raise CheckFailed(f"{name} not found (Debian: apt-get install {TOOLS[name]})")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def step(name: str):
    started = time.monotonic()
    print(f"prod-check: {name} ...", flush=True)
    return lambda: print(f"prod-check: {name}: ok ({time.monotonic() - started:.1f} s)", flush=True)


def run(cmd: list[str], env: dict, what: str, timeout: float = 180) -> str:
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise CheckFailed(f"{what} failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout


def server_url() -> str:
    url = os.environ.get("PROD_CHECK_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/"
    return url.rsplit("/", 1)[0] + "/"


def admin_sql(sql: str) -> None:
    import psycopg

    try:
        with psycopg.connect(server_url() + "postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)
    except psycopg.OperationalError as exc:
        raise CheckFailed(f"PostgreSQL at {server_url()} does not answer: {exc}") from None


def make_certificate(openssl: str, folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "tls.crt", folder / "tls.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


def production_env(tmp: Path, database_url: str, redis_url: str, port: int, nginx: str) -> dict:
    origin = f"https://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DEBUG"}}
    env.update({
        "KAIBIAO_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(64),
        "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost", "CSRF_TRUSTED_ORIGINS": origin,
        "WEBSOCKET_ALLOWED_ORIGINS": origin, "PROXY_COUNT": "1",
        "KAIBIAO_VAR_DIR": str(tmp / "var"), "KAIBIAO_RUN_DIR": str(tmp / "run"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"), "METRICS_TOKEN": secrets.token_urlsafe(32),
        # On, so a worker answers /media/events (401 without Janus's secret) and the smoke test can
        # see that the public proxy does not pass it on (404).
        "MEDIA_EVENTS_SECRET": secrets.token_urlsafe(24),
        "OCDS_PREFIX": "ocds-pchk01",  # a production server refuses the placeholder (kaibiao.E011)
        "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
        # The workers, the ticker and nginx from the Procfile: this interpreter's tools first.
        "PATH": os.pathsep.join([str(BIN), str(Path(nginx).parent), env.get("PATH", "")]),
    })
    return env


def wait_healthy(base: str, cafile: Path, procs: subprocess.Popen, timeout: float = 40) -> None:
    import ssl
    import urllib.request

    context = ssl.create_default_context(cafile=str(cafile))
    end = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=3, context=context) as res:
                if res.status == 200:
                    return
        except OSError:
            pass
        if procs.poll() is not None or time.monotonic() > end:
            raise CheckFailed("the stack did not become healthy through the proxy")
        time.sleep(0.3)


def stop(proc: subprocess.Popen | None, timeout: float = 15) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> int:
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="kaibiao-prod-"))
    database = f"kaibiao_prodcheck_{secrets.token_hex(4)}"
    redis = honcho = receiver = None
    created = False
    try:
        print(f"prod-check: working in {tmp}", flush=True)
        nginx, redis_server, openssl = find("nginx"), find("redis-server"), find("openssl")
        for sub in ("run/nginx", "var", "metrics"):
            (tmp / sub).mkdir(parents=True)
        done = step("PostgreSQL database, Redis, TLS certificate")
        admin_sql(f'CREATE DATABASE "{database}"')
        created = True
        redis_port = free_port()
        redis = subprocess.Popen([redis_server, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "",
                                  "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL)
        cert, key = make_certificate(openssl, tmp / "run")
        port = free_port()
        env = production_env(tmp, server_url() + database, f"redis://127.0.0.1:{redis_port}/0", port, nginx)
        from tools.outbox_receiver import Receiver

        receiver = Receiver()  # the outbox worker of the Procfile pushes the demo's events here
        env["EXCHANGE_ENDPOINTS"] = json.dumps([{"name": "prod-check", "url": receiver.url}])
        done()
        done = step("keys, migrate, collectstatic, demo data, nginx configuration")
        manage = [PY, "manage.py"]
        # Independent of each other and of the database: alongside the migrations.
        side = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                for cmd in (manage + ["collectstatic", "--noinput", "-v", "0"], manage + ["provision_keys"],
                            manage + ["nginx_config", "--listen", f"127.0.0.1:{port}",
                                      "--server-name", "127.0.0.1 localhost",
                                      "--upstream", f"unix:{tmp / 'run' / 'web1.sock'}",
                                      "--upstream", f"unix:{tmp / 'run' / 'web2.sock'}",
                                      "--cert", str(cert), "--key", str(key),
                                      "--prefix", str(tmp / "run" / "nginx"),
                                      "--out", str(tmp / "run" / "nginx" / "nginx.conf")])]
        run(manage + ["migrate", "--noinput", "-v", "0"], env, "migrate")
        for proc in side:
            _, err = proc.communicate(timeout=180)
            if proc.returncode != 0:
                raise CheckFailed(f"{' '.join(proc.args[2:4])} failed: {err.decode()[-3000:]}")
        run(manage + ["load_demo"], env, "load_demo")
        run([nginx, "-t", "-q", "-p", str(tmp / "run" / "nginx"), "-c", str(tmp / "run" / "nginx" / "nginx.conf"),
             "-e", "stderr"], env, "nginx -t")
        done()
        done = step("honcho start -f deploy/Procfile (2 workers, ticker, outbox, nginx)")
        # Quoted as a shell would read them (honcho and systemd's EnvironmentFile both do): the JSON of
        # EXCHANGE_ENDPOINTS keeps its double quotes.
        (tmp / "env").write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in env.items() if "\n" not in v))
        log = open(tmp / "honcho.log", "w")
        honcho = subprocess.Popen([PY, "-m", "honcho", "start", "-f", "deploy/Procfile", "-d", str(ROOT),
                                   "-e", str(tmp / "env"), "--no-colour"], cwd=ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"https://127.0.0.1:{port}"
        wait_healthy(base, cert, honcho)
        done()
        done = step("smoke test through the proxy")
        from tools import prod_smoke

        prod_smoke.check(base=base, cafile=cert, env=env, root=ROOT, tmp=tmp, receiver=receiver)
        done()
        done = step("check --deploy with the production settings")
        run(manage + ["check", "--deploy", "--fail-level", "WARNING"], env, "check --deploy")
        done()
        stop(honcho)
        if honcho.returncode not in (0, 128 + signal.SIGTERM, -signal.SIGTERM):
            raise CheckFailed(f"honcho ended with {honcho.returncode}")
        log.close()
        if "Traceback" in (tmp / "honcho.log").read_text():
            raise CheckFailed("a process of the stack logged a traceback")
        print(f"prod-check: passed in {time.monotonic() - started:.1f} s", flush=True)
        return 0
    except (CheckFailed, AssertionError, subprocess.SubprocessError, OSError) as exc:
        print(f"prod-check: FAILED: {exc}", file=sys.stderr, flush=True)
        log_path = tmp / "honcho.log"
        if log_path.exists():
            print("--- the stack's log (last lines) ---\n" + log_path.read_text()[-6000:], file=sys.stderr)
        return 1
    finally:
        stop(honcho)
        stop(redis, 5)
        if receiver is not None:
            receiver.close()
        if created:
            try:
                admin_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            except CheckFailed as exc:
                print(f"prod-check: could not drop {database}: {exc}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
