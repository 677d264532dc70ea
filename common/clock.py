"""The server's clock.

Every deadline in the platform is read from here, once per request or command, and passed down as
``now`` so that rules stay pure and tests can move time (``time_machine``).
"""

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    """Aware UTC time of the server. Never the client's clock."""
    return timezone.now()
