"""Browser pages for vendor accounts and the number pool. Thin: services do the work."""

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import selectors, services, tasks
from accounts.forms import NumberForm, NumberImportForm, SubAccountForm, VendorAccountForm
from accounts.models import PrivacyNumber, SubAccount, VendorAccount, vendor_choices
from core.decorators import require_perm
from core.filters import list_or_errors
from core.forms import apply_validation_error
from core.pagination import paginate
from core.views import confirm_page


@require_perm("accounts.view_vendoraccount")
def vendor_account_list(request):
    accounts, filter_errors = list_or_errors(
        selectors.vendor_account_list, VendorAccount, filters=request.GET, user=request.user
    )
    return render(
        request,
        "accounts/vendor_account_list.html",
        {
            "page": paginate(request, accounts),
            "vendors": vendor_choices(),
            "filter_errors": filter_errors,
        },
    )


@require_perm("accounts.view_vendoraccount")
def vendor_account_detail(request, pk: int):
    account = get_object_or_404(VendorAccount, pk=pk)
    return render(
        request,
        "accounts/vendor_account_detail.html",
        {
            "account": account,
            "webhook_urls": selectors.webhook_urls(account=account),
            "supports_status": selectors.supports_account_status(account=account),
            "status_history": selectors.account_status_history(account=account),
            "supports_sub_accounts": selectors.supports_sub_accounts(account=account),
            "number_count": account.numbers.count(),
            "sub_accounts": account.sub_accounts.all()[:200],
            "sub_account_states": SubAccount.State.choices,
            "extra_json": json.dumps(account.extra, ensure_ascii=False),
        },
    )


@require_perm("accounts.change_vendoraccount")
@require_POST
def vendor_account_check_status(request, pk: int):
    account = get_object_or_404(VendorAccount, pk=pk)
    if not selectors.supports_account_status(account=account):
        messages.error(request, f"{account.vendor} offers no account-status API.")
        return redirect("accounts:vendor_account_detail", pk=account.pk)
    asked_at = timezone.now()
    transaction.on_commit(lambda: tasks.vendor_account_check_status.delay(account.pk))
    # Say what happened: with tasks in-process (quick start) the answer is already in.
    account.refresh_from_db()
    if account.status_checked_at is None or account.status_checked_at < asked_at:
        messages.info(request, "Asked the vendor for the account status; refresh in a moment.")
    elif account.status_error:
        messages.error(request, "The vendor did not answer with a status: see below.")
    else:
        messages.success(request, f"The vendor says the account is {account.status_state}.")
    return redirect("accounts:vendor_account_detail", pk=account.pk)


def _say_sub_account_state(request, sub: SubAccount) -> None:
    """Flash what the row says now (the task may have run already, as in the quick start)."""
    name = sub.friendly_name
    if sub.state == SubAccount.State.ACTIVE:
        messages.success(request, f"Sub-account {name} created at the vendor.")
    elif sub.state == SubAccount.State.FAILED:
        # The vendor's text may carry numbers: it is shown (masked) in the table.
        messages.error(request, f"The vendor did not create sub-account {name} (see below).")
    else:
        messages.info(
            request,
            f"Sub-account {name} requested; waiting for the vendor "
            "(its state below updates by itself).",
        )


