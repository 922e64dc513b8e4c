"""The SQL of the webhook hot path, and only of it.

Why raw SQL here: on a small box every ORM statement costs ~0.5 ms of CPU in
query compilation and model machinery, several times what PostgreSQL spends
running it, and a CDR needs three of them.  The statements below are built
once per process from the models' own metadata (column names, each field's
pre_save/get_db_prep_save), so they follow the schema, and each field still
prepares its value exactly as the ORM would (jsonb, inet, aware datetimes).

- `account_by_token`: the account of a webhook URL, fresh from the database on
  every request (a regenerated token or a changed secret takes effect at once),
  built the way the ORM builds it (each field's from_db_value: the secret is
  decrypted, extra is parsed).
- `insert`: a plain INSERT ... RETURNING id (the Delivery row).
- `insert_ignore`: INSERT ... ON CONFLICT (the unique constraint) DO NOTHING
  RETURNING id.  Idempotence comes from the constraint, never from a read
  before the write; a concurrent INSERT of the same key waits for the other
  transaction and then does nothing.  A CallRecord's binding is resolved by
  privacy's subquery (privacy.selectors.CALL_BINDING_SQL) in the same
  statement: one round trip, the same rule as normalize._binding_id.

Everything else (merges into an existing record, replays, pages) uses the ORM.
"""

from __future__ import annotations

from functools import cache

from django.db import connection, models

from accounts.models import VendorAccount
from privacy.selectors import CALL_BINDING_SQL

# --------------------------------------------------------------------- account


@cache
def _account_sql() -> tuple[str, list[models.Field]]:
    fields = list(VendorAccount._meta.concrete_fields)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(VendorAccount._meta.db_table)
    # Identifiers come from model metadata, the token is a parameter.
    return f"SELECT {columns} FROM {table} WHERE webhook_token = %s", fields  # noqa: S608


def account_by_token(token: str) -> VendorAccount | None:
    """`VendorAccount.objects.get(webhook_token=token)` at a third of the CPU."""
    sql, fields = _account_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [token])
        row = cursor.fetchone()
    if row is None:
        return None
    values = [
        f.from_db_value(v, None, connection) if hasattr(f, "from_db_value") else v
        for f, v in zip(fields, row, strict=True)
    ]
    return VendorAccount.from_db(connection.alias, [f.attname for f in fields], values)


# --------------------------------------------------------------------- inserts


@cache
def _insert_sql(
    model: type[models.Model], conflict: tuple[str, ...], with_binding: bool
) -> tuple[str, list[models.Field]]:
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    placeholders = [
        CALL_BINDING_SQL if with_binding and f.column == "binding_id" else "%s" for f in fields
    ]
    returning = [model._meta.pk.column] + (["binding_id"] if with_binding else [])
    # Identifiers come from model metadata; every value is a parameter.
    table = qn(model._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({', '.join(qn(f.column) for f in fields)})"  # noqa: S608
        f" VALUES ({', '.join(placeholders)})"
        + (f" ON CONFLICT ({', '.join(qn(c) for c in conflict)}) DO NOTHING" if conflict else "")
        + f" RETURNING {', '.join(qn(c) for c in returning)}"
    )
    return sql, fields


def insert(obj: models.Model) -> int | None:
    """`obj.save(force_insert=True)` without the ORM's per-call query compilation."""
    return _insert(obj, (), None)


def insert_ignore(
    obj: models.Model,
    conflict: tuple[str, ...],
    *,
    binding: tuple | None = None,
) -> int | None:
    """INSERT `obj` unless a row with the same `conflict` key exists.

    Returns the new id (also set on `obj`), or None if the key was taken.
    `binding` = privacy.selectors.call_binding_params(...): resolve obj's
    binding_id in the statement instead of taking it from `obj`.
    """
    return _insert(obj, conflict, binding)


def _insert(obj: models.Model, conflict: tuple[str, ...], binding: tuple | None) -> int | None:
    sql, fields = _insert_sql(type(obj), conflict, binding is not None)
    params: list = []
    for f in fields:
        if binding is not None and f.column == "binding_id":
            params.extend(binding)
        else:
            params.append(f.get_db_prep_save(f.pre_save(obj, True), connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    obj.pk = row[0]
    if binding is not None:
        obj.binding_id = row[1]
    obj._state.adding = False
    obj._state.db = connection.alias
    return row[0]
