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

- `insert_many`: the normalizer's batches (normalize.apply_batch): one
  multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING the key of each row
  stored, so the caller knows which rows were new.
- `bindings_for_calls`: privacy's binding rule for many calls in one SELECT.

Everything else (merges into an existing record, replays, pages) uses the ORM.
"""

from __future__ import annotations

from functools import cache

from django.db import connection, models
from django.db.models.expressions import Col

from accounts.models import VendorAccount
from privacy.selectors import CALL_BINDING_SQL, call_binding_params

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


# --------------------------------------------------------------------- batches


def insert_many(
    objs: list[models.Model], conflict: tuple[str, ...], *, returning: tuple[str, ...]
) -> list[tuple]:
    """INSERT every obj (multi-row VALUES) except those whose `conflict` key is
    taken; (id, *returning) of each row stored, values as the ORM reads them.

    The rows must have distinct keys.  Chunked to the backend's parameter limit
    (SQLite's 999)."""
    if not objs:
        return []
    model = type(objs[0])
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    by_column = {f.column: f for f in model._meta.concrete_fields}
    back = [model._meta.pk, *(by_column[c] for c in returning)]
    qn = connection.ops.quote_name
    row_sql = f"({', '.join(['%s'] * len(fields))})"
    head = (
        f"INSERT INTO {qn(model._meta.db_table)} "  # noqa: S608 (identifiers from metadata)
        f"({', '.join(qn(f.column) for f in fields)}) VALUES "
    )
    tail = (
        f" ON CONFLICT ({', '.join(qn(c) for c in conflict)}) DO NOTHING"
        f" RETURNING {', '.join(qn(f.column) for f in back)}"
    )
    limit = connection.features.max_query_params or 30_000
    size = max(1, limit // len(fields))
    converters = [_converters(model, f) for f in back]
    stored: list[tuple] = []
    for start in range(0, len(objs), size):
        chunk = objs[start : start + size]
        params = [
            f.get_db_prep_save(f.pre_save(obj, True), connection) for obj in chunk for f in fields
        ]
        with connection.cursor() as cursor:
            cursor.execute(head + ", ".join([row_sql] * len(chunk)) + tail, params)
            rows = cursor.fetchall()
        stored.extend(
            tuple(_convert(value, fns) for value, fns in zip(row, converters, strict=True))
            for row in rows
        )
    return stored


def _converters(model: type[models.Model], field: models.Field) -> tuple[Col, list]:
    # What the ORM applies to a column it reads: SQLite hands back datetimes as text.
    expression = Col(model._meta.db_table, field)
    fns = [*connection.ops.get_db_converters(expression), *field.get_db_converters(connection)]
    return expression, fns


def _convert(value, converters: tuple[Col, list]):
    expression, fns = converters
    for fn in fns:
        value = fn(value, expression, connection)
    return value


def bindings_for_calls(calls: list[tuple]) -> dict[tuple, int | None]:
    """{(account_id, vendor_binding_id, x_number, at): binding id or None} for
    every call given, by privacy's rule (CALL_BINDING_SQL), in one SELECT."""
    if not calls:
        return {}
    found: dict[tuple, int | None] = {}
    size = max(1, (connection.features.max_query_params or 30_000) // 7)
    for start in range(0, len(calls), size):
        chunk = calls[start : start + size]
        params = [p for call in chunk for p in call_binding_params(*call)]
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join([CALL_BINDING_SQL] * len(chunk)), params)
            found.update(zip(chunk, cursor.fetchone(), strict=True))
    return found
