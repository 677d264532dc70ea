from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "evaluation"

    def ready(self) -> None:
        from bidding import evaluation_settings
        from realtime.kinds import register_room_kind

        from .actions_draw import register_timers as register_draw_timers
        from .actions_venues import register_timers
        from .archive import register as register_archive
        from .room import VENUE_ROOM
        from .rules import settings

        # The tender's evaluation settings are ours to define: bidding validates them through this.
        evaluation_settings.register(defaults=settings.defaults, validate=settings.validate_evaluation_settings)
        register_room_kind("venue", VENUE_ROOM)
        register_timers()
        register_draw_timers()
        register_archive()
