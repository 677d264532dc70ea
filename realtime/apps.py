from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"

    def ready(self) -> None:
        from django.conf import settings

        from .media_patrol import register

        register()  # the media rooms' patrol timer (docs/media.md)

        if getattr(settings, "RT_DEMO_ROOMS", False):
            from .demo import DemoRoom
            from .kinds import register_room_kind

            register_room_kind("demo", DemoRoom())
