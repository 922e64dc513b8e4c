"""Idempotency-Key handling shared by every create endpoint that starts vendor work.

A client may send `Idempotency-Key: <up to 128 characters>` with a POST; a retry
with the same key and the same request gets the row the first one made (200 instead
of 202) and nothing is done twice; the same key with another request is a 409.
Keys are unique per user in the database (a partial unique constraint on
(created_by, key)), so two racing requests with one key make one row: the loser's
insert fails on the constraint and is answered with the winner's row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 128

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    str,
    OpenApiParameter.HEADER,
    description=f"Up to {MAX_KEY_LENGTH} characters; a retried POST with the same key returns "
    "the same record (200) instead of creating a second; the same key with a different "
    "request is refused (409).",
)

M = TypeVar("M", bound=models.Model)


class IdempotencyConflict(Exception):
    """An Idempotency-Key already names a row made from a different request."""

    def __init__(self, instance: models.Model) -> None:
        super().__init__(instance.pk)
        self.instance = instance


def key_from_request(request) -> str:
    """The request's Idempotency-Key header, stripped; a 400 when it is too long."""
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(key) > MAX_KEY_LENGTH:
        raise serializers.ValidationError(
            {IDEMPOTENCY_HEADER: f"At most {MAX_KEY_LENGTH} characters."}
        )
    return key


def conflict_text(key: str, instance: models.Model) -> str:
    label = instance._meta.verbose_name
    return (
        f"{IDEMPOTENCY_HEADER} {key!r} was used for {label} {instance.pk}, "
        "made from a different request."
    )


def fingerprint(request_data: Mapping[str, Any]) -> str:
    """sha256 of the normalized request: what tells a retry from another request."""
    canonical = json.dumps(request_data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_or_replay(
    *,
    model: type[M],
    created_by,
    key: str,
    request_fingerprint: str,
    create: Callable[[], M],
    key_field: str = "idempotency_key",
    fingerprint_field: str = "request_fingerprint",
) -> tuple[M, bool]:
    """(row, created): the row `key` already names for `created_by`, else `create()`'s.

    `create` runs in a savepoint and must write the key and fingerprint on its row.
    Without a key or a user every call creates. Raises IdempotencyConflict when the
    key names a row of another request.
    """
    if not key or created_by is None:
        return create(), True

    def existing() -> M | None:
        row = model.objects.filter(created_by=created_by, **{key_field: key}).first()
        if row is not None and getattr(row, fingerprint_field) != request_fingerprint:
            raise IdempotencyConflict(row)
        return row

    row = existing()
    if row is not None:
        return row, False
    try:
        with transaction.atomic():
            return create(), True
    except IntegrityError:
        row = existing()  # a twin request committed first
        if row is None:
            raise
        return row, False
