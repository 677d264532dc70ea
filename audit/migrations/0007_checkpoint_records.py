"""Numbered checkpoints recorded in the log itself, and the ticker's incremental check.

Existing checkpoint rows keep ``number`` NULL: they were issued before the log recorded its
checkpoints (``audit_check`` says so and cannot tell whether one of them was deleted)."""

from datetime import datetime, timezone

from django.db import migrations, models

EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)  # due at once, whatever clock a test sets


def create_row(apps, schema_editor):
    AuditCheckState = apps.get_model("audit", "AuditCheckState")
    AuditCheckState.objects.get_or_create(pk=1, defaults={"next_check": EPOCH})


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0006_batched_sequencing'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditCheckState',
            fields=[
                ('id', models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ('size', models.BigIntegerField(default=0)),
                ('frontier', models.JSONField(default=list)),
                ('record_number', models.BigIntegerField(default=0)),
                ('problems_digest', models.CharField(blank=True, max_length=64)),
                ('checked_at', models.DateTimeField(null=True)),
                ('next_check', models.DateTimeField(null=True)),
            ],
        ),
        migrations.AddField(
            model_name='auditcheckpoint',
            name='number',
            field=models.BigIntegerField(null=True, unique=True),
        ),
        migrations.RunPython(create_row, migrations.RunPython.noop),
    ]