@require_perm("accounts.add_subaccount")
@require_POST
def sub_account_create(request, pk: int):
    account = get_object_or_404(VendorAccount, pk=pk)
    form = SubAccountForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("accounts:vendor_account_detail", pk=account.pk)
    try:
        sub = services.sub_account_create(
            vendor_account=account,
            friendly_name=form.cleaned_data["friendly_name"],
            created_by=request.user,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        sub.refresh_from_db()
        _say_sub_account_state(request, sub)
    return redirect("accounts:vendor_account_detail", pk=account.pk)


@require_perm("accounts.view_subaccount")
def sub_account_state(request, pk: int):
    """Fragment for polling: one sub-account's state badge (and failure)."""
    sub = get_object_or_404(SubAccount, pk=pk)
    return render(request, "accounts/_sub_account_state.html", {"sub": sub})


@require_perm("accounts.change_subaccount")
def sub_accounts_sync(request, pk: int):
    """GET asks for confirmation; POST asks a worker to sync from the vendor."""
    account = get_object_or_404(VendorAccount, pk=pk)
    if request.method != "POST":
        return confirm_page(
            request,
            title=f"Sync the sub-accounts of {account.name} from the vendor?",
            body="The console reads the vendor's list of sub-accounts: those made in the "
            "vendor's own console are added, status and type are updated, and those the "
            "vendor no longer lists are marked gone (they stay here, for their history).",
            action="Sync now",
            danger=False,
        )
    asked_at = timezone.now()
    try:
        services.sub_accounts_sync_request(vendor_account=account)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("accounts:vendor_account_detail", pk=account.pk)
    # Say what happened: with tasks in-process (quick start) the sync is done already.
    _say_sync(request, account, asked_at)
    return redirect("accounts:vendor_account_detail", pk=account.pk)


def _say_sync(request, account: VendorAccount, asked_at) -> None:
    account.refresh_from_db()
    synced = account.sub_accounts_synced_at
    if synced is None or synced < asked_at:
        messages.info(request, "Sync requested; refresh in a moment to see its result.")
    elif account.sub_accounts_sync_error:
        messages.error(request, "The vendor did not list its sub-accounts: see below.")
    else:
        messages.success(request, "Sub-accounts synced from the vendor.")


@require_perm("accounts.add_vendoraccount")
def vendor_account_create(request):
    form = VendorAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = services.vendor_account_create(**form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Vendor account {account.name} created.")
            return redirect("accounts:vendor_account_detail", pk=account.pk)
    return render(request, "accounts/vendor_account_form.html", {"form": form})


@require_perm("accounts.change_vendoraccount")
def vendor_account_edit(request, pk: int):
    account = get_object_or_404(VendorAccount, pk=pk)
    form = VendorAccountForm(request.POST or None, instance=account)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data.pop("vendor", None)
        try:
            services.vendor_account_update(account=account, **data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Vendor account {account.name} saved.")
            return redirect("accounts:vendor_account_detail", pk=account.pk)
    return render(request, "accounts/vendor_account_form.html", {"form": form, "account": account})


@require_perm("accounts.change_vendoraccount")
def vendor_account_set_enabled(request, pk: int):
    """GET shows a confirmation; POST enables or disables."""
    account = get_object_or_404(VendorAccount, pk=pk)
    enable = not account.enabled
    if request.method == "POST":
        services.vendor_account_set_enabled(account=account, enabled=enable)
        messages.success(request, f"{account.name} {'enabled' if enable else 'disabled'}.")
        return redirect("accounts:vendor_account_detail", pk=account.pk)
    return confirm_page(
        request,
        title=f"{'Enable' if enable else 'Disable'} {account.name}?",
        body="A disabled account makes no vendor calls; callbacks are still received."
        if not enable
        else "The account will make vendor calls again.",
        action="Enable" if enable else "Disable",
        danger=not enable,
    )


@require_perm("accounts.change_vendoraccount")
def vendor_account_regenerate_token(request, pk: int):
    account = get_object_or_404(VendorAccount, pk=pk)
    if request.method == "POST":
        services.vendor_account_regenerate_webhook_token(account=account)
        messages.warning(request, "New callback URLs issued; give them to the vendor now.")
        return redirect("accounts:vendor_account_detail", pk=account.pk)
    return confirm_page(
        request,
        title=f"Issue new callback URLs for {account.name}?",
        body="The current callback URLs stop working at once. Callbacks the vendor "
        "sends to them will be refused until you configure the new ones at the vendor.",
        action="Issue new URLs",
        danger=True,
    )


@require_perm("accounts.view_privacynumber")
def number_list(request):
    numbers, filter_errors = list_or_errors(
        selectors.number_list, PrivacyNumber, filters=request.GET, user=request.user
    )
    return render(
        request,
        "accounts/number_list.html",
        {
            "page": paginate(request, numbers),
            "filter_errors": filter_errors,
            "accounts": VendorAccount.objects.all(),
            "statuses": PrivacyNumber.Status.choices,
        },
    )


@require_perm("accounts.add_privacynumber")
def number_create(request):
    form = NumberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            number = services.number_create(
                vendor_account=form.cleaned_data["vendor_account"],
                number=form.cleaned_data["number"],
                area_code=form.cleaned_data["area_code"],
                status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"{number.number} added to the pool.")
            return redirect("accounts:number_list")
    return render(request, "accounts/number_form.html", {"form": form})


@require_perm("accounts.add_privacynumber")
def number_import(request):
    form = NumberImportForm(request.POST or None, request.FILES or None)
    problems = []
    if request.method == "POST" and form.is_valid():
        try:
            text = services.import_file_text(upload=form.cleaned_data["file"])
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            try:
                created = services.numbers_import_csv(
                    vendor_account=form.cleaned_data["vendor_account"], csv_text=text
                )
            except services.NumberImportError as exc:
                problems = exc.problems
                form.add_error("file", f"Nothing imported: {len(problems)} bad row(s).")
            else:
                messages.success(request, f"Imported {len(created)} numbers.")
                return redirect("accounts:number_list")
    return render(request, "accounts/number_import.html", {"form": form, "problems": problems})


@require_perm("accounts.delete_privacynumber")
def number_delete(request, pk: int):
    number = get_object_or_404(PrivacyNumber, pk=pk)
    if request.method == "POST":
        try:
            services.number_delete(number=number)
        except ValidationError as exc:
            messages.error(request, f"{number.number} was not removed. {' '.join(exc.messages)}")
        else:
            messages.success(request, f"{number.number} removed from the pool.")
        return redirect("accounts:number_list")
    return confirm_page(
        request,
        title=f"Remove {number.number} from the pool?",
        body="Numbers with bindings cannot be removed; retire them instead.",
        action="Remove",
        danger=True,
    )
