"""``manage.py janus_config --out DIR``: write the media server's configuration folder, rendered from
the settings (``realtime/media_config.py``; docs/operations.md, "The media server"). Then start it
with ``janus -C DIR/janus.jcfg -F DIR``."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from realtime.media_config import JanusSetup, render


class Command(BaseCommand):
    help = "Write Janus's configuration folder (signed tokens, VideoRoom only, ports, recordings)."

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="the folder to write (created)")
        parser.add_argument("--ws-port", type=int, default=8188, help="the browsers' WebSocket API")
        parser.add_argument("--ws-interface", default="127.0.0.1")
        parser.add_argument("--http-port", type=int, default=0,
                            help="the platform's HTTP API on 127.0.0.1 (default: MEDIA_JANUS_API's)")
        parser.add_argument("--rtp-ports", default="20000-40000", help="first-last UDP port")
        parser.add_argument("--nat-ip", default="", help="public address to advertise (1:1 NAT)")
        parser.add_argument("--stun", default="", help="host:port of the STUN server (coturn)")

    def handle(self, *args, **o):
        first, _, last = o["rtp_ports"].partition("-")
        http_port = o["http_port"] or _port_of(settings.MEDIA_JANUS_API) or 8088
        folder = Path(o["out"]).resolve()
        try:
            files = render(JanusSetup(
                folder=str(folder), token_secret=settings.MEDIA_TOKEN_SECRET,
                admin_key=settings.MEDIA_ADMIN_KEY, ws_port=o["ws_port"],
                ws_interface=o["ws_interface"], http_port=http_port,
                rtp_ports=(int(first), int(last or first)),
                recordings=str(settings.MEDIA_RECORDINGS_DIR), nat_ip=o["nat_ip"], stun=o["stun"],
                events_url=settings.MEDIA_EVENTS_URL, events_secret=settings.MEDIA_EVENTS_SECRET))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            path = folder / name
            path.write_text(text)
            path.chmod(0o600)  # holds the token secret and the admin key
        self.stdout.write(f"janus -C {folder / 'janus.jcfg'} -F {folder}\n")


def _port_of(url: str) -> int:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).port or 0
    except ValueError:
        return 0
