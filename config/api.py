"""The HTTP JSON API under /api/v1/ (django-ninja; see docs/architecture.md for why).

Every error leaves in one shape with a stable code (``common.errors``); malformed input is
``bad_request``, never a traceback.
"""

import logging

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from accounts.api import router as accounts_router
from accounts.api_auth import session_auth, token_auth
from audit.api import router as audit_router
from audit.api_recordings import router as recordings_router
from audit.denials import record_denial
from bidding.api import router as bidding_router
from bidding.api_bids import router as bids_router
from bidding.api_escrow import router as escrow_router
from bidding.api_key_check import router as key_check_router
from bidding.api_opening import router as opening_router
from common.errors import BadRequest, ErrorCode, PlatformError, signing_unavailable
from crypto.signing import SigningUnavailable
from evaluation.api import router as evaluation_router
from evaluation.api_bills import router as evaluation_bills_router
from collusion.api import router as collusion_router
from award.api import router as award_router
from exchange.api import router as exchange_router

log = logging.getLogger(__name__)

class PlatformAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        from .openapi import complete

        return complete(super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params))


api = PlatformAPI(
    title="不见面开标与远程异地评标平台 API",
    version="1",
    description="Integration API of the remote bid opening and evaluation platform. "
                "Authenticate with the browser session (send the CSRF token on unsafe methods) or "
                "with `Authorization: Bearer kbt_...` issued to an integration.",
    # The token first: a bearer request carries no session, and the session scheme checks CSRF
    # before it looks for a cookie.
    auth=[token_auth, session_auth],
    urls_namespace="api-v1",
    docs_url=None,  # the Swagger UI loads from a CDN; integrators read /api/v1/openapi.json
)


def _respond(request, error: PlatformError):
    return api.create_response(request, error.as_dict(), status=error.http_status)


@api.exception_handler(PlatformError)
def platform_error(request, exc: PlatformError):
    record_denial(request, exc)
    return _respond(request, exc)


@api.exception_handler(SigningUnavailable)
def signing_failed(request, exc: SigningUnavailable):
    # The platform's HSM cannot sign: the operation's transaction rolled back whole (receipts and
    # checkpoints are signed inside it), so the client sends it again (temporary).
    log.warning("%s %s: the platform cannot sign: %s", request.method, request.path, exc)
    return _respond(request, signing_unavailable())


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    details = {"errors": [{"loc": [str(p) for p in e.get("loc", [])], "msg": str(e.get("msg", ""))}
                          for e in exc.errors]}
    return _respond(request, BadRequest("the request is not valid", details=details))


@api.exception_handler(RequestDataTooBig)
def body_too_large(request, exc):
    # Django's own in-memory ceiling (DATA_UPLOAD_MAX_MEMORY_SIZE); the ASGI edge refuses larger
    # bodies before they are read (config/limits.py), so this answers only what slips past it.
    return _respond(request, PlatformError(ErrorCode.BODY_TOO_LARGE, "the request body is too large"))


@api.exception_handler(DjangoValidationError)
def model_validation_error(request, exc):
    # A value the ORM refused (a malformed UUID in a filter): the client's input, not a failure.
    return _respond(request, BadRequest("a value in the request is malformed",
                                        details={"errors": [str(m) for m in exc.messages][:10]}))


@api.exception_handler(OverflowError)
def number_out_of_range(request, exc):
    # A number in the request too large for the database (SQLite's 64-bit integers).
    return _respond(request, BadRequest("a number in the request is out of range"))


@api.exception_handler(AuthenticationError)
def authentication_error(request, exc):
    return _respond(request, PlatformError(ErrorCode.UNAUTHENTICATED, "sign in or send a valid token"))


@api.exception_handler(Http404)
def not_found(request, exc):
    return _respond(request, PlatformError(ErrorCode.NOT_FOUND, "not found"))


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    code = {400: ErrorCode.BAD_REQUEST, 401: ErrorCode.UNAUTHENTICATED, 403: ErrorCode.FORBIDDEN,
            404: ErrorCode.NOT_FOUND, 429: ErrorCode.RATE_LIMITED}.get(exc.status_code, ErrorCode.BAD_REQUEST)
    error = PlatformError(code, str(exc.message) if hasattr(exc, "message") else str(exc))
    return api.create_response(request, error.as_dict(), status=exc.status_code)


@api.exception_handler(Exception)
def unexpected(request, exc: Exception):
    log.exception("unhandled API error on %s %s", request.method, request.path)
    return _respond(request, PlatformError(ErrorCode.INTERNAL, "internal error; it has been logged"))


api.add_router("/", accounts_router)
api.add_router("/", bidding_router)
api.add_router("/", audit_router)
api.add_router("/", recordings_router)
api.add_router("/", bids_router)
api.add_router("/", evaluation_router)
api.add_router("/", evaluation_bills_router)
api.add_router("/", collusion_router)
api.add_router("/", opening_router)
api.add_router("/", escrow_router)
api.add_router("/", key_check_router)
api.add_router("/", award_router)
api.add_router("/", exchange_router)
