"""The console's feed row must exist for the ticker's timer to find it due."""

from django.db import migrations
from django.utils import timezone


def create_row(apps, schema_editor):
    ConsoleFeed = apps.get_model("audit", "ConsoleFeed")
    ConsoleFeed.objects.get_or_create(pk=1, defaults={"fed_up_to": -1, "next_check": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_consolefeed")]
    operations = [migrations.RunPython(create_row, migrations.RunPython.noop)]
