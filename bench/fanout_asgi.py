"""``config.asgi``'s application with one change for bench (c): the WebSocket handshake is
authenticated by ``realtime.connection.SessionAuthMiddleware`` (the realtime ORM threads, which keep
their database connections) instead of Channels' ``AuthMiddlewareStack`` (one thread, a new
connection per handshake). Not a bench itself: servers started by the benches load it."""

from config.asgi import application as _default  # noqa: F401  (sets Django up, runs the checks)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

from realtime.connection import SessionAuthMiddleware  # noqa: E402
from realtime.origin import origin_validator  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": get_asgi_application(),
    "websocket": origin_validator(SessionAuthMiddleware(URLRouter(websocket_urlpatterns))),
})
