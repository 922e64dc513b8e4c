"""Admin for bindings: read-only, with state changes only through privacy.services.

A binding mirrors a row at the vendor: changing its numbers, account or state by
hand would make the console disagree with the vendor (and skip masking, the X
allocator and the history). Bindings are created and released on the pages, the
API, or the release action here, which calls the same service. The admin finds a
binding by id and shows its history; each row links to the console's page, where
numbers are masked per permission.
"""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from privacy import services
from privacy.models import Binding, BindingTransition


class BindingTransitionInline(admin.TabularInline):
    model = BindingTransition
    extra = 0
    can_delete = False
    # No reason: it may quote a vendor message with numbers; the console page masks it.
    fields = ("at", "from_state", "to_state", "actor_label")
    readonly_fields = fields
    ordering = ("at", "id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Binding)
class BindingAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "vendor_account",
        "x_number",
        "state",
        "expires_at",
        "created_at",
        "page",
    )
    list_filter = ("state", "kind", "vendor_account__vendor", "vendor_account")
    # "=id": an operator pastes "1234" from a log line or a ticket.
    search_fields = ("=id", "=vendor_binding_id", "=reqid")
    date_hierarchy = "created_at"
    list_select_related = ("vendor_account", "x_number")
    actions = ["release"]
    inlines = [BindingTransitionInline]
    # Whole A/B numbers only in the pages, where they are masked per permission.
    exclude = ("a_number", "b_number")

    def get_readonly_fields(self, request, obj=None):
        return ["page", *(f.name for f in Binding._meta.fields if f.name not in self.exclude)]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # The change form shows the row read-only; actions still need this permission.
        return obj is None and super().has_change_permission(request)

    @admin.display(description="console page")
    def page(self, obj: Binding) -> str:
        url = reverse("privacy:binding_detail", args=[obj.pk])
        return format_html('<a href="{}">Binding #{}</a>', url, obj.pk)

    @admin.action(description="Release selected bindings", permissions=["change"])
    def release(self, request, queryset):
        bindings = queryset.select_related("vendor_account", "x_number")
        done, skipped = services.binding_release_many(bindings=bindings, actor=request.user)
        self.message_user(request, f"{len(done)} binding(s) released or being released.")
        for binding, why in skipped:
            self.message_user(request, f"#{binding.pk} skipped: {why}", messages.WARNING)
