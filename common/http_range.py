"""Byte ranges (RFC 9110 §14) for the files the platform serves to players: a browser's ``<video>``
asks for ``Range: bytes=N-`` to seek, and without a 206 it can only play from the start.

What it does: one range (``first-last``, ``first-``, ``-suffix``) is answered 206 with
``Content-Range``; a range that starts past the end is 416 with ``Content-Range: bytes */size``;
several ranges, another unit, a malformed header, or an ``If-Range`` that does not match this
file's validator are answered with the whole file (200) — always allowed, since a server may ignore
``Range``. Every answer says ``Accept-Ranges: bytes`` and carries a strong ``ETag`` made from the
file's size and modification time, the validator ``If-Range`` is compared with.
"""

from __future__ import annotations

import os
import re
from typing import Iterator

from django.http import FileResponse, HttpResponse, StreamingHttpResponse

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 256 * 1024


def parse_range(header: str, size: int) -> tuple[int, int] | None | str:
    """``(first, last)`` inclusive for one satisfiable range, ``"unsatisfiable"``, or ``None`` when
    the header is to be ignored (absent, malformed, several ranges, another unit)."""
    match = _RANGE.match(header.strip().replace(" ", "")) if header else None
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0:
            return "unsatisfiable"
        return (max(size - suffix, 0), size - 1) if size else "unsatisfiable"
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid: ignored (RFC 9110 §14.1.1)
    if start >= size:
        return "unsatisfiable"
    return start, min(end, size - 1)


def _etag(stat: os.stat_result) -> str:
    return f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'


def _read(path: str, start: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        f.seek(start)
        while length > 0:
            data = f.read(min(_CHUNK, length))
            if not data:
                return
            length -= len(data)
            yield data


def ranged_file_response(request, path: str, content_type: str) -> HttpResponse:
    stat = os.stat(path)
    size, etag = stat.st_size, _etag(stat)
    wanted = parse_range(request.headers.get("Range", ""), size)
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        wanted = None
    if wanted == "unsatisfiable":
        response = HttpResponse(status=416, content_type=content_type)
        response["Content-Range"] = f"bytes */{size}"
    elif wanted is None:
        response = FileResponse(open(path, "rb"), content_type=content_type)
    else:
        first, last = wanted
        response = StreamingHttpResponse(_read(path, first, last - first + 1), status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
        response["Content-Length"] = str(last - first + 1)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    return response
