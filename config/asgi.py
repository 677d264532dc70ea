"""ASGI entry point: HTTP through Django, WebSockets through Channels with sessions and an Origin
allow-list. In production the system checks run first and refuse to start on unsafe settings."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

if settings.PRODUCTION:
    from django.core.management import call_command

    call_command("check", deploy=True, fail_level="ERROR")

from realtime.origin import origin_validator  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": get_asgi_application(),
    "websocket": origin_validator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
