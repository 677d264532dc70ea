"""``config.asgi``'s application as it was before issue 4's storm work, for bench (c)'s comparison
row: the WebSocket handshake authenticated by Channels' ``AuthMiddlewareStack`` (one thread for the
whole process, a new database connection per handshake) instead of
``realtime.connection.SessionAuthMiddleware`` (the realtime ORM threads, which keep their
connections), as ``config.asgi`` now does. Not a bench itself: servers started by the benches load it."""

from config.asgi import application as _default  # noqa: F401  (sets Django up, runs the checks)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

from realtime.origin import origin_validator  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": get_asgi_application(),
    "websocket": origin_validator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
