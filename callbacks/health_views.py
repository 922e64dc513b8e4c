"""The X-number health page (/calls/health/) and its operator action, suspending a
number from allocation. Figures come from callbacks.health (rollups only)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render

from accounts import services as account_services
from accounts.models import PrivacyNumber, VendorAccount
from callbacks import health
from core.decorators import require_perm
from core.pagination import paginate
from core.phones import display_number
from core.views import confirm_page


class HealthForm(forms.Form):
    """?vendor_account=<id>&flagged=1"""

    vendor_account = forms.ModelChoiceField(
        queryset=VendorAccount.objects.order_by("name"),
        required=False,
        empty_label="All vendor accounts",
    )
    flagged = forms.BooleanField(required=False, label="Flagged only")


@require_perm("callbacks.view_callrecord")
def x_number_health(request):
    form = HealthForm(request.GET)
    context: dict = {"form": form, "min_ended": health.MIN_ENDED}
    if form.is_valid():
        account = form.cleaned_data["vendor_account"]
        report = health.x_number_health(vendor_account_id=account.pk if account else None)
        numbers = report.numbers
        if form.cleaned_data["flagged"]:
            numbers = [n for n in numbers if n.flagged]
        context.update(
            report=report,
            page=paginate(request, numbers),
            # The account column only when the page mixes several pools.
            several=len(report.pools) > 1,
        )
    return render(request, "callbacks/health.html", context)


@require_perm("accounts.change_privacynumber")
def x_number_suspend(request, pk: int):
    number = get_object_or_404(PrivacyNumber, pk=pk)
    shown = display_number(number.number, request.user)
    if request.method == "POST":
        try:
            account_services.number_suspend(number=number)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages).replace(number.number, shown))
        else:
            messages.success(request, f"{shown} is suspended: no new binding will get it.")
        return redirect("callbacks:x_number_health")
    return confirm_page(
        request,
        title=f"Suspend {shown} from allocation?",
        body=(
            "New bindings will not get this number; its current bindings keep it until "
            "they end. Make it available again from the admin's number pool."
        ),
        action="Suspend",
        danger=True,
    )
