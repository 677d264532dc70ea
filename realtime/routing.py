from django.urls import path

from .consumers import PlatformConsumer

websocket_urlpatterns = [
    path("ws/v1/", PlatformConsumer.as_asgi()),
]
