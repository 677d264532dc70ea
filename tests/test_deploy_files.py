"""The proxy's configuration is rendered from the settings (``config/nginx.py``), and the service
files of ``deploy/`` run the same processes the same way (``deploy/Procfile``, ``deploy/systemd/``)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from django.core.management import call_command

from config.nginx import Site, render

ROOT = Path(__file__).resolve().parent.parent


def site(**extra) -> Site:
    return Site(upstreams=["unix:/run/kaibiao/web1.sock", "unix:/run/kaibiao/web2.sock"],
                certificate="/etc/ssl/kb.crt", certificate_key="/etc/ssl/kb.key", **extra)


def test_the_proxy_states_the_applications_body_limits(settings):
    settings.BID_UPLOAD_MAX_CHUNK_BYTES = 3 * 2**20 + 7
    settings.JSON_BODY_MAX_BYTES = 65_536
    text = render(site())
    server = text[text.index("listen 443 ssl"):]
    assert re.search(r"^\s+client_max_body_size 65536;", server, re.M)
    upload = server[server.index("location ~ ^/api/v1/uploads/"):]
    assert re.search(r"client_max_body_size 3145735;", upload.split("}", 1)[0])
    assert "proxy_request_buffering off;" in upload.split("}", 1)[0]
    # Refusals in the platform's error envelope, with its stable codes.
    assert '"code":"body_too_large"' in text and '"code":"chunk_too_large"' in text


def test_without_a_json_limit_setting_the_default_is_one_mebibyte(settings):
    if hasattr(settings, "JSON_BODY_MAX_BYTES"):
        del settings.JSON_BODY_MAX_BYTES
    assert re.search(r"^\s+client_max_body_size 1048576;", render(site()), re.M)


def test_the_client_address_is_replaced_never_appended():
    text = render(site())
    assert "$proxy_add_x_forwarded_for" not in text
    assert text.count("proxy_set_header X-Forwarded-For $remote_addr;") == 3  # /ws/, uploads, /
    assert text.count("proxy_set_header X-Forwarded-Proto $scheme;") == 3
    ws = text[text.index("location /ws/"):].split("}", 1)[0]
    assert "proxy_set_header Upgrade $http_upgrade;" in ws and "Connection $connection_upgrade" in ws


def test_the_media_servers_event_endpoint_is_not_public():
    """``/media/events`` is for Janus on the private network: the public server answers it (and all
    of ``/media/``) itself with 404, before any regular-expression location could proxy it."""
    text = render(site())
    server = text[text.index("listen 443 ssl"):]
    block = server[server.index("location ^~ /media/ {"):].split("}", 1)[0]
    assert "return 404" in block and '"code":"not_found"' in block and "proxy_pass" not in block
    # The plain-HTTP port (when there is one) only redirects and serves /healthz.
    plain = render(site(http_listen="80"))
    http_server = plain[plain.index("listen 80;"):plain.index("listen 443 ssl")]
    assert "location / { return 301" in http_server and "/media" not in http_server


def test_a_private_prefix_keeps_every_path_inside_it(tmp_path):
    out = tmp_path / "nginx.conf"
    call_command("nginx_config", upstream=["127.0.0.1:8001"], cert="/c.pem", key="/k.pem",
                 listen="127.0.0.1:18443", prefix=str(tmp_path), out=str(out))
    text = out.read_text()
    paths = re.findall(r"^\s*(?:pid|error_log|access_log|\w+_temp_path) (\S+?);?(?:\s|$)", text, re.M)
    assert len(paths) == 8 and all(p.startswith(str(tmp_path)) for p in paths), paths
    assert (tmp_path / "logs").is_dir() and (tmp_path / "temp").is_dir()


def test_nginx_worker_processes_are_one_per_core_unless_told(tmp_path):
    assert "worker_processes auto;" in render(site())
    out = tmp_path / "nginx.conf"
    call_command("nginx_config", upstream=["127.0.0.1:8001"], cert="/c.pem", key="/k.pem",
                 worker_processes="1", out=str(out))
    assert re.search(r"^worker_processes 1;$", out.read_text(), re.M)
    for bad in ("0", "-1", "two", "1; daemon off", ""):
        with pytest.raises(ValueError):
            render(Site(upstreams=["127.0.0.1:8001"], certificate="c", certificate_key="k", worker_processes=bad))


def test_no_worker_is_refused():
    with pytest.raises(ValueError):
        render(Site(upstreams=[], certificate="c", certificate_key="k"))


def procfile() -> dict[str, list[str]]:
    lines = (ROOT / "deploy" / "Procfile").read_text().splitlines()
    return {name: shlex.split(cmd) for name, _, cmd in
            (line.partition(": ") for line in lines if line and not line.startswith("#"))}


def exec_start(unit: str) -> list[str]:
    text = (ROOT / "deploy" / "systemd" / unit).read_text()
    return shlex.split(re.search(r"^ExecStart=(.+)$", text, re.M).group(1))


def test_the_procfile_and_the_systemd_units_run_the_same_workers_and_ticker():
    procs = procfile()
    assert set(procs) == {"web1", "web2", "ticker", "outbox", "proxy"}
    unit = exec_start("kaibiao-web@.service")
    for i in ("1", "2"):
        web = procs[f"web{i}"]
        expected = [a.replace("$KAIBIAO_RUN_DIR", "/run/kaibiao") for a in web[1:]]
        assert [a.replace("%i", i) for a in unit[1:]] == expected, (unit, web)
        assert "--proxy-headers" in web and Path(unit[0]).name == web[0] == "daphne"
    assert exec_start("kaibiao-ticker.service")[1:] == procs["ticker"][1:] == ["manage.py", "ticker"]
    assert exec_start("kaibiao-outbox.service")[1:] == procs["outbox"][1:] == ["manage.py", "exchange_deliver"]
    assert "Restart=always" in (ROOT / "deploy" / "systemd" / "kaibiao-outbox.service").read_text()
    target = (ROOT / "deploy" / "systemd" / "kaibiao.target").read_text()
    for wanted in ("kaibiao-web@1.service", "kaibiao-web@2.service", "kaibiao-ticker.service",
                   "kaibiao-outbox.service", "nginx.service"):
        assert wanted in target


def test_a_reconnect_storm_is_accepted_and_resumes_tls():
    """Thousands of clients back at once: a listen queue deeper than nginx's 511 (and than the
    workers' 1,024), one queue per nginx worker, every waiting connection accepted, file limits for
    two connections per socket; TLS sessions resumed by ticket or by the shared cache."""
    from config.nginx import LISTEN_BACKLOG, WORKER_CONNECTIONS

    text = render(site())
    listen = re.search(r"^\s+listen 443 ssl(.*);$", text, re.M).group(1).split()
    assert f"backlog={LISTEN_BACKLOG}" in listen and "reuseport" in listen and LISTEN_BACKLOG > 1024
    assert re.search(rf"^events {{ worker_connections {WORKER_CONNECTIONS}; multi_accept on; }}$", text, re.M)
    nofile = int(re.search(r"^worker_rlimit_nofile (\d+);$", text, re.M).group(1))
    assert nofile >= 2 * WORKER_CONNECTIONS
    assert "ssl_session_tickets on;" in text and "ssl_session_cache shared:" in text
    # least_conn counts every nginx worker's connections together (a shared zone), not each apart.
    upstream = text[text.index("upstream kaibiao_workers {"):].split("}", 1)[0]
    assert re.search(r"^\s+zone kaibiao_workers \d+k;$", upstream, re.M) and "least_conn;" in upstream
    ws = text[text.index("location /ws/"):].split("}", 1)[0]
    assert "proxy_buffering off;" in ws
    for line in procfile()["web1"]:
        if line.startswith("unix:"):
            assert int(re.search(r"backlog=(\d+)", line).group(1)) < LISTEN_BACKLOG


def test_the_rendered_configuration_is_accepted_by_nginx(tmp_path):
    """``nginx -t`` on what ``manage.py nginx_config`` writes (backlog, reuseport, file limits and
    all), as the current user in a private prefix."""
    import subprocess

    from tests.conftest import need_tool

    nginx = need_tool("nginx")

    call_command("nginx_config", "--upstream", "127.0.0.1:8001", "--upstream", "127.0.0.1:8002",
                 cert=str(tmp_path / "c.pem"), key=str(tmp_path / "k.pem"), listen="127.0.0.1:18443",
                 prefix=str(tmp_path), out=str(tmp_path / "nginx.conf"))
    openssl = need_tool("openssl")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(tmp_path / "k.pem"), "-out", str(tmp_path / "c.pem"), "-days", "1",
                    "-subj", "/CN=localhost"], check=True, capture_output=True)
    done = subprocess.run([nginx, "-t", "-q", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", "stderr"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
