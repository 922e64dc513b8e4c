"""The SQL of the webhook hot path, and only of it.

Why raw SQL here: on a small box every ORM statement costs ~0.5 ms of CPU in
query compilation and model machinery, several times what PostgreSQL spends
running it, and a CDR needs three of them.  The statements below are built
once per process from the models' own metadata (column names, each field's
pre_save/get_db_prep_save), so they follow the schema, and each field still
prepares its value exactly as the ORM would (jsonb, inet, aware datetimes).

- `account_by_token`: the account of a webhook URL, read from the database,
  built the way the ORM builds it (each field's from_db_value: the secret is
  decrypted, extra is parsed).  `account_for_webhook` serves it from the
  process's memory after the first read, with the md5 of its row as read.
- `insert`: a plain INSERT ... RETURNING id (the Delivery row).  With
  `current=account`, an INSERT ... SELECT ... WHERE EXISTS (the account row
  still has that md5): a regenerated token, a changed secret, any change to
  the account takes effect at once, as when the account was read on every
  request (which cost a statement, a round trip and a decryption per CDR):
  the delivery is stored, and so acknowledged, only if the account it was
  authenticated with is the account's state when it is stored.
- `insert_ignore`: INSERT ... ON CONFLICT (the unique constraint) DO NOTHING
  RETURNING id.  Idempotence comes from the constraint, never from a read
  before the write; a concurrent INSERT of the same key waits for the other
  transaction and then does nothing.  A CallRecord's binding is resolved by
  privacy's subquery (privacy.selectors.CALL_BINDING_SQL) in the same
  statement: one round trip, the same rule as normalize._binding_id.

- `insert_many`: the normalizer's batches (normalize.apply_batch): one
  INSERT ... SELECT * FROM unnest(one array per column) ON CONFLICT DO NOTHING
  RETURNING the key of each row stored, so the caller knows which rows were new;
  `update_many` likewise (UPDATE ... FROM unnest(...)).  Arrays rather than
  multi-row VALUES: a statement of over 50 parameters is parsed by psycopg on
  every execution (~30 ms for 200 rows here) and planned anew by PostgreSQL;
  these have a handful and the same text for every batch (normalization
  783 -> 855 deliveries/s in one process).
- `bindings_for_calls`: privacy's binding rule for many calls in one SELECT
  over their unnest.

Everything else (merges into an existing record, replays, pages) uses the ORM.
"""

from __future__ import annotations

import copy
from functools import cache

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models.expressions import Col

from accounts.models import VendorAccount
from privacy.selectors import CALL_BINDING_SQL, call_binding_params, call_binding_sql

# --------------------------------------------------------------------- account

# token -> (the account's values as the ORM reads them, its row's fingerprint).
# An entry is only ever trusted together with its fingerprint: `insert(...,
# current=account)` stores a delivery only if the account row still has it.
_ACCOUNTS: dict[str, tuple[list, str]] = {}
_MAX_ACCOUNTS = 1024


@cache
def _account_sql() -> tuple[str, list[models.Field]]:
    fields = list(VendorAccount._meta.concrete_fields)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(VendorAccount._meta.db_table)
    # md5 of the whole row as text: any change to the account changes it.
    # SQLite (the quick start) has no row-to-text: no fingerprint, no cache.
    fingerprint = "md5(a::text)" if connection.vendor == "postgresql" else "NULL"
    # Identifiers come from model metadata, the token is a parameter.
    sql = f"SELECT {columns}, {fingerprint} FROM {table} a WHERE webhook_token = %s"  # noqa: S608
    return sql, fields


def account_by_token(token: str) -> VendorAccount | None:
    """`VendorAccount.objects.get(webhook_token=token)` at a third of the CPU,
    read now (and remembered for `account_for_webhook`)."""
    sql, fields = _account_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [token])
        row = cursor.fetchone()
    if row is None:
        _ACCOUNTS.pop(token, None)
        return None
    values = [
        f.from_db_value(v, None, connection) if hasattr(f, "from_db_value") else v
        for f, v in zip(fields, row[:-1], strict=True)
    ]
    if row[-1] is not None:
        if len(_ACCOUNTS) >= _MAX_ACCOUNTS:
            _ACCOUNTS.clear()
        _ACCOUNTS[token] = (values, row[-1])
    return _account(values, row[-1])


