"""Admin for messaging: send policies are edited here; sends are read-only (they mirror
what the vendor was asked, and numbers are masked on the console's pages, which each
row links to)."""

from django.contrib import admin

from messaging.models import Message, SendPolicy, TwoWayCall, VoiceCode


@admin.register(SendPolicy)
class SendPolicyAdmin(admin.ModelAdmin):
    list_display = ("vendor_account", "per_minute", "per_day", "recipient_per_hour", "updated_at")
    list_select_related = ("vendor_account",)
    autocomplete_fields = ()


class ReadOnlySendAdmin(admin.ModelAdmin):
    """Sends by id and state; no numbers, texts or secrets (the console page masks them)."""

    list_display = ("id", "vendor_account", "state", "error_code", "created_at")
    list_filter = ("state", "vendor_account")
    search_fields = ("=id",)
    date_hierarchy = "created_at"
    fields = ("vendor_account", "state", "error_code", "attempts", "created_at", "sent_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.register(Message, ReadOnlySendAdmin)
admin.site.register(TwoWayCall, ReadOnlySendAdmin)
admin.site.register(VoiceCode, ReadOnlySendAdmin)
