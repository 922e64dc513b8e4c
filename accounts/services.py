"""Writes for vendor accounts, sub-accounts and the number pool. One function per use case.

The sub-account use cases live in accounts.sub_accounts and are re-exported here.
"""

import csv
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

import vendors
from accounts.models import AccountStatusCheck, PrivacyNumber, VendorAccount, new_webhook_token
from accounts.selectors import supports_account_status, vendor_client
from accounts.sub_accounts import (  # noqa: F401 - re-exported: callers import from here
    SyncResult,
    sub_account_create,
    sub_account_create_at_vendor,
    sub_accounts_sync,
    sub_accounts_sync_all,
    sub_accounts_sync_request,
)
from accounts.vendor_settings import validate_extra
from core.phones import normalize_into, normalize_number
from core.services import model_update

logger = logging.getLogger(__name__)

ACCOUNT_FIELDS = ("vendor", "name", "base_url", "account_id", "app_id", "extra", "enabled")
NUMBER_FIELDS = ("area_code", "status", "note")


def vendor_account_validate(*, account: VendorAccount, exclude: list[str] | None = None) -> None:
    """Every rule an account must meet before it is saved; the admin form calls it too.

    Normalizes `extra` in place. Raises ValidationError with field errors.
    """
    errors: dict[str, list[str]] = {}
    try:
        account.full_clean(exclude=exclude)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if "vendor" not in errors:
        try:
            account.extra = validate_extra(account.vendor, account.extra)
        except ValidationError as exc:
            errors.setdefault("extra", []).extend(exc.messages)
    if errors:
        raise ValidationError(errors)


def _save_account(account: VendorAccount) -> VendorAccount:
    vendor_account_validate(account=account)
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError as exc:
        raise ValidationError({"name": "A vendor account with this name exists."}) from exc
    return account


def vendor_account_create(
    *,
    vendor: str,
    name: str,
    base_url: str,
    account_id: str,
    secret: str,
    app_id: str = "",
    extra: dict | None = None,
    enabled: bool = True,
) -> VendorAccount:
    if not secret:
        raise ValidationError({"secret": "The secret is required."})
    account = VendorAccount(
        vendor=vendor,
        name=name,
        base_url=base_url,
        account_id=account_id,
        secret=secret,
        app_id=app_id,
        extra=extra or {},
        enabled=enabled,
    )
    return _save_account(account)


def vendor_account_update(
    *, account: VendorAccount, secret: str | None = None, **fields
) -> VendorAccount:
    """Change the given fields; an empty or missing secret keeps the stored one."""
    model_update(account, fields=fields, allowed=ACCOUNT_FIELDS)
    if secret:
        account.secret = secret
    return _save_account(account)


def vendor_account_set_enabled(*, account: VendorAccount, enabled: bool) -> VendorAccount:
    account.enabled = enabled
    account.save(update_fields=["enabled", "updated_at"])
    return account


def vendor_account_regenerate_webhook_token(*, account: VendorAccount) -> VendorAccount:
    """New callback URLs; the old ones stop working at once (a leaked URL is revoked)."""
    account.webhook_token = new_webhook_token()
    account.save(update_fields=["webhook_token", "updated_at"])
    return account


def number_create(
    *,
    vendor_account: VendorAccount,
    number: str,
    area_code: str = "",
    status: str = PrivacyNumber.Status.AVAILABLE,
    note: str = "",
) -> PrivacyNumber:
    errors: dict[str, list[str]] = {}
    normalized = normalize_into(number, field="number", errors=errors)
    if errors:
        raise ValidationError(errors)
    row = PrivacyNumber(
        vendor_account=vendor_account,
        number=normalized,
        area_code=area_code.strip(),
        status=status,
        note=note,
    )
    row.full_clean()
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError as exc:
        raise ValidationError({"number": f"{normalized} is already in the pool."}) from exc
    return row


def number_update(*, number: PrivacyNumber, **fields) -> PrivacyNumber:
    model_update(number, fields=fields, allowed=NUMBER_FIELDS)
    number.full_clean()
    number.save()
    return number


