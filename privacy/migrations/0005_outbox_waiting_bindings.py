"""Work that waited before the outbox existed is recorded in it (core/outbox.py), so
the dispatcher publishes it; the 10-minute stuck resolvers that did so are gone."""

from django.db import migrations

from core.outbox import record_waiting


def forwards(apps, schema_editor):
    bindings = {"pending": "binding_bind_at_vendor", "releasing": "binding_release_at_vendor"}
    for state, name in bindings.items():
        record_waiting(apps, model="privacy.Binding", state=state, task=f"privacy.tasks.{name}")


class Migration(migrations.Migration):
    dependencies = [("privacy", "0004_kind_choices_from_registry"), ("core", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
