"""A small JSON-over-HTTP client on the standard library (urllib): no dependency to install on a
bidder's machine. Errors become ``CliError`` with the server's stable code and an exit code."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request
from typing import Any

from . import errors
from .errors import CliError

NETWORK_ERRORS = (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError,
                  http.client.HTTPException)


def tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kaibiao")
    except PackageNotFoundError:
        return "unknown"


class Client:
    def __init__(self, server: str, token: str | None, *, timeout: float = 60.0):
        if not server:
            raise CliError("no server: pass --server or set SEALBID_SERVER", errors.USAGE)
        self.base = server.rstrip("/") + "/api/v1"
        self.token = token
        self.timeout = timeout
        # The tool names itself on every request: the platform keeps it with the upload, the
        # receipt and the decryption (docs/sealbid.md), where a browser's requests carry its own.
        self.user_agent = f"sealbid/{tool_version()}"

    def request(self, method: str, path: str, *, body: Any = None, data: bytes | None = None,
                headers: dict[str, str] | None = None, auth: bool = True):
        """(status, headers, parsed JSON or raw bytes). Raises ``CliError`` for HTTP errors and
        lets network errors (``NETWORK_ERRORS``) through so callers can retry."""
        hdrs = {"User-Agent": self.user_agent, **(headers or {})}
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if auth:
            if not self.token:
                raise CliError("no API token: pass --token or set SEALBID_TOKEN", errors.UNAUTHENTICATED)
            hdrs["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                return res.status, res.headers, _parse(res.read(), res.headers)
        except urllib.error.HTTPError as exc:
            raise _http_error(exc) from None

    def json(self, method: str, path: str, **kwargs) -> Any:
        return self.request(method, path, **kwargs)[2]


def _parse(raw: bytes, headers) -> Any:
    if (headers.get("Content-Type") or "").startswith("application/json") and raw:
        return json.loads(raw)
    return raw


def _http_error(exc: urllib.error.HTTPError) -> CliError:
    try:
        error = json.loads(exc.read())["error"]
        code, message = error["code"], error["message"]
        details = error.get("details") or {}
    except Exception:  # noqa: BLE001 - not our JSON shape: a proxy or a crash
        code, message, details = "", f"HTTP {exc.code}", {}
    if exc.code >= 500:
        exit_code = errors.SERVER_ERROR
    elif exc.code == 404 and not code:
        exit_code = errors.NOT_AVAILABLE
    else:
        exit_code = errors.BY_SERVER_CODE.get(code, errors.REFUSED)
    text = f"{message} [{code or exc.code}]"
    if details:
        text += " " + json.dumps(details, ensure_ascii=False)
    err = CliError(text, exit_code, code=code)
    err.status = exc.code
    err.details = details
    return err
