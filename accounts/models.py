"""Vendor accounts, ccp sub-accounts and the pool of X numbers."""

import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

import vendors
from core.crypto import EncryptedTextField


def vendor_choices() -> list[tuple[str, str]]:
    """(code, name) of every vendor in the vendors registry, read at each use: a
    callable, so a vendor added to the registry needs no migration here."""
    return vendors.choices()


def new_webhook_token() -> str:
    # Hex, not urlsafe base64: huawei accepts only [A-Za-z0-9-:./] in statusUrl/feeUrl.
    return secrets.token_hex(24)


def validate_base_url(value: str) -> None:
    """A vendor base_url is http(s) with nothing after the path: the clients append
    API paths and query strings to it, so a "?" or "#" would swallow them (and
    turned the status check into a request for any URL an operator liked)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ValidationError(f"Not a valid URL: {exc}.") from None
    if parts.scheme not in ("http", "https"):
        raise ValidationError("Use an http:// or https:// URL.")
    if not parts.hostname:
        raise ValidationError("The URL needs a host.")
    if "?" in value or "#" in value:
        raise ValidationError("A base URL has no query (?…) or fragment (#…).")
    if parts.username is not None or parts.password is not None:
        raise ValidationError("Put credentials in the account's fields, not in the URL.")


class VendorAccount(models.Model):
    """One set of credentials at one vendor. Field meaning per vendor is in the README."""

    vendor = models.CharField(max_length=16, choices=vendor_choices)
    name = models.CharField(max_length=100, unique=True)
    base_url = models.URLField(max_length=300)
    account_id = models.CharField(
        max_length=128, help_text="ccp accountSid, igw devid, huawei app_key, cyj ACCOUNTSID."
    )
    secret = EncryptedTextField(
        help_text="ccp authToken, igw auth key, huawei app_secret, cyj token. Write-only."
    )
    app_id = models.CharField(max_length=128, blank=True)
    extra = models.JSONField(default=dict, blank=True, help_text="Per-vendor settings.")
    enabled = models.BooleanField(default=True)
    webhook_token = models.CharField(max_length=64, unique=True, default=new_webhook_token)
    # The last answer of the vendor's account-status API (igw status, ccp AccountInfo).
    status_state = models.CharField(max_length=16, blank=True)
    status_balance = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    status_error = models.TextField(blank=True)
    status_checked_at = models.DateTimeField(null=True, blank=True)
    # The last sub-account sync (accounts.services.sub_accounts_sync).
    sub_accounts_synced_at = models.DateTimeField(null=True, blank=True)
    sub_accounts_sync_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.vendor})"

    def clean_fields(self, exclude=None) -> None:
        # Here rather than in the field's validators: every write path (service,
        # admin form) runs full_clean, and no migration is needed for a rule change.
        errors: dict = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if "base_url" not in errors and "base_url" not in (exclude or ()):
            try:
                validate_base_url(self.base_url)
            except ValidationError as exc:
                errors["base_url"] = exc.messages
        if errors:
            raise ValidationError(errors)


class SubAccount(models.Model):
    """A sub-account of a vendor account (vendors whose client declares
    supports_sub_accounts).

    Made pending by the console and activated by a worker once the vendor has
    created it (it then has its sid), or found at the vendor by a sync. `state`
    is ours; `status` and `type` are the vendor's, kept verbatim.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        FAILED = "failed", "Failed"
        # The vendor no longer lists it (a sync); the row stays for history.
        GONE = "gone", "Gone at the vendor"

    vendor_account = models.ForeignKey(
        VendorAccount, on_delete=models.PROTECT, related_name="sub_accounts"
    )
    # Blank until the vendor answers: unique only once set (the constraint below).
    sub_account_sid = models.CharField(max_length=64, blank=True, default="")
    sub_token = EncryptedTextField(blank=True)
    voip_account = models.CharField(max_length=64, blank=True)
    voip_password = EncryptedTextField(blank=True)
    friendly_name = models.CharField(max_length=100)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    status = models.CharField(max_length=32, blank=True, default="")
    # The vendor's `type` (guide §2.5.1 prints it; no values are documented).
    type = models.CharField(max_length=32, blank=True, default="")
    failure_code = models.CharField(max_length=32, blank=True)
    failure_text = models.TextField(blank=True, help_text="The vendor's own text.")
    failure_text_en = models.TextField(blank=True, help_text="Our English gloss of the code.")
    # Vendor calls started for the create: a redelivered task looks the name up
    # first instead of creating a second sub-account (create has no idempotency key).
    attempts = models.PositiveSmallIntegerField(default=0)
    vendor_created_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(
        null=True, blank=True, help_text="When the vendor last listed or returned it."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["friendly_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sub_account_sid"],
                condition=~models.Q(sub_account_sid=""),
                name="subaccount_sid_unique_when_set",
                violation_error_message="A sub-account with this sid is already recorded.",
            ),
        ]
        indexes = [models.Index(fields=["vendor_account", "state"])]

    def __str__(self) -> str:
        return self.friendly_name


class PrivacyNumber(models.Model):
    """An X number in the pool, stored in E.164 form."""

    class Status(models.TextChoices):
        AVAILABLE = "available", "Available"
        SUSPENDED = "suspended", "Suspended"
        RETIRED = "retired", "Retired"

    number = models.CharField(max_length=24, unique=True)
    vendor_account = models.ForeignKey(
        VendorAccount, on_delete=models.PROTECT, related_name="numbers"
    )
    area_code = models.CharField(max_length=8, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.AVAILABLE)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["number"]
        permissions = [("view_full_numbers", "Can view full phone numbers")]
        indexes = [models.Index(fields=["vendor_account", "status"])]

    def __str__(self) -> str:
        return self.number


class AccountStatusCheck(models.Model):
    """One answer (or failure) of a vendor's account-status API: the history behind
    VendorAccount.status_*, written by every check (the beat job's and the page's)."""

    vendor_account = models.ForeignKey(
        VendorAccount, on_delete=models.CASCADE, related_name="status_checks"
    )
    checked_at = models.DateTimeField()
    state = models.CharField(max_length=16, blank=True)
    balance = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    overdraft = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    # The vendor's refusal or the transport failure; empty when the vendor answered.
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-checked_at", "-id"]
        get_latest_by = "checked_at"
        indexes = [
            models.Index(
                fields=["vendor_account", "-checked_at"], name="accounts_statuscheck_recent"
            )
        ]

    def __str__(self) -> str:
        what = self.state or self.error[:40]
        return f"{self.vendor_account_id} at {self.checked_at:%Y-%m-%d %H:%M}: {what}"
