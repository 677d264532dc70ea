"""ASGI entry point: HTTP through Django behind the request body limits, WebSockets behind an Origin allow-list and the session
check of ``realtime.connection.SessionAuthMiddleware`` (Django's own ``auth.get_user``, run on the
realtime ORM threads that keep their database connections, so a reconnect storm's thousands of
handshakes do not each open a connection). In production the system checks run first and refuse to
start on unsafe settings."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

if settings.PRODUCTION:
    from django.core.management import call_command

    call_command("check", deploy=True, fail_level="ERROR")

from config import daphne_guard  # noqa: E402
from config.bodylimit import BodyLimit  # noqa: E402
from config.upload_body import PlatformASGIHandler  # noqa: E402
from realtime.connection import SessionAuthMiddleware  # noqa: E402
from realtime.origin import origin_validator  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

# Request bodies are limited per endpoint as they arrive (config/limits.py): in Daphne's own
# request class, which holds a whole body before any application sees it, and again at the ASGI
# edge for any other server.
daphne_guard.install()

application = ProtocolTypeRouter({
    "http": BodyLimit(PlatformASGIHandler()),
    "websocket": origin_validator(SessionAuthMiddleware(URLRouter(websocket_urlpatterns))),
})
