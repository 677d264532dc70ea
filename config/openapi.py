"""What the OpenAPI document says beyond what django-ninja derives from the operations' models
(docs/api.md): the error envelope and, under every operation, each error status it may answer with
and the stable codes behind that status (``x-error-codes``); the upload protocol's headers
(``Upload-Offset``, ``Upload-Length``) and its binary body. Kept true by
``tests/test_api_schema.py`` (Schemathesis against the running API, as every role)."""

from __future__ import annotations

from common.errors import HTTP_STATUS, TEMPORARY

ENVELOPE = "ErrorEnvelope"
# Every operation may answer these: malformed input, no or a bad token, the role, "not found or
# not yours", the state of the object, a body over its limit, throttling, a service down. The others only where they apply.
EVERY_OPERATION = (400, 401, 403, 404, 409, 413, 429, 503)
UPLOAD_HEADERS = {
    "Upload-Offset": {"description": "the upload's durable offset: every byte below it is on disk",
                      "schema": {"type": "integer", "minimum": 0}},
    "Upload-Length": {"description": "the upload's declared size", "schema": {"type": "integer",
                                                                              "minimum": 1}},
}


def _codes_by_status() -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for code, status in HTTP_STATUS.items():
        out.setdefault(status, []).append(code.value)
    return out


def _envelope_schema() -> dict:
    return {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "properties": {"error": {
            "type": "object", "required": ["code", "message", "temporary"],
            "properties": {
                "code": {"type": "string", "enum": sorted(c.value for c in HTTP_STATUS)},
                "message": {"type": "string"},
                "temporary": {"type": "boolean"},
                "details": {"type": "object"},
            }}},
        "description": "Every error (common/errors.py). Temporary by default: "
                       + ", ".join(sorted(c.value for c in TEMPORARY)),
    }


def _statuses(path: str, method: str, op: dict) -> list[int]:
    statuses = set(EVERY_OPERATION)
    if method in ("post", "patch", "put", "delete"):
        statuses |= {409, 422}  # state conflicts; content refused (envelopes, keys, signatures)
    if "/uploads/" in path or path.endswith("/uploads"):
        statuses |= {409, 413, 422}
    return sorted(statuses)


def _upload_operations(path: str, method: str, op: dict) -> None:
    if not (path.startswith("/api/v1/uploads/") or path.endswith("/uploads")):
        return
    for status, response in op.get("responses", {}).items():
        if str(status).startswith("2") and not path.endswith("/complete") and method != "delete":
            response.setdefault("headers", {}).update(UPLOAD_HEADERS)
    if method in ("patch", "put") and path.count("/") == 4:
        op.setdefault("parameters", []).append({
            "name": "Upload-Offset", "in": "header", "required": True,
            "description": "where this body starts: the server's current offset",
            "schema": {"type": "integer", "minimum": 0}})
        op["requestBody"] = {"required": True, "content": {"application/octet-stream": {
            "schema": {"type": "string", "format": "binary",
                       "description": "at most max_chunk_bytes (BID_UPLOAD_MAX_CHUNK_BYTES)"}}}}


def complete(schema: dict) -> dict:
    """Add the error responses and the upload protocol to ninja's document, in place."""
    by_status = _codes_by_status()
    schema.setdefault("components", {}).setdefault("schemas", {})[ENVELOPE] = _envelope_schema()
    for path, ops in schema.get("paths", {}).items():
        for method, op in ops.items():
            responses = {str(k): v for k, v in op.get("responses", {}).items()}
            op["responses"] = responses
            for status in _statuses(path, method, op):
                codes = by_status.get(status, [])
                responses.setdefault(str(status), {
                    "description": "error: " + ", ".join(f"`{c}`" for c in codes),
                    "x-error-codes": codes,
                    "content": {"application/json": {
                        "schema": {"$ref": f"#/components/schemas/{ENVELOPE}"}}},
                })
            _upload_operations(path, method, op)
    return schema