def account_for_webhook(token: str) -> VendorAccount | None:
    """The account of a webhook URL, from this process's memory when it was read
    before: no statement, no decryption.  Only for a delivery stored with
    `insert(delivery, current=account)`, which refuses it (None) if the account
    changed since; the caller then reads it again (`account_by_token`)."""
    entry = _ACCOUNTS.get(token)
    if entry is None:
        return account_by_token(token)
    return _account(*entry)


def _account(values: list, fingerprint: str | None) -> VendorAccount:
    fields = VendorAccount._meta.concrete_fields
    # A fresh instance per request; `extra` is copied so no request can change another's.
    values = [copy.deepcopy(v) if isinstance(v, dict | list) else v for v in values]
    account = VendorAccount.from_db(connection.alias, [f.attname for f in fields], values)
    account._webhook_fingerprint = fingerprint
    return account


# --------------------------------------------------------------------- inserts


@cache
def _insert_current_sql() -> tuple[str, list[models.Field]]:
    """The Delivery INSERT that happens only if its account row still has the
    fingerprint it was read with (one statement: no read-then-write race)."""
    from callbacks.models import Delivery

    fields = [f for f in Delivery._meta.concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    # Typed placeholders: a SELECT list does not take its types from the target
    # columns as VALUES does.
    casts = [_cast(f) for f in fields]
    accounts = qn(VendorAccount._meta.db_table)
    sql = (
        f"INSERT INTO {qn(Delivery._meta.db_table)}"  # noqa: S608 (identifiers from metadata)
        f" ({', '.join(qn(f.column) for f in fields)})"
        f" SELECT {', '.join(f'%s::{c}' for c in casts)}"
        f" WHERE EXISTS (SELECT 1 FROM {accounts} a WHERE a.id = %s AND md5(a::text) = %s)"
        f" RETURNING {qn(Delivery._meta.pk.column)}"
    )
    return sql, fields


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


def insert(obj: models.Model, *, current: VendorAccount | None = None) -> int | None:
    """`obj.save(force_insert=True)` without the ORM's per-call query compilation.

    `current`: the account a Delivery was authenticated with, from
    `account_for_webhook`: the row is stored only if that account is unchanged
    (else None, nothing stored)."""
    fingerprint = getattr(current, "_webhook_fingerprint", None)
    if fingerprint is None:
        return _insert(obj, (), None)
    sql, fields = _insert_current_sql()
    params = _params(obj, fields)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, current.pk, fingerprint])
        row = cursor.fetchone()
    if row is None:
        return None
    _stored(obj, row[0])
    return row[0]


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


def _params(obj: models.Model, fields: list[models.Field]) -> list:
    """Each field's value as the ORM would send it."""
    db = connections[DEFAULT_DB_ALIAS]  # once: `connection` is a proxy, ~15 us a look-up
    return [f.get_db_prep_save(f.pre_save(obj, True), db) for f in fields]


def _insert(obj: models.Model, conflict: tuple[str, ...], binding: tuple | None) -> int | None:
    sql, fields = _insert_sql(type(obj), conflict, binding is not None)
    db = connections[DEFAULT_DB_ALIAS]
    params: list = []
    for f in fields:
        if binding is not None and f.column == "binding_id":
            params.extend(binding)
        else:
            params.append(f.get_db_prep_save(f.pre_save(obj, True), db))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    if binding is not None:
        obj.binding_id = row[1]
    _stored(obj, row[0])
    return row[0]


def _stored(obj: models.Model, pk: int) -> None:
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = connection.alias


# --------------------------------------------------------------------- batches


