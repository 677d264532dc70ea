"""Request body limits, per endpoint, enforced while the body streams in (docs/operations.md,
"Request body limits").

``settings`` imports the defaults from here; ``body_limit`` is what the edges ask: the ASGI wrapper
``config.bodylimit.BodyLimit`` (any ASGI server) and the Daphne guard ``config.daphne_guard``
(Daphne reads a whole body before the application sees it, so the refusal must happen in Daphne's
own request object, as the headers arrive). Both answer 413 in the error envelope with the code
this module names, for anonymous and signed-in requests alike: the limit applies before anybody is
authenticated.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from common.env import env_int
from common.errors import ErrorCode

# Every body that is not an upload chunk: JSON of the API, the pages' forms, sign-in.
JSON_BODY_MAX_BYTES = env_int("JSON_BODY_MAX_BYTES", 2**20)
# One PATCH of a resumable upload (docs/sealbid.md): Daphne holds the whole request body before the
# application sees it, and the application holds it until it is on disk (config/upload_body.py).
BID_UPLOAD_MAX_CHUNK_BYTES = env_int("BID_UPLOAD_MAX_CHUNK_BYTES", 8 * 2**20)

_UPLOAD_CHUNK = re.compile(r"/api/v1/uploads/[^/]+/?")


class Limit(NamedTuple):
    max_bytes: int
    code: ErrorCode


def is_upload_chunk(method: str, path: str) -> bool:
    """Whether ``method path`` carries one piece of a resumable upload (``PATCH /uploads/{id}``)."""
    return method in ("PATCH", "PUT") and _UPLOAD_CHUNK.fullmatch(path) is not None


def body_limit(method: str, path: str) -> Limit:
    """The largest body ``method path`` may carry, and the code of the refusal over it."""
    from django.conf import settings

    if is_upload_chunk(method, path):
        return Limit(settings.BID_UPLOAD_MAX_CHUNK_BYTES, ErrorCode.CHUNK_TOO_LARGE)
    return Limit(settings.JSON_BODY_MAX_BYTES, ErrorCode.BODY_TOO_LARGE)


def refusal(limit: Limit) -> dict:
    """The 413 envelope for a body over ``limit``."""
    from common.errors import error_body

    return error_body(limit.code, f"the request body is over this endpoint's limit of "
                      f"{limit.max_bytes} bytes", details={"max_bytes": limit.max_bytes})
