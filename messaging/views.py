"""Browser pages for SMS and send limits. Thin: selectors read, services write.

Pending messages carry a data-poll-url (static/js/console.js) pointing at
`sms_state`, a fragment that stops the polling once the message settles; the detail
page then reloads to show each recipient's outcome.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from core.decorators import require_perm
from core.filters import list_or_errors
from core.forms import apply_validation_error
from core.pagination import paginate
from messaging import selectors, services
from messaging.forms import SendPolicyForm, SmsForm
from messaging.models import Message, SendPolicy, SendState


@require_perm("messaging.view_message")
def sms_list(request):
    rows, filter_errors = list_or_errors(
        selectors.message_list, Message, filters=request.GET, user=request.user
    )
    return render(
        request,
        "messaging/sms_list.html",
        {
            "page": paginate(request, rows),
            "filter_errors": filter_errors,
            "states": SendState.choices,
            "kinds": Message.Kind.choices,
            "accounts": selectors.policy_accounts(),
        },
    )


@require_perm("messaging.view_message")
def sms_detail(request, pk: int):
    try:
        message = selectors.message_get(pk=pk)
    except Message.DoesNotExist as exc:
        raise Http404("No such message.") from exc
    return render(
        request,
        "messaging/sms_detail.html",
        {"message": message, "recipients": selectors.message_recipients(message=message)},
    )


@require_perm("messaging.view_message")
def sms_state(request, pk: int):
    """Fragment for polling: the state badge (and failure) of one message."""
    return render(request, "messaging/_state.html", {"m": get_object_or_404(Message, pk=pk)})


def _say_state(request, message: Message) -> None:
    """Flash what the row says now (an eager task may have sent it already)."""
    if message.state == SendState.SENT:
        messages.success(request, f"Message #{message.pk} sent.")
    elif message.state in (SendState.FAILED, SendState.PARTIAL):
        # The vendor's text may carry numbers: shown (masked) on the page, not here.
        messages.error(request, f"Message #{message.pk}: the vendor refused some or all (below).")
    else:
        messages.info(request, f"Message #{message.pk} queued; the state below updates by itself.")


@require_perm("messaging.add_message")
def sms_create(request, kind: str):
    if kind not in Message.Kind.values:
        raise Http404("No such kind of SMS.")
    form = SmsForm(request.POST or None, kind=kind)
    if request.method == "POST" and form.is_valid():
        try:
            message = services.message_create(created_by=request.user, **form.service_kwargs())
        except ValidationError as exc:
            apply_validation_error(form, exc)
        except services.RateLimitExceeded as exc:
            form.add_error(None, f"{exc.message} Try again in {exc.retry_after} s.")
        else:
            message.refresh_from_db()
            _say_state(request, message)
            return redirect("messaging:sms_detail", pk=message.pk)
    return render(
        request,
        "messaging/sms_form.html",
        {"form": form, "kind_label": Message.Kind(kind).label},
    )


@require_perm("messaging.view_sendpolicy")
def policy_list(request):
    return render(request, "messaging/policy_list.html", {"rows": selectors.policy_rows()})


@require_perm("messaging.change_sendpolicy")
def policy_edit(request, account_pk: int):
    account = get_object_or_404(selectors.policy_accounts(), pk=account_pk)
    policy = SendPolicy.objects.filter(vendor_account=account).first()
    form = SendPolicyForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        services.send_policy_set(vendor_account=account, **form.cleaned_data)
        messages.success(request, f"Send limits of {account.name} saved.")
        return redirect("messaging:policy_list")
    return render(request, "messaging/policy_form.html", {"form": form, "account": account})
