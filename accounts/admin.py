from django.contrib import admin
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import PrivacyNumber, SubAccount, VendorAccount
from accounts.vendor_settings import validate_extra
from core.admin_forms import SecretFieldsAdminForm


class VendorAccountAdminForm(SecretFieldsAdminForm):
    secret_fields = ("secret",)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("vendor"):
            try:
                cleaned["extra"] = validate_extra(cleaned["vendor"], cleaned.get("extra"))
            except ValidationError as exc:
                self.add_error("extra", exc.messages)
        return cleaned

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


@admin.register(VendorAccount)
class VendorAccountAdmin(admin.ModelAdmin):
    form = VendorAccountAdminForm
    list_display = ["name", "vendor", "account_id", "enabled", "updated_at"]
    list_filter = ["vendor", "enabled"]
    search_fields = ["name", "account_id", "app_id"]
    readonly_fields = ["webhook_token", "created_at", "updated_at"]
    actions = ["disable_accounts", "enable_accounts"]

    @admin.action(description="Disable selected accounts", permissions=["change"])
    def disable_accounts(self, request, queryset):
        for account in queryset:
            services.vendor_account_set_enabled(account=account, enabled=False)

    @admin.action(description="Enable selected accounts", permissions=["change"])
    def enable_accounts(self, request, queryset):
        for account in queryset:
            services.vendor_account_set_enabled(account=account, enabled=True)


@admin.register(SubAccount)
class SubAccountAdmin(admin.ModelAdmin):
    form = SubAccountAdminForm
    list_display = ["friendly_name", "sub_account_sid", "vendor_account", "status", "created_at"]
    list_filter = ["vendor_account", "status"]
    search_fields = ["friendly_name", "sub_account_sid", "voip_account"]


@admin.register(PrivacyNumber)
class PrivacyNumberAdmin(admin.ModelAdmin):
    list_display = ["number", "vendor_account", "area_code", "status", "note"]
    list_filter = ["status", "vendor_account", "area_code"]
    search_fields = ["number", "note"]

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
