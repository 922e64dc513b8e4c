"""Browser pages for two-way calls and voice codes: send forms (operators), lists with
filters and pagination, details with what the vendor called back. Thin: selectors
read, services write. Pending rows carry a data-poll-url (static/js/console.js) to
their `*_state` fragment, which stops the polling once the send is sent or failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render

from core.decorators import require_perm
from core.filters import list_or_errors
from core.forms import apply_validation_error
from core.pagination import paginate
from messaging import calls, limits, selectors, sending
from messaging.calls_forms import TwoWayCallForm, VoiceCodeForm
from messaging.models import SendState, TwoWayCall, VoiceCode


@dataclass(frozen=True)
class Page:
    """What differs between the two kinds' pages."""

    model: Any
    kind: sending.SendKind
    url: str  # "two_way_call" / "voice_code": the URL names' stem
    title: str
    form: Any
    create: Any  # the messaging.services create function
    select: Any  # the list selector
    get: Any  # the detail selector

    def perm(self, action: str) -> str:
        return f"messaging.{action}_{self.model._meta.model_name}"

    def name(self, view: str) -> str:
        """A URL name of this kind: name("detail") -> "messaging:voice_code_detail"."""
        return f"messaging:{self.url}_{view}"

    @property
    def singular(self) -> str:
        return str(self.model._meta.verbose_name)

    @property
    def list_url(self) -> str:
        return self.name("list")

    @property
    def detail_url(self) -> str:
        return self.name("detail")

    @property
    def state_url(self) -> str:
        return self.name("state")

    @property
    def progress_url(self) -> str:
        return self.name("progress")

    @property
    def create_url(self) -> str:
        return self.name("create")


TWO_WAY = Page(
    TwoWayCall,
    calls.TWO_WAY_CALL,
    "two_way_call",
    "Two-way calls",
    TwoWayCallForm,
    calls.two_way_call_create,
    selectors.two_way_call_list,
    selectors.two_way_call_get,
)
VOICE = Page(
    VoiceCode,
    calls.VOICE_CODE,
    "voice_code",
    "Voice codes",
    VoiceCodeForm,
    calls.voice_code_create,
    selectors.voice_code_list,
    selectors.voice_code_get,
)


def _list(request, page: Page):
    rows, filter_errors = list_or_errors(
        page.select, page.model, filters=request.GET, user=request.user
    )
    return render(
        request,
        f"messaging/{page.url}_list.html",
        {
            "page": paginate(request, rows),
            "p": page,
            "filter_errors": filter_errors,
            "states": SendState.choices,
            "accounts": sending.accounts_offering(page.kind.capability),
        },
    )


def _detail(request, page: Page, pk: int):
    try:
        row = page.get(pk=pk)
    except page.model.DoesNotExist as exc:
        raise Http404("Not found.") from exc
    return render(request, f"messaging/{page.url}_detail.html", _progress_context(page, row))


def _progress_context(page: Page, row) -> dict:
    progress = selectors.call_progress(row)
    polling = selectors.progress_expected(row, progress)
    return {"row": row, "p": page, "progress": progress, "polling": polling}


def _progress(request, page: Page, pk: int):
    """Fragment for polling: what the vendor reported so far."""
    row = page.model.objects.filter(pk=pk).first()
    if row is None:
        raise Http404("Not found.")
    return render(request, "messaging/_call_progress.html", _progress_context(page, row))


def _state(request, page: Page, pk: int):
    row = page.model.objects.filter(pk=pk).first()
    if row is None:
        raise Http404("Not found.")
    return render(request, "messaging/_send_state.html", {"s": row, "p": page})


def _create(request, page: Page):
    form = page.form(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            row, _ = page.create(created_by=request.user, **form.service_kwargs())
        except ValidationError as exc:
            apply_validation_error(form, exc)
        except limits.RateLimitExceeded as exc:
            form.add_error(None, f"{exc.message} Try again in {exc.retry_after} s.")
        else:
            row.refresh_from_db()
            _say_state(request, row)
            return redirect(f"messaging:{page.url}_detail", pk=row.pk)
    return render(request, "messaging/send_form.html", {"form": form, "p": page})


def _say_state(request, row) -> None:
    """What the row says now (eager tasks may have sent it already)."""
    name = f"{row._meta.verbose_name.capitalize()} #{row.pk}"
    if row.state == SendState.SENT:
        messages.success(request, f"{name} sent to the vendor.")
    elif row.state == SendState.FAILED:
        messages.error(request, f"{name} was refused by the vendor (see below).")
    else:
        messages.info(request, f"{name} queued; the state below updates by itself.")


@require_perm(TWO_WAY.perm("view"))
def two_way_call_list(request):
    return _list(request, TWO_WAY)


@require_perm(TWO_WAY.perm("view"))
def two_way_call_detail(request, pk: int):
    return _detail(request, TWO_WAY, pk)


@require_perm(TWO_WAY.perm("view"))
def two_way_call_state(request, pk: int):
    return _state(request, TWO_WAY, pk)


@require_perm(TWO_WAY.perm("view"))
def two_way_call_progress(request, pk: int):
    return _progress(request, TWO_WAY, pk)


@require_perm(TWO_WAY.perm("add"))
def two_way_call_create(request):
    return _create(request, TWO_WAY)


@require_perm(VOICE.perm("view"))
def voice_code_list(request):
    return _list(request, VOICE)


@require_perm(VOICE.perm("view"))
def voice_code_detail(request, pk: int):
    return _detail(request, VOICE, pk)


@require_perm(VOICE.perm("view"))
def voice_code_state(request, pk: int):
    return _state(request, VOICE, pk)


@require_perm(VOICE.perm("view"))
def voice_code_progress(request, pk: int):
    return _progress(request, VOICE, pk)


@require_perm(VOICE.perm("add"))
def voice_code_create(request):
    return _create(request, VOICE)
