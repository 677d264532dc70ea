from django.urls import path

from .connection import SocketApp

websocket_urlpatterns = [
    path("ws/v1/", SocketApp()),
]