def number_suspend(*, number: PrivacyNumber) -> PrivacyNumber:
    """Take an available number out of allocation (status suspended); bindings it
    already has are left alone. Raises ValidationError unless it is available (a
    concurrent suspend or retire wins: the row is locked and read again first)."""
    with transaction.atomic():
        row = PrivacyNumber.objects.select_for_update().get(pk=number.pk)
        if row.status != PrivacyNumber.Status.AVAILABLE:
            raise ValidationError(
                f"{row.number} is {row.get_status_display().lower()}, not available.",
                code="not_available",
            )
        row.status = PrivacyNumber.Status.SUSPENDED
        row.save(update_fields=["status", "updated_at"])
    number.status, number.updated_at = row.status, row.updated_at
    return number


NUMBER_IN_USE = (
    "This number is used by {count} binding(s), which keep it for their history and "
    "call records; retire it instead (status: retired) to keep it out of allocation."
)


def number_delete(*, number: PrivacyNumber) -> None:
    """Remove a number from the pool; refused (ValidationError) while bindings refer to it.

    The pool row is locked first: every binding write takes that lock before it
    inserts, so no binding can appear between the check and the delete.
    """
    try:
        with transaction.atomic():
            row = PrivacyNumber.objects.select_for_update().filter(pk=number.pk).first()
            if row is None:
                return  # already gone: the caller's goal is met
            # Counted here rather than read off ProtectedError, which loads every row.
            used = row.bindings.count()
            if used:
                raise ValidationError(NUMBER_IN_USE.format(count=used), code="in_use")
            row.delete()
    except (ProtectedError, IntegrityError) as exc:
        # A cyj activation links a vendor-chosen X without the pool lock; the
        # deferred foreign key refuses the delete at commit instead.
        raise ValidationError(NUMBER_IN_USE.format(count="one or more"), code="in_use") from exc


@dataclass(frozen=True)
class ImportProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class NumberImportError(ValidationError):
    """A CSV import refused as a whole; `problems` lists every bad row."""

    def __init__(self, problems: list[ImportProblem]):
        self.problems = problems
        super().__init__([str(p) for p in problems])


# A row sets what a new number is given and may later change: one list for the
# CSV header, the API's number fields and the help texts.
IMPORT_COLUMNS = ("number", *NUMBER_FIELDS)
IMPORT_HEADER = f"{IMPORT_COLUMNS[0]}[,{','.join(IMPORT_COLUMNS[1:])}]"
NOT_UTF8 = "The file must be UTF-8 CSV."


def import_file_text(*, upload) -> str:
    """An uploaded import file's text (the page and the API); a field error unless UTF-8."""
    try:
        return upload.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError({"file": NOT_UTF8}) from exc


MAX_IMPORT_ROWS = 50_000


