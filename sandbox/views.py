"""The /sandbox/ page (what the sandbox received and sent, forms to place a
call and set chaos) and the recording files.  Thin: services do the work.

Placing a call and setting chaos need only sandbox.view_sandboxcall: the
sandbox is a development tool and whoever may watch it may drive it.
"""

from __future__ import annotations

import time

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

import vendors
from core.decorators import require_perm
from core.filters import list_or_errors
from core.pagination import paginate
from sandbox import audio, protocol, selectors, services
from sandbox.forms import ChaosForm, PlaceCallForm
from sandbox.models import SandboxAccount, SandboxBinding, SandboxCall, SandboxRequest

PERM = "sandbox.view_sandboxcall"


def sandbox_base(request: HttpRequest) -> str:
    return request.build_absolute_uri("/sandbox").rstrip("/")


@require_perm(PERM)
def index(request: HttpRequest, form: PlaceCallForm | None = None) -> HttpResponse:
    accounts = list(selectors.account_list())
    journal, filter_errors = list_or_errors(
        selectors.request_list, SandboxRequest, filters=request.GET
    )
    return render(
        request,
        "sandbox/index.html",
        {
            "form": form or PlaceCallForm(),
            "accounts": [(a, ChaosForm(instance=a, prefix=f"a{a.pk}")) for a in accounts],
            "requests": paginate(request, journal, 25),
            "filter_errors": filter_errors,
            "bindings": selectors.binding_list()[:20],
            "calls": selectors.call_list()[:20],
            "deliveries": selectors.delivery_list()[:30],
            "vendor_choices": vendors.choices(),
            "vendor_filter": request.GET.get("vendor", ""),
            "verdict_filter": request.GET.get("verdict", ""),
        },
    )


@require_perm(PERM)
@require_POST
def place_call(request: HttpRequest) -> HttpResponse:
    form = PlaceCallForm(request.POST)
    if not form.is_valid():
        return index(request, form=form)
    kind, _, pk = form.cleaned_data["target"].partition(":")
    target = {}
    if kind == "binding":
        target["binding"] = get_object_or_404(
            SandboxBinding.objects.select_related("account"), pk=pk
        )
    else:
        target["call"] = get_object_or_404(SandboxCall.objects.select_related("account"), pk=pk)
    try:
        call = services.play_call(
            **target,
            outcome=form.cleaned_data["outcome"],
            duration=form.cleaned_data["duration"],
            direction=form.cleaned_data["direction"],
            caller=form.cleaned_data.get("caller") or "",
            record=form.record_value(),
            chaos=form.chaos(),
            sync=False,
            base_url=sandbox_base(request),
        )
    except ValueError as exc:
        form.add_error(None, str(exc))
        return index(request, form=form)
    messages.success(request, f"Call {call.call_id} placed; callbacks are on their way.")
    return redirect("sandbox:index")


@require_perm(PERM)
@require_POST
def account_chaos(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(SandboxAccount, pk=pk)
    form = ChaosForm(request.POST, instance=account, prefix=f"a{pk}")
    if form.is_valid():
        services.account_set_chaos(account=account, **form.cleaned_data)
        messages.success(request, f"Sandbox account {account} updated.")
    else:
        messages.error(request, f"Not saved: {form.errors.as_text()}")
    return redirect("sandbox:index")


@require_GET
def recording(request: HttpRequest, public_id: str) -> HttpResponseBase:
    """The call's recording, like a vendor's unauthenticated expiring link, as long
    as the call's talk time.  404 until the call's late-recording chaos has passed.
    Journaled like the vendor endpoints, so the page shows when the console fetched it."""
    started = time.perf_counter()
    call = selectors.recording_call(public_id=public_id)
    exchange = protocol.Exchange(request=request, vendor=call.account.vendor if call else "")
    exchange.account = call.account if call else None
    if call is None:
        exchange.verdict = protocol.NOT_FOUND
        response = HttpResponseNotFound("no such recording (yet)", content_type="text/plain")
    else:
        response = StreamingHttpResponse(
            audio.tone_wav_chunks(call.duration), content_type="audio/wav"
        )
        response["Content-Length"] = str(audio.wav_size(call.duration))
        response["Content-Disposition"] = f'inline; filename="{call.call_id[:64]}.wav"'
    protocol.record_request(exchange, response, started)
    return response
