"""Indexes of the call-record list at scale: the duration keyset, exact numbers, and
(PostgreSQL only) a pg_trgm GIN index for number fragments."""

from django.db import migrations, models

TRGM_INDEX = "callbacks_record_numbers_trgm"


def create_trigram_index(apps, schema_editor):
    # SQLite (the quick start) has no pg_trgm: fragments scan there, which is fine at its size.
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # One multi-column GIN index serves a LIKE '%digits%' on any of the three columns
    # (the planner ORs three bitmap scans of it).
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {TRGM_INDEX} ON callbacks_callrecord USING gin "
        "(caller gin_trgm_ops, callee gin_trgm_ops, x_number gin_trgm_ops)"
    )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {TRGM_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("callbacks", "0004_call_record_export"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="callrecord",
            index=models.Index(fields=["duration", "id"], name="callbacks_record_dur"),
        ),
        migrations.AddIndex(
            model_name="callrecord",
            index=models.Index(fields=["caller"], name="callbacks_record_caller"),
        ),
        migrations.AddIndex(
            model_name="callrecord",
            index=models.Index(fields=["callee"], name="callbacks_record_callee"),
        ),
        migrations.AddIndex(
            model_name="callrecord",
            index=models.Index(fields=["x_number"], name="callbacks_record_x"),
        ),
        migrations.RunPython(create_trigram_index, drop_trigram_index),
    ]
