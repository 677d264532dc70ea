"""The nginx configuration of the production stack, rendered from the settings (``manage.py
nginx_config``), so the proxy states the same body limits as the application and nobody keeps two
copies of a number in step by hand (docs/operations.md, "The TLS proxy").

What it guarantees:

- TLS only on the public port (TLS 1.2 and 1.3); an optional plain-HTTP port answers with a
  redirect, except ``/healthz``.
- ``X-Forwarded-For`` is *replaced* by the address nginx saw (``$remote_addr``), never appended to:
  Daphne (``--proxy-headers``) takes the first entry as the client, so an appended header would let a
  client write its own address into the audit log. ``X-Forwarded-Proto`` says ``https``, which
  ``SECURE_PROXY_SSL_HEADER`` trusts. With exactly this one proxy, ``PROXY_COUNT=1``.
- WebSockets (``/ws/``) are upgraded and kept open past the protocol's heartbeat.
- Bodies: ``JSON_BODY_MAX_BYTES`` everywhere, ``BID_UPLOAD_MAX_CHUNK_BYTES`` for the resumable
  upload's chunks (``/api/v1/uploads/<id>``); bodies are streamed to the worker, not spooled to the
  proxy's disk. A larger body is refused by nginx with the platform's JSON error envelope.
- ``/media/`` (Janus's event handler, ``POST /media/events``) is never served on the public port:
  Janus posts to a worker on the private network (docs/operations.md), so the proxy answers 404
  with the platform's envelope whatever the worker would have said.
- Workers: ``least_conn`` over every upstream, so a reconnect storm's sockets spread over them;
  its counts in a shared ``zone``, so the balance is over all nginx workers' connections together.
- A reconnect storm (every client of an opening back at once) is accepted, not queued into SYN
  retries: the HTTPS listener's backlog is ``LISTEN_BACKLOG`` (nginx's default of 511 overflows
  when thousands reconnect, and a dropped SYN costs the client 1 s, then 3 s …; Linux caps it at
  ``net.core.somaxconn``, 4096 by default), with ``reuseport`` so each nginx worker has its own
  queue and the kernel spreads the connections over them, and each worker accepts all that is
  waiting (``multi_accept``). Each proxied WebSocket holds two connections (the client's, the
  worker's): ``WORKER_CONNECTIONS`` per worker, and ``worker_rlimit_nofile`` raised to match so a
  service manager's default of 1,024 open files (systemd's soft limit) does not stop a worker at
  about 500 sockets.
- TLS resumption: a reconnecting browser resumes its session — TLS 1.3 tickets (on, nginx's keys
  shared by its workers and renewed at each start or reload; several proxies behind one address
  need a shared ``ssl_session_ticket_key`` file) or a TLS 1.2 session id from the shared cache —
  an abbreviated handshake with no certificate signature.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

DEFAULT_JSON_BODY_MAX_BYTES = 1 << 20
LISTEN_BACKLOG = 4096  # the HTTPS listener's accept queue (the workers' own is 1,024: deploy/Procfile)
WORKER_CONNECTIONS = 8192  # per nginx worker, both sides of a proxied socket counted


def json_body_max_bytes() -> int:
    """The small-body limit of every request but an upload's chunk (``config/limits.py`` when it
    defines one; 1 MiB otherwise)."""
    return int(getattr(settings, "JSON_BODY_MAX_BYTES", DEFAULT_JSON_BODY_MAX_BYTES))


def upload_chunk_max_bytes() -> int:
    return int(settings.BID_UPLOAD_MAX_CHUNK_BYTES)


@dataclass
class Site:
    upstreams: list[str]  # "unix:/run/kaibiao/web1.sock" or "127.0.0.1:8001"
    certificate: str
    certificate_key: str
    listen: str = "443"  # "443", "127.0.0.1:8443"
    server_name: str = "_"
    http_listen: str = ""  # a plain-HTTP port that redirects to HTTPS ("" = none)
    https_port_in_redirect: str = ""  # the public HTTPS port when it is not 443
    prefix: str = ""  # a private prefix (pid, logs, temp files): nginx run by the current user
    user: str = ""  # workers' user when the master runs as root (the current user in a prefix)
    headers_timeout_s: int = 60
    worker_processes: str = "auto"  # "auto" (one per core) or a number
    extra: dict = field(default_factory=dict)


def _error(code: str, message: str, temporary: bool) -> str:
    body = json.dumps({"error": {"code": code, "message": message, "temporary": temporary}},
                      ensure_ascii=False, separators=(",", ":"))
    return body.replace("\\", "\\\\").replace("'", "\\'")


def _socket_timeout_s() -> int:
    # Longer than a client may stay silent (RT_CLIENT_IDLE_SECONDS) and several heartbeats.
    return max(int(settings.RT_CLIENT_IDLE_SECONDS) + 30, int(settings.RT_HEARTBEAT_SECONDS) * 4)


def render(site: Site) -> str:
    if not site.upstreams:
        raise ValueError("at least one upstream worker is needed")
    json_max, chunk_max = json_body_max_bytes(), upload_chunk_max_bytes()
    lines: list[str] = []
    add = lines.append
    add("# Rendered by `manage.py nginx_config` from the platform's settings; do not edit by hand.")
    if site.prefix:
        prefix = Path(site.prefix)
        if site.user:
            add(f"user {site.user};")
        add(f"pid {prefix / 'nginx.pid'};")
        add(f"error_log {prefix / 'logs' / 'error.log'} warn;")
    if site.worker_processes != "auto" and not (site.worker_processes.isdigit() and int(site.worker_processes) > 0):
        raise ValueError(f"worker processes: 'auto' or a positive number, not {site.worker_processes!r}")
    add(f"worker_processes {site.worker_processes};")
    add(f"worker_rlimit_nofile {2 * WORKER_CONNECTIONS};")
    add(f"events {{ worker_connections {WORKER_CONNECTIONS}; multi_accept on; }}")
    add("")
    add("http {")
    body = [
        "default_type application/octet-stream;",
        "server_tokens off;",
        "sendfile on;",
        f"client_header_timeout {site.headers_timeout_s}s;",
    ]
    if site.prefix:
        prefix = Path(site.prefix)
        body.append(f"access_log {prefix / 'logs' / 'access.log'};")
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            body.append(f"{kind}_temp_path {prefix / 'temp' / kind};")
    body += [
        "map $http_upgrade $connection_upgrade { default upgrade; '' close; }",
        "upstream kaibiao_workers {",
        # Shared memory: every nginx worker sees the same connection counts, so least_conn
        # balances the sockets of all of them, not each worker's own share apart.
        "    zone kaibiao_workers 64k;",
        "    least_conn;",
        *[f"    server {u} max_fails=0;" for u in site.upstreams],
        "    keepalive 32;",
        "}",
    ]
    if site.http_listen:
        https_port = f":{site.https_port_in_redirect}" if site.https_port_in_redirect else ""
        body += [
            "server {",
            f"    listen {site.http_listen};",
            f"    server_name {site.server_name};",
            "    location = /healthz { proxy_pass http://kaibiao_workers; proxy_set_header Host $http_host;"
            " proxy_set_header X-Forwarded-For $remote_addr; proxy_set_header X-Forwarded-Proto $scheme; }",
            f"    location / {{ return 301 https://$host{https_port}$request_uri; }}",
            "}",
        ]
    proxy_common = [
        "proxy_pass http://kaibiao_workers;",
        "proxy_http_version 1.1;",
        # $http_host keeps the port: Django's ALLOWED_HOSTS and CSRF origin check compare it.
        "proxy_set_header Host $http_host;",
        # Replaced, never appended: see the module's docstring.
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Forwarded-Port $server_port;",
    ]
    body += [
        "server {",
        f"    listen {site.listen} ssl backlog={LISTEN_BACKLOG} reuseport;",
        f"    server_name {site.server_name};",
        f"    ssl_certificate {site.certificate};",
        f"    ssl_certificate_key {site.certificate_key};",
        "    ssl_protocols TLSv1.2 TLSv1.3;",
        "    ssl_session_cache shared:kaibiao_tls:10m;",  # about 40,000 TLS 1.2 sessions
        "    ssl_session_timeout 1h;",
        "    ssl_session_tickets on;",
        f"    client_max_body_size {json_max};",
        f"    client_body_buffer_size {min(json_max, 1 << 20)};",
        "    error_page 413 = @too_large;",
        "    error_page 502 503 504 = @unavailable;",
        "    location @too_large {",
        "        default_type application/json;",
        f"        return 413 '{_error('body_too_large', f'the request body is over the limit of {json_max} bytes', False)}';",
        "    }",
        "    location @unavailable {",
        "        default_type application/json;",
        f"        return 503 '{_error('unavailable', 'the platform is not answering; retry shortly', True)}';",
        "    }",
        # Janus's event handler posts to a worker directly, never through the public port.
        "    location ^~ /media/ {",
        "        default_type application/json;",
        f"        return 404 '{_error('not_found', 'not found', False)}';",
        "    }",
        "    location /ws/ {",
        *[f"        {line}" for line in proxy_common],
        "        proxy_set_header Upgrade $http_upgrade;",
        "        proxy_set_header Connection $connection_upgrade;",
        f"        proxy_read_timeout {_socket_timeout_s()}s;",
        f"        proxy_send_timeout {_socket_timeout_s()}s;",
        "        proxy_buffering off;",
        "    }",
        # An upload's chunk: the bid's bytes, bounded per request by the platform's own limit.
        "    location ~ ^/api/v1/uploads/[^/]+$ {",
        f"        client_max_body_size {chunk_max};",
        "        error_page 413 = @chunk_too_large;",
        "        proxy_request_buffering off;",
        *[f"        {line}" for line in proxy_common],
        '        proxy_set_header Connection "";',
        "        proxy_read_timeout 120s;",
        "    }",
        "    location @chunk_too_large {",
        "        default_type application/json;",
        f"        return 413 '{_error('chunk_too_large', f'a chunk is at most {chunk_max} bytes', False)}';",
        "    }",
        "    location / {",
        *[f"        {line}" for line in proxy_common],
        '        proxy_set_header Connection "";',
        "        proxy_read_timeout 120s;",
        "    }",
        "}",
    ]
    lines += [f"    {line}" for line in body]
    add("}")
    return "\n".join(lines) + "\n"


def current_user() -> str:
    """The user nginx's workers run as in a private prefix: the caller's (``user`` applies only
    when the master runs as root; as anyone else nginx keeps the caller's user anyway)."""
    if os.geteuid() != 0:
        return ""
    return "root"
