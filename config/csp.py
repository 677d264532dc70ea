"""A strict Content-Security-Policy on every response the platform renders.

No inline script and no inline event handler runs (``script-src 'self'``, no ``'unsafe-inline'``, no
``'unsafe-eval'``): pages load their code from static files and read their data from ``json_script``
blocks (``type="application/json"``, never executed) or ``data-`` attributes. Styles come from the
platform's style sheets only (``style-src 'self'``: the templates carry no ``style`` attribute; code
sets styles through the CSSOM, which CSP allows). Everything else is same-origin: the API, the
WebSocket (``connect-src 'self'`` covers ``ws:``/``wss:`` of the same host), the sealing worker.
A page is never framed (``frame-ancestors 'none'``), forms post only here, no plug-ins, no ``<base>``.

Three scripts are served with one more source: the sealing Worker (``frontend/seal_worker.js``),
the key-file KDF Worker (``frontend/crypto/kdf_worker.js``) and the SM4 worker
(``frontend/crypto/sm4_worker.js``) get ``script-src 'self' 'wasm-unsafe-eval'``, because their
SHA-256 and HMAC-SM3 (hash-wasm) and SM4-GCM (OpenSSL's, built by tools/build_sm4_wasm.py) compile
WebAssembly, and a dedicated Worker runs under the policy of its own script's response, not its
page's. It lets those Workers compile WebAssembly and nothing more (no ``eval``, no inline script);
every page, and every other script — the modules they import included — keeps the policy above
(docs/browser-crypto.md, "Vendored modules").

Documented in docs/architecture.md; ``tests/frontend/test_csp.py`` checks every page for the header
and for markup the policy would block; the browser suite fails on any violation it reports.
"""

from __future__ import annotations

import re

HEADER = "Content-Security-Policy"

POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


# The sealing Worker's, the KDF Worker's and the SM4 worker's scripts, as staticfiles serves them (the
# plain name, or a manifest's hashed one).
WASM_WORKER = re.compile(r"frontend/(?:seal_worker|crypto/kdf_worker|crypto/sm4_worker)(?:\.[0-9a-f]{12})?\.js")
WASM_SCRIPT_SRC = "script-src 'self' 'wasm-unsafe-eval'"


def media_origin(url: str) -> str:
    """The origin (``ws://host:port``, ``wss://host``) of the media server's WebSocket URL, or ""
    for none or anything that is not a plain ws/wss URL (nothing else may enter the policy)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    host = parts.hostname or ""
    if parts.scheme not in ("ws", "wss") or not re.fullmatch(r"[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]", host):
        return ""
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def compiles_wasm(path: str, static_url: str = "/static/") -> bool:
    """Whether ``path`` is the sealing, the KDF or the SM4 Worker's script under ``static_url``
    (exactly: no prefix, no query, no other file of the folder)."""
    return path.startswith(static_url) and WASM_WORKER.fullmatch(path[len(static_url):]) is not None


def policy(media_url: str = "", *, wasm: bool = False) -> str:
    """The policy, with the media server's WebSocket origin added to ``connect-src`` when the
    platform has one (``MEDIA_JANUS_WS``, docs/media.md): the pages' janus.js connects there; with
    ``wasm`` (the three Workers' scripts only), ``'wasm-unsafe-eval'`` in ``script-src``."""
    out = POLICY
    origin = media_origin(media_url)
    if origin:
        out = out.replace("connect-src 'self'", f"connect-src 'self' {origin}", 1)
    if wasm:
        out = out.replace("script-src 'self'", WASM_SCRIPT_SRC, 1)
    return out


class ContentSecurityPolicyMiddleware:
    """Adds the policy to every response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings

        response = self.get_response(request)
        wasm = compiles_wasm(request.path, settings.STATIC_URL or "/static/")
        response[HEADER] = policy(getattr(settings, "MEDIA_JANUS_WS", ""), wasm=wasm)
        return response
