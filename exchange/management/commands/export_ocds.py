"""``manage.py export_ocds OUT``: the bulk file — every public tender's OCDS record in one record
package (``--releases``: one release package of every release), written as it is built."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from bidding.models import Lot
from common import clock
from common.canonical import format_time
from exchange import ocds


class Command(BaseCommand):
    help = "Write every public tender as OCDS 1.1 (record package, or release package with --releases)."

    def add_arguments(self, parser):
        parser.add_argument("out")
        parser.add_argument("--releases", action="store_true")
        parser.add_argument("--uri", default="", help="where the file will be served (default OCDS_BULK_URI)")

    def handle(self, *args, **options):
        count = export(options["out"], releases=options["releases"], uri=options["uri"])
        self.stdout.write(f"{count} tenders written to {options['out']}")


def export(path: str, *, releases: bool = False, uri: str = "") -> int:
    from django.conf import settings

    uri = uri or settings.OCDS_BULK_URI
    key = "releases" if releases else "records"
    meta = ocds.release_package([], uri=uri, published=format_time(clock.now()))
    del meta["releases"]
    head = ocds.dumps(meta)[:-1]
    count = 0
    lots = (Lot.objects.select_related("project__tenderee", "project__agency")
            .filter(status__in=ocds.PUBLIC_STATUSES).order_by("pk"))
    with open(path, "w", encoding="utf-8") as out:
        out.write(f'{head},"{key}":[')
        first = True
        for lot in lots.iterator(chunk_size=200):
            items = ocds.releases(lot) if releases else [ocds.record(lot)]
            for item in items:
                if item is None:
                    continue
                out.write(("" if first else ",") + ocds.dumps(item))
                first = False
            count += 1
        out.write("]}\n")
    return count
