"""Admin for the callbacks app: the inbox with replay actions, read-only records.

Everything here is evidence of what vendors sent: nothing is editable, and
deliveries cannot be deleted from the admin (they are the raw evidence, and
replayable).  A call record can be deleted by whoever holds
callbacks.delete_callrecord (administrators): a bogus record is derived data,
and its delivery stays in the inbox.  Vendor-supplied times are shown through
`callback_times.moment`, which never crashes on an out-of-range stored value.
"""

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from callbacks import selectors, services
from callbacks.models import (
    CallEvent,
    CallRecord,
    CallRecordExport,
    Delivery,
    RecordingPlayback,
)
from callbacks.templatetags.callback_times import moment


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
    counts = services.delivery_replay_many(
        deliveries=queryset.select_related("vendor_account").order_by("received_at", "id"),
        user=request.user,
        skip_auth=skip_auth,
    )
    modeladmin.message_user(request, f"Replayed: {services.replay_summary(counts)}.")


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
        "body_pruned_at",
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
        if obj.body_pruned_at:
            return f"pruned on {obj.body_pruned_at:%Y-%m-%d %H:%M} UTC (retention)"
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
    exclude = ("raw", "occurred_at")
    readonly_fields = ("occurred",)

    @admin.display(description="occurred at")
    def occurred(self, obj):
        return moment(obj.occurred_at)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


_VENDOR_TIMES = ("call_at", "begin_at", "ring_at", "answer_at", "release_at")


def _time_column(name: str):
    def show(self, obj):
        return moment(getattr(obj, name)) or "–"

    return admin.display(description=name.replace("_", " "), ordering=name)(show)


@admin.register(CallRecord)
class CallRecordAdmin(ReadOnlyAdmin):
    list_display = ("id", "call_time", "vendor_account", "call_id", "outcome", "recording_status")
    # No date_hierarchy: it converts the oldest and newest call_at to local time,
    # and one out-of-range stored time made the whole list answer 500.
    list_filter = ("vendor", "outcome", "has_cdr", "recording_status", "call_at")
    search_fields = ("call_id", "vendor_binding_id")
    inlines = [CallEventInline]
    # Whole numbers only in the pages, where they are masked per permission.
    exclude = ("caller", "callee", "x_number", "raw", "recording_url", *_VENDOR_TIMES)
    readonly_fields = tuple(f"{name[:-3]}_time" for name in _VENDOR_TIMES)

    call_time = _time_column("call_at")
    begin_time = _time_column("begin_at")
    ring_time = _time_column("ring_at")
    answer_time = _time_column("answer_at")
    release_time = _time_column("release_at")

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("callbacks.delete_callrecord")

    def delete_model(self, request, obj):
        services.call_record_delete(record=obj)

    def delete_queryset(self, request, queryset):
        for record in queryset:
            services.call_record_delete(record=record)


@admin.register(RecordingPlayback)
class RecordingPlaybackAdmin(ReadOnlyAdmin):
    list_display = ("at", "username", "call_record", "range", "status_code")
    list_filter = ("status_code",)
    search_fields = ("username",)
    date_hierarchy = "at"


@admin.register(CallRecordExport)
class CallRecordExportAdmin(ReadOnlyAdmin):
    """The export audit; files are reached from the console's export page, by their owner."""

    list_display = (
        "id",
        "created_at",
        "username",
        "mode",
        "status",
        "rows_written",
        "full_numbers",
    )
    list_filter = ("mode", "status", "full_numbers")
    search_fields = ("username",)
    date_hierarchy = "created_at"
    exclude = ("file",)
