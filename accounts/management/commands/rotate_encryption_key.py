"""Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEY.

Rotation: put the new key first (FIELD_ENCRYPTION_KEY=new,old), run this command,
then remove the old key. It works on ciphertext only: no secret is ever decrypted
into a variable that outlives one row.
"""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from core.crypto import EncryptedTextField, rotate


class Command(BaseCommand):
    help = "Re-encrypt all encrypted fields with the newest FIELD_ENCRYPTION_KEY."

    def handle(self, *args, **options):
        total = 0
        with transaction.atomic():
            for model in apps.get_models():
                for field in model._meta.fields:
                    if isinstance(field, EncryptedTextField):
                        total += self._rotate_column(model, field)
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {total} values."))

    @staticmethod
    def _rotate_column(model, field) -> int:
        # Raw SQL: the ORM would decrypt on read and re-encrypt on write, which works too,
        # but this keeps plaintext out of memory and runs one UPDATE per value.
        quote = connection.ops.quote_name
        table, pk, column = (
            quote(model._meta.db_table),
            quote(model._meta.pk.column),
            quote(field.column),
        )
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {pk}, {column} FROM {table} WHERE {column} <> ''")  # noqa: S608
            rows = cursor.fetchall()
            for row_pk, stored in rows:
                cursor.execute(
                    f"UPDATE {table} SET {column} = %s WHERE {pk} = %s",  # noqa: S608
                    [rotate(stored), row_pk],
                )
        return len(rows)
