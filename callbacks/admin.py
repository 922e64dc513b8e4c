"""Admin for the callbacks app: the inbox with replay actions, read-only records.

Everything here is evidence of what vendors sent: nothing is editable, and
deliveries cannot be deleted from the admin.
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from callbacks import selectors, services
from callbacks.models import CallEvent, CallRecord, Delivery, RecordingPlayback


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _replay(modeladmin, request, queryset, *, skip_auth: bool) -> None:
    if not request.user.has_perm("callbacks.replay_delivery"):
        modeladmin.message_user(request, "You may not replay deliveries.", messages.ERROR)
        return
    done: dict[str, int] = {}
    for delivery in queryset.select_related("vendor_account").order_by("received_at", "id"):
        try:
            delivery = services.delivery_replay(
                delivery=delivery, user=request.user, skip_auth=skip_auth
            )
        except ValidationError:
            done["not replayable"] = done.get("not replayable", 0) + 1
            continue
        done[delivery.outcome] = done.get(delivery.outcome, 0) + 1
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(done.items()))
    modeladmin.message_user(request, f"Replayed: {summary or 'nothing'}.")


@admin.action(description="Replay selected deliveries", permissions=["replay"])
def replay(modeladmin, request, queryset):
    _replay(modeladmin, request, queryset, skip_auth=False)


@admin.action(
    description="Replay selected deliveries, trusting them (skip authentication)",
    permissions=["replay"],
)
def replay_trusted(modeladmin, request, queryset):
    _replay(modeladmin, request, queryset, skip_auth=True)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "received_at", "vendor_account", "kind", "outcome", "short_reason")
    list_filter = ("outcome", "vendor", "kind", "signature")
    search_fields = ("reason", "call_ids")
    date_hierarchy = "received_at"
    actions = [replay, replay_trusted]
    exclude = ("body", "url", "headers", "auth_expected", "auth_received")
    # Headers and authentication notes through the same redaction as the pages.
    readonly_fields = (
        "vendor_account",
        "vendor",
        "kind",
        "received_at",
        "source_ip",
        "display_url",
        "shown_headers",
        "content_type",
        "body_size",
        "body_preview",
        *(
            {"auth_expected": "shown_auth_expected", "auth_received": "shown_auth_received"}.get(
                name, name
            )
            for name in Delivery.PROCESSING_FIELDS
        ),
    )

    def has_replay_permission(self, request):
        return request.user.has_perm("callbacks.replay_delivery")

    @admin.display(description="reason")
    def short_reason(self, obj):
        return (obj.reason[:90] + "…") if len(obj.reason) > 90 else obj.reason

    @admin.display(description="headers")
    def shown_headers(self, obj):
        return format_html_join("\n", "{}: {}<br>", selectors.delivery_shown_headers(obj)) or "–"

    @admin.display(description="auth expected")
    def shown_auth_expected(self, obj):
        return selectors.delivery_shown_auth(obj)[0]

    @admin.display(description="auth received")
    def shown_auth_received(self, obj):
        return selectors.delivery_shown_auth(obj)[1]

    @admin.display(description="body")
    def body_preview(self, obj):
        # Bodies hold whole phone numbers.
        return format_html("<pre>{}</pre>", bytes(obj.body)[:20000].decode("utf-8", "replace"))

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if not request.user.has_perm("accounts.view_full_numbers"):
            fields.remove("body_preview")
        return fields


class CallEventInline(admin.TabularInline):
    model = CallEvent
    extra = 0
    can_delete = False
    exclude = ("raw",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CallRecord)
class CallRecordAdmin(ReadOnlyAdmin):
    list_display = ("id", "call_at", "vendor_account", "call_id", "outcome", "recording_status")
    list_filter = ("vendor", "outcome", "has_cdr", "recording_status")
    search_fields = ("call_id", "vendor_binding_id")
    date_hierarchy = "call_at"
    inlines = [CallEventInline]
    # Whole numbers only in the pages, where they are masked per permission.
    exclude = ("caller", "callee", "x_number", "raw", "recording_url")


@admin.register(RecordingPlayback)
class RecordingPlaybackAdmin(ReadOnlyAdmin):
    list_display = ("at", "username", "call_record", "range", "status_code")
    list_filter = ("status_code",)
    search_fields = ("username",)
    date_hierarchy = "at"
