"""``manage.py nginx_config``: print (or write) the proxy's nginx configuration, rendered from the
settings so its body limits are the application's (``config/nginx.py``; docs/operations.md)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from config.nginx import Site, current_user, render


class Command(BaseCommand):
    help = "Render the nginx configuration of the TLS proxy in front of the workers."

    def add_arguments(self, parser):
        parser.add_argument("--upstream", action="append", required=True,
                            help="a worker: unix:/run/kaibiao/web1.sock or 127.0.0.1:8001 (repeat)")
        parser.add_argument("--cert", required=True, help="the TLS certificate chain (PEM)")
        parser.add_argument("--key", required=True, help="its private key (PEM)")
        parser.add_argument("--listen", default="443", help="the HTTPS listen address (default 443)")
        parser.add_argument("--http-listen", default="", help="a plain-HTTP port that redirects")
        parser.add_argument("--https-port", default="", help="the public HTTPS port in redirects")
        parser.add_argument("--server-name", default="_")
        parser.add_argument("--prefix", default="",
                            help="a private directory for pid, logs and temp files (nginx -p)")
        parser.add_argument("--worker-processes", default="auto",
                            help="nginx's worker processes: auto (one per core, the default) or a number")
        parser.add_argument("--out", default="", help="write here instead of standard output")

    def handle(self, *args, **o):
        site = Site(upstreams=o["upstream"], certificate=o["cert"], certificate_key=o["key"],
                    listen=o["listen"], server_name=o["server_name"], http_listen=o["http_listen"],
                    https_port_in_redirect=o["https_port"], prefix=o["prefix"],
                    worker_processes=str(o["worker_processes"]),
                    user=current_user() if o["prefix"] else "")
        try:
            text = render(site)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if o["prefix"]:
            for sub in ("logs", "temp"):
                (Path(o["prefix"]) / sub).mkdir(parents=True, exist_ok=True)
        if o["out"]:
            Path(o["out"]).write_text(text)
        else:
            self.stdout.write(text, ending="")
