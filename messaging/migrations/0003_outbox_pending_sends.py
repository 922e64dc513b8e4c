"""Work that waited before the outbox existed is recorded in it (core/outbox.py), so
the dispatcher publishes it; the 10-minute stuck resolvers that did so are gone."""

from django.db import migrations

from core.outbox import record_waiting


def forwards(apps, schema_editor):
    for model, name in (("Message", "message"), ("TwoWayCall", "two_way_call"), ("VoiceCode", "voice_code")):
        record_waiting(
            apps, model=f"messaging.{model}", state="pending", task=f"messaging.tasks.{name}_send"
        )


class Migration(migrations.Migration):
    dependencies = [("messaging", "0002_call_outcome_read_from_callbacks"), ("core", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
