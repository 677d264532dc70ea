"""A strict Content-Security-Policy on every response the platform renders.

No inline script and no inline event handler runs (``script-src 'self'``, no ``'unsafe-inline'``, no
``'unsafe-eval'``): pages load their code from static files and read their data from ``json_script``
blocks (``type="application/json"``, never executed) or ``data-`` attributes. Styles come from the
platform's style sheets only (``style-src 'self'``: the templates carry no ``style`` attribute; code
sets styles through the CSSOM, which CSP allows). Everything else is same-origin: the API, the
WebSocket (``connect-src 'self'`` covers ``ws:``/``wss:`` of the same host), the hash worker.
A page is never framed (``frame-ancestors 'none'``), forms post only here, no plug-ins, no ``<base>``.

Documented in docs/architecture.md; ``tests/frontend/test_csp.py`` checks every page for the header
and for markup the policy would block; the browser suite fails on any violation it reports.
"""

from __future__ import annotations

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


class ContentSecurityPolicyMiddleware:
    """Adds the policy to every response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response[HEADER] = POLICY
        return response
