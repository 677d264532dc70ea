"""Origin allow-list for WebSocket handshakes: browsers send Origin, and pages of other sites must
not open sockets with our users' cookies (cross-site WebSocket hijacking)."""

from channels.security.websocket import OriginValidator
from django.conf import settings


def allowed_origins() -> list[str]:
    """``WEBSOCKET_ALLOWED_ORIGINS`` (full origins such as ``https://kb.example.cn``) or, under the
    embedded defaults, the hosts Django serves on any scheme and port."""
    if settings.WEBSOCKET_ALLOWED_ORIGINS:
        return list(settings.WEBSOCKET_ALLOWED_ORIGINS)
    return [host.strip("[]") for host in settings.ALLOWED_HOSTS if host != "*"]


def origin_validator(app):
    return OriginValidator(app, allowed_origins())
