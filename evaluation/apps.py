from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "evaluation"

    def ready(self) -> None:
        from realtime.kinds import register_room_kind

        from .actions_venues import register_timers
        from .room import VENUE_ROOM

        from .archive import register as register_archive

        register_room_kind("venue", VENUE_ROOM)
        register_timers()
        register_archive()
