"""Browser pages for bindings and the pool. Thin: selectors read, services write.

Pending and releasing rows carry a data-poll-url (static/js/console.js) pointing
at `binding_state`, a fragment view that stops the polling once the state settles.
"""

from collections import Counter

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.models import PrivacyNumber, VendorAccount
from core.decorators import require_perm
from core.filters import list_or_errors, page_errors
from core.forms import apply_validation_error
from core.pagination import paginate
from core.views import confirm_page
from privacy import kinds, selectors, services
from privacy.forms import BindingForm, BulkReleaseForm, PoolFilterForm
from privacy.models import Binding


def _say_state(request, binding: Binding, *, releasing: bool = False) -> None:
    """Flash what the row says now, not what was planned: the message sits next to the
    state badge, so both must tell the same story (the task may have run already)."""
    pk, state = binding.pk, binding.state
    verb = "release requested" if releasing else "created"
    if state == Binding.State.ACTIVE and releasing:
        messages.warning(request, f"Binding #{pk} is still active: see its history below.")
    elif state == Binding.State.ACTIVE:
        messages.success(request, f"Binding #{pk} created: active at the vendor.")
    elif state in (Binding.State.RELEASED, Binding.State.EXPIRED):
        messages.success(request, f"Binding #{pk} {binding.get_state_display().lower()}.")
    elif state == Binding.State.FAILED:
        # The vendor's text may carry numbers: it is shown (masked) on the page, not here.
        messages.error(request, f"Binding #{pk} {verb}, but the vendor refused it (see below).")
    else:  # pending or releasing: the badge polls and updates by itself
        messages.info(
            request,
            f"Binding #{pk} {verb}; waiting for the vendor to confirm "
            "(the state below updates by itself).",
        )


@require_perm("privacy.view_binding")
def binding_list(request):
    bindings, filter_errors = list_or_errors(
        selectors.binding_list, Binding, filters=request.GET, user=request.user
    )
    return render(
        request,
        "privacy/binding_list.html",
        {
            "page": paginate(request, bindings),
            "filter_errors": filter_errors,
            "states": Binding.State.choices,
            "kinds": kinds.choices(),
            "specs": list(kinds.KINDS.values()),
            "accounts": VendorAccount.objects.filter(vendor__in=kinds.vendors()),
        },
    )


@require_perm("privacy.view_binding")
def binding_detail(request, pk: int):
    try:
        binding = selectors.binding_get(pk=pk)
    except Binding.DoesNotExist as exc:
        raise Http404("No such binding.") from exc
    return render(
        request,
        "privacy/binding_detail.html",
        {
            "binding": binding,
            "transitions": selectors.binding_transitions(binding=binding),
            "calls": selectors.binding_calls(binding=binding),
        },
    )


@require_perm("privacy.view_binding")
def binding_state(request, pk: int):
    """Fragment for polling: the state badge (and failure) of one binding."""
    binding = get_object_or_404(Binding.objects.select_related("x_number"), pk=pk)
    return render(request, "privacy/_state.html", {"b": binding})


@require_perm("privacy.add_binding")
def binding_create(request, kind: str):
    if kinds.get(kind) is None:
        raise Http404("No such binding kind.")
    form = BindingForm(request.POST or None, kind=kind)
    if request.method == "POST" and form.is_valid():
        try:
            binding = services.binding_create(
                kind=kind, created_by=request.user, **form.service_kwargs()
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            binding.refresh_from_db()
            _say_state(request, binding)
            return redirect("privacy:binding_detail", pk=binding.pk)
    return render(
        request,
        "privacy/binding_form.html",
        {"form": form, "kind": kind, "kind_label": kinds.KINDS[kind].choice_label},
    )


@require_perm("privacy.change_binding")
def binding_release(request, pk: int):
    """GET asks for confirmation; POST releases."""
    binding = get_object_or_404(Binding.objects.select_related("vendor_account", "x_number"), pk=pk)
    if request.method == "POST":
        try:
            binding = services.binding_release(binding=binding, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            binding.refresh_from_db()
            _say_state(request, binding, releasing=True)
        return redirect("privacy:binding_detail", pk=binding.pk)
    return confirm_page(
        request,
        title=f"Release {selectors.describe_for(binding, request.user)}?",
        body=binding.spec.release_confirmation,
        action="Release",
        danger=True,
    )


@require_POST
@require_perm("privacy.change_binding")
def binding_bulk_release(request):
    """First POST (from the list's checkboxes) shows a confirmation; the second releases."""
    form = BulkReleaseForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("privacy:binding_list")
    bindings = list(form.cleaned_data["ids"])
    if not form.cleaned_data["confirm"]:
        return render(request, "privacy/bulk_release_confirm.html", {"bindings": bindings})
    done, skipped = services.binding_release_many(bindings=bindings, actor=request.user)
    if done:
        # Count what the rows say now: with eager tasks (quick start) most are released
        # already, with a worker most are still on their way.
        states = Counter(
            Binding.objects.filter(pk__in=[b.pk for b in done]).values_list("state", flat=True)
        )
        released, waiting = states[Binding.State.RELEASED], states[Binding.State.RELEASING]
        parts = [f"{released} released"] if released else []
        if waiting:
            parts.append(f"{waiting} waiting for the vendor to confirm the release")
        if other := len(done) - released - waiting:
            parts.append(f"{other} in another state (see each binding)")
        messages.success(request, "Bindings: " + "; ".join(parts) + ".")
    for binding, why in skipped:
        messages.warning(request, f"#{binding.pk} skipped: {why}")
    return redirect("privacy:binding_list")


@require_perm("privacy.view_binding")
def pool(request):
    form = PoolFilterForm(request.GET)
    if form.is_valid():
        account = form.cleaned_data["vendor_account"]
        numbers = selectors.pool_utilisation(
            vendor_account=account, area_code=form.cleaned_data["area_code"]
        )
    else:
        account, numbers = None, PrivacyNumber.objects.none()
    page = paginate(request, numbers)
    return render(
        request,
        "privacy/pool.html",
        {
            "page": page,
            "rows": selectors.pool_rows(page),
            "totals": selectors.pool_totals(vendor_account=account),
            "filter_errors": page_errors(ValidationError(form.errors)) if form.errors else [],
            "accounts": VendorAccount.objects.filter(vendor__in=kinds.vendors()),
        },
    )
