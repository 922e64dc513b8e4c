"""Admin pages for the sandbox's tables.  Secrets (account secret, sub-account
token, VoIP password) are never shown: they are excluded from every form.

What the simulated vendor did (bindings, calls, messages, requests, deliveries) is
a record, read-only here like the console's own inbox; an account's vendor is fixed
once created, and its behaviour is changed with the page's chaos form or the API.
"""

from django.contrib import admin

from sandbox.models import (
    SandboxAccount,
    SandboxBinding,
    SandboxCall,
    SandboxDelivery,
    SandboxMessage,
    SandboxRequest,
    SandboxSubAccount,
)


class RecordAdmin(admin.ModelAdmin):
    """View-only: the record of what the simulated vendor did."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SandboxAccount)
class SandboxAccountAdmin(admin.ModelAdmin):
    list_display = ("vendor", "account_id", "app_id", "state", "auto_play", "updated_at")
    list_filter = ("vendor", "state", "auto_play", "chaos_duplicate", "chaos_out_of_order")
    search_fields = ("account_id", "app_id", "friendly_name")
    exclude = ("secret",)

    def get_readonly_fields(self, request, obj=None):
        return ("vendor", "account_id") if obj is not None else ()


@admin.register(SandboxSubAccount)
class SandboxSubAccountAdmin(admin.ModelAdmin):
    list_display = ("sub_account_sid", "friendly_name", "account", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("sub_account_sid", "friendly_name", "voip_account")
    exclude = ("sub_token", "voip_password")


@admin.register(SandboxBinding)
class SandboxBindingAdmin(RecordAdmin):
    list_display = ("kind", "x_number", "a_number", "b_number", "subid", "state", "expires_at")
    list_filter = ("kind", "state", "account__vendor")
    search_fields = ("x_number", "a_number", "b_number", "subid", "reqid")
    date_hierarchy = "created_at"


@admin.register(SandboxMessage)
class SandboxMessageAdmin(RecordAdmin):
    list_display = ("message_sid", "kind", "to", "template_id", "created_at")
    list_filter = ("kind",)
    search_fields = ("message_sid", "to", "template_id")


@admin.register(SandboxCall)
class SandboxCallAdmin(RecordAdmin):
    list_display = ("call_id", "kind", "caller", "callee", "outcome", "duration", "status")
    list_filter = ("kind", "status", "outcome", "account__vendor")
    search_fields = ("call_id", "caller", "callee", "x_number")
    date_hierarchy = "created_at"
    raw_id_fields = ("binding",)


@admin.register(SandboxRequest)
class SandboxRequestAdmin(RecordAdmin):
    list_display = (
        "created_at",
        "vendor",
        "method",
        "path",
        "verdict",
        "vendor_code",
        "http_status",
    )
    list_filter = ("vendor", "verdict", "http_status", "method")
    search_fields = ("path", "vendor_code")
    date_hierarchy = "created_at"


@admin.register(SandboxDelivery)
class SandboxDeliveryAdmin(RecordAdmin):
    list_display = ("created_at", "event", "url", "sequence", "attempt", "http_status", "duplicate")
    list_filter = ("kind", "event", "http_status", "duplicate")
    search_fields = ("url", "call__call_id")
    raw_id_fields = ("call",)
