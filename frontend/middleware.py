from django.template.response import TemplateResponse

from audit.denials import record_denial
from common.errors import PlatformError, signing_unavailable
from crypto.signing import SigningUnavailable
from common.labels import error_message, label


class PlatformErrorMiddleware:
    """Pages answer a ``PlatformError`` raised below them with its status and message, as the API
    does with its JSON shape (the API has its own handlers and never reaches this)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, SigningUnavailable):
            # The platform's HSM cannot sign (a receipt, a checkpoint): the action rolled back
            # whole; the page says so in words, not as a server error.
            exception = signing_unavailable()
        if not isinstance(exception, PlatformError):
            return None
        record_denial(request, exception)
        response = TemplateResponse(request, "frontend/error.html",
                                    {"title": label("error", exception.code.value),
                                     "message": error_message(exception), "code": exception.code.value},
                                    status=exception.http_status)
        return response.render()