def insert_many(
    objs: list[models.Model], conflict: tuple[str, ...], *, returning: tuple[str, ...]
) -> list[tuple]:
    """INSERT every obj except those whose `conflict` key is taken; (id,
    *returning) of each row stored, values as the ORM reads them.

    The rows must have distinct keys.  One statement over unnest arrays on
    PostgreSQL; elsewhere multi-row VALUES chunked to the parameter limit
    (SQLite's 999)."""
    if not objs:
        return []
    model = type(objs[0])
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    by_column = {f.column: f for f in model._meta.concrete_fields}
    back = [model._meta.pk, *(by_column[c] for c in returning)]
    qn = connection.ops.quote_name
    row_sql = f"({', '.join(['%s'] * len(fields))})"
    head = f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
    tail = (
        f" ON CONFLICT ({', '.join(qn(c) for c in conflict)}) DO NOTHING"
        f" RETURNING {', '.join(qn(f.column) for f in back)}"
    )
    converters = [_converters(model, f) for f in back]
    if connection.vendor == "postgresql":
        # One array per column: the statement's text and its few parameters are the
        # same whatever the batch's size, so psycopg parses it once per process (it
        # re-parses a statement of over 50 parameters every time: ~30 ms for 200 rows).
        sql = f"{head}SELECT * FROM {_unnest(fields)}{tail}"  # noqa: S608 (identifiers from metadata)
        chunks = [(sql, _columns(objs, fields))]
    else:
        size = max(1, (connection.features.max_query_params or 999) // len(fields))
        chunks = [
            (
                head + "VALUES " + ", ".join([row_sql] * len(objs[start : start + size])) + tail,
                [p for obj in objs[start : start + size] for p in _params(obj, fields)],
            )
            for start in range(0, len(objs), size)
        ]
    stored: list[tuple] = []
    for sql, params in chunks:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        stored.extend(
            tuple(_convert(value, fns) for value, fns in zip(row, converters, strict=True))
            for row in rows
        )
    return stored


def _unnest(fields: list[models.Field]) -> str:
    """unnest(%s::type[], ...): rows from one array parameter per column."""
    return f"unnest({', '.join(f'%s::{_cast(f)}[]' for f in fields)})"


def _columns(objs: list[models.Model], fields: list[models.Field]) -> list[list]:
    """Each field's values over `objs`, prepared as the ORM would: one list per column."""
    rows = [_params(obj, fields) for obj in objs]
    return [list(column) for column in zip(*rows, strict=True)]


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


def update_many(objs: list[models.Model], names: list[str]) -> None:
    """`Model.objects.bulk_update(objs, names)` in one UPDATE ... FROM (VALUES ...)
    on PostgreSQL: bulk_update's CASE WHEN per row and field costs ~4 ms of
    Python per 200 rows.  Other databases use bulk_update."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, names)
        return
    fields = [model._meta.get_field(name) for name in names]
    pk = model._meta.pk
    qn = connection.ops.quote_name
    columns = [pk.column, *(f.column for f in fields)]
    sets = ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in fields)
    key = qn(pk.column)
    # One array per column (see insert_many): the same text for every batch.
    sql = (
        f"UPDATE {qn(model._meta.db_table)} t SET {sets}"  # noqa: S608 (identifiers from metadata)
        f" FROM {_unnest([pk, *fields])} AS v ({', '.join(qn(c) for c in columns)})"
        f" WHERE t.{key} = v.{key}"
    )
    db = connections[DEFAULT_DB_ALIAS]
    params = [
        [obj.pk for obj in objs],
        *([f.get_db_prep_save(getattr(obj, f.attname), db) for obj in objs] for f in fields),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _cast(field: models.Field) -> str:
    """The column's type for a cast; varchar without its length, so an overlong
    value fails on assignment as it would anywhere else instead of being cut."""
    db_type = field.db_type(connection)
    return db_type.split("(")[0] if db_type.startswith("varchar") else db_type


def bindings_for_calls(calls: list[tuple]) -> dict[tuple, int | None]:
    """{(account_id, vendor_binding_id, x_number, at): binding id or None} for
    every call given, by privacy's rule (CALL_BINDING_SQL), in one SELECT."""
    if not calls:
        return {}
    if connection.vendor == "postgresql":
        # The calls as four arrays (see insert_many): one short statement, the rule
        # evaluated per row of the unnest.
        rule = call_binding_sql("c.account", "c.vendor_binding_id", "c.x_number", "c.at")
        sql = (
            f"SELECT {rule} FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[],"  # noqa: S608 (privacy's rule, no values)
            " %s::timestamptz[]) WITH ORDINALITY"
            " AS c (account, vendor_binding_id, x_number, at, i) ORDER BY c.i"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [list(column) for column in zip(*calls, strict=True)])
            return {call: row[0] for call, row in zip(calls, cursor.fetchall(), strict=True)}
    found: dict[tuple, int | None] = {}
    size = max(1, (connection.features.max_query_params or 30_000) // 7)
    for start in range(0, len(calls), size):
        chunk = calls[start : start + size]
        params = [p for call in chunk for p in call_binding_params(*call)]
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join([CALL_BINDING_SQL] * len(chunk)), params)
            found.update(zip(chunk, cursor.fetchone(), strict=True))
    return found
