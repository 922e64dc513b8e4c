"""Admin for vendor accounts, sub-accounts and the number pool.

The admin enforces the same rules as the pages and the API: its forms validate with
accounts.services' own checks and normalizer, and saves go through the services.
What the API never lets change (an account's vendor, a number or the account it
belongs to, a sub-account's vendor-side identity) is read-only here once created.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from accounts import services
from accounts.models import PrivacyNumber, SubAccount, VendorAccount
from core.admin_forms import SecretFieldsAdminForm
from core.admin_search import CompleteNumberSearchMixin
from core.phones import normalize_number


def _add_new_errors(form: forms.ModelForm, exc: ValidationError) -> None:
    """Add a service's field errors, skipping those the model validation already gave."""
    for field, messages in exc.message_dict.items():
        target = field if field in form.fields else None
        shown = form.errors.get(target or NON_FIELD_ERRORS, [])
        for message in messages:
            if message not in shown:
                form.add_error(target, message)


class VendorAccountAdminForm(SecretFieldsAdminForm):
    secret_fields = ("secret",)
    # As on the console's form: a URL typed without a scheme means https.
    base_url = forms.URLField(max_length=300, assume_scheme="https")

    def _post_clean(self):
        super()._post_clean()  # builds self.instance from the cleaned data
        exclude = set(self._get_validation_exclusions()) | set(self.errors)
        try:
            services.vendor_account_validate(account=self.instance, exclude=list(exclude))
        except ValidationError as exc:
            _add_new_errors(self, exc)

    class Meta:
        model = VendorAccount
        fields = [
            "vendor",
            "name",
            "base_url",
            "account_id",
            "secret",
            "app_id",
            "extra",
            "enabled",
        ]


class SubAccountAdminForm(SecretFieldsAdminForm):
    secret_fields = ("sub_token", "voip_password")

    class Meta:
        model = SubAccount
        fields = [
            "vendor_account",
            "sub_account_sid",
            "sub_token",
            "voip_account",
            "voip_password",
            "friendly_name",
            "status",
            "type",
        ]


class PrivacyNumberAdminForm(forms.ModelForm):
    def clean_number(self):
        # The helper the API, the pages and the CSV import use: one stored form (E.164).
        return normalize_number(self.cleaned_data["number"])

    class Meta:
        model = PrivacyNumber
        fields = ["number", "vendor_account", "area_code", "status", "note"]


def _adopt(obj, saved) -> None:
    """Point the admin's instance at the row a service created (for its redirect and log)."""
    obj.pk = saved.pk
    obj.refresh_from_db()


@admin.register(VendorAccount)
class VendorAccountAdmin(admin.ModelAdmin):
    form = VendorAccountAdminForm
    list_display = ["name", "vendor", "account_id", "enabled", "updated_at"]
    list_filter = ["vendor", "enabled"]
    search_fields = ["name", "account_id", "app_id"]
    readonly_fields = ["webhook_token", "created_at", "updated_at"]
    actions = ["disable_accounts", "enable_accounts", "sync_sub_accounts"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            # Credentials, numbers and bindings belong to one vendor: it never changes.
            fields.insert(0, "vendor")
        return fields

    def save_model(self, request, obj, form, change):
        data = {name: getattr(obj, name) for name in services.ACCOUNT_FIELDS}
        if change:
            data.pop("vendor")
            services.vendor_account_update(account=obj, secret=obj.secret, **data)
        else:
            _adopt(obj, services.vendor_account_create(secret=obj.secret, **data))

    @admin.action(description="Disable selected accounts", permissions=["change"])
    def disable_accounts(self, request, queryset):
        for account in queryset:
            services.vendor_account_set_enabled(account=account, enabled=False)

    @admin.action(description="Enable selected accounts", permissions=["change"])
    def enable_accounts(self, request, queryset):
        for account in queryset:
            services.vendor_account_set_enabled(account=account, enabled=True)

    @admin.action(description="Sync sub-accounts from the vendor", permissions=["change"])
    def sync_sub_accounts(self, request, queryset):
        for account in queryset:
            try:
                services.sub_accounts_sync_request(vendor_account=account)
            except ValidationError as exc:
                self.message_user(request, f"{account}: {' '.join(exc.messages)}", "WARNING")
            else:
                self.message_user(request, f"{account}: sub-account sync requested.")


@admin.register(SubAccount)
class SubAccountAdmin(admin.ModelAdmin):
    form = SubAccountAdminForm
    list_display = [
        "friendly_name",
        "state",
        "sub_account_sid",
        "vendor_account",
        "status",
        "type",
        "seen_at",
        "created_at",
    ]
    list_filter = ["state", "vendor_account", "status"]
    search_fields = ["friendly_name", "sub_account_sid", "voip_account"]
    # The console's lifecycle (state, failure, attempts) is written by the services only.
    readonly_fields = [
        "vendor_account",
        "sub_account_sid",
        "state",
        "failure_code",
        "failure_text",
        "failure_text_en",
        "attempts",
        "vendor_created_at",
        "seen_at",
        "created_by",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request):
        # Sub-accounts are created at the vendor (the account page), which issues the sid.
        return False

    def has_delete_permission(self, request, obj=None):
        # Kept for their history: one the vendor no longer lists becomes "gone".
        return False


@admin.register(PrivacyNumber)
class PrivacyNumberAdmin(CompleteNumberSearchMixin, admin.ModelAdmin):
    form = PrivacyNumberAdminForm
    list_display = ["number", "vendor_account", "area_code", "status", "note"]
    list_filter = ["status", "vendor_account", "area_code"]
    search_fields = ["note"]
    number_search_fields = ("number",)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            # As in the API: bindings and call records refer to the number and its account.
            return ["number", "vendor_account", "created_at", "updated_at"]
        return []

    def save_model(self, request, obj, form, change):
        fields = {"area_code": obj.area_code, "status": obj.status, "note": obj.note}
        if change:
            services.number_update(number=obj, **fields)
        else:
            _adopt(
                obj,
                services.number_create(
                    vendor_account=obj.vendor_account, number=obj.number, **fields
                ),
            )

    # Deletion goes through the one service (it locks the pool row against new
    # bindings); the admin's own protected-objects page covers the usual refusal.
    def delete_model(self, request, obj):
        self.delete_queryset(request, [obj])

    def delete_queryset(self, request, queryset):
        for number in queryset:
            try:
                services.number_delete(number=number)
            except ValidationError as exc:
                self.message_user(request, f"{number}: {' '.join(exc.messages)}", "ERROR")
