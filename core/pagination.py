"""Pagination for list pages and the API.

`paginate`: numbered pages (OFFSET and COUNT) for the small lists.

`keyset_page` / `KeysetPagination`: seek pagination for lists that grow without
bound (call records).  A page continues after the last row seen, by the
queryset's ordering (which must end with a unique key, e.g. ("-call_at", "-id")),
so page 100 costs what page 1 costs; the cursor is that row's sort values, opaque
to clients.  Such lists show `estimated_count` rather than a COUNT(*) that would
read the whole table.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

PAGE_SIZE = 50
CURSOR_PARAM = "cursor"
MAX_CURSOR_LENGTH = 512


def paginate(request, queryset, per_page: int = PAGE_SIZE):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


# --------------------------------------------------------------------- keyset


@dataclass
class KeysetPage:
    """One page of a keyset list: its rows and the cursors of its neighbours."""

    rows: list
    next_cursor: str | None
    previous_cursor: str | None

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def _ordering(queryset: QuerySet) -> list[tuple[str, bool]]:
    """(field name, descending) of the queryset's ordering."""
    names = list(queryset.query.order_by or queryset.model._meta.ordering)
    if not names:
        raise ValueError("keyset pagination needs an ordered queryset")
    return [(name.lstrip("-"), name.startswith("-")) for name in names]


def _seek(keys: list[tuple[str, bool]], values: list[Any], *, backwards: bool) -> Q:
    """Rows strictly after `values` in the ordering (before them if `backwards`):
    (a, b) after (x, y) is a > x OR (a = x AND b > y), and a >= x first, so an
    index on the first key bounds the scan."""
    after = Q()
    for depth in range(len(keys) - 1, -1, -1):
        name, desc = keys[depth]
        op = "lt" if desc != backwards else "gt"
        step = Q(**{f"{name}__{op}": values[depth]})
        after = step if depth == len(keys) - 1 else step | (Q(**{name: values[depth]}) & after)
    first, desc = keys[0]
    bound = Q(**{f"{first}__{'lte' if desc != backwards else 'gte'}": values[0]})
    return bound & after


def encode_cursor(values: list[Any], *, backwards: bool = False) -> str:
    plain = [v.isoformat() if hasattr(v, "isoformat") else v for v in values]
    raw = json.dumps({"k": plain, "b": int(backwards)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(queryset: QuerySet, cursor: str) -> tuple[list[Any], bool]:
    """The sort values and direction in `cursor`; ValidationError if it is not one of ours."""
    keys = _ordering(queryset)
    problem = ValidationError({CURSOR_PARAM: ["Invalid cursor: start again from the first page."]})
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise problem
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        raw, backwards = data["k"], bool(data["b"])
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise problem
        fields = [queryset.model._meta.get_field(name) for name, _ in keys]
        values = [field.to_python(value) for field, value in zip(fields, raw, strict=True)]
        if any(value is None or _out_of_range(value) for value in values):
            raise problem
    except (ValueError, TypeError, KeyError, binascii.Error, ValidationError):
        raise problem from None
    return values, backwards


def _out_of_range(value: Any) -> bool:
    """A value the database would refuse (a 500, not a field error): beyond bigint."""
    return isinstance(value, int) and not -(2**63) <= value < 2**63


def keyset_page(queryset: QuerySet, *, cursor: str | None, size: int = PAGE_SIZE) -> KeysetPage:
    """The page of `queryset` after (or, for a previous-page cursor, before) `cursor`.

    Raises ValidationError (on `cursor`) for a cursor that is not one of ours.
    """
    keys = _ordering(queryset)
    names = [("-" if desc else "") + name for name, desc in keys]
    values, backwards = decode_cursor(queryset, cursor) if cursor else (None, False)
    if values is not None:
        queryset = queryset.filter(_seek(keys, values, backwards=backwards))
    if backwards:
        flipped = [name[1:] if name.startswith("-") else "-" + name for name in names]
        queryset = queryset.order_by(*flipped)
    rows = list(queryset[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()

    def position(row) -> list[Any]:
        return [getattr(row, name) for name, _ in keys]

    has_next = more if not backwards else True
    has_previous = (values is not None) if not backwards else more
    return KeysetPage(
        rows=rows,
        next_cursor=encode_cursor(position(rows[-1])) if rows and has_next else None,
        previous_cursor=(
            encode_cursor(position(rows[0]), backwards=True) if rows and has_previous else None
        ),
    )


def estimated_count(queryset: QuerySet) -> int:
    """About how many rows `queryset` holds, without counting them on PostgreSQL: the
    table's statistics (pg_class.reltuples) when unfiltered, else the planner's row
    estimate.  Other databases (the quick start's SQLite) count."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return queryset.count()
    if not queryset.query.where:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [queryset.model._meta.db_table],
            )
            row = cursor.fetchone()
        if row and row[0] >= 0:  # -1: never analyzed
            return int(row[0])
    plan = queryset.order_by().explain(format="json")
    if not plan:  # a filter that can match nothing (pk__in=[]): Django plans no query
        return 0
    return int(json.loads(plan)[0]["Plan"]["Plan Rows"])


def page_estimate(page: KeysetPage, estimate: int) -> int:
    """The estimate a page shows: exact when the page is the whole list, never fewer
    than the rows on screen, else `estimate` rounded (see `about`)."""
    if page.next_cursor is None and page.previous_cursor is None:
        return len(page.rows)
    return max(about(estimate), len(page.rows))


def about(count: int) -> int:
    """`count` to two significant figures: an estimate should not look exact."""
    if count < 100:
        return count
    scale = 10 ** (len(str(count)) - 2)
    return round(count / scale) * scale


# --------------------------------------------------------------------- API


class KeysetPagination(BasePagination):
    """DRF pagination by keyset: `next`/`previous` links carry a `cursor`, and the
    response says about how many rows match (`estimated_count`)."""

    page_size = PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        try:
            self.page = keyset_page(
                queryset, cursor=request.query_params.get(CURSOR_PARAM), size=self.page_size
            )
        except ValidationError as exc:
            raise ApiValidationError(exc.message_dict) from None
        self.estimate = page_estimate(self.page, estimated_count(queryset))
        return self.page.rows

    def _link(self, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        return replace_query_param(self.request.build_absolute_uri(), CURSOR_PARAM, cursor)

    def get_paginated_response(self, data):
        return Response(
            {
                "next": self._link(self.page.next_cursor),
                "previous": self._link(self.page.previous_cursor),
                "first": remove_query_param(self.request.build_absolute_uri(), CURSOR_PARAM),
                "estimated_count": self.estimate,
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        page = "http://console.example/api/v1/call-records/?outcome=answered"
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {
                    **link,
                    "example": f"{page}&cursor=eyJrIjpbIjIwMjYtMTEtMzBUMDI6MDI6MTFaIiw5ODEyNzM0XSwi"
                    "YiI6MH0",
                },
                "previous": {**link, "example": None},
                "first": {**link, "nullable": False, "example": page},
                "estimated_count": {
                    "type": "integer",
                    "example": 6200000,
                    "description": "About how many rows match (planner estimate, not a count).",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": CURSOR_PARAM,
                "required": False,
                "in": "query",
                "description": "Opaque position from a `next` or `previous` link.",
                "schema": {"type": "string"},
            }
        ]
