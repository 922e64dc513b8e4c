"""Work that waited before the outbox existed is recorded in it (core/outbox.py), so
the dispatcher publishes it; the 10-minute stuck resolvers that did so are gone."""

from django.db import migrations

from core.outbox import record_waiting


def forwards(apps, schema_editor):
    task = "accounts.tasks.sub_account_create_at_vendor"
    record_waiting(apps, model="accounts.SubAccount", state="pending", task=task)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_account_status_checks"), ("core", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
