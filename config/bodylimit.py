"""The ASGI edge of the request body limits (``config.limits``): a wrapper around the HTTP
application that refuses a declared ``Content-Length`` over the endpoint's limit before reading a
byte, and counts the bytes of ``http.request`` messages as they arrive, refusing as soon as the
count passes the limit (a body without a length, or one longer than it said). The application then
sees a disconnect, never the body; the client gets 413 in the error envelope.
"""

from __future__ import annotations

import json

from common import metrics

from .limits import body_limit, refusal


async def send_refusal(send, limit) -> None:
    metrics.BODIES_REFUSED.labels(limit.code.value, "asgi").inc()
    body = json.dumps(refusal(limit)).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def declared_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = body_limit(scope["method"], scope["path"])
        declared = declared_length(scope)
        if declared is not None and declared > limit.max_bytes:
            return await send_refusal(send, limit)
        state = {"received": 0, "refused": False, "started": False}

        async def limited_receive():
            if state["refused"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit.max_bytes:
                    state["refused"] = True
                    if not state["started"]:
                        await send_refusal(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if state["refused"]:
                return  # the refusal was the response
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        return await self.app(scope, limited_receive, guarded_send)