def _csv_rows(reader: csv.DictReader, problems: list) -> Iterator[dict]:
    """The reader's rows; a malformed CSV (an unclosed quote at the end, a cell over
    the csv module's size limit) ends the rows with a problem instead of raising."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # line_num counts the lines read before the one that failed.
            problems.append(ImportProblem(reader.line_num + 1, f"not CSV: {exc}"))
            return


def _import_row(raw: dict, statuses: set[str]) -> tuple[str, dict[str, str]] | str:
    """(number, cleaned row) for a usable CSV row, else what is wrong with it."""
    if None in raw:  # DictReader files cells beyond the header under None
        return "more cells than the header names"
    row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
    if any("\x00" in value for value in row.values()):
        # PostgreSQL refuses NUL in text: a row error, not a failed write.
        return "contains a NUL character"
    try:
        number = normalize_number(row.get("number", ""))
    except ValidationError as exc:
        return exc.messages[0]
    row["status"] = row.get("status") or PrivacyNumber.Status.AVAILABLE
    if row["status"] not in statuses:
        return f"status must be one of {', '.join(statuses)}"
    return number, row


def numbers_import_csv(*, vendor_account: VendorAccount, csv_text: str) -> list[PrivacyNumber]:
    """Import numbers from CSV (header: IMPORT_HEADER); all or nothing.

    Every bad row is reported with its line number; nothing is written unless every
    row is good.
    """
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise NumberImportError([ImportProblem(1, f"not CSV: {exc}")]) from exc
    if "number" not in header:
        raise NumberImportError([ImportProblem(1, "the header must name a 'number' column")])
    extra_columns = set(header) - set(IMPORT_COLUMNS)
    if extra_columns:
        raise NumberImportError(
            [ImportProblem(1, f"unknown columns: {', '.join(sorted(extra_columns))}")]
        )
    problems: list[ImportProblem] = []
    rows: list[PrivacyNumber] = []
    seen: dict[str, int] = {}
    statuses = set(PrivacyNumber.Status.values)
    for index, raw in enumerate(_csv_rows(reader, problems)):
        line = index + 2  # the header is line 1
        if index >= MAX_IMPORT_ROWS:
            problems.append(ImportProblem(line, f"more than {MAX_IMPORT_ROWS} rows"))
            break
        checked = _import_row(raw, statuses)
        if isinstance(checked, str):
            problems.append(ImportProblem(line, checked))
            continue
        number, row = checked
        if number in seen:
            problems.append(ImportProblem(line, f"{number} repeats line {seen[number]}"))
            continue
        seen[number] = line
        rows.append(
            PrivacyNumber(
                vendor_account=vendor_account,
                number=number,
                area_code=row.get("area_code", "")[:8],
                status=row["status"],
                note=row.get("note", "")[:200],
            )
        )
    existing = set(
        PrivacyNumber.objects.filter(number__in=list(seen)).values_list("number", flat=True)
    )
    problems.extend(
        ImportProblem(seen[n], f"{n} is already in the pool")
        for n in sorted(existing, key=seen.get)
    )
    if not rows and not problems:
        problems.append(ImportProblem(2, "the file has no rows"))
    if problems:
        raise NumberImportError(sorted(problems, key=lambda p: p.line))
    try:
        with transaction.atomic():
            return PrivacyNumber.objects.bulk_create(rows, batch_size=1000)
    except IntegrityError as exc:  # a concurrent import took a number meanwhile
        raise NumberImportError([ImportProblem(0, "a number was added meanwhile; retry")]) from exc


def vendor_account_check_status(*, account: VendorAccount) -> VendorAccount:
    """Ask the vendor for the account's state and balance, keep the answer on the
    account and add it to the account's history (AccountStatusCheck).

    Vendors without a status API (supports_account_status False) get a clear note.
    """
    client = vendor_client(account=account)
    account.status_checked_at = timezone.now()
    overdraft = None
    try:
        status = client.account_status()
    except NotImplementedError:
        account.status_state, account.status_balance = "", None
        account.status_error = f"{account.vendor} offers no account-status API."
    except vendors.VendorError as exc:
        account.status_error = str(exc)
    else:
        account.status_state, account.status_balance = status.state, status.balance
        account.status_error = ""
        overdraft = status.overdraft
    with transaction.atomic():
        account.save(
            update_fields=["status_state", "status_balance", "status_error", "status_checked_at"]
        )
        AccountStatusCheck.objects.create(
            vendor_account=account,
            checked_at=account.status_checked_at,
            # A failed check says nothing about the state: the history keeps it blank.
            state="" if account.status_error else account.status_state,
            balance=None if account.status_error else account.status_balance,
            overdraft=overdraft,
            error=account.status_error,
        )
    return account


def vendor_accounts_check_status_all(*, keep_days: int = 90) -> int:
    """The beat job: check every enabled account whose vendor has a status API, then
    drop history older than `keep_days`. Returns the number of accounts checked.

    One account's failure never stops the others: a vendor refusal is recorded by
    the check itself, anything else is logged and recorded by its type only (its
    text could carry a request's details).
    """
    checked = 0
    for account in VendorAccount.objects.filter(enabled=True).order_by("pk"):
        if not supports_account_status(account=account):
            continue
        try:
            vendor_account_check_status(account=account)
        except Exception as exc:  # recorded, and the loop goes on to the next account
            logger.exception("account status check of account %s failed", account.pk)
            AccountStatusCheck.objects.create(
                vendor_account=account,
                checked_at=timezone.now(),
                error=f"The check failed unexpectedly ({type(exc).__name__}); see the logs.",
            )
        checked += 1
    AccountStatusCheck.objects.filter(
        checked_at__lt=timezone.now() - timedelta(days=keep_days)
    ).delete()
    return checked
